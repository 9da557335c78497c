"""Figures (matplotlib, Agg backend, PNG): learning curves, parity, Jacobians, decision
regions, confusion matrix and reliability diagram. Every function writes one file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..io.atomic import atomic_write


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _records(history: Sequence[Any]) -> list[dict[str, Any]]:
    return [r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in history]


def _save(fig: Any, path: str | Path) -> None:
    plt = _plt()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


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


def jacobian_figure_of(y_hat: Any, x: Any) -> Any:
    """The figure of :func:`jacobian_figure` for a batch's probabilities ``y_hat`` (m, C)
    and inputs ``x`` (m, N) (a matplotlib ``Figure``)."""
    import torch

    from .. import gradients as G

    plt = _plt()
    m, c = y_hat.shape
    n = x.shape[1]
    jac = G.softmax_jacobian(y_hat).reshape(m * c, m * c).numpy()
    kron = torch.kron(torch.eye(c, dtype=x.dtype), x).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    lim = np.abs(jac).max()
    im = axes[0].imshow(jac, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[0].set_title(
        f"∂Ŷ/∂Z flattened sample by sample (m={m}, C={c}):\nblock i is "
        "diag(ŷᵢ) − ŷᵢŷᵢᵀ, zero outside the blocks",
        fontsize=10,
    )
    edges = [k * c - 0.5 for k in range(1, m)]
    for e in edges:
        axes[0].axhline(e, color="k", lw=0.6)
        axes[0].axvline(e, color="k", lw=0.6)
    centres = [k * c + (c - 1) / 2 for k in range(m)]
    axes[0].set_xticks(centres, [f"sample {k + 1}" for k in range(m)], fontsize=8)
    axes[0].set_yticks(centres, [f"sample {k + 1}" for k in range(m)], fontsize=8)
    axes[0].set(xlabel="logit z (sample, then class)", ylabel="probability ŷ (sample, then class)")
    fig.colorbar(im, ax=axes[0], fraction=0.046, label="∂ŷ/∂z")
    lim = np.abs(kron).max()
    im = axes[1].imshow(kron, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[1].set_title(
        f"∂vec Z/∂vec W = I_C ⊗ X (N={n}), column-major vec:\none copy of X "
        "per class on the diagonal",
        fontsize=10,
    )
    axes[1].set(xlabel="weight w (class, then feature)", ylabel="logit z (class, then sample)")
    fig.colorbar(im, ax=axes[1], fraction=0.046, label="∂z/∂w = x")
    fig.tight_layout()
    return fig


def jacobian_figure(
    path: str | Path,
    *,
    y_hat: Any = None,
    x: Any = None,
    m: int = 4,
    n: int = 3,
    c: int = 3,
    seed: int = 0,
) -> None:
    """The softmax Jacobian ∂Ŷ/∂Z of a batch, flattened sample by sample ((m·C) × (m·C),
    block diagonal, block edges and samples on the ticks, a labelled colour bar), beside
    ∂vec Z/∂vec W = I_C ⊗ X ((m·C) × (N·C), column-major vec). Give the batch's ``y_hat``
    (m, C) and ``x`` (m, N) (the notebook passes its own), or a random batch of m × N
    with C classes is drawn from ``seed``."""
    import torch

    from .. import functional as F

    if y_hat is None or x is None:
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(m, n, generator=g, dtype=torch.float64)
        w = torch.randn(n, c, generator=g, dtype=torch.float64)
        y_hat = F.softmax(F.logits(x, w, torch.zeros(c, dtype=torch.float64)))
    _save(jacobian_figure_of(y_hat.detach().cpu(), x.detach().cpu()), path)


def flattenings_figure(y_hat: Any) -> Any:
    """The same ∂Ŷ/∂Z of a batch (m, C) flattened two ways (docs/math.md §7a): sample by
    sample (row-major, what ``reshape`` gives: block diagonal) and column by column (the
    vec layout: the same numbers, spread m apart)."""
    from .. import gradients as G

    plt = _plt()
    m, c = y_hat.shape
    full = G.softmax_jacobian(y_hat.detach().cpu())
    layouts = {
        "sample by sample (reshape): index (i−1)C + j": full.reshape(m * c, m * c),
        "column by column (vec): index (j−1)m + i": full.permute(1, 0, 3, 2).reshape(m * c, m * c),
    }
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 5))
    lim = float(full.abs().max())
    for ax, (title, mat) in zip(axes, layouts.items(), strict=True):
        im = ax.imshow(mat.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"∂Ŷ/∂Z, m={m}, C={c}\n{title}", fontsize=10)
        ax.set(xlabel="logit z (flattened)", ylabel="probability ŷ (flattened)")
        fig.colorbar(im, ax=ax, fraction=0.046, label="∂ŷ/∂z")
    fig.tight_layout()
    return fig


def gradient_figure(y: Any, y_hat: Any) -> Any:
    """∂L/∂Z = (Ŷ − Y)/m of a batch as a heatmap (samples × classes), the true class of
    each row ringed: negative (blue) where the step raises a logit (the true class), positive
    (red) where it lowers one (the others, in proportion to their probability)."""
    plt = _plt()
    y, y_hat = y.detach().cpu(), y_hat.detach().cpu()
    m, c = y.shape
    d_z = ((y_hat - y) / m).numpy()
    fig, ax = plt.subplots(figsize=(4 + 0.4 * c, 1.5 + 0.28 * m))
    lim = float(np.abs(d_z).max())
    im = ax.imshow(d_z, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    rows, cols = np.nonzero(y.numpy() == y.numpy().max(axis=1, keepdims=True))
    ax.scatter(cols, rows, s=60, facecolors="none", edgecolors="k", lw=1.2, label="true class")
    ax.set(xlabel="class", ylabel="sample", title="∂L/∂Z = (Ŷ − Y)/m of one batch")
    ax.set_xticks(range(c))
    fig.colorbar(im, ax=ax, label="∂L/∂z (blue: the step raises z, red: lowers it)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.12))
    fig.tight_layout()
    return fig


def training_animation(
    frames: Sequence[tuple[Any, float]],
    x: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    *,
    n_classes: int,
) -> None:
    """A GIF of training: for each ``(predict, loss)`` frame (a function from an (n, 2)
    array to class indices, and the epoch's loss), the decision regions over the points
    ``x`` (m, 2) and the loss curve so far."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    plt = _plt()
    pad = 0.5
    (x0, y0), (x1, y1) = x.min(axis=0) - pad, x.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, 90), np.linspace(y0, y1, 90))
    grid = np.c_[gx.ravel(), gy.ravel()]
    cmap = plt.get_cmap("viridis", n_classes)
    losses = [loss for _, loss in frames]
    fig, (ax, lx) = plt.subplots(1, 2, figsize=(9, 4))

    def draw(k: int) -> list[Any]:
        ax.clear()
        lx.clear()
        predict, _ = frames[k]
        ax.contourf(
            gx,
            gy,
            predict(grid).reshape(gx.shape),
            alpha=0.3,
            cmap=cmap,
            levels=np.arange(n_classes + 1) - 0.5,
        )
        ax.scatter(
            x[:, 0],
            x[:, 1],
            c=labels,
            s=10,
            cmap=cmap,
            vmin=-0.5,
            vmax=n_classes - 0.5,
            edgecolor="k",
            lw=0.2,
        )
        ax.set(xlabel="feature 1", ylabel="feature 2", title=f"decision regions, epoch {k}")
        lx.plot(range(k + 1), losses[: k + 1], "o-", ms=3)
        lx.set(
            xlim=(-0.5, len(frames) - 0.5),
            ylim=(0, max(losses) * 1.05),
            xlabel="epoch",
            ylabel="cross-entropy",
            title="training loss",
        )
        lx.grid(alpha=0.3)
        return []

    anim = FuncAnimation(fig, draw, frames=len(frames), blit=False)
    fig.tight_layout()
    atomic_write(path, lambda tmp: anim.save(tmp, writer=PillowWriter(fps=4)))
    plt.close(fig)


