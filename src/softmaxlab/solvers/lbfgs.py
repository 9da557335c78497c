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

__all__ = ["FullBatch", "lbfgs"]


class FullBatch:
    """What every full-batch solver shares on (loss, penalty): the view it iterates on (the
    log-odds parameters for two classes), f + the penalty's smooth part with its gradient
    (:meth:`fun`), the history and callbacks of each iteration (:meth:`record`) and the
    :class:`SolverResult` of a run (:meth:`result`)."""

    def __init__(
        self, loss: MultinomialLoss, penalty: Penalty, theta0: np.ndarray, options: Any
    ) -> None:
        self.loss, self.penalty, self.options = loss, penalty, options
        view: Any = LogOddsLoss(loss) if loss.n_classes == 2 else loss
        self.view = view
        self.x0 = view.restrict(theta0) if view is not loss else np.array(theta0, np.float64)
        self.l2w = view.l2_weights
        self._scratch = np.empty_like(self.x0)
        self.history: dict[str, list[float]] = {
            "loss": [],
            "learning_rate": [],
            "validation_score": [],
            "validation_loss": [],
        }
        self.main = loss.is_main
        self.gtol = 0.0 if options.tol is None else float(options.tol)

    def fun(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """f(θ) + the penalty's smooth part, and its gradient (one full pass)."""
        value, g = self.view.value_and_gradient(theta)
        if self.penalty.l2:  # value and gradient from one product
            g = g if g.flags.writeable else g.copy()
            value += self.penalty.add_smooth_gradient(theta, g, self.l2w, scratch=self._scratch)
        return value, g

    def record(self, state: Any) -> None:
        """After an iteration at ``state.x`` with objective ``state.fun``: the history,
        the held-out scores, the verbose line and the callback."""
        history, options = self.history, self.options
        history["loss"].append(float(state.fun))
        ce_v = acc_v = None
        if options.valid is not None:
            ce_v, acc_v = self.view.scores(state.x, *options.valid)
            history["validation_loss"].append(ce_v)
            history["validation_score"].append(acc_v)
        if self.main:
            if options.verbose:
                print(f"iteration: {len(history['loss'])} - objective: {history['loss'][-1]:.6g}")
            if options.callback is not None:
                options.callback(
                    EpochRecord(len(history["loss"]) - 1, history["loss"][-1], ce_v, acc_v)
                )

    def result(
        self,
        x: np.ndarray,
        value: float,
        jac: np.ndarray,
        n_iter: int,
        converged: bool,
        warm: WarmStart | None = None,
    ) -> SolverResult:
        """The run's :class:`SolverResult`: θ in the loss's layout and ‖∇‖ in the original
        coordinates (``jac`` the gradient, or pseudo-gradient, at ``x``)."""
        if not np.isfinite(value):
            raise InvalidInputError("solver: the objective became non-finite")
        if not self.history["loss"]:
            self.history["loss"].append(float(value))
        jac = np.asarray(jac, dtype=np.float64)
        view, loss = self.view, self.loss
        theta, jac = (
            (view.expand(x), view.expand_gradient(jac))
            if view is not loss
            else (np.asarray(x), jac)
        )
        stop = "converged" if converged else "max_epochs"
        return SolverResult(
            theta, max(n_iter, 1), self.history, stop, loss.original_norm(jac), warm
        )


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
    run = FullBatch(loss, penalty, theta0, options)
    l2 = penalty.l2
    memory = None
    if warm is not None and not penalty.l1 and warm.memory is not None:
        memory = warm.memory
        memory.shift((l2 - warm.l2) * run.l2w)
    with torch.no_grad(), loss.engine.threads(lbfgs=True):
        if penalty.l1:
            # ftol=0: stop on gtol, or when f stops decreasing at all (an L1 optimum of an
            # ill-conditioned problem is reached by many tiny decreases)
            res = minimize_owlqn(
                run.fun,
                run.x0,
                penalty.l1_vector(run.x0, run.view.l1_weights),
                maxiter=options.max_iter,
                callback=run.record,
                gtol=run.gtol,
                ftol=0.0,
            )
        else:
            res = minimize_lbfgs(
                run.fun,
                run.x0,
                maxiter=options.max_iter,
                callback=run.record,
                gtol=run.gtol,
                memory=memory,
            )
    return run.result(
        res.x, res.fun, res.jac, int(res.nit), res.status == 0, WarmStart(res.memory or memory, l2)
    )
