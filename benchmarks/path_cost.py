"""The cost of a regularisation path: softmaxlab.regularization_path over 10 Cs (1e-4 ..
1e4) against one SoftmaxRegression(solver="lbfgs") fit at the smallest penalty (C = 1e4),
on the standardised bundled sets, best of 3; prints the Markdown table of
docs/estimator.md#the-regularisation-path.

    python benchmarks/path_cost.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.preprocessing import StandardScaler

from softmaxlab import SoftmaxRegression, regularization_path


def main() -> None:
    warnings.simplefilter("ignore")
    print("| data set | penalty | path (10 Cs) | one fit at C = 1e4 | ratio | "
          "iterations (path / one fit) |")
    print("|---|---|---:|---:|---:|---:|")
    for name, load in (("iris", load_iris), ("wine", load_wine), ("digits", load_digits)):
        x, y = load(return_X_y=True)
        x = StandardScaler().fit_transform(x)
        for ratio in (None, 0.5, 1.0):
            best_path = best_single = np.inf
            for _ in range(3):
                found = regularization_path(x, y, Cs=10, l1_ratio=ratio)
                best_path = min(best_path, found.seconds)
                t0 = time.perf_counter()
                single = SoftmaxRegression(
                    solver="lbfgs", penalty="l2" if ratio is None else "elasticnet",
                    l1_ratio=ratio, alpha=1 / (1e4 * len(y))).fit(x, y)
                best_single = min(best_single, time.perf_counter() - t0)
            penalty = "l2" if ratio is None else f"l1_ratio={ratio}"
            print(f"| {name} | {penalty} | {best_path * 1e3:.0f} ms | "
                  f"{best_single * 1e3:.0f} ms | {best_path / best_single:.1f}× | "
                  f"{found.n_iter.sum()} / {single.n_iter_} |")


if __name__ == "__main__":
    main()
