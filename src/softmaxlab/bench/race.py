"""The race users care about: ``SoftmaxRegression`` against scikit-learn's linear
classifiers, each inside ``make_pipeline(StandardScaler(), ...)`` with its defaults, on
the same rows (``softmaxlab bench --section race``, ``benchmarks/race.py``).

Contenders: ``LogisticRegression()``, ``SGDClassifier(loss="log_loss")``,
``SoftmaxRegression()`` and ``SoftmaxRegression(solver="lbfgs")``. Problems: a
``make_classification`` problem (200 000 × 100, 10 classes, 20 informative features by
default) and scikit-learn's bundled sets, each split 75/25 (stratified, seed 0). For each:
the median fit time (after a first fit; at least ``repeats`` fits and 0.5 s of them),
held-out accuracy, and the fit's peak extra
memory (traced by Python's allocator tracking, numpy's buffers included, torch's not).
"""

from __future__ import annotations

import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["race", "race_table"]


def _contenders() -> dict[str, Callable[[], Any]]:
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from ..estimator import SoftmaxRegression

    return {
        "LogisticRegression()": LogisticRegression,
        'SGDClassifier(loss="log_loss")': lambda: SGDClassifier(loss="log_loss", random_state=0),
        "SoftmaxRegression()": lambda: SoftmaxRegression(random_state=0),
        'SoftmaxRegression(solver="lbfgs")': lambda: SoftmaxRegression(solver="lbfgs"),
    }


def _problems(rows: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from sklearn import datasets

    x, y = datasets.make_classification(
        n_samples=rows, n_features=100, n_informative=20, n_classes=10, random_state=0
    )
    out = {f"make_classification {rows // 1000}k × 100, 10 classes": (x, y)}
    for name in ("iris", "wine", "digits", "breast_cancer"):
        out[name] = getattr(datasets, f"load_{name}")(return_X_y=True)
    return out


def race(
    *,
    rows: int = 200_000,
    repeats: int = 3,
    min_seconds: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit every contender on every problem; returns ``{"problems": {name: {"shape",
    "contenders": {contender: {"seconds", "accuracy", "peak_mib", "n_iter"}}}}}``."""
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    contenders = _contenders()
    out: dict[str, Any] = {"rows": rows, "repeats": repeats, "problems": {}}
    for pname, (x, y) in _problems(rows).items():
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
        cells: dict[str, Any] = {}
        for cname, make in contenders.items():
            if progress is not None:
                progress(f"race: {pname}: {cname}")
            times: list[float] = []
            pipe, peak = None, 0
            r = 0
            # at least `repeats` fits, and fits of a few milliseconds until 0.5 s of them:
            # a median over many, where a single hiccup of the machine would dominate
            while r < repeats or (sum(times[1:]) < min_seconds and r < 200):
                pipe = make_pipeline(StandardScaler(), make())
                if r == 0:
                    tracemalloc.start()
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # convergence warnings: reported as n_iter
                    pipe.fit(xtr, ytr)
                times.append(time.perf_counter() - t0)
                if r == 0:
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                r += 1
            assert pipe is not None
            est = pipe[-1]
            n_iter = getattr(est, "n_iter_", None)
            cells[cname] = {
                "seconds": float(np.median(times[1:] if len(times) > 1 else times)),
                "accuracy": float(pipe.score(xte, yte)),
                "peak_mib": peak / 2**20,
                "n_iter": int(np.max(n_iter)) if n_iter is not None else None,
            }
        out["problems"][pname] = {
            "shape": [int(x.shape[0]), int(x.shape[1]), len(np.unique(y))],
            "contenders": cells,
        }
    return out


def race_table(result: dict[str, Any]) -> str:
    """The race as a markdown table: time, held-out accuracy, iterations, peak memory,
    and each softmaxlab contender's time and accuracy relative to LogisticRegression."""
    lines = [
        "| problem | contender | fit (ms) | vs LR time | held-out accuracy | "
        "vs LR (points) | iterations | peak extra (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for pname, prob in result["problems"].items():
        ref = prob["contenders"]["LogisticRegression()"]
        for cname, c in prob["contenders"].items():
            lines.append(
                f"| {pname} | `{cname}` | {1000 * c['seconds']:.1f} | "
                f"{c['seconds'] / ref['seconds']:.2f}× | {c['accuracy']:.4f} | "
                f"{100 * (c['accuracy'] - ref['accuracy']):+.2f} | {c['n_iter']} | "
                f"{c['peak_mib']:.0f} |"
            )
    return "\n".join(lines) + (
        f"\n\nEach fit is make_pipeline(StandardScaler(), contender) with its defaults; "
        f"median of the fits after the first (at least {result['repeats']}, and 0.5 s of "
        "them); 75/25 stratified split, "
        "seed 0. Peak extra memory: Python/numpy allocations during the first fit.\n"
    )
