r"""Statistical inference for an unpenalised softmax regression: coefficients against a
reference class, standard errors, z-tests and confidence intervals (docs/inference.md).

The softmax is unchanged when the same vector is added to every class's weights, so only
differences between classes are identified. Against a reference class :math:`r` the
parameters are :math:`\beta_k = (b_k - b_r, w_k - w_r)` for :math:`k \ne r`, with the
intercept first (:math:`\tilde x_i = (1, x_i)`), as statsmodels' ``MNLogit`` reports
them. With row weights :math:`s_i` the log-likelihood is
:math:`\ell = \sum_i s_i \log \hat y_{i t_i}` and its observed information (equal to the
expected one: the softmax is the canonical link) is

.. math::

    \mathcal I = \sum_i s_i \, A_i \otimes \tilde x_i \tilde x_i^\top,
    \qquad A_i = \operatorname{diag}(\hat y_{i,-r}) - \hat y_{i,-r}\hat y_{i,-r}^\top ,

the per-sample softmax Jacobian blocks of docs/math.md §5 with the reference class's row
and column removed. The covariance of :math:`\hat\beta` is :math:`\mathcal I^{-1}`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import labelled_rows
from .errors import InvalidInputError

__all__ = ["SeparationWarning", "Summary", "information_matrix", "separated_pair", "summarize"]


class SeparationWarning(UserWarning):
    """The classes are (quasi-)separated: the likelihood has no finite maximum, or nearly
    none, so the coefficients and their standard errors are not meaningful."""


@dataclass(frozen=True)
class Summary:
    """What :func:`summarize` returns. ``table`` has one row per (class, term) — the
    non-reference classes, and ``const`` then each feature — with columns ``coef``,
    ``std_err``, ``z``, ``p_value``, ``ci_lower``, ``ci_upper``."""

    table: Any
    reference: Any
    log_likelihood: float
    null_log_likelihood: float
    n_obs: float
    converged: bool
    confidence: float = 0.95

    @property
    def pseudo_r2(self) -> float:
        """McFadden's pseudo-R²: 1 − ℓ / ℓ₀, with ℓ₀ the intercept-only log-likelihood."""
        return 1.0 - self.log_likelihood / self.null_log_likelihood

    def __str__(self) -> str:
        head = (
            f"Softmax regression (multinomial logit), reference class: "
            f"{_plain(self.reference)!r}\n"
            f"observations: {self.n_obs:g}   log-likelihood: {self.log_likelihood:.4f}   "
            f"null: {self.null_log_likelihood:.4f}   pseudo-R²: {self.pseudo_r2:.4f}   "
            f"converged: {'yes' if self.converged else 'NO'}\n"
        )
        level = f"{100 * self.confidence:g}%"
        body = self.table.rename(columns={"ci_lower": f"[{level}", "ci_upper": f"{level}]"})
        return head + body.to_string(float_format=lambda v: f"{v:.4g}") + "\n"


