"""A probe, not part of softmaxlab: what an exact-Newton L2 path would cost on the bundled
sets, with softmaxlab's stopping rule (max |∇J| ≤ 1e-4 on the mean objective), to see
whether a solver with quadratic local convergence would bring a 10-value path within 3×
one fit at the smallest penalty (docs/estimator.md#the-regularisation-path).

Plain numpy: the full (N+1)C × (N+1)C Hessian of the mean cross-entropy, blocks
X̃ᵀ diag(p_k (δ_kl − p_l)) X̃ / n, plus α on the weights (10⁻¹⁰ on the intercepts, whose
all-ones direction the softmax leaves flat), solved by Cholesky; Armijo backtracking.

    python benchmarks/path_newton.py
"""

from __future__ import annotations

import time

import numpy as np
from scipy.linalg import solve
from scipy.special import log_softmax
from sklearn import datasets
from sklearn.preprocessing import StandardScaler


def _problem(x: np.ndarray, y: np.ndarray):
    n, nf = x.shape
    k = int(y.max()) + 1
    xt = np.c_[x, np.ones(n)]
    onehot = np.eye(k)[y]

    def objective(theta, alpha):
        w = theta.reshape(nf + 1, k)
        log_p = log_softmax(xt @ w, axis=1)
        f = -(log_p * onehot).sum() / n + 0.5 * alpha * (w[:-1] ** 2).sum()
        p = np.exp(log_p)
        g = xt.T @ (p - onehot) / n
        g[:-1] += alpha * w[:-1]
        return f, g.reshape(-1), p

    def hessian(p, alpha):
        h = np.empty((nf + 1, k, nf + 1, k))
        for a in range(k):
            for b in range(a, k):
                block = (xt * (p[:, a] * ((a == b) - p[:, b]) / n)[:, None]).T @ xt
                h[:, a, :, b] = block
                h[:, b, :, a] = block.T
        h = h.reshape((nf + 1) * k, (nf + 1) * k)
        ridge = np.full((nf + 1, k), alpha)
        ridge[-1] = 1e-10
        h[np.diag_indices_from(h)] += ridge.reshape(-1)
        return h

    return objective, hessian, (nf + 1) * k


def newton(objective, hessian, theta, alpha, gtol=1e-4, maxiter=500):
    """Newton with Armijo backtracking; returns θ and the iterations taken."""
    f, g, p = objective(theta, alpha)
    for it in range(maxiter):
        if np.abs(g).max() <= gtol:
            return theta, it
        d = solve(hessian(p, alpha), -g, assume_a="pos")
        step, slope = 1.0, float(g @ d)
        while True:
            trial = theta + step * d
            f_new, g_new, p_new = objective(trial, alpha)
            if f_new <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        theta, f, g, p = trial, f_new, g_new, p_new
    return theta, maxiter


def main() -> None:
    print(
        "| data set | parameters | Newton iterations per C | path / one fit at C = 1e4 "
        "(iterations) | path / one fit (time, best of 3) |"
    )
    print("|---|---:|---|---:|---:|")
    for name in ("iris", "wine", "digits", "breast_cancer"):
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        x = StandardScaler().fit_transform(x)
        objective, hessian, size = _problem(x, y)
        cs = np.logspace(-4, 4, 10)
        best_path = best_single = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            theta, per_c = np.zeros(size), []
            for c in cs:
                theta, it = newton(objective, hessian, theta, 1 / (c * len(y)))
                per_c.append(it)
            best_path = min(best_path, time.perf_counter() - t0)
            t0 = time.perf_counter()
            _, single = newton(objective, hessian, np.zeros(size), 1 / (cs[-1] * len(y)))
            best_single = min(best_single, time.perf_counter() - t0)
        print(
            f"| {name} | {size} | {per_c} | {sum(per_c)} / {single} = "
            f"{sum(per_c) / single:.1f}× | {best_path / best_single:.1f}× |"
        )


if __name__ == "__main__":
    main()
