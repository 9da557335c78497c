"""The settings of ``SoftmaxRegression``: their checks (before any data is read) and how
"auto" resolves — the solver, the penalty strength and the batch size — plus the fresh
fit's starting attributes. :mod:`softmaxlab.fitting` and the row checks of
:mod:`softmaxlab._inputs` both read them.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from . import gradients as G
from ._validation import check_number, resolve_device, resolve_dtype
from .errors import InvalidInputError, InvalidTypeError
from .fast.engine import check_l1

__all__ = [
    "AUTO_BATCH",
    "PENALTIES",
    "SCHEDULES",
    "SOLVERS",
    "batch_rows",
    "check_settings",
    "l1_share",
    "resolve_alpha",
    "resolve_solver",
    "start_params",
]

#: Solvers of SoftmaxRegression.
SOLVERS = ("auto", "sgd", "lbfgs")
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
    if est.solver == "lbfgs" and est.early_stopping:
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


def start_params(est: Any, classes: np.ndarray, n_features: int, np_dtype: Any) -> None:
    """A fresh fit's attributes: the classes and zero coefficients."""
    est.classes_ = classes
    est.coef_ = np.zeros((len(classes), n_features), dtype=np_dtype)
    est.intercept_ = np.zeros(len(classes), dtype=np_dtype)
    est.loss_curve_ = []
