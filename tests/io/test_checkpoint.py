"""Checkpoints: exact resume (also after SIGKILL), and refusal of foreign or broken files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors import safe_open

import softmaxlab as sl
from softmaxlab.io.checkpoint import CheckpointError
from softmaxlab.persistence import load_model
from tests.helpers import run


def _data(seed=0, n=400):
    d = sl.make_dataset(n + 200, 6, 4, train_rows=n, seed=seed, device="cpu")
    return d.x_train, d.y_train, d.x_valid, d.y_valid


@pytest.mark.parametrize("gradient", ["fused", "chain"])
def test_resume_equals_an_uninterrupted_run(tmp_path, gradient):
    x, y, xv, yv = _data()
    full = sl.SoftmaxClassifier(6, 4, gradient=gradient, seed=1, device="cpu")
    h_full = full.fit(x, y, 12, 0.05, 32, xv, yv, verbose=False)
    ck = tmp_path / "ck.safetensors"
    part = sl.SoftmaxClassifier(6, 4, gradient=gradient, seed=1, device="cpu")
    part.fit(x, y, 5, 0.05, 32, xv, yv, verbose=False, checkpoint=ck, checkpoint_every=2)
    fresh = sl.SoftmaxClassifier(6, 4, gradient=gradient, seed=99, device="cpu")
    h_res = fresh.fit(x, y, 12, 0.05, 32, xv, yv, verbose=False, checkpoint=ck, resume=True)
    assert torch.equal(fresh.w, full.w) and torch.equal(fresh.b, full.b)
    assert [r.line() for r in h_res] == [r.line() for r in h_full]


def test_checkpoint_is_safetensors_with_epoch_and_history(tmp_path):
    x, y, xv, yv = _data()
    ck = tmp_path / "ck.safetensors"
    sl.SoftmaxClassifier(6, 4, gradient="fused", seed=1, device="cpu").fit(
        x, y, 3, 0.05, 32, xv, yv, verbose=False, checkpoint=ck
    )
    with safe_open(str(ck), framework="pt") as fh:
        meta = fh.metadata()
        assert set(fh.keys()) == {"w", "b", "__records"}
        records = fh.get_tensor("__records")  # epoch, ce, ce_valid, acc_valid per epoch
    assert meta["epoch"] == "3" and meta["batch"] == "0" and len(meta["fingerprint"]) == 64
    assert records.shape == (3, 4) and records[:, 0].tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["ck.safetensors"]  # no temporaries


def test_foreign_corrupt_and_missing_checkpoints_are_refused(tmp_path):
    x, y, xv, yv = _data()
    ck = tmp_path / "ck.safetensors"
    sl.SoftmaxClassifier(6, 4, gradient="fused", seed=1, device="cpu").fit(
        x, y, 2, 0.05, 32, xv, yv, verbose=False, checkpoint=ck
    )
    model = sl.SoftmaxClassifier(6, 4, gradient="fused", seed=5, device="cpu")
    w0 = model.w.clone()
    cases = [
        (dict(x_train=x * 2), "belongs to another run"),
        (dict(lr=0.1), "belongs to another run"),
        (dict(batch_size=16), "belongs to another run"),
    ]
    base = dict(x_train=x, y_train=y, epochs=4, lr=0.05, batch_size=32, x_valid=xv, y_valid=yv)
    for change, message in cases:
        with pytest.raises(CheckpointError, match=message):
            model.fit(**{**base, **change}, verbose=False, checkpoint=ck, resume=True)
        assert torch.equal(model.w, w0)
    chain = sl.SoftmaxClassifier(6, 4, gradient="chain", seed=5, device="cpu")
    with pytest.raises(CheckpointError, match="belongs to another run"):
        chain.fit(**base, verbose=False, checkpoint=ck, resume=True)
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(ck.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        model.fit(**base, verbose=False, checkpoint=truncated, resume=True)
    with pytest.raises(CheckpointError, match="no such file"):
        model.fit(**base, verbose=False, checkpoint=tmp_path / "none", resume=True)
    sl.save_model(model, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="not a softmaxlab checkpoint"):
        model.fit(**base, verbose=False, checkpoint=tmp_path / "model.safetensors", resume=True)
    with pytest.raises(sl.InvalidInputError, match="epochs: the checkpoint has already"):
        model.fit(**{**base, "epochs": 1}, verbose=False, checkpoint=ck, resume=True)
    assert torch.equal(model.w, w0)


def test_pickle_offered_as_checkpoint_is_not_run(tmp_path):
    import pickle

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    ck = tmp_path / "ck.safetensors"
    ck.write_bytes(pickle.dumps(Payload()))
    x, y, _, _ = _data()
    with pytest.raises(CheckpointError):
        sl.SoftmaxClassifier(6, 4, device="cpu").fit(
            x, y, 2, 0.1, 32, verbose=False, checkpoint=ck, resume=True
        )
    assert not marker.exists()


def _train_cmd(csv, out, *extra):
    return [
        sys.executable,
        "-m",
        "softmaxlab",
        "train",
        "--data",
        str(csv),
        "--epochs",
        "400",
        "--batch-size",
        "64",
        "--lr",
        "0.05",
        "--momentum",
        "0.5",
        "--tol",
        "none",
        "--standardize",
        "-q",
        "--out",
        str(out),
        *extra,
    ]


def _epochs_done(ck) -> int:
    """The epoch count of checkpoint ``ck`` (0 while there is none yet)."""
    try:
        with safe_open(str(ck), framework="pt") as fh:
            return int(fh.metadata()["epoch"])
    except Exception:  # not written yet (atomic rename: never a partial file)
        return 0


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_parameters(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6000, 20))
    labels = (x @ rng.normal(size=(20, 5)) + rng.normal(size=(6000, 5))).argmax(1)
    csv = tmp_path / "d.csv"
    np.savetxt(
        csv,
        np.c_[x, labels],
        delimiter=",",
        comments="",
        header=",".join([f"f{i}" for i in range(20)] + ["label"]),
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    full = tmp_path / "full.safetensors"
    assert run(*_train_cmd(csv, full)[3:]).returncode == 0  # uninterrupted, in this process

    ck, part = tmp_path / "ck.safetensors", tmp_path / "part.safetensors"
    proc = subprocess.Popen(
        _train_cmd(csv, part, "--checkpoint", str(ck)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # kill on an observable event — the checkpoint of epoch 3 has been written — so the
    # run is mid-way (maybe mid-write of the next one) whatever the machine's speed
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and _epochs_done(ck) < 3:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not part.exists()
    with safe_open(str(ck), framework="pt") as fh:
        done = int(fh.metadata()["epoch"])
    assert 0 < done < 400
    # the killed run is the real process; resuming it can happen anywhere
    assert run(*_train_cmd(csv, part, "--checkpoint", str(ck), "--resume")[3:]).returncode == 0
    a, b = load_model(full).model, load_model(part).model
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)
    assert len(load_model(part).config["history"]) == 400


def test_cli_resume_needs_a_checkpoint_and_refuses_a_foreign_one(tmp_path, capsys):
    from softmaxlab.cli import main

    out = tmp_path / "m.safetensors"
    assert main(["train", "--data", "iris", "--resume", "--out", str(out)]) == 2
    assert "--resume: needs --checkpoint" in capsys.readouterr().err
    ck = tmp_path / "ck.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                "iris",
                "--epochs",
                "3",
                "-q",
                "--checkpoint",
                str(ck),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    out.unlink()
    assert (
        main(
            [
                "train",
                "--data",
                "wine",
                "--epochs",
                "3",
                "-q",
                "--checkpoint",
                str(ck),
                "--resume",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "belongs to another run" in err and not out.exists()


# ----------------------------------------------------------------- SoftmaxRegression


def _estimator(max_epochs):
    return sl.SoftmaxRegression(
        random_state=0,
        momentum=0.9,
        schedule="adaptive",
        batch_size=16,
        learning_rate=0.5,
        max_epochs=max_epochs,
        tol=1e-3,
        n_iter_no_change=3,
        early_stopping=True,
    )


def test_estimator_resume_equals_an_uninterrupted_fit(tmp_path):
    import warnings

    from sklearn.datasets import load_wine
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_wine(return_X_y=True)
    full = _estimator(60).fit(X, y)
    assert full.n_iter_ > 10  # the interruption below happens mid-run
    ck = tmp_path / "est.safetensors"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _estimator(10).fit(X, y, checkpoint=ck, checkpoint_every=5)
    resumed = _estimator(60).fit(X, y, checkpoint=ck, resume=True)
    np.testing.assert_array_equal(resumed.coef_, full.coef_)
    np.testing.assert_array_equal(resumed.intercept_, full.intercept_)
    assert resumed.loss_curve_ == full.loss_curve_
    assert resumed.history_ == full.history_ and resumed.n_iter_ == full.n_iter_


def test_estimator_checkpoint_refusals(tmp_path):
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    ck = tmp_path / "est.safetensors"
    _estimator(60).fit(X, y, checkpoint=ck)  # runs to its stopping rule
    with pytest.raises(CheckpointError, match="that run already ended"):
        _estimator(60).fit(X, y, checkpoint=ck, resume=True)
    with pytest.raises(CheckpointError, match="belongs to another run"):
        _estimator(60).set_params(learning_rate=0.1).fit(X, y, checkpoint=ck, resume=True)
    with pytest.raises(CheckpointError, match="written by SoftmaxClassifier"):
        x, yy, _, _ = _data()
        other = tmp_path / "clf.safetensors"
        sl.SoftmaxClassifier(6, 4, device="cpu").fit(
            x, yy, 1, 0.1, 32, verbose=False, checkpoint=other
        )
        _estimator(60).fit(X, y, checkpoint=other, resume=True)
    with pytest.raises(sl.InvalidInputError, match="checkpoint: works with solver='sgd'"):
        sl.SoftmaxRegression(solver="lbfgs").fit(X, y, checkpoint=tmp_path / "l.st")
    with pytest.raises(sl.InvalidInputError, match="resume: needs checkpoint"):
        sl.SoftmaxRegression().fit(X, y, resume=True)
