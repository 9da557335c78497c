"""How ``SoftmaxRegression`` fits, as public functions: check the settings before any
data is read (:func:`check_settings`) and resolve what "auto" means (the solver, the
penalty strength, the batch); with the rows encoded (:mod:`softmaxlab._inputs`), turn them into a loss, a penalty and a solver's options (:func:`plan`), run the solver
(:func:`solve`) and set the fitted attributes (:func:`adopt`). The estimator's ``fit``,
``SoftmaxRegressionCV``, :func:`softmaxlab.regularization_path` and the data-parallel
fits (:mod:`softmaxlab.distributed`) all go through these functions.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from . import gradients as G
from ._validation import check_l1, check_number, resolve_device, resolve_dtype
from .errors import InvalidInputError, InvalidTypeError
from .io.checkpoint import fingerprint
from .objective import MultinomialLoss, Penalty, Rows, make_penalty
from .solvers import (
    CheckpointPlan,
    LbfgsOptions,
    SgdOptions,
    SolverResult,
    newton_cg,
    sgd,
    solve_path,
)
from .solvers.result import Valid
from .training import EpochRecord

__all__ = [
    "AUTO_BATCH",
    "FULL_BATCH",
    "PENALTIES",
    "SCHEDULES",
    "SOLVERS",
    "FitSetup",
    "adopt",
    "batch_rows",
    "check_settings",
    "fit_fingerprint",
    "history_records",
    "l1_share",
    "plan",
    "resolve_alpha",
    "resolve_solver",
    "solve",
]


#: Solvers of SoftmaxRegression.
SOLVERS = ("auto", "sgd", "lbfgs", "newton-cg")
#: The solvers that see every row at each iteration (no SGD options, no checkpoints).
FULL_BATCH = ("lbfgs", "newton-cg")
#: Penalties of SoftmaxRegression (docs/conventions.md#2a-the-objective-with-l1-and-elastic-net).
PENALTIES = ("l2", "l1", "elasticnet", None)
#: Learning-rate schedules of the SGD solver.
SCHEDULES = ("constant", "invscaling", "exponential", "adaptive")
#: ``batch_size="auto"``: this many rows per step at most.
AUTO_BATCH = 200


def _check_choice(value: Any, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InvalidInputError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")


def _check_penalty(est: Any) -> None:
    if est.penalty not in PENALTIES:
        raise InvalidInputError(
            f"penalty: expected one of 'l2', 'l1', 'elasticnet' or None, got {est.penalty!r}"
        )
    if est.penalty == "elasticnet" and est.l1_ratio is None:
        raise InvalidInputError("l1_ratio: penalty='elasticnet' needs l1_ratio in [0, 1]")
    if est.l1_ratio is not None:
        check_number(est.l1_ratio, "l1_ratio", low=0)
        if est.l1_ratio > 1:
            raise InvalidInputError(f"l1_ratio: must be in [0, 1], got {est.l1_ratio!r}")
    if est.penalty is None and est.alpha not in ("auto", 0, 0.0):
        raise InvalidInputError(
            f"alpha: penalty=None fits without a penalty; got alpha={est.alpha!r}"
        )


def _check_class_weight(class_weight: Any) -> None:
    if not (class_weight is None or class_weight == "balanced" or isinstance(class_weight, dict)):
        raise InvalidInputError(
            f"class_weight: expected None, 'balanced' or a dict, got {class_weight!r}"
        )
    for label, weight in class_weight.items() if isinstance(class_weight, dict) else ():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, numbers.Real)
            or not np.isfinite(float(weight))
            or float(weight) < 0
        ):
            raise InvalidInputError(
                f"class_weight: the weight of class {label!r} must be a finite number >= 0, "
                f"got {weight!r}"
            )


def check_settings(est: Any) -> tuple[torch.dtype, torch.device]:
    """Check every setting of a ``SoftmaxRegression`` (before any data is read); returns
    its torch dtype and device."""
    check_number(est.learning_rate, "learning_rate", low=0, low_open=True)
    check_number(est.max_epochs, "max_epochs", low=1, integer=True)
    if est.batch_size != "auto":
        check_number(est.batch_size, "batch_size", low=1, integer=True)
    if est.alpha != "auto":
        check_number(est.alpha, "alpha", low=0)
    _check_penalty(est)
    check_l1(l1_share(est), est.momentum)
    if est.tol is not None:
        check_number(est.tol, "tol", low=0)
    check_number(est.n_iter_no_change, "n_iter_no_change", low=1, integer=True)
    check_number(est.validation_fraction, "validation_fraction", low=0, low_open=True, high=1)
    check_number(est.verbose, "verbose", low=0, integer=True)
    _check_choice(est.solver, "solver", SOLVERS)
    _check_choice(est.schedule, "schedule", SCHEDULES)
    check_number(est.power_t, "power_t", low=0)
    check_number(est.decay_rate, "decay_rate", low=0, low_open=True, high=1.0 + 1e-12)
    check_number(est.momentum, "momentum", low=0, high=1)
    if est.nesterov and est.momentum == 0:
        raise InvalidInputError("nesterov: needs momentum > 0")
    if est.solver == "newton-cg" and est.penalty in ("l1", "elasticnet"):
        raise InvalidInputError(
            f"solver: 'newton-cg' takes penalty='l2' or None, got penalty={est.penalty!r}; "
            "use solver='lbfgs' for an L1 part"
        )
    if est.solver in FULL_BATCH and est.early_stopping:
        raise InvalidInputError("early_stopping: works with solver='sgd' only")
    for flag in ("shuffle", "early_stopping", "warm_start", "nesterov"):
        if not isinstance(getattr(est, flag), (bool, np.bool_)):
            raise InvalidTypeError(f"{flag}: expected True or False, got {getattr(est, flag)!r}")
    _check_class_weight(est.class_weight)
    G.get(est.gradient)
    return resolve_dtype(est.dtype), resolve_device(est.device)


def l1_share(est: Any) -> float:
    """The L1 share ρ of the penalty (1 for "l1", ``l1_ratio`` for "elasticnet", else 0)."""
    return {"l1": 1.0, "elasticnet": float(est.l1_ratio or 0.0)}.get(est.penalty, 0.0)


def resolve_alpha(est: Any, n_classes: int, total_weight: float) -> float:
    """``alpha``, or for "auto" ``LogisticRegression()``'s C = 1 in softmaxlab's mean form:
    1 / Σ s_i over the training rows, and 2 / Σ s_i for two classes under L2, where
    scikit-learn penalises the one log-odds vector d = w₁ − w₀ and softmaxlab's two
    centred vectors carry α/4 ‖d‖² (docs/conventions.md, "Two classes")."""
    if est.penalty is None:
        return 0.0
    if est.alpha != "auto":
        return float(est.alpha)
    binary_l2 = n_classes == 2 and l1_share(est) == 0
    return (2.0 if binary_l2 else 1.0) / total_weight


def resolve_solver(est: Any, *, sgd_only: bool) -> str:
    """The solver a fit uses: ``solver``, or for "auto" L-BFGS unless an SGD option asks
    for SGD (or the fit needs it: checkpoints, ``partial_fit``)."""
    if est.solver != "auto":
        return str(est.solver)
    sgd_options = (
        est.early_stopping
        or est.momentum > 0
        or est.schedule != "constant"
        or est.batch_size != "auto"
    )
    return "sgd" if sgd_only or sgd_options else "lbfgs"


def batch_rows(est: Any, n: int) -> int:
    """Rows per SGD step: ``batch_size``, or for "auto" ``min(200, n)``."""
    return int(min(AUTO_BATCH if est.batch_size == "auto" else est.batch_size, n))


#: Settings a resumed fit may change: they do not change the run's parameters.
RESUMABLE = ("verbose", "max_epochs", "warm_start")


def fit_fingerprint(est: Any, data: list[Any], **extra: Any) -> str:
    """The identity a checkpoint of ``est``'s fit carries (:func:`io.checkpoint.fingerprint`):
    the training ``data`` (tensors or files) and every setting but :data:`RESUMABLE`, with
    ``extra`` facts of the run (its classes, the file's columns, ...)."""
    settings = {k: v for k, v in est.get_params().items() if k not in RESUMABLE}
    return fingerprint(data, {**settings, **extra})


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
    if solver in FULL_BATCH and checkpoint is not None:
        raise InvalidInputError("checkpoint: works with solver='sgd' only")
    est.alpha_ = resolve_alpha(est, len(est.classes_), total_weight)
    est.solver_ = solver
    penalty = make_penalty(est.penalty, est.alpha_, l1_share(est))
    loss = MultinomialLoss(rows, len(est.classes_))
    options: SgdOptions | LbfgsOptions
    if solver in FULL_BATCH:
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
    """Run the setup's solver: SGD, Newton-CG, or L-BFGS as a one-strength regularisation
    path."""
    if isinstance(setup.options, SgdOptions):
        return sgd(setup.loss, setup.penalty, setup.theta0, setup.options)
    if setup.solver == "newton-cg":
        return newton_cg(setup.loss, setup.penalty, setup.theta0, setup.options)
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
            {"lbfgs": "L-BFGS", "newton-cg": "Newton-CG"}[setup.solver]
            if setup.solver in FULL_BATCH
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
