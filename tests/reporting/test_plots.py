"""The figures of train --plot, plot and evaluate --plot."""

from __future__ import annotations

import matplotlib.image
import numpy as np

from softmaxlab.cli import main
from tests.helpers import assert_png


def test_train_plot_and_plot_command(tmp_path, capsys):
    model, curves = tmp_path / "m.safetensors", tmp_path / "curves.png"
    assert (
        main(
            [
                "train",
                "--data",
                "iris",
                "--standardize",
                "--epochs",
                "6",
                "-q",
                "--out",
                str(model),
                "--plot",
                str(curves),
            ]
        )
        == 0
    )
    assert_png(curves)
    again = tmp_path / "again.png"
    assert main(["plot", str(model), "--out", str(again)]) == 0
    assert_png(again)
    report = tmp_path / "c.json"
    assert (
        main(
            [
                "compare",
                "--reference",
                "torch",
                "--gradient",
                "fused",
                "--epochs",
                "2",
                "-q",
                "--json",
                str(report),
            ]
        )
        == 0
    )
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
    assert (
        main(
            [
                "train",
                "--data",
                str(tmp_path / "iris.csv"),
                "--target",
                "target",
                "--standardize",
                "--epochs",
                "10",
                "-q",
                "--out",
                str(model),
            ]
        )
        == 0
    )
    plots = tmp_path / "plots"
    plots.mkdir()
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--data",
                str(tmp_path / "iris.csv"),
                "--target",
                "target",
                "--plot",
                str(plots),
            ]
        )
        == 0
    )
    assert_png(plots / "confusion_matrix.png", 200, 150)
    assert_png(plots / "reliability.png")
    assert np.isfinite(matplotlib.image.imread(plots / "reliability.png")).all()


# ----------------------------------------------------------------- what the figures show


def _history(values, valid=True):
    return [
        {
            "epoch": e,
            "ce": v,
            "ce_valid": v + 0.1 if valid else None,
            "acc_valid": 0.5 if valid else None,
        }
        for e, v in enumerate(values)
    ]


def test_learning_curves_have_labels_whole_epochs_and_a_difference_panel():
    from softmaxlab.reporting.plots import learning_curves_figure

    same = [1.0, 0.8, 0.7, 0.65]
    fig = learning_curves_figure(
        {
            "ours": _history(same),
            "reference": _history(same),
            "off": _history([v + 1e-9 for v in same]),
        }
    )
    axes = fig.axes
    assert len(axes) == 4
    for ax in axes:
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel()
        assert all(float(t).is_integer() for t in ax.get_xticks())
    assert [len(ax.lines) for ax in axes[:3]] == [3, 3, 3]
    markers = {line.get_marker() for line in axes[0].lines}
    assert len(markers) == 3  # identical curves stay distinguishable
    diffs = [line.get_ydata() for line in axes[3].lines if len(line.get_ydata()) == 4]
    assert min(diffs[0]) == 1e-18  # "reference" equals "ours": on the exactly-0 floor
    assert 5e-10 < max(diffs[1]) < 2e-9


def test_parity_figure_marks_formulations_references_and_exact_zeros():
    from softmaxlab.reporting.plots import PARITY_FLOOR, parity_figure

    checks = [
        {
            "quantity": q,
            "reference": r,
            "gradient": g,
            "threshold": 1e-10,
            "mape": 0.0 if q == "CE after copy" else 1e-16,
        }
        for q in ("CE after copy", "W after training")
        for r in ("torch", "keras")
        for g in ("chain", "fused", "jacobian")
    ]
    fig = parity_figure(checks)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"torch / chain", "keras / jacobian"} <= set(labels) and len(labels) == 7
    assert ax.get_yticklabels()[0].get_text() == "exactly 0"
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    assert ys.min() == np.log10(PARITY_FLOOR) and ys.max() == -16
    assert "fraction" in ax.get_ylabel()


def test_jacobian_figure_uses_the_given_batch_with_labelled_blocks():
    import torch

    from softmaxlab import functional as F
    from softmaxlab.reporting.plots import jacobian_figure_of

    x = torch.randn(5, 2, dtype=torch.float64)
    y_hat = F.softmax(torch.randn(5, 3, dtype=torch.float64))
    fig = jacobian_figure_of(y_hat, x)
    left, right = fig.axes[0], fig.axes[1]
    assert [t.get_text() for t in left.get_xticklabels()] == [f"sample {k}" for k in range(1, 6)]
    assert left.images[0].get_array().shape == (15, 15)
    assert right.images[0].get_array().shape == (15, 6)
    bars = [a for a in fig.axes if a.get_ylabel() in ("∂ŷ/∂z", "∂z/∂w = x")]
    assert len(bars) == 2
    assert left.get_xlabel() and left.get_ylabel() and right.get_xlabel()


def test_decision_regions_have_a_legend_the_accuracies_and_held_out_points():
    import torch

    import softmaxlab as sl
    from softmaxlab.reporting.plots import decision_regions_figure

    g = np.random.default_rng(0)
    labels = g.integers(0, 3, 90)
    x = g.normal(size=(90, 2)) + np.eye(3)[labels][:, :2] * 3
    model = sl.SoftmaxClassifier(2, 3, gradient="fused", seed=0, device="cpu")
    model.fit(
        torch.from_numpy(x[:60]),
        sl.one_hot(labels[:60], 3, device="cpu"),
        30,
        0.1,
        16,
        verbose=False,
    )
    fig = decision_regions_figure(
        model, x[:60], labels[:60], x_valid=x[60:], labels_valid=labels[60:]
    )
    ax = fig.axes[0]
    entries = [t.get_text() for t in ax.get_legend().get_texts()]
    assert entries == ["class 0", "class 1", "class 2", "training rows", "held-out rows"]
    assert "training accuracy" in ax.get_title() and "held-out accuracy" in ax.get_title()
    assert any("logits are equal" in t.get_text() for t in fig.texts)
