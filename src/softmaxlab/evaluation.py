"""Evaluation metrics of a fitted model on labelled rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InvalidInputError

__all__ = ["evaluate_labels"]


def evaluate_labels(classes: np.ndarray, y_true: Any, log_proba: np.ndarray) -> dict[str, Any]:
    r"""Accuracy, cross-entropy :math:`-\frac1m\sum_i \log p_{i,y_i}`, per-class precision and
    recall, and the confusion matrix, for true labels ``y_true`` (m,) and log-probabilities
    ``log_proba`` (m, C) over ``classes`` (C,) (log-probabilities keep the CE finite).

    Labels are matched to ``classes`` by their text, so ``3``, ``3.0`` and ``"3"`` agree.
    Raises :class:`InvalidInputError` for a label that is not one of ``classes``.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    lookup = {_key(c): k for k, c in enumerate(classes)}
    y_true = np.asarray(y_true)
    idx = np.empty(len(y_true), dtype=np.int64)
    unknown = []
    for i, label in enumerate(y_true):
        k = lookup.get(_key(label))
        if k is None:
            unknown.append(label)
            idx[i] = -1
        else:
            idx[i] = k
    if unknown:
        shown = sorted({str(u) for u in unknown})[:5]
        raise InvalidInputError(
            f"target: labels {shown} are not classes of the model {[str(c) for c in classes]}"
        )
    if len(idx) == 0:
        raise InvalidInputError("data: no rows to evaluate")
    pred = log_proba.argmax(axis=1)
    log_p_true = log_proba[np.arange(len(idx)), idx]
    k = np.arange(len(classes))
    precision, recall, _, support = precision_recall_fscore_support(
        idx, pred, labels=k, zero_division=0
    )
    return {
        "rows": len(idx),
        "accuracy": float(np.mean(pred == idx)),
        "cross_entropy": float(-np.mean(log_p_true)),
        "per_class": [
            {"class": _plain(c), "precision": float(p), "recall": float(r), "support": int(s)}
            for c, p, r, s in zip(classes, precision, recall, support, strict=True)
        ],
        "confusion_matrix": confusion_matrix(idx, pred, labels=k).tolist(),
    }


def _key(label: Any) -> str:
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        return str(int(label))
    return str(label.item() if isinstance(label, np.generic) else label)


def _plain(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label
