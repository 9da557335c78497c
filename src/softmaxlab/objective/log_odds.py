r"""The two-class multinomial loss on the log-odds parameters :math:`\theta' = (\delta, c)`
(N + 1,), with :math:`W = [-\delta/2, \delta/2]`, :math:`b = [-c/2, c/2]`: the variables
of scikit-learn's binary ``LogisticRegression``, on which L-BFGS runs for two classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .loss import MultinomialLoss

__all__ = ["LogOddsLoss"]


class LogOddsLoss:
    r"""A two-class :class:`MultinomialLoss` on θ' = (δ (N,), c): :math:`W = [-\delta/2,
    \delta/2]`, :math:`b = [-c/2, c/2]`; :math:`\partial f/\partial\delta =
    (\partial f/\partial w_1 - \partial f/\partial w_0)/2`. The penalties' weights follow:
    :math:`\lVert W\rVert^2 = \lVert\delta\rVert^2/2` (p/2), :math:`\lVert W\rVert_1 =
    \lVert\delta\rVert_1` (q)."""

    def __init__(self, base: MultinomialLoss) -> None:
        self.base = base
        nf = base.n_features
        self.n_params = nf + 1
        self.n_features = nf
        self.l2_weights = np.append(base.w_view(base.l2_weights)[1] / 2, 0.0)
        self.l1_weights = np.append(base.w_view(base.l1_weights)[1], 0.0)
        self._full = np.zeros(base.n_params)

    def expand(self, theta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The full θ of θ' (centred weights)."""
        out = np.empty(self.base.n_params) if out is None else out
        wv = self.base.w_view(out)
        np.multiply(theta[: self.n_features], 0.5, out=wv[1])
        np.negative(wv[1], out=wv[0])
        out[-1] = 0.5 * theta[-1]
        out[-2] = -out[-1]
        return out

    def restrict(self, theta: np.ndarray) -> np.ndarray:
        """θ' = (w₁ − w₀, b₁ − b₀) of a full θ (exact for centred weights)."""
        wv = self.base.w_view(theta)
        return np.append(wv[1] - wv[0], theta[-1] - theta[-2])

    def expand_gradient(self, g: np.ndarray) -> np.ndarray:
        """The full gradient at centred weights from ∂f/∂θ': ∂f/∂w₀ = −∂f/∂w₁ = −∂f/∂δ."""
        out = np.empty(self.base.n_params)
        wv = self.base.w_view(out)
        wv[1] = g[: self.n_features]
        wv[0] = -g[: self.n_features]
        out[-1], out[-2] = g[-1], -g[-1]
        return out

    def reduce(self, g: np.ndarray) -> np.ndarray:
        r"""A full gradient (or Hessian-vector product) as one on θ': :math:`J^\top g` with
        J the Jacobian of :meth:`expand`, i.e. ((g_{w_1} − g_{w_0})/2, (g_{b_1} − g_{b_0})/2)."""
        gv = self.base.w_view(g)
        out = np.empty(self.n_params)
        np.subtract(gv[1], gv[0], out=out[: self.n_features])
        out[-1] = g[-1] - g[-2]
        out *= 0.5
        return out

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, g = self.base.value_and_gradient(self.expand(theta, self._full))
        return value, self.reduce(g)

    def hessp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        r"""The Hessian-vector product on θ': :math:`J^\top H J v` (:meth:`expand` is
        linear, so J v is ``expand(v)``)."""
        return self.hessian(theta)(v)

    def hessian(self, theta: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """:meth:`hessp` at a fixed θ', as a function of v (the full loss's operator)."""
        full = self.base.hessian(self.expand(theta))
        return lambda v: self.reduce(full(self.expand(v)))

    def scores(self, theta: np.ndarray, x: Any, labels: torch.Tensor) -> tuple[float, float]:
        return self.base.scores(self.expand(theta), x, labels)
