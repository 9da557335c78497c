"""``softmaxlab compare`` end to end: output, JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from softmaxlab import gradients as G
from softmaxlab.cli import main
from softmaxlab.references import keras_available
from tests.helpers import requires_keras, run, run_process

FAST = ["--reference", "torch", "--epochs", "3"]


def test_default_compare_reproduces_the_seed_run_and_passes(tmp_path):
    out = tmp_path / "seed.json"
    proc = run("compare", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    text = proc.stdout
    assert "M=10100 N=5 C=3, first 100 rows train | lr=0.01 epochs=16 batch=33" in text
    assert "epoch: 15 - CE: " in text and " - acc_v: " in text
    assert "PASS" in text
    for name in G.names():
        assert name in text
    data = json.loads(out.read_text())
    refs = ["torch", "keras"] if keras_available() else ["torch"]
    assert data["ok"] is True and data["config"]["references"] == refs
    assert data["config"]["gradients"] == list(G.names())
    assert len(data["checks"]) == 6 * len(G.names()) * len(refs)
    for ref in refs:
        assert len(data["reference_logs"][ref]) == 16
        for name in G.names():
            log = data["model_logs"][ref][name]
            assert [r["epoch"] for r in log] == list(range(16))
    after = [c for c in data["checks"] if c["required"]]
    assert all(c["mape"] < 1e-10 for c in after)
    before = [c for c in data["checks"] if c["quantity"] == "predictions before copy"]
    assert all(c["mape"] > 1e-3 for c in before)


@pytest.mark.slow
def test_python_dash_m_and_console_script_agree():
    script = Path(sys.executable).parent / "softmaxlab"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("softmaxlab ")
    assert run_process("--version").stdout == proc.stdout


def test_options_select_gradients_and_sizes(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(
        [
            "compare",
            *FAST,
            "--gradient",
            "chain,fused",
            "--gradient",
            "jacobian",
            "--samples",
            "600",
            "--features",
            "4",
            "--classes",
            "4",
            "--train-rows",
            "90",
            "--batch-size",
            "16",
            "--lr",
            "0.05",
            "--seed",
            "7",
            "--device",
            "cpu",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    cfg = data["config"]
    assert cfg["gradients"] == ["chain", "fused", "jacobian"]
    assert (
        cfg["n_samples"],
        cfg["n_features"],
        cfg["n_classes"],
        cfg["train_rows"],
        cfg["batch_size"],
        cfg["lr"],
        cfg["seed"],
    ) == (600, 4, 4, 90, 16, 0.05, 7)
    assert len(data["checks"]) == 6 * 3
    assert "identical logs" in capsys.readouterr().out


def test_float32_uses_its_own_tolerance(capsys):
    assert main(["compare", *FAST, "--gradient", "fused", "--dtype", "float32", "-q"]) == 0
    out = capsys.readouterr().out
    assert "pass: < 1e-05" in out and "epoch:" not in out


def test_parity_failure_exits_1_and_says_which(capsys, tmp_path):
    out = tmp_path / "fail.json"
    code = main(
        ["compare", *FAST, "--gradient", "chain", "--tolerance", "1e-300", "-q", "--json", str(out)]
    )
    assert code == 1
    text = capsys.readouterr().out
    assert "FAIL: predictions after training (torch, gradient=chain)" in text
    assert json.loads(out.read_text())["ok"] is False


def test_numerical_failure_is_one_line_exit_1(capsys):
    code = main(["compare", "--reference", "torch", "--gradient", "chain", "--lr", "1e4", "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gradient='fused'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "-1"], "argument --lr: must be a finite number > 0"),
        (["--lr", "abc"], "argument --lr: expected a positive number"),
        (["--epochs", "0"], "argument --epochs: must be a positive integer"),
        (["--batch-size", "2.5"], "argument --batch-size: expected a positive integer"),
        (["--gradient", "adam"], "unknown formulation 'adam'"),
        (["--reference", "jax"], "argument --reference: unknown reference 'jax'"),
        (["--dtype", "float16"], "argument --dtype: invalid choice"),
        (["--samples", "50"], "train_rows: must be less than n_samples (50)"),
        (["--features", "1"], "n_features: needs at least 2"),
        (["--classes", "1"], "n_classes: needs at least 2 classes"),
        (["--classes", "40"], "n_classes: 40 classes need at least 7 features"),
        (["--device", "nonsense"], "device: not a device"),
        (["--json", "/nonexistent-dir/out.json"], "--json: directory /nonexistent-dir does not"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_usage_is_one_line_on_stderr_exit_2(args, message):
    proc = run("compare", *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_failed_run_writes_no_json(tmp_path):
    out = tmp_path / "never.json"
    proc = run("compare", "--samples", "50", "--json", str(out))
    assert proc.returncode == 2 and not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_help_explains_the_command():
    proc = run("compare", "--help")
    assert proc.returncode == 0
    for word in ("MAPE", "--gradient", "--reference", "--json", "kronecker", "tolerance"):
        assert word in proc.stdout


@requires_keras
def test_keras_reference_alone(capsys):
    assert (
        main(["compare", "--reference", "keras", "--gradient", "chain", "--epochs", "2", "-q"]) == 0
    )
    assert "keras" in capsys.readouterr().out