def decision_regions_figure(
    model: Any,
    x: np.ndarray,
    labels: np.ndarray,
    *,
    x_valid: np.ndarray | None = None,
    labels_valid: np.ndarray | None = None,
    title: str = "decision regions",
) -> Any:
    """The figure of :func:`decision_regions` (a matplotlib ``Figure``)."""
    import torch
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = _plt()
    pts = x if x_valid is None else np.r_[x, x_valid]
    pad = 0.5
    (x0, y0), (x1, y1) = pts.min(axis=0) - pad, pts.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    grid = torch.tensor(np.c_[gx.ravel(), gy.ravel()], dtype=model.dtype)
    pred = model.predict(grid).argmax(dim=1).cpu().numpy().reshape(gx.shape)
    cmap = plt.get_cmap("viridis", model.n_classes)
    fig, ax = plt.subplots(figsize=(7.2, 5.4))
    ax.contourf(gx, gy, pred, alpha=0.25, cmap=cmap, levels=np.arange(model.n_classes + 1) - 0.5)
    ax.scatter(
        x[:, 0],
        x[:, 1],
        c=labels,
        s=14,
        cmap=cmap,
        vmin=-0.5,
        vmax=model.n_classes - 0.5,
        edgecolor="k",
        lw=0.3,
    )

    def accuracy(points: np.ndarray, truth: np.ndarray) -> float:
        p = model.predict(torch.tensor(points, dtype=model.dtype)).argmax(dim=1)
        return float((p.cpu().numpy() == truth).mean())

    handles: list[Any] = [
        Patch(color=cmap(k), alpha=0.6, label=f"class {k}") for k in range(model.n_classes)
    ]
    summary = f"training accuracy {accuracy(x, labels):.2f}"
    handles.append(Line2D([], [], ls="", marker="o", mec="k", mfc="w", label="training rows"))
    if x_valid is not None and labels_valid is not None:
        ax.scatter(
            x_valid[:, 0],
            x_valid[:, 1],
            c=labels_valid,
            s=26,
            cmap=cmap,
            vmin=-0.5,
            vmax=model.n_classes - 0.5,
            marker="^",
            edgecolor="k",
            lw=0.5,
        )
        summary += f", held-out accuracy {accuracy(x_valid, labels_valid):.2f}"
        handles.append(Line2D([], [], ls="", marker="^", mec="k", mfc="w", label="held-out rows"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set(xlabel="feature 1", ylabel="feature 2", title=f"{title}\n{summary}")
    fig.text(
        0.01,
        0.01,
        "A boundary is where two classes' logits are equal: "
        "(w_j − w_k)·x + b_j − b_k = 0, a straight line.",
        fontsize=8,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def decision_regions(
    model: Any,
    x: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    title: str = "decision regions",
    *,
    x_valid: np.ndarray | None = None,
    labels_valid: np.ndarray | None = None,
) -> None:
    """Coloured regions of ``model.predict`` over a 2-feature plane with a class legend,
    the training points ``x`` (m, 2) by their class index ``labels`` (circles) and
    optional held-out points (triangles), the accuracies in the title, and a caption: the
    boundaries are where two logits are equal (straight lines for a linear model)."""
    _save(
        decision_regions_figure(
            model, x, labels, x_valid=x_valid, labels_valid=labels_valid, title=title
        ),
        path,
    )


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
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


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
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


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
