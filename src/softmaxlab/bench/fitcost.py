"""What a fit costs through each entry point, against the engine's own epoch
(``softmaxlab bench --section fit``).

On one data set (200 000 × 100 float64, 10 classes, batch 256 by default), in one
process:

* ``fused epoch``: ``SoftmaxClassifier.fit(gradient="fused")``'s epoch — the engine, rows
  in order (the reference of every ratio);
* ``classifier set-up``: what ``SoftmaxClassifier.fit`` costs besides its epochs (the
  checks of X and the targets: one finiteness pass over X, the sum of its values): the
  fit of 1 epoch minus one epoch;
* ``estimator epoch``: a ``SoftmaxRegression`` SGD epoch — rows shuffled each epoch,
  standardised as they are read, momentum 0.9 and an L2 penalty — taken from real fits,
  (fit of 6 epochs − fit of 1 epoch) / 5;
* ``estimator set-up``: what such a fit costs besides its epochs (input checks, label
  encoding, weights, standardisation statistics, the final gradient-norm pass): the fit of
  1 epoch minus one epoch; ``final gradient-norm pass``: the full pass behind
  ``grad_norm_`` (a diagnostic of the fitted model, not set-up), timed on its own;
* ``data-parallel epoch (1 rank)``: ``SoftmaxClassifier.fit`` as one rank of a real
  ``torch.distributed`` (gloo) group of one, i.e. with its all_reduce per batch;
* ``estimator peak memory``: the peak resident memory a ``SoftmaxRegression`` fit adds,
  as a multiple of the size of X (Linux: ``VmHWM`` after resetting it through
  ``/proc/self/clear_refs``; ``None`` elsewhere).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["fit_costs", "peak_extra_bytes"]


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_extra_bytes(fn: Callable[[], Any]) -> int | None:
    """Peak resident memory added while ``fn()`` runs (bytes), or ``None`` where the
    peak cannot be reset (not Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current resident size
    except OSError:
        return None
    base = _rss_kib("VmRSS")
    fn()
    peak = _rss_kib("VmHWM")
    if base is None or peak is None:
        return None
    return max(0, peak - base) * 1024


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _one_rank_group() -> Any:
    """A gloo process group of one, in this process (returns its Comm)."""
    import socket

    import torch.distributed as dist

    from ..distributed import group_comm

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    return group_comm()


def fit_costs(
    *,
    rows: int = 200_000,
    features: int = 100,
    classes: int = 10,
    batch: int = 256,
    repeats: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure the entry points (see the module docstring); seconds and ratios."""
    import warnings

    import torch.distributed as dist

    from ..estimator import SoftmaxRegression
    from ..fast.comm import data_parallel
    from ..model import SoftmaxClassifier
    from ..objective import L2, MultinomialLoss, Rows
    from ..solvers import grad_norm
    from .bench import make_data

    x, y1h = make_data(rows, features, classes, torch.float64)
    xn, yn = x.numpy(), y1h.argmax(dim=1).numpy()

    def say(text: str) -> None:
        if progress is not None:
            progress(f"fit: {text}")

    def classifier(epochs: int) -> Callable[[], Any]:
        def run() -> None:
            model = SoftmaxClassifier(features, classes, gradient="fused", seed=0, device="cpu")
            model.fit(x, y1h, epochs, 0.01, batch, verbose=False)

        return run

    def estimator(epochs: int) -> Callable[[], Any]:
        def run() -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                SoftmaxRegression(
                    solver="sgd",
                    momentum=0.9,
                    alpha=1e-4,
                    batch_size=batch,
                    learning_rate=0.01,
                    max_epochs=epochs,
                    tol=None,
                    random_state=0,
                    device="cpu",
                ).fit(xn, yn)

        return run

    say("SoftmaxClassifier fused epochs and set-up")
    classifier_one = _median_time(classifier(1), repeats)
    fused = (_median_time(classifier(6), repeats) - classifier_one) / 5
    classifier_setup = classifier_one - fused
    say("SoftmaxRegression epochs and set-up")
    one = _median_time(estimator(1), repeats)
    est_epoch = (_median_time(estimator(6), repeats) - one) / 5
    setup = one - est_epoch
    say("final gradient-norm pass")
    fitted = SoftmaxRegression(solver="sgd", max_epochs=1, tol=None, batch_size=batch, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted.fit(xn, yn)
    f64: dict[str, Any] = {"dtype": torch.float64}
    loss = MultinomialLoss(
        Rows(
            x,
            torch.as_tensor(yn),
            torch.ones(rows, **f64),
            None,
            torch.zeros(features, **f64),
            torch.ones(features, **f64),
        ),
        classes,
    )
    theta = loss.from_original(fitted.coef_, fitted.intercept_)
    norm_pass = _median_time(lambda: grad_norm(loss, L2(fitted.alpha_), theta), repeats)
    say("data-parallel, one rank")
    parallel = None
    if dist.is_available() and not dist.is_initialized():
        comm = _one_rank_group()
        try:
            with data_parallel(comm):
                parallel = (
                    _median_time(classifier(6), repeats) - _median_time(classifier(1), repeats)
                ) / 5
        finally:
            dist.destroy_process_group()
    say("SoftmaxRegression peak memory")
    peak = peak_extra_bytes(estimator(2))
    return {
        "rows": rows,
        "features": features,
        "classes": classes,
        "batch": batch,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "seconds": {
            "fused epoch": fused,
            "classifier set-up": classifier_setup,
            "estimator epoch": est_epoch,
            "estimator set-up": setup,
            "final gradient-norm pass": norm_pass,
            "data-parallel epoch (1 rank)": parallel,
        },
        "ratios": {
            "classifier set-up / fused epoch": classifier_setup / fused,
            "estimator epoch / fused epoch": est_epoch / fused,
            "estimator set-up / estimator epoch": setup / est_epoch,
            "set-up without the final pass / estimator epoch": (setup - norm_pass) / est_epoch,
            "data-parallel epoch (1 rank) / fused epoch": None
            if parallel is None
            else parallel / fused,
        },
        "estimator peak extra memory / X": None if peak is None else peak / xn.nbytes,
        "x_mib": float(np.round(xn.nbytes / 2**20, 1)),
    }
