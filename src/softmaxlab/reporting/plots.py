"""Figures (matplotlib, Agg backend, PNG): learning curves, parity, the regularisation
path, confusion matrix and reliability diagram; the seed's figures (Jacobians, decision
regions, the training animation: :mod:`softmaxlab.reporting.seed_plots`) are exported
here too. Every function that takes a path writes one file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._figures import _plt, _records, _save
from .seed_plots import (
    decision_regions,
    decision_regions_figure,
    flattenings_figure,
    gradient_figure,
    jacobian_figure,
    jacobian_figure_of,
    training_animation,
)

__all__ = [
    "confusion_matrix_figure",
    "decision_regions",
    "decision_regions_figure",
    "flattenings_figure",
    "gradient_figure",
    "jacobian_figure",
    "jacobian_figure_of",
    "learning_curves",
    "learning_curves_figure",
    "parity_chart",
    "parity_figure",
    "path_figure",
    "path_plot",
    "reliability_diagram",
    "training_animation",
]

_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def learning_curves_figure(
    histories: Mapping[str, Sequence[Any]],
    title: str = "learning curves",
    pairs: Sequence[tuple[str, str]] | None = None,
) -> Any:
    """The figure of :func:`learning_curves` (a matplotlib ``Figure``)."""
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    names = list(histories)
    if pairs is None:
        pairs = [(name, names[0]) for name in names[1:]]
    compare = bool(pairs)
    fig, axes = plt.subplots(1, 4 if compare else 3, figsize=(17 if compare else 13, 3.9))
    panels = (
        ("ce", "cross-entropy (training batches)"),
        ("ce_valid", "cross-entropy (validation)"),
        ("acc_valid", "accuracy (validation)"),
    )
    recs = {name: _records(h) for name, h in histories.items()}
    for i, name in enumerate(names):
        epochs = [r["epoch"] for r in recs[name]]
        for ax, (key, _) in zip(axes, panels, strict=False):
            values = [r.get(key) for r in recs[name]]
            if any(v is not None for v in values):
                # hollow markers of growing size: identical curves stay visible
                ax.plot(
                    epochs,
                    values,
                    ls="-" if i == 0 else "--",
                    marker=_MARKERS[i % 8],
                    ms=4 + 2.5 * i,
                    mfc="none",
                    lw=1.5,
                    label=name,
                )
    for ax, (_, label) in zip(axes, panels, strict=False):
        ax.set(xlabel="epoch", ylabel=label.split(" (")[0], title=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    if compare:
        ax = axes[3]
        floor = 1e-18
        for i, (a, b) in enumerate(pairs, start=1):
            diffs = [abs(p["ce"] - q["ce"]) for p, q in zip(recs[a], recs[b], strict=False)]
            ax.semilogy(
                [r["epoch"] for r in recs[a]][: len(diffs)],
                [max(d, floor) for d in diffs],
                marker=_MARKERS[i % 8],
                mfc="none",
                label=f"{a} − {b}",
            )
        ax.axhline(floor, color="grey", lw=0.8, ls=":")
        ax.set_ylim(floor / 10, 1.0)
        ticks = [t for t in ax.get_yticks() if floor * 5 < t <= 1.0]
        ax.set_yticks([floor, *ticks], ["exactly 0", *[f"1e{round(np.log10(t))}" for t in ticks]])
        ax.set(
            xlabel="epoch",
            ylabel="|difference of cross-entropy|",
            title="how far apart the compared runs are (log)",
        )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def learning_curves(
    histories: Mapping[str, Sequence[Any]],
    path: str | Path,
    title: str = "learning curves",
    pairs: Sequence[tuple[str, str]] | None = None,
) -> None:
    """Cross-entropy (training and validation) and validation accuracy per epoch, one
    line per named history (``EpochRecord`` objects or their dicts), with whole-number
    epochs and hollow markers so that curves that coincide stay visible; with two or more
    histories a fourth panel shows |cross-entropy of a − of b| on a log axis for each
    ``(a, b)`` of ``pairs`` (default: every history against the first), with
    differences of exactly 0 on a row marked "exactly 0"."""
    _save(learning_curves_figure(histories, title, pairs), path)


PARITY_FLOOR = 1e-20


def parity_figure(checks: Sequence[Any]) -> Any:
    """The figure of :func:`parity_chart` (a matplotlib ``Figure``)."""
    plt = _plt()
    rows = [c if isinstance(c, dict) else c.__dict__ for c in checks]
    quantities = list(dict.fromkeys(r["quantity"] for r in rows))
    refs = list(dict.fromkeys(r["reference"] for r in rows))
    grads = list(dict.fromkeys(r["gradient"] for r in rows))
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(quantities) + 5), 4.8))
    n = max(len(refs) * len(grads), 1)
    for a, ref in enumerate(refs):
        for g, grad in enumerate(grads):
            k = a * len(grads) + g
            xs, ys = [], []
            for q, quantity in enumerate(quantities):
                r = next(
                    (
                        r
                        for r in rows
                        if (r["quantity"], r["reference"], r["gradient"]) == (quantity, ref, grad)
                    ),
                    None,
                )
                if r is None or r["mape"] != r["mape"]:
                    continue
                xs.append(q + 0.7 * (k / max(n - 1, 1) - 0.5))
                ys.append(np.log10(max(r["mape"], PARITY_FLOOR)))
            ax.scatter(
                xs,
                ys,
                marker=_MARKERS[g % 8],
                color=colours(a % 10),
                s=36,
                facecolors="none" if a else colours(a % 10),
                label=f"{ref} / {grad}",
            )
    thresholds = sorted({r.get("threshold", 0) for r in rows if r.get("threshold")})
    for t in thresholds:
        ax.axhline(np.log10(t), color="red", lw=1, ls="--", label=f"pass below {t:g}")
    ax.axhline(np.log10(PARITY_FLOOR), color="grey", lw=0.8, ls=":")
    ax.set_xticks(range(len(quantities)), quantities, rotation=20, ha="right", fontsize=8)
    ticks = [t for t in ax.get_yticks() if t > np.log10(PARITY_FLOOR) + 0.5]
    ax.set_yticks([np.log10(PARITY_FLOOR), *ticks], ["exactly 0", *[f"1e{int(t)}" for t in ticks]])
    ax.set(
        ylabel="MAPE (a fraction; log scale)",
        xlabel="compared quantity",
        title="parity with the references (colour: reference, marker: formulation)",
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    return fig


def parity_chart(checks: Sequence[Any], path: str | Path) -> None:
    """MAPE (a fraction, log scale) of each compared quantity: one point per (reference,
    formulation), colour for the reference and marker for the formulation, the pass
    threshold dashed, and MAPE = 0 drawn on its own row marked "exactly 0" (never
    clipped silently); the legend sits outside the axes."""
    _save(parity_figure(checks), path)


def confusion_matrix_figure(
    matrix: Sequence[Sequence[int]], labels: Sequence[Any], path: str | Path
) -> None:
    """The confusion matrix (rows: true class, columns: predicted) with counts."""
    plt = _plt()
    cm = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(labels), 1 + 0.55 * len(labels)))
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                color="white" if cm[i, j] > cm.max() / 2 else "black",
                fontsize=8,
            )
    ticks = [str(label) for label in labels]
    ax.set_xticks(range(len(ticks)), ticks, rotation=45, ha="right")
    ax.set_yticks(range(len(ticks)), ticks)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    fig.tight_layout()
    _save(fig, path)


def reliability_diagram(
    bins: Sequence[Mapping[str, Any]], path: str | Path, ece: float | None = None
) -> None:
    """Accuracy against confidence per bin (from ``metrics.reliability_bins``)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    used = [b for b in bins if b["count"]]
    centers = [(b["low"] + b["high"]) / 2 for b in used]
    widths = [b["high"] - b["low"] for b in used]
    ax.bar(
        centers, [b["accuracy"] for b in used], widths, edgecolor="k", alpha=0.7, label="accuracy"
    )
    ax.plot([0, 1], [0, 1], "r--", label="perfect calibration")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence (top-class probability)",
        ylabel="accuracy",
        title="reliability diagram" + (f" (ECE {ece:.3f})" if ece is not None else ""),
    )
    ax.legend()
    fig.tight_layout()
    _save(fig, path)


