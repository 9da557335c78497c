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


def learning_curves(histories: Mapping[str, Sequence[Any]], path: str | Path,
                    title: str = "learning curves") -> None:
    """Train CE, valid CE and valid accuracy per epoch, one line per named history
    (``EpochRecord`` objects or their dicts)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = (("ce", "train cross-entropy"), ("ce_valid", "valid cross-entropy"),
              ("acc_valid", "valid accuracy"))
    styles = ["-", "--", ":", "-."]
    for i, (name, history) in enumerate(histories.items()):
        recs = _records(history)
        epochs = [r["epoch"] for r in recs]
        for ax, (key, _) in zip(axes, panels, strict=True):
            values = [r.get(key) for r in recs]
            if any(v is not None for v in values):
                ax.plot(epochs, values, styles[i % len(styles)], lw=2 - 0.3 * (i % 3),
                        label=name)
    for ax, (_, label) in zip(axes, panels, strict=True):
        ax.set(xlabel="epoch", title=label)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


def parity_chart(checks: Sequence[Any], path: str | Path) -> None:
    """log10 MAPE per compared quantity, one bar per (reference, formulation)."""
    plt = _plt()
    rows = [c if isinstance(c, dict) else c.__dict__ for c in checks]
    quantities = list(dict.fromkeys(r["quantity"] for r in rows))
    columns = list(dict.fromkeys((r["reference"], r["gradient"]) for r in rows))
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(quantities) + 4), 4.5))
    width = 0.8 / max(len(columns), 1)
    for j, (ref, grad) in enumerate(columns):
        values = []
        for q in quantities:
            r = next((r for r in rows if (r["quantity"], r["reference"], r["gradient"])
                      == (q, ref, grad)), None)
            v = np.nan if r is None else r["mape"]
            values.append(np.log10(max(v, 1e-18)) if v == v else np.nan)
        ax.bar(np.arange(len(quantities)) + j * width, values, width, label=f"{ref} / {grad}")
    thresholds = sorted({r.get("threshold", 0) for r in rows if r.get("threshold")})
    for t in thresholds:
        ax.axhline(np.log10(t), color="red", lw=1, ls="--")
    ax.set_xticks(np.arange(len(quantities)) + 0.4 - width / 2, quantities, rotation=20,
                  ha="right", fontsize=8)
    ax.set(ylabel="log10 MAPE (0 = 1, −16 = rounding)",
           title="parity with the references (dashed: pass thresholds)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


def jacobian_figure(path: str | Path, *, m: int = 4, n: int = 3, c: int = 3,
                    seed: int = 0) -> None:
    """The softmax Jacobian ∂Σ/∂Z of a small batch, flattened sample by sample
    ((m·C) × (m·C), block diagonal), beside ∂vec Z/∂vec W = I_C ⊗ X ((m·C) × (N·C))."""
    import torch

    from .. import functional as F
    from .. import gradients as G

    plt = _plt()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, n, generator=g, dtype=torch.float64)
    w = torch.randn(n, c, generator=g, dtype=torch.float64)
    y_hat = F.softmax(F.logits(x, w, torch.zeros(c, dtype=torch.float64)))
    jac = G.softmax_jacobian(y_hat).reshape(m * c, m * c).numpy()
    kron = torch.kron(torch.eye(c, dtype=torch.float64), x).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    lim = np.abs(jac).max()
    im = axes[0].imshow(jac, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[0].set_title(f"softmax Jacobian ∂Σ/∂Z, m={m}, C={c}\n(rows and columns: sample, "
                      "then class; blocks diag(ŷᵢ) − ŷᵢŷᵢᵀ)")
    for k in range(1, m):
        axes[0].axhline(k * c - 0.5, color="k", lw=0.5)
        axes[0].axvline(k * c - 0.5, color="k", lw=0.5)
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    lim = np.abs(kron).max()
    im = axes[1].imshow(kron, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[1].set_title(f"∂vec Z/∂vec W = I_C ⊗ X, N={n}\n(column-major vec: one copy of X "
                      "per class)")
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


def decision_regions(model: Any, x: np.ndarray, labels: np.ndarray, path: str | Path,
                     title: str = "decision regions") -> None:
    """Coloured regions of ``model.predict`` (probabilities) over a 2-feature plane, with
    the points ``x`` (m, 2) coloured by their class index ``labels``."""
    import torch

    plt = _plt()
    pad = 0.5
    (x0, y0), (x1, y1) = x.min(axis=0) - pad, x.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    grid = torch.tensor(np.c_[gx.ravel(), gy.ravel()], dtype=model.dtype)
    pred = model.predict(grid).argmax(dim=1).cpu().numpy().reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.contourf(gx, gy, pred, alpha=0.25, cmap="viridis",
                levels=np.arange(model.n_classes + 1) - 0.5)
    ax.scatter(x[:, 0], x[:, 1], c=labels, s=12, cmap="viridis", edgecolor="k", lw=0.3)
    ax.set(xlabel="feature 0", ylabel="feature 1", title=title)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


def confusion_matrix_figure(matrix: Sequence[Sequence[int]], labels: Sequence[Any],
                            path: str | Path) -> None:
    """The confusion matrix (rows: true class, columns: predicted) with counts."""
    plt = _plt()
    cm = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(labels), 1 + 0.55 * len(labels)))
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black", fontsize=8)
    ticks = [str(label) for label in labels]
    ax.set_xticks(range(len(ticks)), ticks, rotation=45, ha="right")
    ax.set_yticks(range(len(ticks)), ticks)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)


def reliability_diagram(bins: Sequence[Mapping[str, Any]], path: str | Path,
                        ece: float | None = None) -> None:
    """Accuracy against confidence per bin (from ``metrics.reliability_bins``)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    used = [b for b in bins if b["count"]]
    centers = [(b["low"] + b["high"]) / 2 for b in used]
    widths = [b["high"] - b["low"] for b in used]
    ax.bar(centers, [b["accuracy"] for b in used], widths, edgecolor="k", alpha=0.7,
           label="accuracy")
    ax.plot([0, 1], [0, 1], "r--", label="perfect calibration")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top-class probability)",
           ylabel="accuracy", title="reliability diagram" + (
               f" (ECE {ece:.3f})" if ece is not None else ""))
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
