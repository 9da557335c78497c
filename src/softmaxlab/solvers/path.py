"""The regularisation path as a primitive: one penalty family at a sequence of strengths,
each L-BFGS run starting from the previous optimum and (without an L1 part) its
curvature pairs. The state handed from one strength to the next is explicit: θ and the
:class:`~softmaxlab.solvers.result.WarmStart`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..objective.loss import MultinomialLoss
from ..objective.penalties import Penalty
from .lbfgs import lbfgs
from .result import LbfgsOptions, SolverResult, WarmStart

__all__ = ["solve_path"]


def solve_path(
    loss: MultinomialLoss,
    penalty: Penalty,
    alphas: Sequence[float],
    theta0: np.ndarray,
    options: LbfgsOptions,
    warm: WarmStart | None = None,
) -> list[SolverResult]:
    """Minimise f + R_α for each α of ``alphas`` in order (strongest first is cheapest),
    ``penalty``'s family at strength α, each run warm-started at the previous result.
    Returns one :class:`SolverResult` per α."""
    results: list[SolverResult] = []
    theta = theta0
    for alpha in alphas:
        result = lbfgs(loss, penalty.with_alpha(alpha), theta, options, warm)
        results.append(result)
        theta, warm = result.theta, result.warm
    return results
