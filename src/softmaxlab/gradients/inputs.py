r"""The checks every public formulation of :mod:`softmaxlab.gradients` runs on its inputs,
and the row weights :math:`r_i = s_i c_{t_i} / \sum_k s_k c_{t_k}` they apply (the
functional API's form of the weights; the estimator's are
:func:`softmaxlab.objective.loss.row_weights`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import functional as F
from .._validation import as_matrix, as_targets
from ..errors import InvalidInputError, InvalidTypeError

__all__ = ["class_weights", "row_weights"]


def _checked(
    x: Any,
    y: Any,
    w: Any,
    b: Any,
    y_hat: Any,
    sample_weight: Any,
    class_weight: Any,
    alpha: Any,
) -> tuple[Any, ...]:
    if not isinstance(w, torch.Tensor) or w.dtype not in (torch.float32, torch.float64):
        raise InvalidTypeError(f"w: expected a float32/float64 tensor, got {type(w).__name__}")
    if w.ndim != 2:
        raise InvalidInputError(f"w: expected shape (n_features, n_classes), got {tuple(w.shape)}")
    n, c = w.shape
    kw: dict[str, Any] = {"dtype": w.dtype, "device": w.device}
    if c < 2:
        raise InvalidInputError(f"w: needs at least 2 classes (columns), got {c}")
    if not isinstance(b, torch.Tensor) or b.shape != (c,):
        shape = tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
        raise InvalidInputError(f"b: expected a tensor of shape ({c},), got {shape}")
    b = as_matrix(b.reshape(1, c), "b", **kw).reshape(c)
    w = as_matrix(w, "w", **kw)
    x = as_matrix(x, "x", n_cols=n, cols_name="features", **kw)
    m = x.shape[0]
    y = as_targets(y, "y", n_rows=m, n_classes=c, one_hot=False, **kw)
    if y_hat is None:
        y_hat = F.softmax(F.logits(x, w, b))
    else:
        y_hat = as_matrix(y_hat, "y_hat", n_cols=c, cols_name="classes", **kw)
        if y_hat.shape[0] != m or bool((y_hat < 0).any()):
            raise InvalidInputError(
                f"y_hat: expected non-negative probabilities of shape ({m}, {c}), "
                f"got shape {tuple(y_hat.shape)}"
            )
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, (int, float))
        or not alpha >= 0
        or alpha == float("inf")
    ):
        raise InvalidInputError(f"alpha: must be a finite number >= 0, got {alpha!r}")
    r = None
    if sample_weight is not None or class_weight is not None:
        s = torch.ones(m, **kw) if sample_weight is None else sample_weight
        r = row_weights(s, m, **kw)
        if class_weight is not None:
            r = r * (y @ class_weights(class_weight, y))
            if not float(r.sum()) > 0:
                raise InvalidInputError("class_weight: every row has weight zero")
            r = r / r.sum()
    return x, y, w, b, y_hat, r, float(alpha)


def class_weights(class_weight: Any, y: torch.Tensor) -> torch.Tensor:
    r"""Per-class weights (C,): given values, or ``"balanced"``:
    :math:`m / (C \cdot n_k)` with :math:`n_k` the (target-mass) count of class k, as
    scikit-learn computes it; a class absent from ``y`` gets 0."""
    m, c = y.shape
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise InvalidInputError(
                f"class_weight: expected 'balanced' or C values, got {class_weight!r}"
            )
        counts = y.sum(dim=0)
        return torch.where(counts > 0, m / (c * counts), torch.zeros_like(counts))
    if not isinstance(class_weight, torch.Tensor):
        class_weight = np.asarray(class_weight)
    cw = as_matrix(
        class_weight.reshape(1, -1), "class_weight", dtype=y.dtype, device=y.device
    ).reshape(-1)
    if cw.numel() != c or bool((cw < 0).any()):
        raise InvalidInputError(
            f"class_weight: expected {c} non-negative values, got {cw.tolist()}"
        )
    return cw


def row_weights(
    sample_weight: Any, m: int, *, dtype: torch.dtype, device: Any, name: str = "sample_weight"
) -> torch.Tensor:
    r"""Check ``sample_weight`` (m,) and return it normalised to sum to 1: :math:`r = s/\sum s`."""
    if not isinstance(sample_weight, torch.Tensor):
        sample_weight = np.asarray(sample_weight)
    s = as_matrix(sample_weight.reshape(1, -1), name, dtype=dtype, device=device).reshape(-1)
    if s.numel() != m:
        raise InvalidInputError(f"{name}: has {s.numel()} values but the inputs have {m} rows")
    if bool((s < 0).any()):
        raise InvalidInputError(f"{name}: weights must be non-negative")
    total = s.sum()
    if not float(total) > 0:
        raise InvalidInputError(f"{name}: weights sum to 0")
    return s / total
