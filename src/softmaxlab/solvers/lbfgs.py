"""Full-batch L-BFGS on (loss, penalty): OWL-QN when the penalty has an L1 part
(:mod:`softmaxlab.solvers.quasi_newton`). Each evaluation is one full pass of the loss's
engine plus the penalty's smooth part; two classes run on the log-odds parameters
(:class:`~softmaxlab.objective.log_odds.LogOddsLoss`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import InvalidInputError
from ..objective.log_odds import LogOddsLoss
from ..objective.loss import MultinomialLoss
from ..objective.penalties import Penalty
from ..training import EpochRecord
from .quasi_newton import minimize_lbfgs, minimize_owlqn
from .result import LbfgsOptions, SolverResult, WarmStart

__all__ = ["lbfgs"]


def lbfgs(
    loss: MultinomialLoss,
    penalty: Penalty,
    theta0: np.ndarray,
    options: LbfgsOptions,
    warm: WarmStart | None = None,
) -> SolverResult:
    """Minimise f(θ) + R(θ) from ``theta0`` (the loss's layout). ``warm`` carries the
    curvature pairs of a previous run on the same loss (a regularisation path): only the
    L2 term changed, by Δ·p, so the pairs shifted by Δ·p ⊙ s are exact here (not under
    L1, whose orthants change between strengths)."""
    view: Any = LogOddsLoss(loss) if loss.n_classes == 2 else loss
    x0 = view.restrict(theta0) if view is not loss else np.array(theta0, dtype=np.float64)
    l2w = view.l2_weights
    l2 = penalty.l2
    scratch = np.empty_like(x0)
    history: dict[str, list[float]] = {
        "loss": [],
        "learning_rate": [],
        "validation_score": [],
        "validation_loss": [],
    }

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, g = view.value_and_gradient(theta)
        if l2:  # the penalty's smooth part, value and gradient from one product
            g = g if g.flags.writeable else g.copy()
            value += penalty.add_smooth_gradient(theta, g, l2w, scratch=scratch)
        return value, g

    main = loss.is_main

    def record(state: Any) -> None:
        history["loss"].append(float(state.fun))
        ce_v = acc_v = None
        if options.valid is not None:
            ce_v, acc_v = view.scores(state.x, *options.valid)
            history["validation_loss"].append(ce_v)
            history["validation_score"].append(acc_v)
        if main:
            if options.verbose:
                print(f"iteration: {len(history['loss'])} - objective: {history['loss'][-1]:.6g}")
            if options.callback is not None:
                options.callback(
                    EpochRecord(len(history["loss"]) - 1, history["loss"][-1], ce_v, acc_v)
                )

    gtol = 0.0 if options.tol is None else float(options.tol)
    memory = None
    if warm is not None and not penalty.l1 and warm.memory is not None:
        memory = warm.memory
        memory.shift((l2 - warm.l2) * l2w)
    with torch.no_grad(), loss.engine.threads(lbfgs=True):
        if penalty.l1:
            # ftol=0: stop on gtol, or when f stops decreasing at all (an L1 optimum of an
            # ill-conditioned problem is reached by many tiny decreases)
            res = minimize_owlqn(
                fun,
                x0,
                penalty.l1_vector(x0, view.l1_weights),
                maxiter=options.max_iter,
                callback=record,
                gtol=gtol,
                ftol=0.0,
            )
        else:
            res = minimize_lbfgs(
                fun, x0, maxiter=options.max_iter, callback=record, gtol=gtol, memory=memory
            )
    if not np.isfinite(res.fun):
        raise InvalidInputError("solver: L-BFGS reached a non-finite objective")
    if not history["loss"]:
        history["loss"].append(float(res.fun))
    jac = np.asarray(res.jac, dtype=np.float64)
    theta, jac = (
        (view.expand(res.x), view.expand_gradient(jac))
        if view is not loss
        else (np.asarray(res.x), jac)
    )
    return SolverResult(
        theta,
        max(int(res.nit), 1),
        history,
        "converged" if res.status == 0 else "max_epochs",
        loss.original_norm(jac),
        WarmStart(res.memory or memory, l2),
    )
