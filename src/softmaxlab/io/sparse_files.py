"""Sparse data files (docs/text.md): svmlight/libsvm text (``.svm``, ``.libsvm``,
``.svmlight``, and ``.txt`` whose first line reads ``label index:value ...``), read with
scikit-learn's ``load_svmlight_file``, and scipy ``.npz`` matrices
(``scipy.sparse.save_npz``) whose labels come from a separate file. Both come back as
CSR, never densified."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_regular_file
from ..errors import InvalidInputError

__all__ = ["SPARSE_SUFFIXES", "is_sparse_file", "is_svmlight", "read_sparse"]

#: Suffixes always read as sparse files (``.txt`` too when it looks like svmlight).
SPARSE_SUFFIXES = (".svm", ".libsvm", ".svmlight", ".npz")
_SVMLIGHT_LINE = re.compile(r"^\s*\S+(\s+(qid:\S+\s+)?\d+:\S+)+\s*(#.*)?$")


def is_sparse_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a sparse data file (module docstring)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in SPARSE_SUFFIXES:
        return True
    if suffix != ".txt" or not p.is_file():
        return False
    try:
        with open(p, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip() and not line.lstrip().startswith("#"):
                    return bool(_SVMLIGHT_LINE.match(line))
    except OSError:
        return False
    return False


def is_svmlight(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a sparse file that carries its labels (svmlight, not .npz)."""
    return is_sparse_file(path) and Path(path).suffix.lower() != ".npz"


def _labels_file(path: Any, n: int, name: str) -> np.ndarray:
    """One label per row from a ``.npy`` array or a text/CSV file with one column."""
    import pandas as pd

    p = check_regular_file(path, name)
    try:
        if p.suffix.lower() == ".npy":
            labels = np.load(p, allow_pickle=False)
        else:
            labels = pd.read_csv(p, header=None).iloc[:, 0].to_numpy()
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInputError(f"{name}: cannot read {p.name}: {exc}") from None
    labels = np.asarray(labels).reshape(-1) if np.ndim(labels) <= 2 else labels
    if labels.ndim != 1 or labels.shape[0] != n:
        raise InvalidInputError(f"{name}: {p.name} holds {labels.shape[0]} labels for {n} rows")
    return labels


def read_sparse(
    path: str | os.PathLike[str],
    *,
    name: str = "data",
    n_features: int | None = None,
    labels: Any = None,
) -> tuple[Any, np.ndarray]:
    """``(X, y)`` of a sparse data file as a float64 CSR matrix and its labels.

    ``n_features`` widens a file whose highest column index is lower than the model's
    (a test file), and refuses one that is wider. ``labels`` is the label file of an
    ``.npz`` matrix (required there; svmlight files carry their labels)."""
    import scipy.sparse as sp
    from sklearn.datasets import load_svmlight_file

    p = check_regular_file(path, name)
    if p.suffix.lower() == ".npz":
        if labels is None:
            raise InvalidInputError(
                f"target: {p.name} is a matrix without labels; give "
                "the file of its labels (one per row) as the target"
            )
        try:
            x = sp.load_npz(p).tocsr().astype(np.float64)
        except (ValueError, OSError, KeyError) as exc:
            raise InvalidInputError(
                f"{name}: cannot read {p.name} as a scipy sparse matrix: {exc}"
            ) from None
        y = _labels_file(labels, x.shape[0], "target")
    else:
        if labels is not None:
            raise InvalidInputError(
                f"target: {p.name} carries its labels (svmlight); give no target"
            )
        try:
            x, y = load_svmlight_file(str(p), dtype=np.float64)
        except (ValueError, OSError) as exc:
            raise InvalidInputError(
                f"{name}: cannot read {p.name} as svmlight: {str(exc).splitlines()[0]}"
            ) from None
    if x.shape[0] == 0:
        raise InvalidInputError(f"{name}: {p.name} has no data rows")
    if n_features is not None:
        if x.shape[1] > n_features:
            raise InvalidInputError(
                f"{name}: {p.name} has {x.shape[1]} columns, more than "
                f"the {n_features} expected (n_features or the model)"
            )
        if x.shape[1] < n_features:  # a test file without the last columns
            x = sp.csr_matrix((x.data, x.indices, x.indptr), shape=(x.shape[0], n_features))
    if not np.isfinite(x.data).all():
        row = (
            int(np.searchsorted(x.indptr, np.flatnonzero(~np.isfinite(x.data))[0], side="right"))
            - 1
        )
        raise InvalidInputError(f"{name}: row {row + 1} of {p.name} stores a NaN or infinite value")
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # svmlight labels are read as floats
    return x.tocsr(), y
