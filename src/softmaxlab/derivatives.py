r"""The building blocks of the chain rule for softmax regression, one function each, and
the memory budget of the formulations that materialise Jacobians.

docs/math.md derives each of them: ∂L/∂Ŷ (§4), the softmax Jacobian (§5), the chain
through it (§6), ∂Z/∂W and ∂Z/∂b (§7). :mod:`softmaxlab.gradients` assembles them into
the formulations and re-exports them; ``tests/test_gradients.py`` checks each against
``torch.autograd``.

Shapes: ``m`` samples, ``N`` features, ``C`` classes; ``y``, ``y_hat`` (m, C).

Index convention for Jacobians: a derivative of a matrix by a matrix keeps all four
indices, output first: ``J[i, j, p, q]`` :math:`= \partial \hat y_{ij} / \partial z_{pq}`
has shape (m, C, m, C); ``∂Z/∂W[i, j, p, q]`` :math:`= \partial z_{ij}/\partial w_{pq}`
has shape (m, C, N, C).

vec / Kronecker convention (used only by :func:`kronecker`): ``vec`` stacks *columns*
(column-major), so for an (r, c) matrix ``A``, ``vec(A)[j*r + i] = A[i, j]``. With it,
:math:`\operatorname{vec}(XW) = (I_C \otimes X)\operatorname{vec}(W)`, so
:math:`\partial \operatorname{vec} Z / \partial \operatorname{vec} W = I_C \otimes X`
((mC) x (NC)), the seeds' "∂Z/∂W = I ⊗ X".
"""

from __future__ import annotations

from typing import Any

import torch

from .errors import InvalidInputError, JacobianTooLargeError

__all__ = [
    "ce_grad_y_hat",
    "get_memory_budget",
    "kronecker_softmax_jacobian",
    "linear_jacobian_b",
    "linear_jacobian_w",
    "set_memory_budget",
    "softmax_backward",
    "softmax_jacobian",
    "softmax_jacobian_blocks",
]


