"""Hostile metadata: whatever the JSON fields of a model file or a checkpoint hold, the
readers answer with their own error (or a valid model), never a TypeError or a
RecursionError (property test with hypothesis)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

import softmaxlab as sl
from softmaxlab.errors import SoftmaxlabError
from softmaxlab.io.atomic import read_safetensors
from softmaxlab.io.checkpoint import load_checkpoint

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)
TEXT = (
    JSON.map(lambda v: json.dumps(v))
    | st.text(max_size=20)
    | st.integers(1, 50_000).map(lambda d: "[" * d + "]" * d)
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A valid model file and a valid checkpoint (their tensors and metadata)."""
    from sklearn.datasets import load_iris

    folder = tmp_path_factory.mktemp("schema")
    x, y = load_iris(return_X_y=True)
    est = sl.SoftmaxRegression(solver="sgd", max_epochs=2, tol=None)
    est.fit(x, y, checkpoint=folder / "run.ckpt")
    sl.save_model(
        est,
        folder / "m.safetensors",
        mean=x.mean(0),
        scale=x.std(0),
        config={"data": "iris", "history": [{"epoch": 0, "ce": 1.0}]},
    )
    out = {}
    for name in ("m.safetensors", "run.ckpt"):
        out[name] = read_safetensors(folder / name, AssertionError, "unreadable")
    return out


def _rewrite(tmp_path, original, key, value, drop):
    tensors, meta = original
    meta = dict(meta)
    if drop:
        meta.pop(key, None)
    else:
        meta[key] = value
    path = tmp_path / "hostile.safetensors"
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata=meta)
    return path, meta


MODEL_KEYS = [
    "classes",
    "classes_dtype",
    "feature_names",
    "params",
    "config",
    "kind",
    "gradient",
    "dtype",
    "format_version",
]
CKPT_KEYS = ["epoch", "batch", "state", "kind"]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.sampled_from(MODEL_KEYS), value=TEXT, drop=st.booleans())
def test_model_file_metadata_of_any_content_gives_a_package_error(
    files, tmp_path, key, value, drop
):
    path, _ = _rewrite(tmp_path, files["m.safetensors"], key, value, drop)
    try:
        saved = sl.load_model(path)
    except SoftmaxlabError:
        return
    # what loads is usable: it predicts finite probabilities for the stored classes
    proba = saved.predict_proba(np.ones((2, saved.n_features)))
    assert np.isfinite(proba).all() and proba.shape == (2, len(saved.classes))


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.sampled_from(CKPT_KEYS), value=TEXT, drop=st.booleans())
def test_checkpoint_metadata_of_any_content_gives_a_package_error(
    files, tmp_path, key, value, drop
):
    path, _ = _rewrite(tmp_path, files["run.ckpt"], key, value, drop)
    try:
        load_checkpoint(
            path, kind="SoftmaxRegression", fingerprint=files["run.ckpt"][1]["fingerprint"]
        )
    except SoftmaxlabError:
        return


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("epoch", "-3", "must be >= 0"),
        ("epoch", "5", "2 entries for 5 epochs"),
        ("state", json.dumps({"best": [1]}), "expected an object of numbers and text"),
        ("state", json.dumps({"lr": -1, "stall": 0}), "not the state of a SoftmaxRegression"),
        ("state", "[" * 20 + "]" * 20, "nested deeper than 16"),
        ("__history", torch.tensor([1.0, float("nan")], dtype=torch.float64), "non-finite"),
        ("__state.rates", torch.ones(2, 2, dtype=torch.float64), "1-D float tensor"),
    ],
)
def test_named_checkpoint_defects(files, tmp_path, key, value, message):
    tensors, meta = files["run.ckpt"]
    if isinstance(value, torch.Tensor):
        path = tmp_path / "hostile.safetensors"
        save_file(
            {**{k: v.contiguous() for k, v in tensors.items()}, key: value}, path, metadata=meta
        )
    else:
        path, _ = _rewrite(tmp_path, files["run.ckpt"], key, value, False)
    with pytest.raises(sl.CheckpointError, match=message):
        load_checkpoint(path, kind="SoftmaxRegression", fingerprint=meta["fingerprint"])


def test_random_tensors_in_a_model_file_give_a_package_error(files, tmp_path):
    g = torch.Generator().manual_seed(0)
    _, meta = files["m.safetensors"]
    for shape_w, shape_b in [((4, 3), (2,)), ((4,), (3,)), ((4, 1), (1,)), ((0, 3), (3,))]:
        path = tmp_path / "t.safetensors"
        save_file(
            {"w": torch.randn(*shape_w, generator=g), "b": torch.randn(*shape_b, generator=g)},
            path,
            metadata=meta,
        )
        with pytest.raises(SoftmaxlabError):
            sl.load_model(path)
