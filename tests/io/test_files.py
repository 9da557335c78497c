"""Real data and model files: load_dataset, safetensors round trips, hostile files."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file
from sklearn.datasets import load_iris

import softmaxlab as sl
from softmaxlab.errors import ModelFileError
from softmaxlab.persistence import FORMAT_VERSION, load_model, save_model


@pytest.fixture()
def iris_csv(tmp_path) -> Path:
    frame = load_iris(as_frame=True).frame
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[frame.pop("target")]
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    return path


# ----------------------------------------------------------------- load_dataset


@pytest.mark.parametrize("name", sl.data.BUNDLED)
def test_bundled_sets_load_offline_with_default_split(name):
    d = sl.load_dataset(name, device="cpu")
    total = d.x_train.shape[0] + d.x_valid.shape[0]
    assert d.x_valid.shape[0] == round(0.2 * total)
    assert len(d.feature_names) == d.n_features and d.classes.size == d.n_classes


def test_csv_with_string_target_by_name_and_index(iris_csv):
    by_name = sl.load_dataset(iris_csv, target="species", valid=0, device="cpu")
    by_index = sl.load_dataset(iris_csv, target=4, valid=0, device="cpu")
    default = sl.load_dataset(iris_csv, valid=0, device="cpu")  # last column
    assert list(by_name.classes) == ["setosa", "versicolor", "virginica"]
    assert by_name.x_valid is None and by_name.x_train.shape == (150, 4)
    for other in (by_index, default):
        assert torch.equal(other.x_train, by_name.x_train)
    assert set(by_name.labels(by_name.y_train)) == {"setosa", "versicolor", "virginica"}


def test_feature_selection_and_parquet(iris_csv, tmp_path):
    frame = pd.read_csv(iris_csv)
    pq = tmp_path / "iris.parquet"
    frame.to_parquet(pq)
    d = sl.load_dataset(
        pq,
        target="species",
        features=["petal length (cm)", 3],
        valid=0,
        shuffle=False,
        device="cpu",
    )
    assert d.feature_names == ("petal length (cm)", "petal width (cm)")
    np.testing.assert_array_equal(d.x_train.numpy(), frame.iloc[:, 2:4].to_numpy())


def test_split_in_order_by_count_and_shuffled_stratified(iris_csv):
    ordered = sl.load_dataset(iris_csv, valid=50, shuffle=False, device="cpu")
    assert ordered.x_train.shape[0] == 100
    assert set(ordered.labels(ordered.y_valid)) == {"virginica"}  # the file's last 50 rows
    strat = sl.load_dataset(iris_csv, valid=0.2, stratify=True, seed=1, device="cpu")
    counts = pd.Series(strat.labels(strat.y_valid)).value_counts()
    assert counts.tolist() == [10, 10, 10]
    again = sl.load_dataset(iris_csv, valid=0.2, stratify=True, seed=1, device="cpu")
    assert torch.equal(strat.x_valid, again.x_valid)


def test_standardisation_uses_training_rows_only(iris_csv):
    d = sl.load_dataset(iris_csv, valid=0.3, seed=0, standardize=True, device="cpu")
    torch.testing.assert_close(d.x_train.mean(0), torch.zeros(4, dtype=torch.float64))
    assert not torch.allclose(d.x_valid.mean(0), torch.zeros(4, dtype=torch.float64))
    raw = sl.load_dataset(iris_csv, valid=0.3, seed=0, device="cpu")
    np.testing.assert_allclose(raw.x_train.mean(0).numpy(), d.mean)


def test_synthetic_keeps_the_seed_split():
    d = sl.load_dataset("synthetic", n_samples=500, train_rows=100, device="cpu")
    assert d.x_train.shape[0] == 100 and d.x_valid.shape[0] == 400


def _write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        ("a,b,y\n1,2,x\n3,,y\n", {}, "missing, NaN or infinite value in column 'b' at data row 2"),
        ("a,b,y\n1,inf,x\n3,4,y\n", {}, "NaN or infinite value in column 'b'"),
        ("a,b,y\n1,red,x\n3,blue,y\n", {}, r"feature columns must be numeric; \['b'\]"),
        ("a,b,y\n1,2,x\n3,4,y\n", {"target": "label"}, "target: no column named 'label'"),
        ("a,b,y\n1,2,x\n3,4,x\n", {}, "has only 1 class"),
        ("", {}, "is empty"),
        ("a,b,y\n", {}, "has no data rows"),
        ("a,b,y\n1,2,x\n3,4,y\n", {"target": 7}, "target: column index 7 is out of range"),
        ("a,b,y\n1,2,x\n3,4,5,6,y\n", {}, "cannot read"),
        ("a,b,y\n1,2,x\n3,4,y\n", {"valid": 2}, "valid: 2 validation rows leave no training"),
        ("a,b,y\n1,2,x\n3,4,\n", {}, "missing label at data row 2"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, content, kwargs, message):
    path = _write(tmp_path, "d.csv", content)
    with pytest.raises(sl.InvalidInputError, match=message):
        sl.load_dataset(path, **kwargs)


def test_missing_file_binary_junk_and_unknown_names(tmp_path):
    with pytest.raises(sl.InvalidInputError, match="no such file"):
        sl.load_dataset(tmp_path / "nope.csv")
    junk = _write(tmp_path, "junk.csv", bytes(range(256)) * 8, mode="wb")
    with pytest.raises(sl.InvalidInputError, match=r"junk\.csv"):
        sl.load_dataset(junk)
    bad_pq = _write(tmp_path, "bad.parquet", b"PAR1 not really", mode="wb")
    with pytest.raises(sl.InvalidInputError, match=r"cannot read bad\.parquet"):
        sl.load_dataset(bad_pq)
    with pytest.raises(sl.InvalidInputError, match="unknown data set 'mnist'"):
        sl.load_dataset("mnist")
    with pytest.raises(sl.InvalidInputError, match=r"unknown file type \.xlsx"):
        sl.load_dataset(_write(tmp_path, "d.xlsx", "x"))


# ----------------------------------------------------------------- model files


def test_classifier_round_trip_is_exact(tmp_path):
    model = sl.SoftmaxClassifier(4, 3, gradient="blockwise", device="cpu", seed=3)
    path = tmp_path / "m.safetensors"
    save_model(
        model,
        path,
        classes=np.array(["a", "b", "c"]),
        feature_names=list("pqrs"),
        mean=np.arange(4.0),
        scale=np.ones(4) * 2,
        config={"lr": 0.1},
    )
    saved = load_model(path)
    assert torch.equal(saved.model.w, model.w) and torch.equal(saved.model.b, model.b)
    assert saved.model.gradient == "blockwise" and saved.model.dtype == torch.float64
    assert list(saved.classes) == ["a", "b", "c"] and saved.feature_names == list("pqrs")
    np.testing.assert_array_equal(saved.mean, np.arange(4.0))
    assert saved.config == {"lr": 0.1} and saved.version == sl.__version__
    x = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_array_equal(
        saved.predict_proba(x), model.predict(torch.from_numpy((x - saved.mean) / 2)).numpy()
    )


def test_regression_round_trip_is_exact(tmp_path):
    X, y = load_iris(return_X_y=True)
    labels = np.array(["s", "ve", "vi"])[y]
    est = sl.SoftmaxRegression(max_epochs=5, tol=None, alpha=0.01).fit(X, labels)
    path = tmp_path / "e.safetensors"
    save_model(est, path)
    back = load_model(path).model
    np.testing.assert_array_equal(back.coef_, est.coef_)
    np.testing.assert_array_equal(back.intercept_, est.intercept_)
    np.testing.assert_array_equal(back.classes_, est.classes_)
    assert back.get_params() == est.get_params()
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))


def test_integer_and_float32_models_round_trip(tmp_path):
    X, y = load_iris(return_X_y=True)
    est = sl.SoftmaxRegression(max_epochs=3, tol=None, dtype="float32").fit(X, y + 10)
    save_model(est, tmp_path / "f.safetensors")
    back = load_model(tmp_path / "f.safetensors").model
    assert back.coef_.dtype == np.float32 and back.classes_.dtype == est.classes_.dtype
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ModelFileError, match="not a softmaxlab model file"):
        load_model(path)
    assert not marker.exists()


def _valid_file(tmp_path) -> Path:
    path = tmp_path / "ok.safetensors"
    save_model(sl.SoftmaxClassifier(3, 2, device="cpu", seed=0), path)
    return path


def test_truncated_newer_and_inconsistent_files_are_refused(tmp_path):
    good = _valid_file(tmp_path)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelFileError, match=r"cut\.safetensors: not a softmaxlab model file"):
        load_model(cut)

    def craft(name, tensors, **meta_over):
        with open(good, "rb") as fh:
            import struct

            header = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))
        meta = {**header["__metadata__"], **meta_over}
        path = tmp_path / name
        save_file(tensors, str(path), metadata=meta)
        return path

    ok = {"w": torch.zeros(3, 2, dtype=torch.float64), "b": torch.zeros(2, dtype=torch.float64)}
    newer = craft("newer.safetensors", ok, format_version=str(FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match="format version 2 is newer"):
        load_model(newer)
    shapes = craft("shapes.safetensors", {"w": torch.zeros(3, 2), "b": torch.zeros(5)})
    with pytest.raises(ModelFileError, match=r"wrong shapes: w \(3, 2\), b \(5,\)"):
        load_model(shapes)
    other = craft("other.safetensors", ok, format="something-else")
    with pytest.raises(ModelFileError, match="no format tag"):
        load_model(other)
    labels = craft("labels.safetensors", ok, classes='["a", "b", "c"]', classes_dtype="<U1")
    with pytest.raises(ModelFileError, match=r"classes: expected a list of 2 labels"):
        load_model(labels)
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "missing.safetensors")


def test_failed_save_leaves_no_file(tmp_path):
    path = tmp_path / "m.safetensors"
    with pytest.raises(ModelFileError, match="classes: 2 labels for 3 classes"):
        save_model(sl.SoftmaxClassifier(2, 3, device="cpu"), path, classes=["a", "b"])
    assert list(tmp_path.iterdir()) == []
