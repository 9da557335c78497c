"""Data: the seed's synthetic set (docs/seed.md#data), scikit-learn's bundled sets, CSV and Parquet files.

Everything is local: the bundled sets ship inside scikit-learn, nothing is downloaded.
No global random state is used: ``seed`` goes straight to the generators.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ._validation import (
    check_positive_int,
    check_seed,
    check_statistics,
    resolve_device,
    resolve_dtype,
)
from .errors import InvalidInputError, InvalidTypeError
from .io.sparse_files import is_sparse_file, read_sparse
from .io.tables import encode_labels, feature_matrix, read_table, resolve_column, select_features
from .scaling import column_statistics

__all__ = [
    "BUNDLED",
    "Dataset",
    "load_dataset",
    "make_dataset",
    "one_hot",
]

#: scikit-learn's bundled data sets that ``load_dataset`` knows by name.
BUNDLED = ("iris", "wine", "digits", "breast_cancer")


@dataclass(frozen=True)
class Dataset:
    """A train/valid split: features (m, N) and one-hot targets (m, C) for each part.

    ``x_valid``/``y_valid`` are ``None`` when nothing was held out. ``classes[k]`` is the
    original label of class ``k``; ``mean``/``scale`` are the standardisation statistics
    (from the training rows) when the features were standardised, else ``None``.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor | None
    y_valid: torch.Tensor | None
    n_classes: int
    classes: np.ndarray | None = None
    feature_names: tuple[str, ...] | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    name: str = ""

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    def labels(self, y: torch.Tensor) -> np.ndarray:
        """Original labels of one-hot rows ``y``."""
        idx = y.argmax(dim=1).cpu().numpy()
        return idx if self.classes is None else self.classes[idx]


