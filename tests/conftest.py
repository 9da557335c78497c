"""Shared fixtures: seeded data, the per-dtype tolerance table, and the Keras skip."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import softmaxlab as sl
from softmaxlab.references import keras_available

#: Tolerances for comparing two computations of the same quantity, per dtype.
TOL = {
    torch.float64: {"rtol": 1e-10, "atol": 1e-12},
    torch.float32: {"rtol": 1e-4, "atol": 1e-6},
}

CPU = torch.device("cpu")

requires_keras = pytest.mark.skipif(
    not keras_available(), reason="TensorFlow/Keras not installed (pip install '.[keras]')"
)


def random_problem(m: int, n: int, c: int, *, seed: int, dtype=torch.float64, scale=1.0):
    """Random X (m,N), one-hot Y (m,C), W (N,C), b (C,) from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=g, dtype=dtype)
    labels = torch.randint(0, c, (m,), generator=g)
    y = torch.nn.functional.one_hot(labels, c).to(dtype)
    w = torch.randn(n, c, generator=g, dtype=dtype) * scale
    b = torch.randn(c, generator=g, dtype=dtype) * scale
    return x, y, w, b


@pytest.fixture(scope="session")
def seed_data() -> sl.Dataset:
    """The seed's data set (M=10 100, N=5, C=3, first 100 rows train), on the CPU."""
    return sl.make_dataset(seed=0, device="cpu")


@pytest.fixture(scope="session")
def seed_torch_run(seed_data):
    """A trained TorchSoftmax on the seed run, with its initial parameters."""
    ref = sl.TorchSoftmax(5, 3, seed=0, device="cpu")
    w0 = ref.layer.weight.detach().T.clone()
    b0 = ref.layer.bias.detach().clone()
    d = seed_data
    history = ref.fit(d.x_train, d.y_train, 16, 0.01, 33, d.x_valid, d.y_valid, verbose=False)
    return ref, (w0, b0), history


@pytest.fixture(autouse=True)
def _seeded_global_generators():
    """Every test starts from seeded global generators (torch, numpy), so a random input
    drawn without an explicit generator is still the same on every run."""
    import numpy as np

    torch.manual_seed(0)
    np.random.seed(0)


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_width=300, min_height=200):
    """``path`` is a PNG image at least ``min_width`` x ``min_height`` pixels."""
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_MAGIC, path
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width >= min_width and height >= min_height, (path, width, height)
