"""The rows of a ``SoftmaxRegression`` fit, checked and laid out for the engine (internal).

Dense X becomes a tensor sharing its memory; sparse X (scipy or torch sparse) becomes
:class:`~softmaxlab.sparse.SparseRows` on the CPU, never densified (docs/text.md). The
helpers here are what ``fit``, ``partial_fit`` and the predictions share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, validate_data

from ._validation import (
    as_shared_tensor,
    check_parameter_memory,
    check_statistics,
    class_indices,
    resolve_device,
    resolve_dtype,
)
from .errors import InvalidInputError, SoftmaxlabError
from .objective import Rows, row_weights
from .scaling import column_statistics
from .sparse import SparseRows, is_sparse, nonempty, to_csr, to_scipy

__all__ = [
    "FitRows",
    "check_rows",
    "eval_rows",
    "fit_rows",
    "start_params",
    "take",
    "tensor_rows",
]


def check_rows(est: Any, X: Any, y: Any = "no", *, dtype: Any, reset: bool) -> Any:
    """``validate_data`` for dense or sparse ``X`` (and ``y`` when given): sparse input of
    any scipy format or a torch sparse tensor comes back as canonical CSR, its stored
    values checked finite (dense X is checked later, on its statistics)."""
    if is_sparse(X):
        X = to_scipy(X)
    kw: dict[str, Any] = {
        "dtype": dtype,
        "reset": reset,
        "accept_sparse": "csr",
        "accept_large_sparse": True,
    }
    no_y = isinstance(y, str) and y == "no"
    try:
        if no_y:
            X = validate_data(est, X, ensure_all_finite=not sp.issparse(X), **kw)
        else:
            X, y = validate_data(est, X, y, ensure_all_finite=False, **kw)
    except ValueError as exc:  # scikit-learn's checks, as a package error naming the input
        if isinstance(exc, SoftmaxlabError):
            raise
        raise InvalidInputError(f"{'X' if no_y else 'X, y'}: {exc}") from exc
    if sp.issparse(X):
        X = to_csr(X, dtype=dtype)
    return X if no_y else (X, y)


def tensor_rows(X: Any, *, dtype: torch.dtype, device: torch.device) -> Any:
    """Checked rows for the engine: :class:`SparseRows` for CSR (which must hold a
    non-zero value), else a tensor sharing X's memory."""
    if sp.issparse(X):
        nonempty(X)
        return SparseRows(X)
    return as_shared_tensor(X, dtype=dtype, device=device)


def take(x: Any, idx: torch.Tensor) -> Any:
    """Rows ``idx`` of dense or sparse rows."""
    return x.take(idx) if isinstance(x, SparseRows) else x[idx]


def eval_rows(
    est: Any, eval_set: Any, np_dtype: Any, kw: dict[str, Any], *, sparse: bool
) -> tuple[Any, torch.Tensor]:
    """``eval_set=(X_valid, y_valid)`` checked and encoded as the training rows are
    (sparse when they are)."""
    if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 2:
        raise InvalidInputError("eval_set: expected a pair (X_valid, y_valid)")
    xv_raw, yv_raw = eval_set
    xv = check_rows(est, xv_raw, dtype=np_dtype, reset=False)
    yv = np.asarray(yv_raw)
    if yv.ndim != 1 or yv.shape[0] != xv.shape[0]:
        raise InvalidInputError(
            f"eval_set: y_valid must be 1-D with {xv.shape[0]} labels, got shape {yv.shape}"
        )
    idx = torch.as_tensor(
        class_indices(est.classes_, yv, "eval_set"), dtype=torch.int64, device=kw["device"]
    )
    if sparse:
        return SparseRows(to_csr(sp.csr_matrix(xv), dtype=np_dtype)), idx
    if sp.issparse(xv):
        xv = xv.toarray()  # dense training rows: the held-out rows follow them
    return as_shared_tensor(xv, **kw), idx


@dataclass
class FitRows:
    """The rows of one ``fit``/``partial_fit``, checked and encoded: the loss's
    :class:`~softmaxlab.objective.Rows`, the held-out rows (or ``None``), Σ s_i over the
    training rows, the shuffling seed, and the tensors that identify the data (the
    checkpoints' fingerprint)."""

    rows: Rows
    valid: tuple[Any, torch.Tensor] | None
    total_weight: float
    seed: int
    identity: list[Any]


