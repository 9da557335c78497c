"""softmaxlab.export: a fitted model as scikit-learn's LogisticRegression (predict_proba to
1e-12) and as an ONNX graph run by onnxruntime (probabilities to 1e-6, labels equal)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.preprocessing import scale

import softmaxlab as sl

ort = pytest.importorskip("onnxruntime")

SETS = {
    "wine (3 classes)": load_wine,
    "breast_cancer (2 classes)": load_breast_cancer,
    "iris (3 classes)": load_iris,
}


@pytest.fixture(scope="module", params=SETS.values(), ids=SETS.keys())
def fitted(request):
    x, y = request.param(return_X_y=True)
    x = scale(x)
    return sl.SoftmaxRegression().fit(x, y), x


def test_to_sklearn_predicts_the_same_probabilities(fitted):
    est, x = fitted
    lr = est.to_sklearn()
    np.testing.assert_allclose(lr.predict_proba(x), est.predict_proba(x), rtol=0, atol=1e-12)
    assert (lr.predict(x) == est.predict(x)).all()
    assert lr.classes_.tolist() == est.classes_.tolist()


def _run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {"x": x.astype(np.float32)})
    return label, proba


def test_to_onnx_runs_in_onnxruntime_with_the_same_answers(fitted, tmp_path):
    est, x = fitted
    est.to_onnx(tmp_path / "m.onnx")
    label, proba = _run(tmp_path / "m.onnx", x)
    np.testing.assert_allclose(proba, est.predict_proba(x), rtol=0, atol=1e-6)
    assert (label == est.predict(x)).all()


def test_text_labels_and_a_folded_standardisation_from_the_command_line(tmp_path, capsys):
    import pandas as pd

    frame = load_wine(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    data = tmp_path / "wine.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.safetensors"
    assert (
        sl.cli.main(
            [
                "train",
                "--data",
                str(data),
                "--target",
                "target",
                "--standardize",
                "-q",
                "--out",
                str(model),
            ]
        )
        == 0
    )
    assert sl.cli.main(["export", "--model", str(model), "--onnx", str(tmp_path / "m.onnx")]) == 0
    assert "13 features, 3 classes" in capsys.readouterr().out
    raw = frame.drop(columns="target").to_numpy()  # the graph takes raw features
    label, proba = _run(tmp_path / "m.onnx", raw)
    expected = sl.tasks.predict(model, data, proba=True)
    assert label.tolist() == expected["prediction"].tolist()
    cols = [f"p_{c}" for c in sl.load_model(model).classes]
    np.testing.assert_allclose(proba, expected[cols].to_numpy(), rtol=0, atol=1e-6)
    assert isinstance(pd.Series(label)[0], str)


def test_export_refusals_are_one_line(tmp_path, capsys, monkeypatch):
    x, y = load_iris(return_X_y=True)
    model = tmp_path / "c.safetensors"
    sl.save_model(sl.SoftmaxClassifier(4, 3, seed=0, device="cpu"), model)
    assert sl.cli.main(["export", "--model", str(model), "--onnx", str(tmp_path / "c.onnx")]) == 2
    assert "needs a model trained by softmaxlab train" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if onnx were not installed
    with pytest.raises(sl.MissingDependencyError, match=r"softmaxlab\[export\]"):
        sl.SoftmaxRegression().fit(x, y).to_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "c.onnx").exists()
