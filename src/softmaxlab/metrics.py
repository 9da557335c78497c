r"""Metrics: the seeds' comparison metric, and the quality of a fitted model's predictions.

- :func:`mape` — the "modified" mean absolute percentage error the seeds compare
  parameters, losses and gradients with (docs/seed.md#mape);
- :func:`ce_and_accuracy` — the mean cross-entropy and accuracy of logits against class
  indices, the two numbers every fit reports (held-out rows each epoch, final metrics,
  the ranks of a data-parallel run, a regularisation path's losses);
- :func:`evaluate_labels`, :func:`brier_score`, :func:`expected_calibration_error`,
  :func:`reliability_bins` — a model's predictions on labelled rows, all from class
  indices ``y`` (m,) in ``0..C-1`` and probabilities (m, C) (or their logarithm for the
  cross-entropy, which keeps it finite); ``softmaxlab evaluate`` prints them.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from .errors import InvalidInputError, InvalidTypeError

__all__ = [
    "brier_score",
    "ce_and_accuracy",
    "evaluate_labels",
    "expected_calibration_error",
    "mape",
    "reliability_bins",
]


def ce_and_accuracy(
    z: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor | None = None,
    reduce: Any = None,
) -> tuple[float, float]:
    r"""Mean cross-entropy :math:`\sum_i s_i(-\log\sigma(z_i)_{t_i}) / \sum_i s_i` and
    accuracy :math:`\sum_i s_i [\arg\max_k z_{ik} = t_i] / \sum_i s_i` of logits ``z``
    (m, C) (log-probabilities work too) against class indices ``labels`` (m,), with row
    weights ``weight`` (m,) (all 1 for ``None``). ``reduce(t)``, when given, sums the
    three sums in place over the ranks of a data-parallel run (each holding its own rows)."""
    labels = labels.to(device=z.device, dtype=torch.int64)
    ce = -torch.log_softmax(z, dim=1).gather(1, labels.unsqueeze(1))[:, 0]
    hits = (z.argmax(dim=1) == labels).to(z.dtype)
    if weight is None and reduce is None:
        return ce.mean().item(), hits.mean().item()
    s = torch.ones_like(ce) if weight is None else weight.to(ce)
    sums = torch.stack([(s * ce).sum(), (s * hits).sum(), s.sum()]).double()
    if reduce is not None:
        reduce(sums)
    return float(sums[0] / sums[2]), float(sums[1] / sums[2])


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "tensor"
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return "scalar"
    raise InvalidTypeError(
        f"expected a real number, a torch.Tensor or a NumPy array, got {type(value).__name__}"
    )


def mape(pred: Any, true: Any, eps: float = 1e-16) -> float:
    r""":math:`\operatorname{MAPE} = \operatorname{mean}\left|\frac{\text{true}-\text{pred}}{\text{true}+\varepsilon}\right|`.

    A fraction, not a percentage (0 means equal; 1e-14 is float64 rounding). ``eps``
    keeps an exact-zero ``true`` from dividing by zero. Argument order is (pred, true).

    Args:
        pred, true: two real scalars, two tensors or two NumPy arrays of the same shape
            (computed in float64; tensors may sit on any device, ``pred`` is moved to
            ``true``'s).
        eps: the small shift added to ``true``.

    Returns:
        the mean as a Python float; NaN if an input holds NaN.

    Raises:
        InvalidTypeError: mixed kinds (a tensor and a float, say) or a non-numeric input.
        InvalidInputError: shapes differ, or the inputs are empty.
    """
    try:
        kp = _kind(pred)
    except InvalidTypeError as exc:
        raise InvalidTypeError(f"pred: {exc}") from None
    try:
        kt = _kind(true)
    except InvalidTypeError as exc:
        raise InvalidTypeError(f"true: {exc}") from None
    if kp != kt:
        raise InvalidTypeError(f"pred and true: must be of the same kind, got {kp} and {kt}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise InvalidTypeError(f"eps: expected a real number, got {eps!r}")
    if kp == "scalar":
        return abs((float(true) - float(pred)) / (float(true) + float(eps)))
    if kp == "array":
        pred, true = torch.from_numpy(np.asarray(pred)), torch.from_numpy(np.asarray(true))
    if pred.shape != true.shape:
        raise InvalidInputError(
            f"pred and true: shapes differ, {tuple(pred.shape)} vs {tuple(true.shape)}"
        )
    if pred.numel() == 0:
        raise InvalidInputError("pred and true: are empty")
    if pred.is_complex() or true.is_complex():
        raise InvalidTypeError("pred and true: complex values are not supported")
    true64 = true.detach().to(torch.float64)
    pred64 = pred.detach().to(device=true64.device, dtype=torch.float64)
    return ((true64 - pred64) / (true64 + eps)).abs().mean().item()


# ------------------------------------------------ a fitted model's predictions


def evaluate_labels(classes: np.ndarray, y_true: Any, log_proba: np.ndarray) -> dict[str, Any]:
    r"""Accuracy, cross-entropy :math:`-\frac1m\sum_i \log p_{i,y_i}`, Brier score, expected
    calibration error (with the reliability bins), per-class precision and recall, and the
    confusion matrix, for true labels ``y_true`` (m,) and log-probabilities
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
    ce, accuracy = ce_and_accuracy(
        torch.from_numpy(np.asarray(log_proba, dtype=np.float64)), torch.from_numpy(idx)
    )
    ks = np.arange(len(classes))
    precision, recall, _, support = precision_recall_fscore_support(
        idx, pred, labels=ks, zero_division=0
    )
    proba = np.exp(log_proba)
    return {
        "rows": len(idx),
        "accuracy": accuracy,
        "cross_entropy": ce,
        "brier": brier_score(idx, proba),
        "ece": expected_calibration_error(idx, proba),
        "reliability": reliability_bins(idx, proba),
        "per_class": [
            {"class": _plain(c), "precision": float(p), "recall": float(r), "support": int(s)}
            for c, p, r, s in zip(classes, precision, recall, support, strict=True)
        ],
        "confusion_matrix": confusion_matrix(idx, pred, labels=ks).tolist(),
    }


def _confidence_bins(y: Any, proba: Any, n_bins: int):
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise InvalidInputError(f"n_bins: must be a positive integer, got {n_bins!r}")
    proba = np.asarray(proba, dtype=np.float64)
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    return conf, correct, bins


def brier_score(y: Any, proba: Any) -> float:
    r"""Multiclass Brier score :math:`\frac1m \sum_i \sum_k (p_{ik} - y_{ik})^2` with one-hot
    :math:`y`: 0 for perfect, certain predictions, 2 at worst. (For two classes this is
    twice scikit-learn's ``brier_score_loss``, which scores the positive class only.)
    Shape: (m,), (m, C) → float."""
    y = np.asarray(y)
    proba = np.asarray(proba, dtype=np.float64)
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def expected_calibration_error(y: Any, proba: Any, n_bins: int = 15) -> float:
    r"""Expected calibration error of the top-class confidence:
    :math:`\sum_b \frac{|B_b|}{m}\,\lvert \operatorname{acc}(B_b) - \operatorname{conf}(B_b)\rvert`
    over ``n_bins`` equal-width bins of :math:`\max_k p_{ik}` in (0, 1].
    Shape: (m,), (m, C) → float in [0, 1]."""
    conf, correct, bins = _confidence_bins(y, proba, n_bins)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(total)


def reliability_bins(y: Any, proba: Any, n_bins: int = 15) -> list[dict[str, Any]]:
    """Per-bin count, mean confidence and accuracy: the data of a reliability diagram."""
    conf, correct, bins = _confidence_bins(y, proba, n_bins)
    out = []
    for b in range(n_bins):
        mask = bins == b
        out.append(
            {
                "low": b / n_bins,
                "high": (b + 1) / n_bins,
                "count": int(mask.sum()),
                "confidence": float(conf[mask].mean()) if mask.any() else None,
                "accuracy": float(correct[mask].mean()) if mask.any() else None,
            }
        )
    return out


def _key(label: Any) -> str:
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        return str(int(label))
    return str(label.item() if isinstance(label, np.generic) else label)


def _plain(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label