def _encode_labels(
    est: Any, y: np.ndarray, classes: Any, reset: bool, n_features: int, np_dtype: Any
) -> np.ndarray:
    """Class indices of ``y``; on a fresh fit the classes (of ``y``, or ``classes``) and
    zero coefficients are set first (kept under ``warm_start`` when the classes match)."""
    y_idx = None
    labels = None
    if reset:
        if classes is None:  # one sort gives the classes and every row's index
            labels, y_idx = np.unique(y, return_inverse=True)
            y_idx = y_idx.reshape(-1)
        else:
            labels = np.unique(np.asarray(classes))
        if len(labels) < 2:
            raise InvalidInputError(
                f"y: has only {len(labels)} class ({labels.tolist()}); a classifier "
                "needs at least 2 classes"
            )
        check_parameter_memory(len(labels), n_features)
        if not (
            est.warm_start and hasattr(est, "classes_") and np.array_equal(labels, est.classes_)
        ):
            start_params(est, labels, n_features, np_dtype)
    if y_idx is None or est.classes_ is not labels:
        y_idx = class_indices(est.classes_, y)
    return y_idx


def fit_rows(
    est: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    *,
    classes: Any,
    reset: bool,
    epochs: int | None,
    eval_set: Any,
    lbfgs: bool,
) -> FitRows:
    """Check and encode the rows of a fit of ``est`` (module docstring): labels, row
    weights, held-out rows (``eval_set`` or the ``early_stopping`` split) and the
    standardisation of the training rows. Finiteness is read off the standardisation's
    sums (finite exactly when X is, short of overflow): no pass of its own."""
    dtype, device = resolve_dtype(est.dtype), resolve_device(est.device)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    X, y = check_rows(est, X, y, dtype=np_dtype, reset=reset)
    if sp.issparse(X):
        device = torch.device("cpu")  # sparse rows train on the CPU (docs/text.md)
    if y.dtype.kind not in "iuUSb":  # integer or string labels are classes already
        try:
            check_classification_targets(y)
        except ValueError as exc:  # continuous values: a regression target
            raise InvalidInputError(
                f"y: {exc} (a classifier needs discrete labels; round or bin a continuous "
                "target first)"
            ) from exc
    y_idx = _encode_labels(est, y, classes, reset, X.shape[1], np_dtype)
    s = row_weights(est.class_weight, est.classes_, y_idx, sample_weight, whole=epochs is None)
    kw: dict[str, Any] = {"dtype": dtype, "device": device}
    xt = tensor_rows(X, **kw)  # shares X's memory on the CPU: no copy
    labels = torch.as_tensor(y_idx, dtype=torch.int64, device=device)
    st = torch.as_tensor(s / s.mean(), **kw)  # mean weight 1
    rng = check_random_state(est.random_state)
    train = valid = None
    if eval_set is not None:
        valid = eval_rows(est, eval_set, np_dtype, kw, sparse=sp.issparse(X))
    elif est.early_stopping and epochs is None:
        train_idx, valid_idx = train_test_split(
            np.arange(len(y)), test_size=est.validation_fraction, stratify=y_idx, random_state=rng
        )
        train = torch.as_tensor(np.sort(train_idx), device=device)
        vi = torch.as_tensor(valid_idx, device=device)
        valid = (take(xt, vi), labels[vi])
        st = st / st[train].mean()
    mu, d = column_statistics(xt, st, train)
    if not bool(torch.isfinite(mu).all() & torch.isfinite(d).all()) or (
        valid is not None
        and eval_set is None
        and not sp.issparse(X)
        and not bool(torch.isfinite(valid[0]).all())
    ):
        check_array(X, dtype=np_dtype)  # names the NaN or infinity, as scikit-learn does
        check_statistics(mu.cpu().numpy(), d.cpu().numpy(), "X")  # finite, overflowed
    if sp.issparse(X) and lbfgs:
        # L-BFGS adapts to the scale itself; on sparse rows the max-abs scaling only
        # slowed it (docs/text.md)
        d = torch.ones_like(d)
    s_train = s if train is None else s[train.cpu().numpy()]
    return FitRows(
        Rows(xt, labels, st, train, mu, d),
        valid,
        float(s_train.sum()),
        int(rng.randint(2**31 - 1)),
        [xt, labels, st, train, *(valid or ())],
    )


def start_params(est: Any, classes: np.ndarray, n_features: int, np_dtype: Any) -> None:
    """A fresh fit's attributes: the classes and zero coefficients."""
    est.classes_ = classes
    est.coef_ = np.zeros((len(classes), n_features), dtype=np_dtype)
    est.intercept_ = np.zeros(len(classes), dtype=np_dtype)
    est.loss_curve_ = []
