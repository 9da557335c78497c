r"""The regularisation path: one penalty family fitted at a decreasing sequence of
strengths, each fit starting from the previous optimum (docs/estimator.md#the-regularisation-path).

With scikit-learn's :math:`C` (:math:`\alpha = 1/(C n)`, docs/conventions.md#2-c-versus-alpha)
the path runs from the smallest C (the strongest penalty: many exact zeros under L1,
small weights under L2) to the largest. Each fit is ``SoftmaxRegression(solver="lbfgs")``
(OWL-QN with an L1 term) warm-started at the previous C's optimum, which is close to the
next one: a 10-value path costs a few single fits (tests/test_path.py counts iterations).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ._validation import class_indices
from .errors import InvalidInputError
from .metrics import ce_and_accuracy
from .objective import Penalty
from .solvers import LbfgsOptions, solve_path

__all__ = ["RegularizationPath", "check_cs", "regularization_path"]


def check_cs(cs: Any, name: str = "Cs") -> np.ndarray:
    """``Cs`` as increasing strengths: an int k gives k values log-spaced over
    [1e-4, 1e4] (scikit-learn's ``LogisticRegressionCV``); a list must hold positive
    finite numbers."""
    if isinstance(cs, (int, np.integer)) and not isinstance(cs, bool):
        if cs < 1:
            raise InvalidInputError(f"{name}: an int must be >= 1, got {cs}")
        return np.logspace(-4, 4, int(cs))
    try:
        values = np.asarray(cs, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"{name}: expected an int or a list of positive numbers, got {cs!r}"
        ) from None
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InvalidInputError(
            f"{name}: every C must be a positive finite number, got {values.tolist()}"
        )
    return np.sort(values)


def penalty_of(l1_ratio: float | None) -> tuple[str, float | None]:
    """The ``penalty``/``l1_ratio`` pair of a path: L2 without ``l1_ratio``, else the
    elastic net (which is L1 at 1)."""
    if l1_ratio is None:
        return "l2", None
    if (
        isinstance(l1_ratio, bool)
        or not isinstance(l1_ratio, (int, float, np.floating))
        or not 0 <= float(l1_ratio) <= 1
    ):
        raise InvalidInputError(f"l1_ratio: must be in [0, 1], got {l1_ratio!r}")
    return "elasticnet", float(l1_ratio)


@dataclass
class RegularizationPath:
    """What :func:`regularization_path` returns, one entry per C (increasing): ``Cs``
    (n_Cs,), ``coefs`` (n_Cs, n_classes, n_features), ``intercepts`` (n_Cs, n_classes),
    the training cross-entropy ``losses`` (n_Cs,) and ``objectives`` (penalty included),
    ``n_nonzero`` weights (n_Cs,), solver iterations ``n_iter`` (n_Cs,), the ``classes``,
    ``l1_ratio`` and the path's ``seconds``."""

    Cs: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    losses: np.ndarray
    objectives: np.ndarray
    n_nonzero: np.ndarray
    n_iter: np.ndarray
    classes: np.ndarray
    l1_ratio: float | None
    seconds: float

    def table(self) -> list[dict[str, Any]]:
        """One row per C: C, training cross-entropy, objective, non-zeros, iterations."""
        return [
            {
                "C": float(c),
                "loss": float(loss),
                "objective": float(obj),
                "n_nonzero": int(nz),
                "n_iter": int(it),
            }
            for c, loss, obj, nz, it in zip(
                self.Cs, self.losses, self.objectives, self.n_nonzero, self.n_iter, strict=True
            )
        ]


def fit_path(base: Any, X: Any, y: Any, cs: np.ndarray, sample_weight: Any = None) -> list[Any]:
    """Fit ``base`` (an unfitted ``SoftmaxRegression``) at each C of ``cs`` (increasing),
    ``alpha = 1/(C Σ s_i)``: the rows are checked and standardised once
    (:func:`softmaxlab.fitting.plan`), then :func:`softmaxlab.solvers.solve_path` runs
    the warm-started fits. Returns a fitted copy per C."""
    from sklearn.base import clone

    from ._inputs import fit_rows
    from .fitting import adopt, check_settings, l1_share, plan, resolve_solver

    n = float(len(y) if sample_weight is None else np.sum(sample_weight))
    alphas = [1.0 / (float(c) * n) for c in cs]
    est = clone(base)
    check_settings(est)
    prepared = fit_rows(
        est,
        X,
        y,
        sample_weight,
        classes=None,
        reset=True,
        epochs=None,
        eval_set=None,
        lbfgs=resolve_solver(est, sgd_only=False) == "lbfgs",
    )
    setup = plan(est, prepared.rows, total_weight=prepared.total_weight)
    if not isinstance(setup.options, LbfgsOptions):
        raise InvalidInputError("solver: the regularisation path runs L-BFGS")
    results = solve_path(
        setup.loss, Penalty(1.0, l1_share(est)), alphas, setup.theta0, setup.options
    )
    fitted = []
    for alpha, result in zip(alphas, results, strict=True):
        snap = copy.copy(est)
        snap.__dict__ = dict(est.__dict__)
        snap.alpha, snap.alpha_ = alpha, alpha
        adopt(snap, setup, result, warn=False)
        fitted.append(snap)
    return fitted


def regularization_path(
    X: Any,
    y: Any,
    *,
    Cs: Any = 10,
    l1_ratio: float | None = None,
    sample_weight: Any = None,
    tol: float = 1e-4,
    max_epochs: int = 1000,
    class_weight: Any = None,
) -> RegularizationPath:
    """Fit ``SoftmaxRegression(solver="lbfgs")`` along ``Cs`` (an int: that many values
    log-spaced over [1e-4, 1e4]; a list: those) from the strongest penalty to the
    weakest, each fit warm-started at the previous optimum. ``l1_ratio=None`` is the L2
    path; a number in [0, 1] the elastic net's (1: L1). ``X`` dense or sparse."""
    from .estimator import SoftmaxRegression
    from .sparse import is_sparse, to_csr

    cs = check_cs(Cs)
    penalty, ratio = penalty_of(l1_ratio)
    if is_sparse(X):  # canonical CSR once: the fit and the losses below would each sort it
        X = to_csr(X)
    base = SoftmaxRegression(
        solver="lbfgs",
        penalty=penalty,
        l1_ratio=ratio,
        tol=tol,
        max_epochs=max_epochs,
        class_weight=class_weight,
    )
    started = time.perf_counter()
    fits = fit_path(base, X, y, cs, sample_weight)
    seconds = time.perf_counter() - started
    coefs = np.stack([f.coef_ for f in fits])
    idx = torch.from_numpy(class_indices(fits[0].classes_, y))
    s = None if sample_weight is None else torch.as_tensor(sample_weight, dtype=torch.float64)
    losses = [
        ce_and_accuracy(torch.from_numpy(f.predict_log_proba(X).astype(np.float64)), idx, s)[0]
        for f in fits
    ]
    return RegularizationPath(
        Cs=cs,
        coefs=coefs,
        intercepts=np.stack([f.intercept_ for f in fits]),
        losses=np.array(losses),
        objectives=np.array([f.loss_curve_[-1] for f in fits]),
        n_nonzero=(coefs != 0).reshape(len(fits), -1).sum(axis=1),
        n_iter=np.array([f.n_iter_ for f in fits]),
        classes=fits[0].classes_,
        l1_ratio=ratio,
        seconds=seconds,
    )