def path_figure(result: Mapping[str, Any]) -> Any:
    """The regularisation path of ``softmaxlab path`` (:func:`softmaxlab.selection.path`):
    every weight against log10 C (one colour per class) above the cross-validated
    accuracy against log10 C (mean ± std over the folds), the chosen C marked on both."""
    plt = _plt()
    rows = result["table"]
    log_c = np.log10([r["C"] for r in rows])
    coefs = np.asarray(result["coefs"])  # (n_Cs, n_classes, n_features)
    best = np.log10(result["best_C"])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 7), sharex=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, label in enumerate(result["classes"]):
        colour = colours[k % len(colours)]
        for j in range(coefs.shape[2]):
            top.plot(
                log_c,
                coefs[:, k, j],
                color=colour,
                lw=0.8,
                alpha=0.7,
                label=f"class {label}" if j == 0 else None,
            )
    top.axhline(0, color="black", lw=0.6)
    ratio = result.get("l1_ratio")
    top.set_title(
        f"regularisation path ({'L2' if ratio is None else f'l1_ratio={ratio}'}): {result['data']}"
    )
    top.set_ylabel("coefficient (standardised features)")
    top.legend(fontsize=8, loc="upper left")
    mean = np.array([r["cv_accuracy"] for r in rows])
    std = np.array([r["cv_std"] for r in rows])
    bottom.plot(log_c, mean, marker="o", color="C0")
    bottom.fill_between(log_c, mean - std, mean + std, color="C0", alpha=0.2)
    bottom.set_ylabel(f"{result['folds']}-fold CV accuracy")
    bottom.set_xlabel("log10 C   (alpha = 1 / (C n): stronger penalty to the left)")
    for ax in (top, bottom):
        ax.axvline(best, color="grey", ls="--", lw=1)
    bottom.annotate(
        f"chosen C = {result['best_C']:.3g}",
        (best, float(mean.min())),
        xytext=(5, 5),
        textcoords="offset points",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


def path_plot(result: Mapping[str, Any], path: str | Path) -> None:
    """Write :func:`path_figure` as a PNG."""
    _save(path_figure(result), path)
