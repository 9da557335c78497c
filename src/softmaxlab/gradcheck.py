"""``softmaxlab gradcheck``: every gradient formulation, intermediate by intermediate,
against ``torch.autograd`` and central finite differences on one small random batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import functional as F
from . import gradients as G
from ._validation import check_positive_int, resolve_dtype
from .errors import InvalidInputError

__all__ = ["GradRow", "gradcheck", "relative_error"]

#: Pass thresholds on the max relative error, per dtype: (vs autograd, vs finite differences)
THRESHOLDS = {torch.float64: (1e-10, 1e-6), torch.float32: (1e-4, 1e-3)}
QUANTITIES = (("d_y_hat", "∂L/∂Ŷ"), ("d_z", "∂L/∂Z"), ("d_w", "∂L/∂W"), ("d_b", "∂L/∂b"))


@dataclass(frozen=True)
class GradRow:
    """One line of the check: ``quantity`` of formulation ``gradient``, its max relative
    error against autograd and against finite differences, and whether both pass."""

    gradient: str
    quantity: str
    vs_autograd: float
    vs_finite_diff: float
    passed: bool


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a − b| / max |b| (in float64); 0 when both are all zero."""
    a, b = a.double(), b.double()
    scale = float(b.abs().max())
    diff = float((a - b).abs().max())
    return diff / scale if scale > 0 else diff


#: The step of the central differences. Their error is truncation, about h²/6·|f‴|
#: (~1e-12 here), plus rounding, about ε·|f|/h (2.2e-16 / 1e-6 ~ 2e-10, relative to the
#: loss): so agreement to ~1e-9 is all finite differences can show in float64, and
#: autograd (which has no step) is the check to ~1e-16.
FD_STEP = 1e-6


def central_difference(
    f: Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor, h: float = FD_STEP
) -> torch.Tensor:
    """∂f/∂t entry by entry: (f(t + h·e) − f(t − h·e)) / 2h, in float64 (see
    :data:`FD_STEP` for what its error is)."""
    t = t.double().clone()
    grad = torch.zeros_like(t)
    flat, out = t.reshape(-1), grad.reshape(-1)
    for k in range(flat.numel()):
        old = float(flat[k])
        flat[k] = old + h
        up = float(f(t))
        flat[k] = old - h
        down = float(f(t))
        flat[k] = old
        out[k] = (up - down) / (2 * h)
    return grad


def gradcheck(
    samples: int = 8,
    features: int = 5,
    classes: int = 4,
    *,
    dtype: torch.dtype | str = torch.float64,
    seed: int = 0,
) -> list[GradRow]:
    """Check every formulation of :data:`softmaxlab.gradients.REGISTRY` on a random batch
    of ``samples`` rows (one-hot targets) and return one row per intermediate it forms."""
    samples = check_positive_int(samples, "samples")
    features = check_positive_int(features, "features")
    classes = check_positive_int(classes, "classes")
    if classes < 2:
        raise InvalidInputError(f"classes: needs at least 2, got {classes}")
    if samples * features * classes > 200_000:
        raise InvalidInputError(
            "samples x features x classes: at most 200 000 (finite "
            "differences take one evaluation per entry)"
        )
    dtype = resolve_dtype(dtype)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, features, generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot(
        torch.randint(0, classes, (samples,), generator=g), classes
    ).double()
    w = torch.randn(features, classes, generator=g, dtype=torch.float64)
    b = torch.randn(classes, generator=g, dtype=torch.float64)
    z = F.logits(x, w, b)
    reference = G.autograd(x, y, w, b)  # float64
    fd = {
        "d_y_hat": central_difference(
            lambda t: F.cross_entropy_from_probs(y, t), F.softmax(z), h=1e-7
        ),
        "d_z": central_difference(lambda t: F.cross_entropy(y, t), z),
        "d_w": central_difference(lambda t: F.cross_entropy(y, F.logits(x, t, b)), w),
        "d_b": central_difference(lambda t: F.cross_entropy(y, F.logits(x, w, t)), b),
    }
    tol_auto, tol_fd = THRESHOLDS[dtype]
    rows = []
    for name in G.names():
        got = G.get(name).function(*(t.to(dtype) for t in (x, y, w, b)))
        for attr, label in QUANTITIES:
            value = getattr(got, attr)
            if value is None:
                continue
            e_auto = relative_error(value, getattr(reference, attr))
            e_fd = relative_error(value, fd[attr])
            rows.append(GradRow(name, label, e_auto, e_fd, e_auto < tol_auto and e_fd < tol_fd))
    return rows
