"""softmaxlab.cli.main, the one error boundary: the machine's failures (a full disk, a
deleted folder), outputs that would destroy something, and signals are one line and an
exit code; no trained model is lost to a failed save."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from softmaxlab.io import atomic
from softmaxlab.persistence import load_model
from tests.helpers import files_in, run


def _one_line(proc, code: int, *needles: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_a_full_disk_at_out_saves_the_model_elsewhere_and_says_where(tmp_path, monkeypatch):
    """The rename onto --out fails with ENOSPC: exit 2, one line naming the fallback file,
    which holds the trained model."""
    real = os.replace

    def full_disk(src, dst):
        if str(dst).endswith("model.safetensors"):
            raise OSError(28, "No space left on device", str(dst))
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    out = tmp_path / "model.safetensors"
    proc = run("train", "--data", "iris", "--standardize", "--seed", "1", "-q", "--out", str(out))
    _one_line(
        proc,
        2,
        "--out: could not write",
        "No space left on device",
        "the trained model was saved to",
    )
    fallback = Path(proc.stderr.split("saved to ")[1].split(" instead")[0])
    try:
        monkeypatch.undo()
        saved = load_model(fallback)
        again = run(
            "train", "--data", "iris", "--standardize", "--seed", "1", "-q", "--out", str(out)
        )
        assert again.returncode == 0
        np.testing.assert_array_equal(saved.model.coef_, load_model(out).model.coef_)
    finally:
        fallback.unlink(missing_ok=True)
    assert not [p for p in files_in(tmp_path) if p.startswith(".")]  # no temporary left


def test_a_deleted_output_folder_is_one_line(tmp_path, monkeypatch):
    """--plot's folder disappears after the checks: the model is saved, the plot error
    is one line with exit 2."""
    from softmaxlab.reporting import plots

    real = plots.learning_curves

    def folder_gone(histories, path, **kw):
        Path(path).parent.rmdir()
        return real(histories, path, **kw)

    monkeypatch.setattr(plots, "learning_curves", folder_gone)
    (tmp_path / "figs").mkdir()
    out = tmp_path / "m.safetensors"
    proc = run(
        "train",
        "--data",
        "iris",
        "-q",
        "--out",
        str(out),
        "--plot",
        str(tmp_path / "figs" / "c.png"),
    )
    _one_line(proc, 2, "No such file or directory")
    assert load_model(out).model is not None


@pytest.mark.parametrize("option", ["--out", "--plot"])
def test_outputs_that_are_not_regular_files_are_refused_before_training(tmp_path, option):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    args = ["train", "--data", "iris", "-q", "--out", str(tmp_path / "m.safetensors")]
    args += [option, str(fifo)]
    proc = run(*args)
    _one_line(proc, 2, f"{option}: ", "FIFO")
    assert files_in(tmp_path) == {"pipe"}


def test_an_output_that_is_an_input_is_refused(tmp_path):
    from sklearn.datasets import load_iris

    data = tmp_path / "iris.csv"
    load_iris(as_frame=True).frame.to_csv(data, index=False)
    before = data.read_bytes()
    model = tmp_path / "m.safetensors"
    proc = run("train", "--data", str(data), "-q", "--out", str(data))
    _one_line(proc, 2, "--out: ", "is the --data file this command reads")
    assert run("train", "--data", str(data), "-q", "--out", str(model)).returncode == 0
    for args in (
        ["predict", "--model", str(model), "--data", str(data), "--out", str(data)],
        ["predict", "--model", str(model), "--data", str(data), "--out", str(model)],
        [
            "evaluate",
            "--model",
            str(model),
            "--data",
            str(data),
            "--target",
            "target",
            "--json",
            str(data),
        ],
    ):
        _one_line(run(*args), 2, "file this command reads")
    assert data.read_bytes() == before and load_model(model).model is not None


def test_recursion_and_memory_errors_are_one_line(tmp_path, monkeypatch):
    from softmaxlab import tasks

    def deep(*a, **k):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(tasks, "read_histories", deep)
    (tmp_path / "h.json").write_text("[]")
    _one_line(
        run("plot", str(tmp_path / "h.json"), "--out", str(tmp_path / "p.png")),
        2,
        "input nested too deeply",
    )

    def huge(*a, **k):
        raise MemoryError

    monkeypatch.setattr(tasks, "read_histories", huge)
    _one_line(
        run("plot", str(tmp_path / "h.json"), "--out", str(tmp_path / "p.png")), 2, "out of memory"
    )


# ----------------------------------------------------------------- real processes


def _wait_for(predicate, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended first: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _train_process(
    tmp_path: Path, *extra: str, env: dict[str, str] | None = None, preexec=None
) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "softmaxlab",
            "train",
            "--data",
            "digits",
            "--standardize",
            "--solver",
            "sgd",
            "--batch-size",
            "8",
            "--epochs",
            "100000",
            "--tol",
            "none",
            "-q",
            "--checkpoint",
            str(tmp_path / "run.ckpt"),
            "--out",
            str(tmp_path / "m.safetensors"),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
        preexec_fn=preexec,
    )


@pytest.mark.slow
def test_sigterm_is_one_line_exit_143_with_the_checkpoint_intact(tmp_path):
    from softmaxlab.io.atomic import read_safetensors
    from softmaxlab.io.checkpoint import load_checkpoint

    proc = _train_process(tmp_path)
    try:
        _wait_for(lambda: (tmp_path / "run.ckpt").exists(), proc=proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:  # never leave a run training behind a failed test
        proc.kill()
    assert proc.returncode == 143 and err == "softmaxlab train: terminated\n", err
    _, meta = read_safetensors(tmp_path / "run.ckpt", AssertionError, "unreadable")
    tensors, info = load_checkpoint(
        tmp_path / "run.ckpt", kind="SoftmaxRegression", fingerprint=meta["fingerprint"]
    )  # every check but ours
    assert info["epoch"] >= 1 and tensors["w"].shape == (64, 10)
    assert files_in(tmp_path) == {"run.ckpt"}  # no temporary, no model file


@pytest.mark.slow
def test_a_full_disk_at_a_checkpoint_is_one_line(tmp_path):
    """RLIMIT_FSIZE below a checkpoint's size: the write fails with EFBIG (SIGXFSZ
    ignored, as a full disk fails with ENOSPC); one line, exit 2, no temporary left."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    proc = _train_process(tmp_path, preexec=limit)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and err.count("\n") == 1 and "File too large" in err, err
    assert "Traceback" not in err
    assert not [p for p in files_in(tmp_path) if p.startswith(".")]


