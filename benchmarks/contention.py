"""Epoch times when another process holds a core (docs/reliability.md).

    python benchmarks/contention.py

Fits SoftmaxRegression (SGD, 100 000 × 100 rows, C = 10, batch 256: pipelined native
epochs) for 20 epochs, three times each, with the pipeline's team always at two threads
(what softmaxlab did before ``TeamChooser``) and chosen by measurement (now), first on an
idle machine, then with a busy-looping process started by this script.
"""

from __future__ import annotations

import subprocess
import sys
import time

import torch

import softmaxlab as sl
from softmaxlab.bench.bench import make_data
from softmaxlab.fast import threads


def _runs(x, y) -> dict[str, list[float]]:
    chosen = threads.TeamChooser.pick
    out = {}
    for mode in ("always two threads", "chosen by timing"):
        threads.TeamChooser.pick = (
            (lambda self: self.threads) if mode.startswith("always") else chosen
        )
        times = []
        for _ in range(3):
            start = time.perf_counter()
            sl.SoftmaxRegression(solver="sgd", max_epochs=20, tol=None, batch_size=256).fit(x, y)
            times.append(time.perf_counter() - start)
        out[mode] = times
    threads.TeamChooser.pick = chosen
    return out


def main() -> None:
    x, y = make_data(100_000, 100, 10, torch.float64)
    x, y = x.numpy(), (y.argmax(1) if y.ndim == 2 else y).numpy()
    results = {"idle": _runs(x, y)}
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        results["one core busy"] = _runs(x, y)
    finally:
        hog.kill()
    for load, runs in results.items():
        for mode, times in runs.items():
            print(f"{load:>14} | {mode:<19} | 20 epochs: " + " ".join(f"{t:.2f} s" for t in times))


if __name__ == "__main__":
    main()
