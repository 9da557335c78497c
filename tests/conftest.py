"""Shared fixtures: the seed's data and reference run, seeded global generators, and
``fails_cleanly`` for command lines that must fail with one line; plain helpers are in
``tests/helpers.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import softmaxlab as sl
from softmaxlab.cli import main

from .helpers import files_in


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


@pytest.fixture()
def fails_cleanly(capsys):
    """Run the CLI in this process and require exit 2, one stderr line naming the
    problem, and no new file in ``folder`` (no output, no temporary left behind)."""

    def check(args, folder: Path, message: str) -> None:
        before = files_in(folder)
        try:
            code = main(args)
        except SystemExit as exc:  # argparse's own errors
            code = exc.code
        out, err = capsys.readouterr()
        assert code == 2, out + err
        assert err.count("\n") == 1, err
        assert message in err
        assert files_in(folder) == before

    return check
