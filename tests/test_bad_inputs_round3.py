"""Inputs that used to end in a traceback or overwrite a file: continuous targets, no
feature column, and two outputs naming one file. Each is one line and exit 2 from the
CLI, and an error naming the argument (still a ValueError) from Python."""

from __future__ import annotations

import numpy as np
import pytest

import softmaxlab as sl
from softmaxlab import tasks


@pytest.fixture
def continuous(tmp_path):
    path = tmp_path / "cont.csv"
    path.write_text("a,b,y\n1,2,0.5\n2,3,1.5\n3,1,0.5\n4,4,1.5\n5,2,0.25\n")
    return path


def test_a_continuous_target_is_refused_by_name(fails_cleanly, tmp_path, continuous):
    fails_cleanly(
        ["train", "--data", str(continuous), "--out", str(tmp_path / "m.safetensors")],
        tmp_path,
        "y: Unknown label type: continuous",
    )
    est = sl.SoftmaxRegression()
    with pytest.raises(sl.InvalidInputError, match="a classifier needs discrete labels"):
        est.fit(np.arange(10.0).reshape(5, 2), np.array([0.5, 1.5, 0.5, 1.5, 0.25]))
    with pytest.raises(ValueError):  # still what scikit-learn users catch
        est.fit(np.arange(10.0).reshape(5, 2), np.array([0.5, 1.5, 0.5, 1.5, 0.25]))
    assert not hasattr(est, "coef_")


def test_no_feature_column_is_one_line(fails_cleanly, tmp_path, continuous):
    fails_cleanly(
        [
            "train",
            "--data",
            str(continuous),
            "--columns",
            "",
            "--out",
            str(tmp_path / "m.safetensors"),
        ],
        tmp_path,
        "X, y: Found array with 0 feature(s)",
    )


def test_checkpoint_and_out_may_not_name_one_file(fails_cleanly, tmp_path):
    same = tmp_path / "m.safetensors"
    fails_cleanly(
        [
            "train",
            "--data",
            "iris",
            "--solver",
            "sgd",
            "--checkpoint",
            str(same),
            "--out",
            str(same),
        ],
        tmp_path,
        "--checkpoint: " + str(same) + " is also the --out file",
    )
    with pytest.raises(sl.InvalidInputError, match=r"checkpoint: .* is also the out file"):
        tasks.train("iris", solver="sgd", checkpoint=same, out=same)
    assert not same.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--momentum", "-0.5"], "--momentum: must be in [0, 1), got -0.5"),
        (["--tol", "inf"], "--tol: must be a finite number >= 0, or 'none', got inf"),
        (["--C", "1e-320"], "C: 1e-320 is too small"),
    ],
)
def test_messages_name_the_option_and_the_range_it_takes(fails_cleanly, tmp_path, args, message):
    fails_cleanly(
        ["train", "--data", "iris", *args, "--out", str(tmp_path / "m.safetensors")],
        tmp_path,
        message,
    )
    assert tasks.train("iris", momentum=0.0, solver="sgd", max_epochs=2).model.momentum == 0.0
