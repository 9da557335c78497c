"""Peak extra memory of a fit, as a multiple of the size of X (docs/estimator.md).

    .venv/bin/python benchmarks/fit_memory.py            # softmaxlab, then scikit-learn

Each estimator runs in a fresh process (so one's allocations do not hide the other's); a
thread samples the process' resident memory every 2 ms during ``fit`` on a 200 000 x 100
float64 ``make_classification`` array, after a tiny warm-up fit that loads every library.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time


def measure(which: str) -> float:
    import psutil
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    import softmaxlab as sl

    X, y = make_classification(200_000, 100, n_informative=60, n_classes=10, random_state=0)

    def make(epochs: int):
        if which == "softmaxlab":
            return sl.SoftmaxRegression(max_epochs=epochs, tol=None)
        return LogisticRegression(max_iter=epochs * 2 + 1)

    make(1).fit(X[:500], y[:500])  # warm-up: imports, the native kernel's build
    proc = psutil.Process()
    base = peak = proc.memory_info().rss
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=watch)
    thread.start()
    make(2).fit(X, y)
    done.set()
    thread.join()
    return (peak - base) / X.nbytes


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(f"{measure(sys.argv[1]):.3f}")
    else:
        for name in ("softmaxlab", "sklearn"):
            out = subprocess.run(
                [sys.executable, __file__, name], capture_output=True, text=True, check=True
            ).stdout.split()[-1]
            print(f"{name:<11} peak extra memory of fit / size of X: {out}")
