r"""An optimality certificate: how far a fitted model can be from the optimum of its own
training objective, proved by a duality gap (docs/certificate.md).

The objective of ``SoftmaxRegression`` on rows with weights :math:`r_i` (summing to 1) is

.. math::  P(W, b) = \sum_i r_i\,\ell(z_i; t_i) + \tfrac{\alpha}{2}\lVert W\rVert_F^2,
           \qquad z_i = W^\top x_i + b,\quad \ell(z; t) = \operatorname{lse}(z) - z_t .

With :math:`\operatorname{lse}^*(q) = \sum_j q_j \log q_j` on the simplex, its Fenchel dual
over row distributions :math:`q_i \in \Delta_C` is

.. math::  D(Q) = -\sum_i r_i \sum_j q_{ij}\log q_{ij}
                  - \frac{1}{2\alpha}\big\lVert X^\top R\,(Q - Y)\big\rVert_F^2
           \quad\text{subject to}\quad (Q - Y)^\top r = 0

(the constraint comes from the unpenalised intercepts). Every feasible :math:`Q` gives
:math:`D(Q) \le P^\star \le P(W, b)`, so :math:`P(W, b) - D(Q)` bounds the gap to the
optimum. softmaxlab takes :math:`Q` from the model's own probabilities, moved just enough
towards one distribution to satisfy the constraint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import labelled_rows
from .errors import InvalidInputError
from .objective.loss import row_weights

__all__ = ["Certificate", "certify", "certify_arrays", "feasible_dual"]


@dataclass(frozen=True)
class Certificate:
    """``objective`` P(W, b) on the given rows; ``grad_norm`` ‖∇P‖ (W and b);
    ``gap_bound`` a proven upper bound on P(W, b) − P* (``inf`` without an L2 penalty:
    nothing is then strongly convex); ``max_proba_change`` the largest change any
    predicted probability of these rows can still make on the way to the optimum; and
    ``unstable_rows`` the indices of rows whose predicted label could still flip."""

    objective: float
    grad_norm: float
    gap_bound: float
    max_proba_change: float
    unstable_rows: np.ndarray

    def __str__(self) -> str:
        return (
            f"objective {self.objective:.10g}, ‖∇‖ {self.grad_norm:.3g}, gap to the "
            f"optimum at most {self.gap_bound:.3g}; any probability can still move by "
            f"at most {self.max_proba_change:.3g}; {len(self.unstable_rows)} row(s) "
            "could still change label"
        )


def _xlogx(q: np.ndarray) -> np.ndarray:
    return np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0)


def feasible_dual(proba: np.ndarray, y: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, float]:
    """``(Q, λ)``: the dual point q_i = (1 − λ) ŷ_i + λ v with the smallest λ ∈ [0, 1] and
    a distribution v that make Σ r_i (q_i − y_i) = 0 (ŷ_i are the model's probabilities,
    y_i one-hot rows, r the row weights summing to 1)."""
    pi = r @ y  # the weighted class proportions
    g = r @ proba - pi  # the intercepts' gradient; sums to 0
    pos = np.clip(g, 0, None)
    lam = float(np.max(pos / (pi + pos))) if pos.any() else 0.0
    if lam <= 0:
        return proba, 0.0
    v = pi - (1 - lam) / lam * g
    v = np.clip(v, 0, None)
    v /= v.sum()
    return (1 - lam) * proba + lam * v, lam


def certify_arrays(
    x: np.ndarray, y_idx: np.ndarray, w: np.ndarray, b: np.ndarray, alpha: float, weight: np.ndarray
) -> Certificate:
    """The certificate of parameters ``w`` (N, C), ``b`` (C,) for rows ``x`` (n, N) with
    class indices ``y_idx`` (n,), L2 strength ``alpha`` and row weights ``weight`` (n,)."""
    n, c = len(x), w.shape[1]
    if not weight.sum() > 0:
        raise InvalidInputError("sample_weight: all weights are zero")
    r = weight / weight.sum()
    z = x @ w + b
    zmax = z.max(axis=1, keepdims=True)
    lse = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
    proba = np.exp(z - lse[:, None])
    y = np.zeros((n, c))
    y[np.arange(n), y_idx] = 1.0
    objective = float(r @ (lse - z[np.arange(n), y_idx]) + alpha / 2 * np.sum(w * w))
    g_z = r[:, None] * (proba - y)
    grad = np.r_[(x.T @ g_z + alpha * w).ravel(), g_z.sum(axis=0)]
    if alpha <= 0:
        gap = float("inf")
        lam = 1.0
    else:
        q, lam = feasible_dual(proba, y, r)
        a = x.T @ (r[:, None] * (q - y))
        dual = float(-(r @ _xlogx(q).sum(axis=1)) - np.sum(a * a) / (2 * alpha))
        gap = max(objective - dual, 0.0)
    # ‖ŷ*_i − q_i‖₁ ≤ sqrt(2·gap/r_i) (the entropy is 1-strongly convex in ℓ1), and
    # ‖q_i − ŷ_i‖₁ ≤ 2λ; one probability moves by at most half the ℓ1 distance
    with np.errstate(divide="ignore", invalid="ignore"):
        l1 = np.where(r > 0, np.sqrt(2 * gap / r), np.inf) + 2 * lam
    move = np.minimum(l1 / 2, 1.0)
    top2 = np.sort(proba, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    unstable = np.flatnonzero(margin <= np.minimum(l1, 2.0))
    return Certificate(
        objective,
        float(np.sqrt(np.sum(grad * grad))),
        gap,
        float(move.max()) if n else 0.0,
        unstable,
    )


def certify(model: Any, X: Any, y: Any, sample_weight: Any = None) -> Certificate:
    """The :class:`Certificate` of a fitted ``SoftmaxRegression`` (its penalty ``alpha_``,
    class and sample weights) or ``SoftmaxClassifier`` (no penalty: ``gap_bound`` is
    ``inf``) on its training rows ``X`` and labels ``y`` (the estimator's labels, or the
    classifier's one-hot rows)."""
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(model, "get_params"):  # the seed's SoftmaxClassifier: its own method
        if sample_weight is not None:
            raise InvalidInputError("sample_weight: SoftmaxClassifier has no row weights")
        return model.certify(X, y)
    check_is_fitted(model)
    if getattr(model, "penalty", "l2") not in ("l2", None):
        raise InvalidInputError(
            f"model: certificates cover the L2 penalty; this model has penalty={model.penalty!r}"
        )
    x, y_idx = labelled_rows(model, X, y)
    weight = row_weights(model.class_weight, model.classes_, y_idx, sample_weight, whole=False)
    w, b = model.coef_.T.astype(np.float64), model.intercept_.astype(np.float64)
    alpha = getattr(model, "alpha_", None)
    if alpha is None or alpha == "auto":
        raise InvalidInputError(
            "model: its L2 strength is unknown (alpha_ is missing); "
            "certify the estimator that was fitted"
        )
    if weight.shape != (len(x),) or not np.all(np.isfinite(weight)) or np.any(weight < 0):
        raise InvalidInputError(f"sample_weight: expected {len(x)} finite weights >= 0")
    return certify_arrays(x, y_idx, w, b, float(alpha), weight)
