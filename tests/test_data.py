"""make_dataset (docs/seed.md#data) and one_hot."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

import softmaxlab as sl


def test_seed_defaults_and_split():
    d = sl.make_dataset(seed=0, device="cpu")
    assert d.x_train.shape == (100, 5) and d.x_valid.shape == (10_000, 5)
    assert d.y_train.shape == (100, 3) and d.y_valid.shape == (10_000, 3)
    assert d.x_train.dtype == torch.float64 and d.n_features == 5 and d.n_classes == 3
    x, labels = make_classification(
        n_samples=10_100, n_features=5, n_classes=3, n_informative=4, n_redundant=0, random_state=0
    )
    assert np.array_equal(d.x_train.numpy(), x[:100])
    assert np.array_equal(d.y_valid.argmax(1).numpy(), labels[100:])
    assert torch.equal(d.y_train.sum(1), torch.ones(100, dtype=torch.float64))


def test_seed_makes_it_repeatable():
    a, b = sl.make_dataset(200, seed=3, device="cpu"), sl.make_dataset(200, seed=3, device="cpu")
    assert torch.equal(a.x_valid, b.x_valid)


def test_many_classes_fall_back_to_one_cluster_per_class():
    d = sl.make_dataset(500, 4, 6, train_rows=50, seed=0, device="cpu")
    assert d.y_train.shape[1] == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 0}, "n_samples: must be a positive integer"),
        ({"n_features": 1}, "n_features: needs at least 2"),
        ({"n_classes": 1}, "n_classes: needs at least 2"),
        ({"n_classes": 9, "n_features": 3}, "n_classes: 9 classes need at least 5 features"),
        ({"n_samples": 100, "train_rows": 100}, "train_rows: must be less than n_samples"),
        ({"seed": 1.5}, "seed: expected an integer"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(sl.SoftmaxlabError, match=message):
        sl.make_dataset(**kwargs)


def test_one_hot():
    y = sl.one_hot([0, 2, 1], 3, device="cpu")
    assert torch.equal(y, torch.tensor([[1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=torch.float64))
    assert sl.one_hot(np.array([1.0, 0.0]), 2, dtype="float32", device="cpu").dtype == torch.float32


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([0, 3], "label 3 at position 1 is outside 0..2"),
        ([-1], "label -1 at position 0 is outside"),
        ([0.5], "labels: must be whole numbers"),
        ([[0, 1]], "labels: expected a 1-D sequence"),
        ([], "labels: is empty"),
    ],
)
def test_one_hot_errors(labels, message):
    with pytest.raises(sl.InvalidInputError, match=message):
        sl.one_hot(labels, 3)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_standardisation_native_and_torch_agree_with_numpy(monkeypatch, dtype):
    """The one standardisation: weighted, on a subset of rows, centred or scale-only —
    the native pass, the PyTorch fallback and numpy's weighted moments agree."""
    from softmaxlab import scaling
    from softmaxlab.fast import native

    g = torch.Generator().manual_seed(0)
    x = (torch.randn(3000, 7, generator=g, dtype=torch.float64) * 5 + 100).to(dtype)
    w = torch.rand(3000, generator=g, dtype=torch.float64).to(dtype)
    rows = torch.randperm(3000, generator=g)[:1700]
    xs, ws = x[rows].double().numpy(), w[rows].double().numpy()
    mu_ref = np.average(xs, axis=0, weights=ws)
    d_ref = np.sqrt(np.average((xs - mu_ref) ** 2, axis=0, weights=ws))
    rms_ref = np.sqrt(np.average(xs**2, axis=0, weights=ws))
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    results = []
    for use_native in (True, False):
        if not use_native:
            monkeypatch.setattr(native, "available", lambda *a: False)
        mu, d = scaling.standardisation(x, w, rows)
        _, rms = scaling.standardisation(x, w, rows, center=False)
        np.testing.assert_allclose(mu.double().numpy(), mu_ref, rtol=tol)
        np.testing.assert_allclose(d.double().numpy(), d_ref, rtol=tol * 10)
        np.testing.assert_allclose(rms.double().numpy(), rms_ref, rtol=tol)
        results.append((mu, d))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=tol, atol=0)