def one_hot(
    labels: Any, n_classes: int, *, dtype: Any = torch.float64, device: Any = None
) -> torch.Tensor:
    """Integer labels 0..C-1 → one-hot rows. Shape: (m,) → (m, C).

    Raises when a label is not an integer, or is outside ``[0, n_classes)``.
    """
    n_classes = check_positive_int(n_classes, "n_classes")
    if n_classes < 2:
        raise InvalidInputError(f"n_classes: needs at least 2 classes, got {n_classes}")
    if isinstance(labels, torch.Tensor):
        t = labels.detach().cpu()
    else:
        try:
            t = torch.as_tensor(np.asarray(labels))
        except (TypeError, ValueError) as exc:
            raise InvalidTypeError(f"labels: cannot be read as integers ({exc})") from exc
    if t.ndim != 1:
        raise InvalidInputError(f"labels: expected a 1-D sequence, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise InvalidInputError("labels: is empty")
    if t.is_floating_point():
        if not bool((t == t.round()).all()):
            raise InvalidInputError("labels: must be whole numbers")
    elif t.dtype == torch.bool or t.is_complex():
        raise InvalidTypeError(f"labels: expected integers, got {t.dtype}")
    t = t.long()
    bad = (t < 0) | (t >= n_classes)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise InvalidInputError(
            f"labels: label {int(t[i])} at position {i} is outside 0..{n_classes - 1}"
        )
    out = torch.nn.functional.one_hot(t, n_classes)
    return out.to(dtype=resolve_dtype(dtype), device=resolve_device(device))


def make_dataset(
    n_samples: int = 10_100,
    n_features: int = 5,
    n_classes: int = 3,
    *,
    train_rows: int = 100,
    seed: int | None = None,
    dtype: Any = torch.float64,
    device: Any = None,
) -> Dataset:
    """The seed's synthetic data (docs/seed.md#data): ``make_classification`` with ``n_features - 1``
    informative features and none redundant, one-hot targets, and the first
    ``train_rows`` rows for training, the rest for validation.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    n_features = check_positive_int(n_features, "n_features")
    n_classes = check_positive_int(n_classes, "n_classes")
    train_rows = check_positive_int(train_rows, "train_rows")
    seed = check_seed(seed)
    if n_classes < 2:
        raise InvalidInputError(f"n_classes: needs at least 2 classes, got {n_classes}")
    if n_features < 2:
        raise InvalidInputError(
            f"n_features: needs at least 2 (n_features - 1 of them are informative), got {n_features}"
        )
    informative = n_features - 1
    clusters = 2
    if n_classes * clusters > 2**informative:
        clusters = 1
    if n_classes > 2**informative:
        raise InvalidInputError(
            f"n_classes: {n_classes} classes need at least "
            f"{int(np.ceil(np.log2(n_classes))) + 1} features, got n_features={n_features}"
        )
    if train_rows >= n_samples:
        raise InvalidInputError(
            f"train_rows: must be less than n_samples ({n_samples}) to leave validation rows, "
            f"got {train_rows}"
        )
    if n_samples < n_classes:
        raise InvalidInputError(f"n_samples: needs at least one row per class, got {n_samples}")
    from sklearn.datasets import make_classification

    x, labels = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        n_informative=informative,
        n_redundant=0,
        n_clusters_per_class=clusters,
        random_state=seed,
    )
    dtype, device = resolve_dtype(dtype), resolve_device(device)
    xt = torch.from_numpy(x).to(dtype=dtype, device=device)
    y = one_hot(labels, n_classes, dtype=dtype, device=device)
    return Dataset(
        xt[:train_rows],
        y[:train_rows],
        xt[train_rows:],
        y[train_rows:],
        n_classes,
        classes=np.arange(n_classes),
        feature_names=tuple(f"x{i}" for i in range(n_features)),
        name="synthetic",
    )


# ----------------------------------------------------------------------------- load_dataset


def n_validation_rows(valid: Any, n: int) -> int:
    """Validation rows for ``valid`` (a count, or a fraction in (0, 1)) of ``n`` rows, by
    the rule of :func:`softmaxlab.load_dataset`."""
    if isinstance(valid, bool) or not isinstance(valid, numbers.Real) or float(valid) < 0:
        raise InvalidInputError(f"valid: expected a row count or a fraction, got {valid!r}")
    v = float(valid)
    if isinstance(valid, numbers.Integral) or v >= 1:
        if v != int(v):
            raise InvalidInputError(f"valid: a count must be whole, got {valid!r}")
        n_valid = int(v)
    else:
        n_valid = round(v * n)
    if n_valid >= n:
        raise InvalidInputError(
            f"valid: {n_valid} validation rows leave no training rows out of {n}"
        )
    return n_valid


def load_dataset(
    name_or_path: str | os.PathLike[str],
    *,
    target: str | int | None = None,
    features: Any = None,
    valid: float | int | None = None,
    shuffle: bool | None = None,
    stratify: bool = False,
    seed: int | None = 0,
    standardize: bool = False,
    dtype: Any = torch.float64,
    device: Any = None,
    n_features: int | None = None,
    **synthetic: Any,
) -> Dataset:
    """Load a data set by name or from a file, split it, optionally standardise it.

    Args:
        name_or_path: ``"synthetic"`` (the seed's data; ``synthetic`` keyword arguments go
            to :func:`make_dataset`), a bundled set (:data:`BUNDLED`), or a ``.csv`` /
            ``.parquet`` file.
        target: for files, the target column by name or 0-based index (default: the last
            column). Labels may be of any type (strings, integers, ...).
        features: for files, the feature columns (names or indices, or a comma list);
            default every column but the target.
        valid: validation rows as a count (int) or a fraction (float in (0, 1)); 0 keeps
            everything for training. Default: the seed's split for ``synthetic``
            (``train_rows``), else 0.2.
        shuffle: shuffle before splitting (with ``seed``); default ``False`` for
            ``synthetic`` (the seed's in-order split), else ``True``.
        stratify: keep class proportions in both parts (needs ``shuffle``).
        standardize: subtract the mean and divide by the standard deviation of the
            *training* rows (constant columns are left unscaled); the statistics are kept in
            ``Dataset.mean`` / ``Dataset.scale``. Sparse files are scaled by each column's
            largest absolute value and never centred (``mean`` is 0).
        n_features: for sparse files, the column count (a test file may use fewer).

    Sparse files — svmlight/libsvm (``.svm``, ``.libsvm``, ``.svmlight``, svmlight
    ``.txt``) and scipy ``.npz`` matrices with ``target`` naming a file of labels — give
    a Dataset whose ``x_train``/``x_valid`` are scipy CSR matrices (docs/text.md).

    Raises:
        InvalidInputError: unknown name, missing/empty/unreadable file, missing target
            column, non-numeric features, NaN/inf, a single class, a split that leaves no
            training rows.
    """
    key = os.fspath(name_or_path)
    if n_features is not None and not is_sparse_file(key):
        synthetic["n_features"] = n_features  # make_dataset's own argument
    if key == "synthetic":
        if valid is not None or shuffle or stratify:
            raise InvalidInputError(
                "data: the synthetic set uses the seed's in-order split; set train_rows "
                "instead of valid/shuffle/stratify"
            )
        synthetic.setdefault("seed", seed)
        data = make_dataset(**synthetic, dtype=dtype, device=device)
        return _standardized(data) if standardize else data
    if synthetic:
        raise InvalidInputError(
            f"data: options {sorted(synthetic)} apply only to the synthetic data set"
        )
    if key in BUNDLED:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{key}")()
        x = np.asarray(bunch.data, dtype=np.float64)
        names = (
            tuple(str(n) for n in bunch.feature_names)
            if hasattr(bunch, "feature_names")
            else tuple(f"x{i}" for i in range(x.shape[1]))
        )
        if target is not None or features is not None:
            raise InvalidInputError(f"data: target/features apply to files, not to {key!r}")
        classes, idx = encode_labels(bunch.target, "target")
    elif is_sparse_file(key):  # svmlight or .npz: CSR rows, never densified
        x, labels = read_sparse(key, n_features=n_features, labels=target)
        if features is not None:
            raise InvalidInputError("features: sparse files use every column")
        names = tuple(f"x{i}" for i in range(x.shape[1]))
        classes, idx = encode_labels(labels, "labels")
    elif Path(key).suffix or os.sep in key or Path(key).exists():
        frame = read_table(key)
        target_col = resolve_column(frame, -1 if target is None else target, "target")
        cols = select_features(frame, features, target_col)
        x = feature_matrix(frame, cols)
        names = tuple(cols)
        classes, idx = encode_labels(frame[target_col], f"target column {target_col!r}")
    else:
        raise InvalidInputError(
            f"data: unknown data set {key!r}; use synthetic, {', '.join(BUNDLED)}, or a "
            ".csv/.parquet/.npy file"
        )
    return _split(
        x,
        idx,
        classes,
        names,
        key,
        valid=0.2 if valid is None else valid,
        shuffle=True if shuffle is None else shuffle,
        stratify=stratify,
        seed=seed,
        standardize=standardize,
        dtype=dtype,
        device=device,
    )


def split_order(
    n: int, idx: np.ndarray, *, valid: Any, shuffle: bool, stratify: bool, seed: Any
) -> tuple[np.ndarray, int]:
    """The row order of a train/valid split of ``n`` rows with class indices ``idx``
    (training rows first) and the number of training rows: ``load_dataset``'s split,
    also used by ``train --text`` before it fits the vectorizer on the training rows."""
    n_valid = n_validation_rows(valid, n)
    seed = check_seed(seed)
    if stratify and not shuffle:
        raise InvalidInputError("stratify: needs shuffle")
    order = np.arange(n)
    if shuffle and n_valid:
        from sklearn.model_selection import train_test_split

        try:
            tr, va = train_test_split(
                order, test_size=n_valid, random_state=seed, stratify=idx if stratify else None
            )
        except ValueError as exc:  # too few rows of a class for a stratified split
            raise InvalidInputError(f"{'stratify' if stratify else 'valid'}: {exc}") from None
        order = np.concatenate([tr, va])
    elif shuffle:
        order = np.random.default_rng(seed).permutation(n)
    return order, n - n_valid


def _split(
    x, idx, classes, names, key, *, valid, shuffle, stratify, seed, standardize, dtype, device
) -> Dataset:
    order, n_train = split_order(
        x.shape[0], idx, valid=valid, shuffle=shuffle, stratify=stratify, seed=seed
    )
    n_valid = x.shape[0] - n_train
    dtype, device = resolve_dtype(dtype), resolve_device(device)
    if sp.issparse(x):
        xt = x[order].astype(np.float64 if dtype == torch.float64 else np.float32)
    else:
        xt = torch.from_numpy(np.ascontiguousarray(x[order])).to(dtype=dtype, device=device)
    y = one_hot(idx[order], len(classes), dtype=dtype, device=device)
    data = Dataset(
        xt[:n_train],
        y[:n_train],
        xt[n_train:] if n_valid else None,
        y[n_train:] if n_valid else None,
        len(classes),
        classes=classes,
        feature_names=names,
        name=str(key),
    )
    return _standardized(data) if standardize else data


def _standardized(data: Dataset) -> Dataset:
    """Standardise with statistics of the training rows only
    (:func:`softmaxlab.scaling.column_statistics`: sparse rows are scaled by their largest
    absolute value, never centred)."""
    sparse = sp.issparse(data.x_train)
    if sparse:
        from .sparse import SparseRows, to_csr

        mean, scale = column_statistics(SparseRows(to_csr(data.x_train, "data")))
    else:
        mean, scale = column_statistics(data.x_train)
    check_statistics(mean.cpu().numpy(), scale.cpu().numpy(), "standardize")
    if sparse:
        inv = sp.diags(1.0 / scale.double().numpy())
        xv = None if data.x_valid is None else (data.x_valid @ inv).tocsr()
        return replace(
            data,
            x_train=(data.x_train @ inv).tocsr(),
            x_valid=xv,
            mean=np.zeros(scale.shape[0]),
            scale=scale.double().numpy(),
        )
    xv = None if data.x_valid is None else (data.x_valid - mean) / scale
    return replace(
        data,
        x_train=(data.x_train - mean) / scale,
        x_valid=xv,
        mean=mean.cpu().numpy(),
        scale=scale.cpu().numpy(),
    )
