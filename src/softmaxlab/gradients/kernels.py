r"""The kernels of :mod:`softmaxlab.gradients`: one function per formulation, taking checked
inputs ``(x, y, w, b, y_hat, r=None, alpha=0.0)`` (shapes and symbols as in the package
docstring) and returning :class:`Gradients`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .. import functional as F
from ..derivatives import (
    _check_budget,
    _jacobian_bytes,
    _kronecker_bytes,
    _unvec,
    _vec,
    ce_grad_y_hat,
    kronecker_softmax_jacobian,
    linear_jacobian_b,
    linear_jacobian_w,
    softmax_backward,
    softmax_jacobian,
    softmax_jacobian_blocks,
)
from ..errors import NumericalError

__all__ = ["Gradients", "Kernel"]


@dataclass(frozen=True)
class Gradients:
    """The gradients of one mini-batch.

    ``d_w`` ∂L/∂W (N, C); ``d_b`` ∂L/∂b (C,); ``d_z`` ∂L/∂Z (m, C); ``d_y_hat`` ∂L/∂Ŷ
    (m, C), or ``None`` for formulations that never form it (``fused``).
    """

    d_w: torch.Tensor
    d_b: torch.Tensor
    d_z: torch.Tensor
    d_y_hat: torch.Tensor | None = None


def _raise_if_infinite(d_y_hat: torch.Tensor, y_hat: torch.Tensor, name: str) -> None:
    if bool(torch.isfinite(d_y_hat).all()):
        return
    i, j = (~torch.isfinite(d_y_hat)).nonzero()[0].tolist()
    raise NumericalError(
        f"gradient {name!r}: probability Ŷ[{i}, {j}] underflowed to 0 where the target "
        f"is 1, so ∂L/∂Ŷ = -Y ⊘ Ŷ / m is infinite (the logits of sample {i} are too far "
        f"apart for {str(y_hat.dtype).removeprefix('torch.')}); use gradient='fused', which "
        f"computes ∂L/∂Z = (Ŷ - Y)/m without dividing by Ŷ"
    )


# --------------------------------------------------------------------------- kernels (no checks)
# Each kernel takes (x, y, w, b, y_hat, r) already validated, r being row weights that sum
# to 1 or None for 1/m; the public wrappers below check.


def _penalised(d_w: torch.Tensor, w: torch.Tensor, alpha: float) -> torch.Tensor:
    """∂/∂W of the L2 term: ``d_w + alpha * W`` (the bias is never penalised)."""
    return d_w if alpha == 0 else d_w.add_(w, alpha=alpha)


def _chain(x, y, w, b, y_hat, r=None, alpha=0.0) -> Gradients:
    d_y_hat = ce_grad_y_hat(y, y_hat, r)
    _raise_if_infinite(d_y_hat, y_hat, "chain")
    d_z = softmax_backward(d_y_hat, y_hat)
    return Gradients(
        d_w=_penalised(x.T @ d_z, w, alpha), d_b=d_z.sum(dim=0), d_z=d_z, d_y_hat=d_y_hat
    )


def _fused(x, y, w, b, y_hat, r=None, alpha=0.0) -> Gradients:
    d_z = (y_hat - y).div_(y.shape[0]) if r is None else (y_hat - y).mul_(r.unsqueeze(1))
    return Gradients(d_w=_penalised(x.T @ d_z, w, alpha), d_b=d_z.sum(dim=0), d_z=d_z)


def _blockwise(x, y, w, b, y_hat, r=None, alpha=0.0) -> Gradients:
    d_y_hat = ce_grad_y_hat(y, y_hat, r)
    _raise_if_infinite(d_y_hat, y_hat, "blockwise")
    blocks = softmax_jacobian_blocks(y_hat)  # (m, C, C)
    d_z = torch.einsum("ij,ijk->ik", d_y_hat, blocks)
    return Gradients(
        d_w=_penalised(x.T @ d_z, w, alpha), d_b=d_z.sum(dim=0), d_z=d_z, d_y_hat=d_y_hat
    )


def _jacobian(x, y, w, b, y_hat, r=None, alpha=0.0) -> Gradients:
    m, n = x.shape
    c = y.shape[1]
    _check_budget("jacobian", _jacobian_bytes(m, n, c, x.element_size()))
    d_y_hat = ce_grad_y_hat(y, y_hat, r)
    _raise_if_infinite(d_y_hat, y_hat, "jacobian")
    d_z = torch.einsum("ij,ijpq->pq", d_y_hat, softmax_jacobian(y_hat))
    d_w = torch.einsum("ij,ijpq->pq", d_z, linear_jacobian_w(x, c))
    d_b = torch.einsum("ij,ijq->q", d_z, linear_jacobian_b(m, c, dtype=x.dtype, device=x.device))
    return Gradients(d_w=_penalised(d_w, w, alpha), d_b=d_b, d_z=d_z, d_y_hat=d_y_hat)


def _kronecker(x, y, w, b, y_hat, r=None, alpha=0.0) -> Gradients:
    m, n = x.shape
    c = y.shape[1]
    _check_budget("kronecker", _kronecker_bytes(m, n, c, x.element_size()))
    d_y_hat = ce_grad_y_hat(y, y_hat, r)
    _raise_if_infinite(d_y_hat, y_hat, "kronecker")
    eye_c = torch.eye(c, dtype=x.dtype, device=x.device)
    ones_m = torch.ones((m, 1), dtype=x.dtype, device=x.device)
    vec_d_z = kronecker_softmax_jacobian(y_hat).T @ _vec(d_y_hat)  # (mC,)
    vec_d_w = torch.kron(eye_c, x).T @ vec_d_z  # (I_C ⊗ X)ᵀ vec(∂L/∂Z), (NC,)
    d_b = torch.kron(eye_c, ones_m).T @ vec_d_z  # (I_C ⊗ 1_m)ᵀ vec(∂L/∂Z), (C,)
    return Gradients(
        d_w=_penalised(_unvec(vec_d_w, n, c).contiguous(), w, alpha),
        d_b=d_b,
        d_z=_unvec(vec_d_z, m, c),
        d_y_hat=d_y_hat,
    )


def _autograd(x, y, w, b, y_hat, r=None, alpha=0.0) -> Gradients:
    with torch.enable_grad():
        w_ = w.detach().requires_grad_(True)
        b_ = b.detach().requires_grad_(True)
        z = F.logits(x, w_, b_)
        z.retain_grad()
        probs = F.softmax(z)
        probs.retain_grad()
        if r is None:
            loss = F.cross_entropy_from_probs(y, probs)
        else:
            loss = -(r.unsqueeze(1) * y * torch.log(probs)).sum()
        if alpha:
            loss = loss + 0.5 * alpha * (w_ * w_).sum()
        loss.backward()
    assert probs.grad is not None and z.grad is not None  # set by retain_grad above
    _raise_if_infinite(probs.grad, probs.detach(), "autograd")
    return Gradients(d_w=w_.grad, d_b=b_.grad, d_z=z.grad, d_y_hat=probs.grad)


#: A formulation's kernel: ``(x, y, w, b, y_hat, r=None, alpha=0.0) -> Gradients``.
Kernel = Callable[..., Gradients]
