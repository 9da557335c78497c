r"""Sparse input: what softmaxlab accepts, and the one layout it trains on (docs/text.md).

Every entry point takes scipy sparse matrices (CSR, CSC, COO or any other scipy format)
and torch sparse tensors (COO, CSR) as well as dense arrays. :func:`to_csr` converts one
once — to CSR with int64 row pointers, int32 sorted column indices and the fit's float
dtype, sharing memory where the layout already matches — and :class:`SparseRows` holds it
for the engine (:class:`softmaxlab.fast.sparse.SparseEngine`). X is never densified:
logits are sparse × dense products, :math:`Z = XW + b`, and gradients scatter into the
rows of W that a row's features name.

Standardisation of sparse rows scales without centring — :math:`\tilde X = X
\operatorname{diag}(d^{-1})` with :math:`d` the largest absolute value of each column
(:func:`column_scale`) — because subtracting a mean would make every zero non-zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.sparsefuncs import min_max_axis

from .errors import InvalidInputError, InvalidTypeError

__all__ = [
    "SparseRows",
    "column_scale",
    "is_sparse",
    "logits",
    "nonempty",
    "sparse_rows",
    "to_csr",
    "to_scipy",
]


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a scipy sparse matrix/array, a torch sparse tensor or
    :class:`SparseRows`."""
    return (
        sp.issparse(x)
        or isinstance(x, SparseRows)
        or (isinstance(x, torch.Tensor) and x.layout != torch.strided)
    )


def to_scipy(x: Any, name: str = "X") -> Any:
    """A torch sparse tensor as a scipy CSR matrix (sharing nothing it need not copy);
    scipy matrices pass through."""
    if isinstance(x, SparseRows):
        return x.csr
    if isinstance(x, torch.Tensor) and x.layout != torch.strided:
        if x.ndim != 2:
            raise InvalidInputError(f"{name}: expected a 2-D sparse tensor, got {x.ndim}-D")
        x = x.detach().cpu()
        if x.layout == torch.sparse_coo:
            x = x.coalesce()
            i = x.indices().numpy()
            return sp.csr_matrix((x.values().numpy(), (i[0], i[1])), shape=tuple(x.shape))
        if x.layout == torch.sparse_csr:
            return sp.csr_matrix(
                (x.values().numpy(), x.col_indices().numpy(), x.crow_indices().numpy()),
                shape=tuple(x.shape),
            )
        raise InvalidTypeError(f"{name}: sparse layout {x.layout} is not supported; use COO or CSR")
    return x


def to_csr(x: Any, name: str = "X", *, dtype: Any = np.float64) -> Any:
    """``x`` (scipy sparse or torch sparse) as a canonical scipy CSR matrix of ``dtype``:
    duplicates summed, column indices sorted, int64 row pointers and int32 columns.
    Stored NaN or infinite values are refused, naming ``name`` and the row."""
    x = to_scipy(x, name)
    if not sp.issparse(x):
        raise InvalidTypeError(f"{name}: expected a sparse matrix, got {type(x).__name__}")
    if x.ndim != 2:
        raise InvalidInputError(f"{name}: expected a 2-D sparse matrix, got {x.ndim}-D")
    csr = sp.csr_matrix(x, dtype=dtype)  # a copy only if the format or dtype differ
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()  # also sorts the indices
    if csr.shape[1] >= 2**31:
        raise InvalidInputError(f"{name}: {csr.shape[1]} columns; at most 2**31 - 1 are supported")
    finite = np.isfinite(csr.data)
    if not finite.all():
        row = int(np.searchsorted(csr.indptr, np.flatnonzero(~finite)[0], side="right")) - 1
        raise InvalidInputError(
            f"{name}: row {row + 1} stores a NaN or infinite value; sparse input must be finite"
        )
    return csr