def ce_grad_y_hat(
    y: torch.Tensor, y_hat: torch.Tensor, r: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Cross-entropy derivative :math:`\partial L/\partial \hat Y = -\frac1m\,Y \oslash \hat Y` (docs/math.md §4),
    or :math:`-\operatorname{diag}(r)\,(Y \oslash \hat Y)` with row weights ``r`` summing to 1.

    Where :math:`y_{ij} = 0` the entry is exactly 0 (the derivative of :math:`0\cdot\log\hat y`),
    so only a true target whose probability underflowed to 0 gives :math:`-\infty`.
    Shape: (m, C), (m, C), (m,) or None → (m, C).
    """
    ratio = torch.where(y != 0, y / y_hat, torch.zeros((), dtype=y.dtype, device=y.device))
    if r is None:
        return ratio.div_(-y.shape[0])
    return ratio.mul_(r.unsqueeze(1)).neg_()


def softmax_backward(d_y_hat: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    r"""Chain rule through the softmax without forming its Jacobian (docs/math.md §6):
    :math:`\partial L/\partial Z = \hat Y \odot \big(G - (G \odot \hat Y)\,\mathbf 1_{C\times C}\big)`
    with :math:`G = \partial L/\partial \hat Y`.

    ``(G ⊙ Ŷ) 1`` is each row's sum repeated across the row. Shape: (m, C), (m, C) → (m, C).
    """
    return y_hat * (d_y_hat - (d_y_hat * y_hat).sum(dim=1, keepdim=True))


def softmax_jacobian_blocks(y_hat: torch.Tensor) -> torch.Tensor:
    r"""One softmax Jacobian per sample: :math:`J_i = \operatorname{diag}(\hat y_i) - \hat y_i \hat y_i^\top`.

    ``J[i, j, k]`` :math:`= \partial \hat y_{ij}/\partial z_{ik}`. Shape: (m, C) → (m, C, C).
    """
    return torch.diag_embed(y_hat) - y_hat.unsqueeze(2) * y_hat.unsqueeze(1)


def softmax_jacobian(y_hat: torch.Tensor) -> torch.Tensor:
    r"""The full softmax Jacobian :math:`\partial \Sigma/\partial Z` (docs/math.md §5).

    ``J[i, j, p, q]`` :math:`= \partial \hat y_{ij}/\partial z_{pq}`
    :math:`= \delta_{ip}(\delta_{jq}\hat y_{ij} - \hat y_{ij}\hat y_{iq})`: block diagonal over
    samples, the block of sample ``i`` being :func:`softmax_jacobian_blocks`, zero elsewhere.
    Shape: (m, C) → (m, C, m, C); memory grows as m²C².
    """
    m, c = y_hat.shape
    full = torch.zeros((m, c, m, c), dtype=y_hat.dtype, device=y_hat.device)
    idx = torch.arange(m, device=y_hat.device)
    full[idx, :, idx, :] = softmax_jacobian_blocks(y_hat)
    return full


def linear_jacobian_w(x: torch.Tensor, n_classes: int) -> torch.Tensor:
    r""":math:`\partial Z/\partial W` as a 4-index tensor: ``D[i, j, p, q]`` :math:`= x_{ip}\,\delta_{jq}`.

    This is :math:`I_C \otimes X` with its Kronecker indices kept apart (docs/math.md §7).
    Shape: (m, N) → (m, C, N, C).
    """
    eye = torch.eye(n_classes, dtype=x.dtype, device=x.device)
    return torch.einsum("ip,jq->ijpq", x, eye)


def linear_jacobian_b(m: int, n_classes: int, *, dtype: torch.dtype, device: Any) -> torch.Tensor:
    r""":math:`\partial Z/\partial b`: ``D[i, j, q]`` :math:`= \delta_{jq}` for every sample ``i``.

    Shape: → (m, C, C).
    """
    eye = torch.eye(n_classes, dtype=dtype, device=device)
    return eye.expand(m, n_classes, n_classes)


def kronecker_softmax_jacobian(y_hat: torch.Tensor) -> torch.Tensor:
    r"""The softmax Jacobian in vec form:
    :math:`\partial\operatorname{vec}\hat Y/\partial\operatorname{vec}Z = D - D\,(\mathbf 1_C\mathbf 1_C^\top \otimes I_m)\,D`
    with :math:`D = \operatorname{diag}(\operatorname{vec}\hat Y)` (column-major vec).

    Entry ``[(j, i), (q, p)]`` is :math:`\delta_{ip}(\delta_{jq}\hat y_{ij} - \hat y_{ij}\hat y_{iq})`,
    the same numbers as :func:`softmax_jacobian`, laid out by class blocks.
    Shape: (m, C) → (mC, mC).
    """
    m, c = y_hat.shape
    v = y_hat.T.reshape(-1)  # vec(Ŷ), column-major
    ones = torch.ones((c, c), dtype=y_hat.dtype, device=y_hat.device)
    eye_m = torch.eye(m, dtype=y_hat.dtype, device=y_hat.device)
    coupling = torch.kron(ones, eye_m)  # 1 1ᵀ ⊗ I_m
    return torch.diag(v) - v.unsqueeze(1) * coupling * v.unsqueeze(0)


def _vec(a: torch.Tensor) -> torch.Tensor:
    """Column-major vec: (r, c) → (r·c,)."""
    return a.T.reshape(-1)


def _unvec(v: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Inverse of :func:`_vec`: (r·c,) → (r, c)."""
    return v.reshape(cols, rows).T


# --------------------------------------------------------------------------- memory budget

_memory_budget = 1 << 30  # bytes, for the formulations that materialise Jacobians


def set_memory_budget(nbytes: int) -> None:
    """Largest allocation (bytes) the ``jacobian`` and ``kronecker`` formulations may make
    in one step; 1 GiB by default. Steps that would need more raise
    :class:`~softmaxlab.errors.JacobianTooLargeError` before allocating anything."""
    global _memory_budget
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes <= 0:
        raise InvalidInputError(f"nbytes: must be a positive integer, got {nbytes!r}")
    _memory_budget = nbytes


def get_memory_budget() -> int:
    """The current budget of :func:`set_memory_budget`, in bytes."""
    return _memory_budget


def _jacobian_bytes(m: int, n: int, c: int, itemsize: int) -> int:
    # J (m,C,m,C) + ∂Z/∂W (m,C,N,C) + ∂Z/∂b (m,C,C, a view) + blocks (m,C,C)
    return itemsize * (m * c * m * c + m * c * n * c + 2 * m * c * c)


def _kronecker_bytes(m: int, n: int, c: int, itemsize: int) -> int:
    # coupling, diag and product (3 x (mC)²) + I⊗X (mC x NC) + I⊗1 (mC x C)
    return itemsize * (3 * (m * c) ** 2 + m * c * n * c + m * c * c)


def _check_budget(name: str, needed: int) -> None:
    if needed > _memory_budget:
        raise JacobianTooLargeError(
            f"gradient {name!r}: one step would allocate {needed / 2**20:,.1f} MiB, over the "
            f"memory budget of {_memory_budget / 2**20:,.1f} MiB; use a smaller batch_size, "
            f"a formulation that scales linearly ('fused', 'chain', 'blockwise'), or raise "
            f"the budget with softmaxlab.gradients.set_memory_budget()"
        )
