"""Data for the seed experiment: the synthetic set (S1) and one-hot encoding.

No global random state is used: ``seed`` goes straight to scikit-learn's generator.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ._validation import check_positive_int, resolve_device, resolve_dtype
from .errors import InvalidInputError, InvalidTypeError

__all__ = ["Dataset", "make_dataset", "one_hot"]


@dataclass(frozen=True)
class Dataset:
    """A train/valid split: features (m, N) and one-hot targets (m, C) for each part."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor
    n_classes: int

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


def one_hot(labels: Any, n_classes: int, *, dtype: Any = torch.float64,
            device: Any = None) -> torch.Tensor:
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
    """The seed's synthetic data (S1): ``make_classification`` with ``n_features - 1``
    informative features and none redundant, one-hot targets, and the first
    ``train_rows`` rows for training, the rest for validation.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    n_features = check_positive_int(n_features, "n_features")
    n_classes = check_positive_int(n_classes, "n_classes")
    train_rows = check_positive_int(train_rows, "train_rows")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise InvalidTypeError(f"seed: expected an integer or None, got {seed!r}")
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
    return Dataset(xt[:train_rows], y[:train_rows], xt[train_rows:], y[train_rows:], n_classes)
