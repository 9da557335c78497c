"""The figures of train --plot, plot and evaluate --plot."""

from __future__ import annotations

import matplotlib.image
import numpy as np

from softmaxlab.cli import main
from tests.helpers import assert_png


def test_train_plot_and_plot_command(tmp_path, capsys):
    model, curves = tmp_path / "m.safetensors", tmp_path / "curves.png"
    assert main(["train", "--data", "iris", "--standardize", "--epochs", "6", "-q",
                 "--out", str(model), "--plot", str(curves)]) == 0
    assert_png(curves)
    again = tmp_path / "again.png"
    assert main(["plot", str(model), "--out", str(again)]) == 0
    assert_png(again)
    report = tmp_path / "c.json"
    assert main(["compare", "--reference", "torch", "--gradient", "fused", "--epochs", "2",
                 "-q", "--json", str(report)]) == 0
    from_compare = tmp_path / "c.png"
    assert main(["plot", str(report), "--out", str(from_compare)]) == 0
    assert_png(from_compare)
    bad = tmp_path / "bad.json"
    bad.write_text('{"nothing": 1}')
    capsys.readouterr()
    assert main(["plot", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "holds no epoch records" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_evaluate_plot_writes_confusion_matrix_and_reliability(tmp_path):
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.to_csv(tmp_path / "iris.csv", index=False)
    model = tmp_path / "m.safetensors"
    assert main(["train", "--data", str(tmp_path / "iris.csv"), "--target", "target",
                 "--standardize", "--epochs", "10", "-q", "--out", str(model)]) == 0
    plots = tmp_path / "plots"
    plots.mkdir()
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "iris.csv"),
                 "--target", "target", "--plot", str(plots)]) == 0
    assert_png(plots / "confusion_matrix.png", 200, 150)
    assert_png(plots / "reliability.png")
    assert np.isfinite(matplotlib.image.imread(plots / "reliability.png")).all()
