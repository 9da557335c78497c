"""The seed's figures: the softmax Jacobian and its flattenings, the gradient, the
training animation and decision regions (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..io.atomic import atomic_write
from ._figures import _plt, _save

__all__ = [
    "decision_regions",
    "decision_regions_figure",
    "flattenings_figure",
    "gradient_figure",
    "jacobian_figure",
    "jacobian_figure_of",
    "training_animation",
]


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
