"""What a checkpoint every epoch costs over a long run (docs/reliability.md).

    python benchmarks/checkpoint_cost.py 2000 5000

Fits SoftmaxRegression (SGD, full batches of iris) for N epochs without a checkpoint and
with one written every epoch, and prints both times and the cost per checkpoint; with
the history stored as a tensor the cost per checkpoint does not grow with N.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sklearn.datasets import load_iris

import softmaxlab as sl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("epochs", type=int, nargs="+", help="run lengths to measure")
    args = parser.parse_args()
    x, y = load_iris(return_X_y=True)
    for n in args.epochs:
        with tempfile.TemporaryDirectory() as tmp:
            times = {}
            for ck in (None, Path(tmp) / "run.ckpt"):
                est = sl.SoftmaxRegression(solver="sgd", max_epochs=n, tol=None, batch_size=150)
                start = time.perf_counter()
                est.fit(x, y, checkpoint=ck)
                times[ck is not None] = time.perf_counter() - start
        per = (times[True] - times[False]) / n * 1e3
        print(
            f"{n} epochs: {times[False]:.2f} s without, {times[True]:.2f} s with a "
            f"checkpoint every epoch ({per:.2f} ms per checkpoint)"
        )


if __name__ == "__main__":
    main()