def _plain(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def information_matrix(
    x: np.ndarray, proba: np.ndarray, weight: np.ndarray, reference: int
) -> np.ndarray:
    r"""Observed information :math:`\sum_i s_i A_i \otimes \tilde x_i\tilde x_i^\top` of the
    reference parametrisation. Shapes: ``x`` (n, N), ``proba`` (n, C), ``weight`` (n,) →
    ((C−1)(N+1), (C−1)(N+1)), ordered class by class, intercept first within a class."""
    xt = np.c_[np.ones(len(x)), x]
    p = np.delete(proba, reference, axis=1)  # (n, C-1)
    k, d = p.shape[1], xt.shape[1]
    info = np.empty((k * d, k * d))
    sx = xt * weight[:, None]
    for a in range(k):
        for b in range(a, k):
            coef = p[:, a] * ((a == b) - p[:, b])  # (A_i)_{ab}
            block = (sx * coef[:, None]).T @ xt
            info[a * d : (a + 1) * d, b * d : (b + 1) * d] = block
            info[b * d : (b + 1) * d, a * d : (a + 1) * d] = block.T
    return info


def separated_pair(x: np.ndarray, idx: np.ndarray, weight: np.ndarray) -> tuple[int, int] | None:
    """The first pair of classes (by index) that a hyperplane separates completely among
    the rows with positive weight, or ``None``: then the maximum-likelihood coefficients of
    a softmax regression are infinite. One linear feasibility problem per pair:
    find (w, c) with ±(w·xᵢ + c) ≥ 1 on the two classes' rows (scipy's HiGHS)."""
    from scipy.optimize import linprog

    keep = weight > 0
    x, idx = x[keep], idx[keep]
    present = np.unique(idx)
    for a in range(len(present)):
        for b in range(a + 1, len(present)):
            j, k = present[a], present[b]
            rows = np.r_[x[idx == j], x[idx == k]]
            sign = np.r_[-np.ones((idx == j).sum()), np.ones((idx == k).sum())]
            a_ub = sign[:, None] * np.c_[rows, np.ones(len(rows))]
            res = linprog(
                np.zeros(rows.shape[1] + 1),
                A_ub=a_ub,
                b_ub=-np.ones(len(rows)),
                bounds=[(None, None)] * (rows.shape[1] + 1),
                method="highs",
            )
            if res.status == 0:
                return int(j), int(k)
    return None


def _check_unpenalised(model: Any) -> None:
    alpha = getattr(model, "alpha_", None)
    if alpha is None:
        alpha = model.alpha
    if alpha == "auto" or float(alpha) != 0.0:
        penalty = getattr(model, "penalty", "l2")
        raise InvalidInputError(
            f"model: fitted with an {str(penalty).upper()} penalty (alpha={alpha}); these "
            "standard errors are those of the unpenalised maximum-likelihood fit: refit "
            "with alpha=0 or penalty=None (softmaxlab train --alpha 0)"
        )


def _warn_if_separated(
    x: np.ndarray, idx: np.ndarray, w: np.ndarray, info: np.ndarray, classes: np.ndarray
) -> None:
    """:class:`SeparationWarning` when two classes are split by a hyperplane, or the
    information matrix is near singular."""
    pair = separated_pair(x, idx, w)
    if pair is None and np.linalg.cond(info) <= 1e12:
        return
    which = (
        ""
        if pair is None
        else (
            f" (classes {_plain(classes[pair[0]])!r} and {_plain(classes[pair[1]])!r} are "
            "split by a hyperplane)"
        )
    )
    warnings.warn(
        f"summarize: the classes are (quasi-)separated by the features{which}; "
        "the likelihood has no finite maximum, so these coefficients and "
        "standard errors are not meaningful",
        SeparationWarning,
        stacklevel=3,
    )


def summarize(
    model: Any,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    reference: Any = None,
    *,
    confidence: float = 0.95,
) -> Summary:
    """Coefficients, standard errors, z, p-values and confidence intervals of a fitted,
    unpenalised :class:`~softmaxlab.SoftmaxRegression` on the rows it was fitted on,
    against ``reference`` (a class label; the first class by default, as ``MNLogit``).
    Warns with :class:`SeparationWarning` when the data are (quasi-)separated."""
    import pandas as pd
    from scipy import stats
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    _check_unpenalised(model)
    if not 0 < confidence < 1:
        raise InvalidInputError(f"confidence: must be in (0, 1), got {confidence!r}")
    x, idx = labelled_rows(model, X, y)
    classes = model.classes_
    ref = 0
    if reference is not None:
        found = np.flatnonzero(classes == reference)
        if len(found) != 1:
            raise InvalidInputError(
                f"reference: {reference!r} is not a class of the model ({classes.tolist()})"
            )
        ref = int(found[0])
    w = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if w.shape != (len(x),) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InvalidInputError(f"sample_weight: expected {len(x)} finite weights >= 0")
    log_p = model.predict_log_proba(x)
    proba = np.exp(log_p)
    ll = float(w @ log_p[np.arange(len(x)), idx])
    freq = np.bincount(idx, weights=w, minlength=len(classes)) / w.sum()
    null = float(w @ np.log(np.where(freq[idx] > 0, freq[idx], 1.0)))

    coef = np.c_[model.intercept_, model.coef_].astype(np.float64)  # (C, N+1)
    beta = np.delete(coef - coef[ref], ref, axis=0)  # (C-1, N+1)
    info = information_matrix(x, proba, w, ref)
    converged = getattr(model, "stop_reason_", "") in ("converged", "tol")
    _warn_if_separated(x, idx, w, info, classes)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full_like(info, np.nan)
    se = np.sqrt(np.clip(np.diag(cov), 0, None)).reshape(beta.shape)
    z = beta / se
    q = stats.norm.ppf(0.5 + confidence / 2)
    names = [
        "const",
        *[
            str(n)
            for n in getattr(model, "feature_names_in_", [f"x{j + 1}" for j in range(x.shape[1])])
        ],
    ]
    others = [c for k, c in enumerate(classes) if k != ref]
    index = pd.MultiIndex.from_product([[str(c) for c in others], names], names=["class", "term"])
    table = pd.DataFrame(
        {
            "coef": beta.ravel(),
            "std_err": se.ravel(),
            "z": z.ravel(),
            "p_value": 2 * stats.norm.sf(np.abs(z)).ravel(),
            "ci_lower": (beta - q * se).ravel(),
            "ci_upper": (beta + q * se).ravel(),
        },
        index=index,
    )
    return Summary(table, classes[ref], ll, null, float(w.sum()), converged, confidence)
