"""The rows of a ``SoftmaxRegression`` fit, checked and laid out for the engine (internal).

Dense X becomes a tensor sharing its memory; sparse X (scipy or torch sparse) becomes
:class:`~softmaxlab.sparse.SparseRows` on the CPU, never densified (docs/text.md). The
helpers here are what ``fit``, ``partial_fit`` and the predictions share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import validate_data

from ._validation import as_shared_tensor
from .data import standardisation
from .errors import InvalidInputError
from .sparse import SparseRows, column_scale, is_sparse, nonempty, to_csr, to_scipy

__all__ = ["check_rows", "eval_rows", "row_weights", "scale_stats", "take", "tensor_rows"]


def check_rows(est: Any, X: Any, y: Any = "no", *, dtype: Any, reset: bool) -> Any:
    """``validate_data`` for dense or sparse ``X`` (and ``y`` when given): sparse input of
    any scipy format or a torch sparse tensor comes back as canonical CSR, its stored
    values checked finite (dense X is checked later, on its statistics)."""
    if is_sparse(X):
        X = to_scipy(X)
    kw = {"dtype": dtype, "reset": reset, "accept_sparse": "csr", "accept_large_sparse": True}
    no_y = isinstance(y, str) and y == "no"
    if no_y:
        X = validate_data(est, X, ensure_all_finite=not sp.issparse(X), **kw)
    else:
        X, y = validate_data(est, X, y, ensure_all_finite=False, **kw)
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


def scale_stats(
    x: Any, weight: torch.Tensor, rows: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The standardisation (mean, scale): centred for dense rows, scale only for sparse
    (:func:`softmaxlab.sparse.column_scale`)."""
    if isinstance(x, SparseRows):
        return column_scale(x, weight, rows)
    return standardisation(x, weight, rows)


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
    unseen = np.setdiff1d(np.unique(yv), est.classes_)
    if unseen.size:
        raise InvalidInputError(
            f"eval_set: labels {unseen.tolist()} are not among the classes {est.classes_.tolist()}"
        )
    idx = torch.as_tensor(np.searchsorted(est.classes_, yv), dtype=torch.int64, device=kw["device"])
    if sparse:
        return SparseRows(to_csr(sp.csr_matrix(xv), dtype=np_dtype)), idx
    if sp.issparse(xv):
        xv = xv.toarray()  # dense training rows: the held-out rows follow them
    return as_shared_tensor(xv, **kw), idx


def row_weights(
    est: Any, y_idx: np.ndarray, sample_weight: Any, n: int, *, whole: bool
) -> np.ndarray:
    """The weight s_i of each training row: ``sample_weight`` times the ``class_weight``
    of its class, checked (finite, non-negative, not all zero; with ``whole``, at least
    two classes of non-zero weight)."""
    if sample_weight is None:
        s = np.ones(n)
    else:
        s = np.asarray(sample_weight, dtype=np.float64)
        if s.ndim == 0:
            s = np.full(n, float(s))
        if s.shape != (n,):
            raise InvalidInputError(f"sample_weight: expected shape ({n},), got {s.shape}")
        if not np.all(np.isfinite(s)) or np.any(s < 0):
            raise InvalidInputError("sample_weight: must be finite and non-negative")
    if est.class_weight is not None:
        cw = est.class_weight
        if isinstance(cw, dict):  # keys are original labels; map onto indices
            lookup = {label: i for i, label in enumerate(est.classes_)}
            unknown = [k for k in cw if k not in lookup]
            if unknown:
                raise InvalidInputError(
                    f"class_weight: labels {unknown} are not among the classes "
                    f"{est.classes_.tolist()}"
                )
            cw = {lookup[k]: v for k, v in cw.items()}
        s = s * compute_sample_weight(cw, y_idx)
    if not s.sum() > 0:
        raise InvalidInputError("sample_weight: all weights are zero")
    weighted = np.bincount(y_idx, weights=s, minlength=len(est.classes_))
    if whole and np.count_nonzero(weighted > 0) < 2:
        raise InvalidInputError(
            "sample_weight: fewer than 2 classes have non-zero weight; a classifier "
            "needs at least 2 classes"
        )
    return s
