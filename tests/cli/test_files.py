"""train / predict / evaluate and compare --data, end to end, including bad input."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from softmaxlab.cli import main
from softmaxlab.persistence import load_model
from tests.helpers import run, run_process


@pytest.fixture(scope="module")
def wine_dir(tmp_path_factory) -> Path:
    """wine.csv with string labels, wine_x.parquet (features only), and a trained model."""
    d = tmp_path_factory.mktemp("wine")
    frame = load_wine(as_frame=True).frame
    frame["cultivar"] = np.array(["barolo", "grignolino", "barbera"])[frame.pop("target")]
    frame.to_csv(d / "wine.csv", index=False)
    frame.drop(columns="cultivar").to_parquet(d / "wine_x.parquet")
    assert (
        main(
            [
                "train",
                "--data",
                str(d / "wine.csv"),
                "--target",
                "cultivar",
                "--standardize",
                "--epochs",
                "40",
                "--out",
                str(d / "wine.safetensors"),
                "-q",
            ]
        )
        == 0
    )
    return d


def test_train_prints_epoch_lines_and_metrics_and_saves(tmp_path, capsys):
    out = tmp_path / "iris.safetensors"
    assert (
        main(["train", "--data", "iris", "--standardize", "--epochs", "5", "--out", str(out)]) == 0
    )
    text = capsys.readouterr().out
    assert "epoch: 4 - CE: " in text and "acc_v" in text
    assert "train" in text and "valid" in text and f"saved {out}" in text
    saved = load_model(out)
    assert saved.mean is not None and len(saved.feature_names) == 4
    assert saved.config["estimator"]["max_epochs"] == 5 and len(saved.config["history"]) == 5


def test_trained_wine_model_is_accurate_and_carries_its_labels(wine_dir):
    saved = load_model(wine_dir / "wine.safetensors")
    assert sorted(saved.classes) == ["barbera", "barolo", "grignolino"]
    assert saved.config["metrics"]["valid"]["accuracy"] > 0.9


def test_predict_writes_one_row_per_input_in_original_labels(wine_dir, tmp_path):
    out = tmp_path / "preds.csv"
    assert (
        main(
            [
                "predict",
                "--model",
                str(wine_dir / "wine.safetensors"),
                "--data",
                str(wine_dir / "wine_x.parquet"),
                "--proba",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    preds = pd.read_csv(out)
    truth = pd.read_csv(wine_dir / "wine.csv")["cultivar"]
    assert len(preds) == len(truth)
    assert set(preds["prediction"]) <= {"barolo", "grignolino", "barbera"}
    assert (preds["prediction"] == truth).mean() > 0.9
    np.testing.assert_allclose(preds.filter(like="p_").sum(axis=1), 1.0, rtol=1e-9)


def test_predict_to_stdout_matches_features_by_name(wine_dir, capsys):
    # the labelled CSV has the target as an extra column: features are found by name
    assert (
        main(
            [
                "predict",
                "--model",
                str(wine_dir / "wine.safetensors"),
                "--data",
                str(wine_dir / "wine.csv"),
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction" and len(lines) == 179


def test_evaluate_reports_metrics_and_json(wine_dir, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(wine_dir / "wine.safetensors"),
                "--data",
                str(wine_dir / "wine.csv"),
                "--target",
                "cultivar",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "accuracy" in text and "precision" in text and "confusion matrix" in text
    assert "Brier" in text and "ECE" in text
    report = json.loads(out.read_text())
    assert report["rows"] == 178 and report["accuracy"] > 0.9
    assert 0 <= report["brier"] < 0.3 and 0 <= report["ece"] < 0.2
    assert np.array(report["confusion_matrix"]).sum() == 178
    assert {r["class"] for r in report["per_class"]} == {"barolo", "grignolino", "barbera"}


def test_compare_on_a_file_and_a_bundled_set(wine_dir, capsys):
    assert (
        main(
            [
                "compare",
                "--data",
                str(wine_dir / "wine.csv"),
                "--standardize",
                "--reference",
                "torch",
                "--gradient",
                "chain,fused",
                "--epochs",
                "3",
                "-q",
            ]
        )
        == 0
    )
    assert "PASS" in capsys.readouterr().out
    assert (
        main(
            [
                "compare",
                "--data",
                "iris",
                "--reference",
                "torch",
                "--gradient",
                "fused",
                "--epochs",
                "2",
                "-q",
            ]
        )
        == 0
    )


# ----------------------------------------------------------------- bad input


@pytest.fixture()
def bad_files(tmp_path) -> Path:
    (tmp_path / "nan.csv").write_text("a,b,y\n1,2,x\n3,,y\n")
    (tmp_path / "text.csv").write_text("a,b,y\n1,red,x\n3,blue,y\n")
    (tmp_path / "one.csv").write_text("a,b,y\n1,2,x\n3,4,x\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "pickle.safetensors").write_bytes(pickle.dumps({"w": [1, 2]}))
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{d}/missing.csv"], "no such file"),
        (["--data", "mnist"], "unknown data set 'mnist'"),
        (["--data", "{d}/nan.csv"], "NaN or infinite value in column 'b'"),
        (["--data", "{d}/text.csv"], "feature columns must be numeric"),
        (["--data", "{d}/one.csv"], "has only 1 class"),
        (["--data", "{d}/empty.csv"], "empty.csv is empty"),
        (["--data", "iris", "--target", "species"], "target/features apply to files"),
        (["--data", "{d}/nan.csv", "--target", "label"], "target: no column named 'label'"),
        (["--data", "iris", "--lr", "0"], "argument --lr: must be a finite number > 0"),
        (["--data", "iris", "--epochs", "0"], "argument --epochs: must be a positive integer"),
        (["--data", "iris", "--batch-size", "-3"], "argument --batch-size: must be a positive"),
        (["--data", "iris", "--valid", "150"], "valid: 150 validation rows leave no training"),
    ],
)
def test_train_bad_input_exits_2_and_writes_nothing(bad_files, fails_cleanly, args, message):
    args = [a.format(d=bad_files) for a in args]
    fails_cleanly(["train", *args, "--out", str(bad_files / "m.safetensors")], bad_files, message)


def test_train_out_directory_must_exist(bad_files, fails_cleanly):
    fails_cleanly(
        ["train", "--data", "iris", "--out", str(bad_files / "no" / "m.safetensors")],
        bad_files,
        "--out: directory",
    )


def test_predict_and_evaluate_bad_input(bad_files, wine_dir, fails_cleanly):
    model = str(wine_dir / "wine.safetensors")
    out = str(bad_files / "p.csv")
    fails_cleanly(
        [
            "predict",
            "--model",
            str(bad_files / "pickle.safetensors"),
            "--data",
            str(wine_dir / "wine_x.parquet"),
            "--out",
            out,
        ],
        bad_files,
        "not a softmaxlab model file",
    )
    fails_cleanly(
        ["predict", "--model", model, "--data", str(bad_files / "nan.csv"), "--out", out],
        bad_files,
        "the model expects 13 features",
    )
    fails_cleanly(
        [
            "predict",
            "--model",
            str(bad_files / "none.safetensors"),
            "--data",
            str(bad_files / "nan.csv"),
        ],
        bad_files,
        "no such file",
    )
    fails_cleanly(
        ["evaluate", "--model", model, "--data", str(wine_dir / "wine.csv"), "--target", "nope"],
        bad_files,
        "target: no column named 'nope'",
    )
    relabelled = pd.read_csv(wine_dir / "wine.csv")
    relabelled.loc[0, "cultivar"] = "merlot"
    relabelled.to_csv(bad_files / "merlot.csv", index=False)
    fails_cleanly(
        [
            "evaluate",
            "--model",
            model,
            "--data",
            str(bad_files / "merlot.csv"),
            "--target",
            "cultivar",
        ],
        bad_files,
        "labels ['merlot'] are not classes",
    )


def test_compare_synthetic_size_options_conflict_with_data():
    proc = run("compare", "--data", "iris", "--samples", "500")
    assert proc.returncode == 2 and "--samples: apply to the synthetic data only" in proc.stderr


@pytest.mark.slow
def test_train_bad_file_in_a_real_process_has_no_traceback(bad_files):
    proc = run_process(
        "train", "--data", str(bad_files / "text.csv"), "--out", str(bad_files / "m.safetensors")
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "feature columns must be numeric" in proc.stderr and "Traceback" not in proc.stderr
    assert not (bad_files / "m.safetensors").exists()


def test_compare_reference_sklearn(capsys, tmp_path):
    out = tmp_path / "sk.json"
    assert (
        main(
            [
                "compare",
                "--data",
                "wine",
                "--standardize",
                "--reference",
                "sklearn",
                "--C",
                "0.5",
                "-q",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "at the optimum" in text and "LogisticRegression" in text and "C=0.5" in text
    data = json.loads(out.read_text())
    assert data["config"]["sklearn_C"] == 0.5
    assert {c["quantity"] for c in data["checks"]} == {
        "coef_ (centred)",
        "intercept_ (centred)",
        "predict_proba",
    }
