r"""Comparison metric of the seeds: the "modified" mean absolute percentage error (S11)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from .errors import InvalidInputError, InvalidTypeError

__all__ = ["mape"]


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
