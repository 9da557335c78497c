"""Data-parallel training with real processes (gloo over loopback) equals one process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import softmaxlab as sl
from softmaxlab import distributed as D


@pytest.fixture(scope="module")
def reference():
    d = sl.make_dataset(1300, 6, 4, train_rows=1000, seed=3, device="cpu")
    model = sl.SoftmaxClassifier(6, 4, gradient="fused", seed=1, device="cpu")
    history = model.fit(d.x_train, d.y_train, 4, 0.1, 100, d.x_valid, d.y_valid, verbose=False)
    return d, model, history


@pytest.mark.parametrize("nproc", [1, 2, 4])
def test_data_parallel_equals_one_process(reference, nproc):
    d, single, h_single = reference
    model = sl.SoftmaxClassifier(6, 4, gradient="fused", seed=1, device="cpu")
    history = D.fit(model, d.x_train, d.y_train, 4, 0.1, 100, d.x_valid, d.y_valid,
                    nproc=nproc)
    torch.testing.assert_close(model.w, single.w, rtol=1e-12, atol=0)
    torch.testing.assert_close(model.b, single.b, rtol=1e-12, atol=0)
    assert [r.line() for r in history] == [r.line() for r in h_single]


def test_batches_smaller_than_the_number_of_ranks(reference):
    d, _, _ = reference
    x, y = d.x_train[:10], d.y_train[:10]
    single = sl.SoftmaxClassifier(6, 4, gradient="fused", seed=2, device="cpu")
    single.fit(x, y, 2, 0.1, 3, verbose=False)  # batches of 3, 3, 3, 1 on 4 ranks
    model = sl.SoftmaxClassifier(6, 4, gradient="fused", seed=2, device="cpu")
    D.fit(model, x, y, 2, 0.1, 3, nproc=4)
    torch.testing.assert_close(model.w, single.w, rtol=1e-12, atol=0)


def test_a_failing_rank_stops_the_job_with_a_clear_error(reference, monkeypatch):
    d, _, _ = reference
    model = sl.SoftmaxClassifier(6, 4, gradient="fused", seed=1, device="cpu")
    w0 = model.w.clone()
    monkeypatch.setenv("SOFTMAXLAB_FAIL_RANK", "1")
    with pytest.raises(D.DistributedError, match="the data-parallel run failed"):
        D.fit(model, d.x_train, d.y_train, 2, 0.1, 100, nproc=2, timeout=30)
    assert torch.equal(model.w, w0)


def test_nproc_is_validated(reference):
    d, _, _ = reference
    model = sl.SoftmaxClassifier(6, 4, seed=1, device="cpu")
    with pytest.raises(sl.InvalidInputError, match="nproc: must be a positive integer"):
        D.fit(model, d.x_train, d.y_train, 1, 0.1, 100, nproc=0)
    with pytest.raises(D.DistributedError, match="start with torchrun"):
        D.fit(model, d.x_train, d.y_train, 1, 0.1, 100)


def test_cli_train_nproc_and_torchrun_equal_one_process(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    common = ["--data", "wine", "--standardize", "--epochs", "4", "-q"]
    outs = {}
    for name, cmd in {
        "one": [sys.executable, "-m", "softmaxlab", "train", *common],
        "nproc": [sys.executable, "-m", "softmaxlab", "train", *common, "--nproc", "2"],
        "torchrun": [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                     "--master-port", "29571", "-m", "softmaxlab", "train", *common],
    }.items():
        outs[name] = tmp_path / f"{name}.safetensors"
        subprocess.run([*cmd, "--out", str(outs[name])], check=True, env=env, timeout=600,
                       capture_output=True)
    models = {k: sl.load_model(v).model for k, v in outs.items()}
    for k in ("nproc", "torchrun"):
        torch.testing.assert_close(models[k].w, models["one"].w, rtol=1e-12, atol=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{k}.safetensors" for k in outs)  # rank 1 wrote nothing
