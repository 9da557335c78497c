r"""Penalty objects: none, L2, L1 and the elastic net, on the weights W (never the bias).

.. math::

    R(W) = \alpha\Bigl(\rho\sum_{kl} q_k\,\lvert W_{kl}\rvert
           + \frac{1-\rho}{2}\sum_{kl} p_k\,W_{kl}^2\Bigr)

with :math:`\rho` the L1 share (0 for L2, 1 for L1, ``l1_ratio`` for the elastic net) and
per-coordinate weights :math:`p`, :math:`q` that a loss supplies for its own parameter
vector (:attr:`MultinomialLoss.l2_weights`, :attr:`MultinomialLoss.l1_weights`: in the
standardised coordinates :math:`\tilde W = \operatorname{diag}(d) W` they are
:math:`d_k^{-2}` and :math:`d_k^{-1}`, so that R stays the penalty on the original W;
0 on the intercepts). ``None`` for a weight vector means all ones (the original
coordinates). docs/math.md §8b states the formulas; docs/conventions.md §2a the objective.

Every function here takes a flat float64 parameter vector ``theta`` (n,) and weights
(n,) or ``None``; the strength of the L2 part is :attr:`Penalty.l2` = α(1 − ρ), of the
L1 part :attr:`Penalty.l1` = αρ.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas

__all__ = ["L1", "L2", "ElasticNet", "NoPenalty", "Penalty", "make_penalty", "soft_threshold"]


def soft_threshold(theta: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    r"""The proximal map of :math:`t\lvert\cdot\rvert`:
    :math:`\operatorname{sign}(\theta)\max(\lvert\theta\rvert - t, 0)`, elementwise.
    Shape: like ``theta``; ``t`` a scalar or the same shape."""
    return np.sign(theta) * np.maximum(np.abs(theta) - t, 0.0)


def pseudo_gradient(theta: np.ndarray, g: np.ndarray, l1: np.ndarray) -> np.ndarray:
    r"""The negative steepest-descent direction of :math:`f + \sum_i \lambda_i|\theta_i|`
    at ``theta`` with smooth gradient ``g`` (all (n,)): :math:`g_i + \lambda_i
    \operatorname{sign}\theta_i` where :math:`\theta_i \ne 0`; at :math:`\theta_i = 0` the
    one-sided derivative that is negative (:math:`g_i + \lambda_i < 0` or
    :math:`g_i - \lambda_i > 0`), else 0. It is 0 exactly at the minimiser of a convex f."""
    out = g + l1 * np.sign(theta)
    zero = theta == 0
    right, left = g[zero] + l1[zero], g[zero] - l1[zero]
    out[zero] = np.where(right < 0, right, np.where(left > 0, left, 0.0))
    return out


def _ones_like(theta: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    return np.ones_like(theta) if weights is None else weights


@dataclass(frozen=True)
class Penalty:
    r""":math:`\alpha(\rho\lVert W\rVert_{1,q} + \frac{1-\rho}2\lVert W\rVert_{2,p}^2)`
    (module docstring). ``alpha`` >= 0, ``l1_ratio`` ρ in [0, 1]."""

    alpha: float = 0.0
    l1_ratio: float = 0.0

    @property
    def l2(self) -> float:
        """Strength of the L2 part, α(1 − ρ)."""
        return self.alpha * (1.0 - self.l1_ratio)

    @property
    def l1(self) -> float:
        """Strength of the L1 part, αρ."""
        return self.alpha * self.l1_ratio

    def with_alpha(self, alpha: float) -> Penalty:
        """The same family at strength ``alpha`` (a regularisation path's next step)."""
        out = copy.copy(self)
        object.__setattr__(out, "alpha", float(alpha))
        return out

    # ------------------------------------------------------------ the smooth (L2) part
    def smooth_value(self, theta: np.ndarray, l2_weights: np.ndarray | None = None) -> float:
        r""":math:`\frac{\alpha(1-\rho)}2\sum_i p_i\theta_i^2`."""
        if not self.l2:
            return 0.0
        sq = theta * theta if l2_weights is None else l2_weights * theta * theta
        return 0.5 * self.l2 * float(sq.sum())

    def add_smooth_gradient(
        self,
        theta: np.ndarray,
        g: np.ndarray,
        l2_weights: np.ndarray | None = None,
        *,
        scratch: np.ndarray | None = None,
    ) -> float:
        r"""Add :math:`\alpha(1-\rho)\,p\odot\theta` to ``g`` (float64, contiguous) in
        place and return the smooth value :math:`\frac{\alpha(1-\rho)}2\langle
        p\odot\theta, \theta\rangle` (one product for both; ``scratch`` (n,) holds it,
        so that a solver's evaluations allocate nothing)."""
        if not self.l2:
            return 0.0
        if l2_weights is None:
            pt = theta
        else:
            pt = np.empty_like(theta) if scratch is None else scratch
            np.multiply(l2_weights, theta, out=pt)
        blas.daxpy(pt, g, a=self.l2)
        return 0.5 * self.l2 * float(blas.ddot(pt, theta))

    def smooth_hessp(self, v: np.ndarray, l2_weights: np.ndarray | None = None) -> np.ndarray:
        r"""The smooth part's Hessian-vector product :math:`\alpha(1-\rho)\,p\odot v` (n,)."""
        return self.l2 * (v if l2_weights is None else l2_weights * v)

    # ------------------------------------------------------------ the L1 part
    def l1_vector(self, theta: np.ndarray, l1_weights: np.ndarray | None = None) -> np.ndarray:
        r"""The per-coordinate L1 strengths :math:`\alpha\rho\,q` (n,)."""
        return self.l1 * _ones_like(theta, l1_weights)

    def l1_value(self, theta: np.ndarray, l1_weights: np.ndarray | None = None) -> float:
        r""":math:`\alpha\rho\sum_i q_i\lvert\theta_i\rvert`."""
        if not self.l1:
            return 0.0
        return float(self.l1_vector(theta, l1_weights) @ np.abs(theta))

    def value(
        self,
        theta: np.ndarray,
        l2_weights: np.ndarray | None = None,
        l1_weights: np.ndarray | None = None,
    ) -> float:
        """R(θ), both parts."""
        return self.smooth_value(theta, l2_weights) + self.l1_value(theta, l1_weights)

    def gradient(
        self,
        theta: np.ndarray,
        smooth_gradient: np.ndarray,
        l2_weights: np.ndarray | None = None,
        l1_weights: np.ndarray | None = None,
    ) -> np.ndarray:
        r"""The gradient of f + R from the data term's ``smooth_gradient``: with an L1
        part, the pseudo-gradient (:func:`pseudo_gradient`), 0 exactly at the optimum."""
        g = np.array(smooth_gradient, dtype=np.float64)
        self.add_smooth_gradient(theta, g, l2_weights)
        if self.l1:
            g = pseudo_gradient(theta, g, self.l1_vector(theta, l1_weights))
        return g

    def prox(
        self,
        theta: np.ndarray,
        step: float,
        l2_weights: np.ndarray | None = None,
        l1_weights: np.ndarray | None = None,
    ) -> np.ndarray:
        r"""The proximal map of step·R, :math:`\arg\min_x \frac12\lVert x-\theta\rVert^2
        + \text{step}\,R(x)`, coordinatewise: :math:`S(\theta_i, \text{step}\,\alpha\rho q_i)
        / (1 + \text{step}\,\alpha(1-\rho)p_i)` with S the soft-threshold."""
        out = theta
        if self.l1:
            out = soft_threshold(out, step * self.l1_vector(theta, l1_weights))
        return out / (1.0 + step * self.l2 * _ones_like(theta, l2_weights))


class NoPenalty(Penalty):
    """No penalty (α = 0)."""

    def __init__(self) -> None:
        super().__init__(0.0, 0.0)


class L2(Penalty):
    r""":math:`\frac\alpha2\lVert W\rVert_{2,p}^2`."""

    def __init__(self, alpha: float) -> None:
        super().__init__(float(alpha), 0.0)


class L1(Penalty):
    r""":math:`\alpha\lVert W\rVert_{1,q}`."""

    def __init__(self, alpha: float) -> None:
        super().__init__(float(alpha), 1.0)


class ElasticNet(Penalty):
    r""":math:`\alpha(\rho\lVert W\rVert_{1,q} + \frac{1-\rho}2\lVert W\rVert_{2,p}^2)`."""

    def __init__(self, alpha: float, l1_ratio: float) -> None:
        super().__init__(float(alpha), float(l1_ratio))


def make_penalty(name: str | None, alpha: float, l1_ratio: float | None = None) -> Penalty:
    """The penalty ``SoftmaxRegression(penalty=name)`` means: "l2", "l1", "elasticnet"
    (with ``l1_ratio``) or ``None``."""
    if name is None or not alpha:
        return NoPenalty()
    if name == "l1":
        return L1(alpha)
    if name == "elasticnet":
        return ElasticNet(alpha, float(l1_ratio or 0.0))
    return L2(alpha)
