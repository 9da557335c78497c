r"""The forward pass and the metrics as pure tensor functions (no state, no checks).

Notation (as in the seeds): ``m`` samples, ``N`` features, ``C`` classes;
:math:`X \in \mathbb{R}^{m\times N}`, :math:`W \in \mathbb{R}^{N\times C}`,
:math:`b \in \mathbb{R}^{C}`, :math:`Z = XW + b`, :math:`\hat Y = \Sigma(Z)` (softmax per row),
:math:`Y \in \{0,1\}^{m\times C}` one-hot targets.

These functions trust their arguments; the public classes validate before calling them.
See ``docs/math.md`` for the derivations.
"""

from __future__ import annotations

import torch

__all__ = [
    "accuracy",
    "cross_entropy",
    "cross_entropy_from_log_probs",
    "cross_entropy_from_probs",
    "log_softmax",
    "logits",
    "softmax",
]


def logits(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Weighted sum :math:`Z = XW + b` (docs/math.md §1–§2).

    Shape: ``x`` (m, N), ``w`` (N, C), ``b`` (C,) → (m, C).
    """
    return torch.addmm(b, x, w)


def softmax(z: torch.Tensor) -> torch.Tensor:
    r"""Row-wise softmax :math:`\sigma(z_{i,:})_j = e^{z_{ij}-\max_k z_{ik}} / \sum_k e^{z_{ik}-\max_k z_{ik}}` (docs/math.md §1–§2).

    Subtracting the row maximum first keeps ``exp`` from overflowing; the result is the same
    function. Shape: (m, C) → (m, C), each row non-negative and summing to 1.
    """
    e = torch.exp(z - z.amax(dim=1, keepdim=True))
    return e / e.sum(dim=1, keepdim=True)


def log_softmax(z: torch.Tensor) -> torch.Tensor:
    r"""Row-wise :math:`\log\sigma(z_{i,:})_j = z_{ij} - \max_k z_{ik} - \log\sum_k e^{z_{ik}-\max_k z_{ik}}`.

    Finite for every finite ``z`` (unlike ``log(softmax(z))``, which is ``-inf`` once a
    probability underflows). Shape: (m, C) → (m, C).
    """
    shifted = z - z.amax(dim=1, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))


def cross_entropy(y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    r"""Mean cross-entropy from logits, the stable default (docs/math.md §3):
    :math:`L = -\frac1m \sum_{i,j} y_{ij}\,\log\sigma(z_{i,:})_j`.

    Finite for any finite logits in float32 and float64. Shape: ``y`` (m, C), ``z`` (m, C)
    → 0-d tensor.
    """
    return cross_entropy_from_log_probs(y, log_softmax(z))


def cross_entropy_from_log_probs(y: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    r""":math:`L = -\frac1m \operatorname{sum}(Y \odot \log\hat Y)` given :math:`\log\hat Y`
    (from :func:`log_softmax`), so a training step can reuse the log-probabilities.
    Shape: (m, C), (m, C) → 0-d tensor.
    """
    return -(y * log_p).sum() / y.shape[0]


def cross_entropy_from_probs(y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    r"""The seed's literal cross-entropy :math:`L = -\frac1m \operatorname{sum}(Y \odot \log \hat Y)` (docs/math.md §3).

    Kept for teaching and parity. It breaks where a probability underflows to 0:
    :math:`\log 0 = -\infty` and :math:`0\cdot\log 0 = \mathrm{NaN}`; use
    :func:`cross_entropy` on the logits instead. Shape: (m, C), (m, C) → 0-d tensor.
    """
    return -(y * torch.log(y_hat)).sum() / y.shape[0]


def accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    r"""Fraction of rows whose arg-max agrees: :math:`\operatorname{mean}(\arg\max \hat Y = \arg\max Y)` (docs/seed.md#accuracy).

    Shape: (m, C), (m, C) → 0-d tensor.
    """
    return (y_true.argmax(dim=1) == y_pred.argmax(dim=1)).to(torch.float64).mean()
