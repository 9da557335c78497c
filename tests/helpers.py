"""Helpers shared by the tests (plain functions and constants; fixtures live in
``conftest.py``): tolerances, seeded random problems, the Keras skip, PNG checks, and the
command line run in this process or in a fresh interpreter."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from softmaxlab.cli import main
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


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_width=300, min_height=200):
    """``path`` is a PNG image at least ``min_width`` x ``min_height`` pixels."""
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_MAGIC, path
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width >= min_width and height >= min_height, (path, width, height)


def files_in(folder: Path) -> set[str]:
    """The names of the files in ``folder``."""
    return {p.name for p in folder.iterdir()}


def run(*args: str) -> SimpleNamespace:
    """The command line in this process: its exit code and what it wrote to stdout and
    stderr, as a subprocess would report them (``run_process`` where a real process is
    the point)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own exits (--help, usage errors)
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def run_process(*args: str) -> subprocess.CompletedProcess:
    """``python -m softmaxlab ARGS`` in a fresh interpreter."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "softmaxlab", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
