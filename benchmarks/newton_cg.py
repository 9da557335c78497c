"""Newton-CG against L-BFGS on the bundled sets (standardised), at the default tolerance
and at 1e-10: iterations, the gradient norm reached, the largest difference in
probabilities from a tight L-BFGS fit, and the fit time (docs/estimator.md).

    python benchmarks/newton_cg.py
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.preprocessing import StandardScaler

from softmaxlab import SoftmaxRegression


def main() -> None:
    for load in (load_iris, load_wine, load_digits, load_breast_cancer):
        x, y = load(return_X_y=True)
        x = StandardScaler().fit_transform(x)
        ref = SoftmaxRegression(solver="lbfgs", tol=1e-10, max_epochs=5000).fit(x, y)
        for solver in ("newton-cg", "lbfgs"):
            for tol in (1e-4, 1e-10):
                started = time.perf_counter()
                m = SoftmaxRegression(solver=solver, tol=tol, max_epochs=5000).fit(x, y)
                seconds = time.perf_counter() - started
                gap = np.abs(m.predict_proba(x) - ref.predict_proba(x)).max()
                print(
                    f"{load.__name__[5:]:<14} {solver:<10} tol={tol:<6g} "
                    f"iterations={m.n_iter_:<4} grad_norm={m.grad_norm_:.1e} "
                    f"off tight L-BFGS={gap:.1e} {seconds * 1e3:.1f} ms"
                )


if __name__ == "__main__":
    main()
