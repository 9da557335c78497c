r"""Row weights of a fit, computed in one place: :math:`s_i = w_i\,c_{t_i}`, the
``sample_weight`` of row i times the ``class_weight`` of its class :math:`t_i`.

``class_weight="balanced"`` is scikit-learn's :math:`c_k = n / (K\,n_k)` over the
:math:`K` classes present (counts :math:`n_k`, :math:`n = \sum_k n_k`); a dict maps labels
to weights; ``None`` is all 1. The counts may be global sums over data-parallel ranks
(:func:`class_weight_vector` takes them as given), so every entry point weighs rows alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = ["class_weight_vector", "row_weights"]


def class_weight_vector(class_weight: Any, classes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    r"""Per-class weights :math:`c` (K,) from the class ``counts`` (K,) (module docstring)."""
    out = np.ones(len(classes), dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if class_weight is None:
        return out
    if isinstance(class_weight, str) and class_weight == "balanced":
        present = counts > 0
        out[present] = counts.sum() / (present.sum() * counts[present])
        return out
    lookup = {label: i for i, label in enumerate(np.asarray(classes).tolist())}
    unknown = [k for k in class_weight if k not in lookup]
    if unknown:
        raise InvalidInputError(
            f"class_weight: labels {unknown} are not among the classes "
            f"{np.asarray(classes).tolist()}"
        )
    for label, weight in class_weight.items():
        out[lookup[label]] = float(weight)
    return out


def row_weights(
    class_weight: Any,
    classes: np.ndarray,
    y_idx: np.ndarray,
    sample_weight: Any,
    *,
    whole: bool,
) -> np.ndarray:
    """The weight :math:`s_i` (n,) of each row with class index ``y_idx`` (n,): checked
    ``sample_weight`` (finite, non-negative, not all zero) times the class weight; with
    ``whole``, at least two classes must keep a non-zero weight."""
    n = len(y_idx)
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
    if class_weight is not None:
        counts = np.bincount(y_idx, minlength=len(classes))
        s = s * class_weight_vector(class_weight, classes, counts)[y_idx]
    if not s.sum() > 0:
        raise InvalidInputError("sample_weight: all weights are zero")
    weighted = np.bincount(y_idx, weights=s, minlength=len(classes))
    if whole and np.count_nonzero(weighted > 0) < 2:
        raise InvalidInputError(
            "sample_weight: fewer than 2 classes have non-zero weight; a classifier "
            "needs at least 2 classes"
        )
    return s