class SparseRows:
    """Rows of a canonical CSR matrix (:func:`to_csr`) as the engine reads them:
    ``indptr`` (n+1,) int64, ``indices`` (nnz,) int32 and ``data`` (nnz,) tensors (sharing
    the matrix's memory where its index dtypes match), and the tensor-like ``shape``,
    ``dtype``, ``device`` and :meth:`element_size`."""

    def __init__(self, csr: Any) -> None:
        self.csr = csr
        self.indptr = torch.from_numpy(csr.indptr.astype(np.int64, copy=False))
        self.indices = torch.from_numpy(csr.indices.astype(np.int32, copy=False))
        self.data = torch.from_numpy(csr.data)
        self.shape = tuple(csr.shape)
        self.dtype = self.data.dtype
        self.device = torch.device("cpu")

    @property
    def nnz(self) -> int:
        return int(self.csr.nnz)

    def element_size(self) -> int:
        return self.data.element_size()

    def tensors(self) -> list[torch.Tensor]:
        """What identifies the data (for checkpoint fingerprints)."""
        return [self.indptr, self.indices, self.data]

    def take(self, rows: Any) -> SparseRows:
        """The rows ``rows`` (indices) as new :class:`SparseRows`."""
        idx = rows.cpu().numpy() if isinstance(rows, torch.Tensor) else np.asarray(rows)
        return SparseRows(to_csr(self.csr[idx], dtype=self.csr.dtype))

    def scaled(self, inv_scale: torch.Tensor | None) -> SparseRows:
        """``X diag(inv_scale)`` (one copy of the values; the indices are shared)."""
        if inv_scale is None or bool((inv_scale == 1).all()):
            return self
        s = inv_scale.to(self.data).numpy()
        out = sp.csr_matrix(
            (self.csr.data * s[self.csr.indices], self.csr.indices, self.csr.indptr),
            shape=self.shape,
            copy=False,
        )
        return SparseRows(out)

    def coo(self, rows: torch.Tensor | None, s: int, m: int) -> torch.Tensor:
        """Rows ``s .. s+m`` (of ``rows`` when given) as a torch sparse COO tensor
        (m, N): a batch for the formulations of :mod:`softmaxlab.gradients`."""
        idx = np.arange(s, s + m) if rows is None else rows[s : s + m].cpu().numpy()
        part = self.csr[idx].tocoo()
        i = torch.from_numpy(np.vstack([part.row, part.col]).astype(np.int64))
        return torch.sparse_coo_tensor(
            i, torch.from_numpy(part.data), (m, self.shape[1]), is_coalesced=True
        )


def sparse_rows(x: Any, name: str, *, n_cols: int, dtype: torch.dtype) -> SparseRows:
    """Sparse ``x`` checked as rows of ``n_cols`` features (finite stored values, at
    least one row) and laid out for the engine; errors name ``name``."""
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    csr = to_csr(x, name, dtype=np_dtype)
    if csr.shape[1] != n_cols:
        raise InvalidInputError(f"{name}: expected {n_cols} features (columns), got {csr.shape[1]}")
    if csr.shape[0] == 0:
        raise InvalidInputError(f"{name}: has no rows")
    return SparseRows(csr)


def column_scale(
    x: SparseRows, weight: torch.Tensor | None = None, rows: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(mu, d)`` of sparse rows: :math:`\mu = 0` and :math:`d_k = \max_i |x_{ik}|` over
    the rows ``rows`` (all for ``None``) of non-zero ``weight`` — scikit-learn's
    ``MaxAbsScaler`` (1 for an all-zero column), in ``x``'s dtype. Every scaled value
    lies in [-1, 1], so no row is longer than its count of stored values: a scale that
    suits SGD, unlike the root mean square, which blows a rare word up by √n."""
    csr = x.csr if rows is None else x.csr[rows.cpu().numpy()]
    if weight is not None:
        s = weight.cpu().numpy() if rows is None else weight.cpu().numpy()[rows.cpu().numpy()]
        if not (s > 0).all():
            csr = csr[np.flatnonzero(s > 0)]
    if csr.shape[0] == 0:
        d = np.zeros(x.shape[1])
    else:  # scikit-learn's MaxAbsScaler statistic
        low, high = min_max_axis(csr, axis=0)
        d = np.maximum(np.abs(low), np.abs(high)).astype(np.float64)
    d[~(d > 0)] = 1.0
    return (torch.zeros(x.shape[1], dtype=x.dtype), torch.from_numpy(d).to(x.dtype))


def logits(x: Any, coef_t: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Z = XW + b for sparse ``x`` (n, N), ``coef_t`` = W (N, C), ``intercept`` (C,): a
    sparse × dense product, (n, C)."""
    return np.asarray(x @ coef_t) + intercept


def nonempty(csr: Any, name: str = "X") -> None:
    """Refuse a sparse matrix without rows, or without a single non-zero value (nothing
    to learn from): the error names ``name``."""
    if csr.shape[0] == 0:
        raise InvalidInputError(f"{name}: has no rows")
    if csr.nnz == 0 or not np.any(csr.data):
        raise InvalidInputError(
            f"{name}: every value is zero; there is nothing to learn "
            "from (an empty vocabulary or a wrong column?)"
        )
