"""How ``SoftmaxRegression`` fits, as public functions: with the settings checked
(:mod:`softmaxlab.settings`) and the rows encoded (:mod:`softmaxlab._inputs`), turn the
rows into a loss, a penalty and a solver's options (:func:`plan`), run the solver
(:func:`solve`) and set the fitted attributes (:func:`adopt`). The estimator's ``fit``,
``SoftmaxRegressionCV``, :func:`softmaxlab.regularization_path` and the data-parallel
fits (:mod:`softmaxlab.distributed`) all go through these functions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .errors import InvalidInputError
from .objective import MultinomialLoss, Penalty, Rows, make_penalty
from .settings import batch_rows, l1_share, resolve_alpha, resolve_solver
from .solvers import (
    CheckpointPlan,
    LbfgsOptions,
    SgdOptions,
    SolverResult,
    sgd,
    solve_path,
)
from .solvers.result import Valid
from .training import EpochRecord

__all__ = ["FitSetup", "adopt", "history_records", "plan", "solve"]


@dataclass
class FitSetup:
    """One fit, ready to run: the loss, the penalty, the solver's name and options, the
    starting θ (the estimator's current coefficients) and the coefficients' dtype."""

    loss: MultinomialLoss
    penalty: Penalty
    solver: str
    options: SgdOptions | LbfgsOptions
    theta0: np.ndarray
    np_dtype: Any


def plan(
    est: Any,
    rows: Rows,
    *,
    total_weight: float,
    valid: Valid | None = None,
    epochs: int | None = None,
    seed: int = 0,
    callback: Any = None,
    checkpoint: CheckpointPlan | None = None,
) -> FitSetup:
    """The :class:`FitSetup` of ``est`` (its ``classes_`` and ``coef_`` set) on ``rows``:
    ``alpha_`` and ``solver_`` resolved (``total_weight`` = Σ s_i of the training rows),
    the penalty, and the solver's options. ``epochs`` runs that many SGD epochs without
    stopping rules (``partial_fit``)."""
    solver = resolve_solver(est, sgd_only=checkpoint is not None or epochs is not None)
    if solver == "lbfgs" and checkpoint is not None:
        raise InvalidInputError("checkpoint: works with solver='sgd' only")
    est.alpha_ = resolve_alpha(est, len(est.classes_), total_weight)
    est.solver_ = solver
    penalty = make_penalty(est.penalty, est.alpha_, l1_share(est))
    loss = MultinomialLoss(rows, len(est.classes_))
    options: SgdOptions | LbfgsOptions
    if solver == "lbfgs":
        options = LbfgsOptions(
            tol=est.tol,
            max_iter=est.max_epochs,
            valid=valid,
            verbose=est.verbose,
            callback=callback,
        )
    else:
        options = SgdOptions(
            learning_rate=est.learning_rate,
            batch=batch_rows(est, rows.n_train),
            max_epochs=est.max_epochs,
            epochs=epochs,
            shuffle=est.shuffle,
            seed=seed,
            gradient=est.gradient,
            schedule=est.schedule,
            power_t=est.power_t,
            decay_rate=est.decay_rate,
            momentum=est.momentum,
            nesterov=est.nesterov,
            tol=est.tol,
            n_iter_no_change=est.n_iter_no_change,
            early_stopping=est.early_stopping,
            valid=valid,
            verbose=est.verbose,
            callback=callback,
            checkpoint=checkpoint,
        )
    np_dtype = est.coef_.dtype
    theta0 = loss.from_original(est.coef_, est.intercept_)
    return FitSetup(loss, penalty, solver, options, theta0, np_dtype)


def solve(setup: FitSetup) -> SolverResult:
    """Run the setup's solver: SGD, or L-BFGS as a one-strength regularisation path."""
    if isinstance(setup.options, SgdOptions):
        return sgd(setup.loss, setup.penalty, setup.theta0, setup.options)
    return solve_path(
        setup.loss, setup.penalty, [setup.penalty.alpha], setup.theta0, setup.options
    )[0]


def adopt(est: Any, setup: FitSetup, result: SolverResult, *, warn: bool = True) -> None:
    """Set the fitted attributes of ``est`` from a solver's result (original
    coordinates), and warn when the iteration limit stopped an unconverged fit."""
    coef, intercept = setup.loss.to_original(result.theta)
    history = result.history
    est.coef_ = np.ascontiguousarray(coef, dtype=setup.np_dtype)
    est.intercept_ = intercept.astype(setup.np_dtype)
    est.loss_curve_ = [*getattr(est, "loss_curve_", []), *history["loss"]]
    est.n_iter_ = result.n_iter
    est.stop_reason_ = result.stop_reason
    est.history_ = {**history, "stop_reason": result.stop_reason}
    if setup.options.valid is not None:
        est.validation_scores_ = history["validation_score"]
    elif "validation_scores_" in est.__dict__:
        del est.validation_scores_
    est.grad_norm_ = result.grad_norm
    if warn and result.stop_reason == "max_epochs" and est.tol is not None:
        what = (
            "L-BFGS"
            if setup.solver == "lbfgs"
            else "the validation accuracy"
            if est.early_stopping
            else "the objective"
        )
        warnings.warn(
            f"SoftmaxRegression: max_epochs={est.max_epochs} reached before {what} "
            f"converged (tol={est.tol}); increase max_epochs or learning_rate",
            ConvergenceWarning,
            stacklevel=4,
        )


def history_records(model: Any) -> list[EpochRecord]:
    """The fit's ``history_`` as one :class:`EpochRecord` per epoch (the training
    objective, and the held-out CE and accuracy when there were held-out rows)."""
    h = model.history_
    valid_ce, valid_acc = h.get("validation_loss", []), h.get("validation_score", [])
    out = []
    for e, loss in enumerate(h["loss"]):
        ce_v = valid_ce[e] if e < len(valid_ce) else None
        acc_v = valid_acc[e] if e < len(valid_acc) and ce_v is not None else None
        out.append(EpochRecord(e, float(loss), ce_v, acc_v))
    return out