@pytest.mark.slow
def test_interrupting_an_nproc_run_stops_every_rank(tmp_path):
    """SIGINT to the parent of `train --nproc 2`: it says "interrupted" (130) and no rank
    goes on training (every process carrying this run's marker is gone)."""
    marker = f"SOFTMAXLAB_TEST_RUN={uuid.uuid4().hex}"

    def ours() -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and entry.name != str(proc.pid):
                try:
                    if marker.encode() in (entry / "environ").read_bytes():
                        pids.append(int(entry.name))
                except OSError:
                    pass
        return pids

    # a shell's background job starts with SIGINT ignored, and so would this process
    proc = _train_process(
        tmp_path,
        "--nproc",
        "2",
        env=dict([marker.split("=")]),
        preexec=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_for(lambda: (tmp_path / "run.ckpt").exists(), timeout=120, proc=proc)
    assert ours()  # the ranks (and the fork server) are running
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:  # never leave a run training behind a failed test
        proc.kill()
        for pid in ours():
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130 and err.strip().endswith("interrupted"), err
    _wait_for(lambda: not ours(), timeout=30)


def test_every_option_of_every_command_explains_itself():
    import argparse

    from softmaxlab.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    silent = [
        f"{name} {'/'.join(action.option_strings)}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if action.option_strings and not action.help
    ]
    assert len(commands.choices) >= 10 and not silent, silent
