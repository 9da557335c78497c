"""How cost grows: time and peak memory of one gradient step per formulation as the batch
grows, with the fitted exponents (memory is O(B·C) for chain/fused, O(B·C²) for
blockwise, O(B²·C²) for jacobian/kronecker), and fast-path epoch time against the number
of rows. The ``growth`` and ``scaling`` sections of ``softmaxlab bench``."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import torch

from .. import functional as F
from .. import gradients as G
from ..io.atomic import atomic_write
from .bench import _fast, make_data, median_epoch, median_epochs_interleaved

__all__ = ["GROWTH_BATCHES", "peak_bytes", "plot_growth", "run_growth", "run_scaling"]


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """The profiler's C++ side prints start/stop lines on stderr; hide them."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated by PyTorch while ``fn`` runs (CPU), from the profiler's
    allocation and free events in time order."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p:
        fn()
    events = sorted(
        (e for e in p.profiler.kineto_results.events() if e.name() == "[memory]"),
        key=lambda e: e.start_ns(),
    )
    current = best = 0
    for e in events:
        current += e.nbytes()
        best = max(best, current)
    return best


def _slope(xs: list[float], ys: list[float]) -> float | None:
    pts = [(math.log(a), math.log(b)) for a, b in zip(xs, ys, strict=True) if b and b > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


GROWTH_FORMULATIONS = ("fused", "chain", "blockwise", "kronecker", "jacobian")
GROWTH_BATCHES = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


def run_growth(
    batches: tuple[int, ...] = GROWTH_BATCHES,
    *,
    features: int = 100,
    classes: int = 10,
    repeats: int = 5,
    formulations: tuple[str, ...] = GROWTH_FORMULATIONS,
    fit_from: int = 256,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Time and peak memory of one gradient step per formulation as the batch grows; the
    exponents are log-log slopes fitted from batch ``fit_from`` up (below it, fixed
    overheads dominate)."""
    rows: list[dict[str, Any]] = []
    for name in formulations:
        f = G.get(name)
        for batch in batches:
            if progress:
                progress(f"growth {name} B={batch}")
            x, y = make_data(batch, features, classes, torch.float64)
            w = torch.zeros(features, classes, dtype=torch.float64)
            b = torch.zeros(classes, dtype=torch.float64)
            y_hat = F.softmax(F.logits(x, w, b))
            try:
                f.check_budget(batch, features, classes, 8)
            except MemoryError:
                rows.append(
                    {
                        "gradient": name,
                        "batch": batch,
                        "seconds": None,
                        "bytes": None,
                        "note": "refused: over the memory budget",
                    }
                )
                continue
            step = partial(f.kernel, x, y, w, b, y_hat)
            seconds = median_epoch(step, repeats)
            rows.append(
                {
                    "gradient": name,
                    "batch": batch,
                    "seconds": seconds,
                    "bytes": peak_bytes(step),
                    "note": "",
                }
            )
    exponents = {}
    for name in formulations:
        mine = [
            r for r in rows if r["gradient"] == name and r["seconds"] and r["batch"] >= fit_from
        ]
        exponents[name] = {
            "memory": _slope([r["batch"] for r in mine], [r["bytes"] for r in mine]),
            "time": _slope([r["batch"] for r in mine], [r["seconds"] for r in mine]),
        }
    return {
        "features": features,
        "classes": classes,
        "rows": rows,
        "exponents": exponents,
        "fit_from_batch": fit_from,
    }


def run_scaling(
    rows: tuple[int, ...] = (50_000, 100_000, 200_000, 400_000),
    *,
    features: int = 100,
    classes: int = 10,
    batch: int = 256,
    repeats: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fast-path epoch time against the number of rows; the exponent should be 1. The
    sizes are sampled in alternation (:func:`median_epochs_interleaved`), so a passing
    disturbance of the machine cannot bend the line at one size."""
    if progress:
        progress(f"scaling n={', '.join(map(str, rows))}")
    runs = {str(n): _fast(*make_data(n, features, classes, torch.float64), batch) for n in rows}
    seconds = median_epochs_interleaved(runs, repeats)
    out = [{"rows": n, "seconds": seconds[str(n)]} for n in rows]
    return {
        "features": features,
        "classes": classes,
        "batch": batch,
        "rows": out,
        "exponent": _slope([r["rows"] for r in out], [r["seconds"] for r in out]),
    }


def plot_growth(growth: dict[str, Any], path: str) -> None:
    """Log-log plots of step time and peak memory against the batch size (PNG)."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in growth["exponents"]:
        pts = [r for r in growth["rows"] if r["gradient"] == name and r["seconds"]]
        if not pts:
            continue
        exps = growth["exponents"][name]
        batch = [r["batch"] for r in pts]
        axes[0].loglog(
            batch,
            [r["seconds"] * 1e3 for r in pts],
            "o-",
            label=f"{name} (slope {exps['time']:.2f})" if exps["time"] else name,
        )
        axes[1].loglog(
            batch,
            [r["bytes"] / 2**20 for r in pts],
            "o-",
            label=f"{name} (slope {exps['memory']:.2f})" if exps["memory"] else name,
        )
    batches = sorted({r["batch"] for r in growth["rows"]})
    for ax in axes:
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axes[0].set(xlabel="batch size B", ylabel="ms per gradient step", title="time")
    axes[1].set(xlabel="batch size B", ylabel="peak MiB", title="memory")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"one gradient step, N={growth['features']}, C={growth['classes']}, float64 "
        f"(slopes fitted from B ≥ {growth['fit_from_batch']})"
    )
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
