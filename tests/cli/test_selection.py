"""``train --penalty/--l1-ratio/--cv`` and ``softmaxlab path`` (softmaxlab.selection):
each command's output equals its library function's, the figure is drawn from the
result, and bad values fail with one line and no file."""

from __future__ import annotations

import json

import numpy as np
import pytest

import softmaxlab as sl
from softmaxlab.cli import main
from softmaxlab.reporting.plots import path_figure
from softmaxlab.selection import path

from ..helpers import assert_png


def test_train_with_an_l1_penalty_writes_exact_zeros(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                "wine",
                "--standardize",
                "--penalty",
                "l1",
                "--C",
                "0.05",
                "--solver",
                "lbfgs",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    model = sl.load_model(out).model
    assert model.penalty == "l1" and (model.coef_ == 0).any()
    assert (
        main(
            [
                "train",
                "--data",
                "wine",
                "--penalty",
                "elasticnet",
                "--l1-ratio",
                "0.5",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert sl.load_model(out).model.l1_ratio == 0.5


def test_train_cv_chooses_c_reports_the_table_and_trains_at_it(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                "--data",
                "wine",
                "--standardize",
                "--penalty",
                "l1",
                "--cv",
                "3",
                "--Cs",
                "0.01,0.1,1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    saved = sl.load_model(out)
    cv = saved.config["cv"]
    assert cv["folds"] == 3 and [row["C"] for row in cv["table"]] == [0.01, 0.1, 1.0]
    best = max(cv["table"], key=lambda row: row["accuracy"])
    assert cv["C"] == best["C"] and f"3-fold CV, chosen C = {best['C']:.4g}" in printed
    n_train = saved.config["metrics"]["train"]["rows"]
    assert saved.model.alpha_ == pytest.approx(1 / (cv["C"] * n_train))


def test_path_command_prints_and_writes_what_selection_path_computes(tmp_path, capsys):
    plot, out = tmp_path / "path.png", tmp_path / "path.json"
    assert (
        main(
            [
                "path",
                "--data",
                "wine",
                "--l1-ratio",
                "1",
                "--Cs",
                "0.01,0.1,1,10",
                "--cv",
                "3",
                "--plot",
                str(plot),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    written = json.loads(out.read_text())
    direct = path("wine", Cs=[0.01, 0.1, 1, 10], l1_ratio=1.0, cv=3)
    for got, want in zip(written["table"], direct["table"], strict=True):
        assert got["n_nonzero"] == want["n_nonzero"]
        assert got["cv_accuracy"] == pytest.approx(want["cv_accuracy"])
    assert written["best_C"] == direct["best_C"]
    assert_png(plot)
    fig = path_figure(direct)
    top, bottom = fig.axes
    assert len(top.lines) >= 3 * 13  # one line per weight, plus the zero and chosen-C lines
    np.testing.assert_allclose(
        bottom.lines[0].get_ydata(), [r["cv_accuracy"] for r in direct["table"]]
    )
    assert "chosen C" in bottom.texts[0].get_text()
    printed = capsys.readouterr().out
    assert "non-zero weights" in printed and "◀" in printed


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--data", "wine", "--cv", "1"], "--cv: needs at least 2 folds"),
        (["train", "--data", "wine", "--l1-ratio", "2"], "--l1-ratio: must be in [0, 1]"),
        (
            ["train", "--data", "wine", "--penalty", "elasticnet"],
            "l1_ratio: penalty='elasticnet' needs l1_ratio",
        ),
        (["train", "--data", "wine", "--cv", "3", "--penalty", "none"], "cv: needs a penalty"),
        (["train", "--data", "wine", "--cv", "3", "--Cs", "0,1"], "--Cs: Cs must be positive"),
        (["path", "--data", "wine", "--Cs", "-1"], "--Cs: Cs must be positive"),
        (
            ["train", "--data", "wine", "--penalty", "l1", "--momentum", "0.9"],
            "momentum: proximal SGD",
        ),
    ],
)
def test_bad_selection_options_fail_cleanly(tmp_path, fails_cleanly, args, message):
    fails_cleanly(
        [*args, "--out", str(tmp_path / "m.safetensors")] if args[0] == "train" else args,
        tmp_path,
        message,
    )
