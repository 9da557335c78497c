r"""Every way softmaxlab computes the gradient of the cross-entropy, one function each.

All formulations compute the same four quantities for one mini-batch and differ only in
*how*; :mod:`tests.test_gradients` proves they agree with ``torch.autograd`` and with
central finite differences.

Shapes and symbols
------------------
``m`` samples, ``N`` features, ``C`` classes.

* ``x`` :math:`X \in \mathbb{R}^{m\times N}`, ``w`` :math:`W \in \mathbb{R}^{N\times C}`,
  ``b`` :math:`b \in \mathbb{R}^{C}`
* ``y`` :math:`Y \in \mathbb{R}^{m\times C}` targets, each row a probability vector
  (one-hot in the seed)
* :math:`Z = XW + b` and :math:`\hat Y = \Sigma(Z)`, both (m, C)
* :math:`L = -\sum_i r_i \sum_j y_{ij}\log \hat y_{ij} + \frac{\alpha}{2}\lVert W\rVert_F^2`,
  the (weighted) mean cross-entropy plus an optional L2 penalty on W (never on b):
  :math:`r_i = 1/m` by default, :math:`r_i = s_i / \sum_k s_k` with per-row weights
  :math:`s_i` = ``sample_weight[i]`` × ``class_weight`` of the row's class

The building blocks of the chain rule (∂L/∂Ŷ, the softmax Jacobian, ∂Z/∂W, ∂Z/∂b and
their index and vec conventions) are in :mod:`softmaxlab.derivatives`; this module
re-exports them.

Signature
---------
Every formulation is
``f(x, y, w, b, y_hat=None, sample_weight=None, class_weight=None, alpha=0.0) -> Gradients``;
``y_hat`` (the probabilities of this batch) is computed when not given, and ``autograd``
always recomputes it through its own graph. Weights change only the first factor of the
chain (∂L/∂Ŷ, or ∂L/∂Z for ``fused``): each row is scaled by :math:`r_i` instead of 1/m.
The penalty adds :math:`\alpha W` to ∂L/∂W (``autograd`` differentiates it). :data:`REGISTRY` maps names to formulations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..derivatives import (
    _check_budget,
    _jacobian_bytes,
    _kronecker_bytes,
    ce_grad_y_hat,
    get_memory_budget,
    kronecker_softmax_jacobian,
    linear_jacobian_b,
    linear_jacobian_w,
    set_memory_budget,
    softmax_backward,
    softmax_jacobian,
    softmax_jacobian_blocks,
)
from ..errors import UnknownGradientError
from .inputs import _checked, class_weights, row_weights
from .kernels import (
    Gradients,
    Kernel,
    _autograd,
    _blockwise,
    _chain,
    _fused,
    _jacobian,
    _kronecker,
)

__all__ = [
    "REGISTRY",
    "Formulation",
    "Gradients",
    "autograd",
    "blockwise",
    "ce_grad_y_hat",
    "chain",
    "class_weights",
    "fused",
    "get",
    "get_memory_budget",
    "jacobian",
    "kronecker",
    "kronecker_softmax_jacobian",
    "linear_jacobian_b",
    "linear_jacobian_w",
    "names",
    "row_weights",
    "set_memory_budget",
    "softmax_backward",
    "softmax_jacobian",
    "softmax_jacobian_blocks",
]


# Every public formulation: the same signature, checks, then its kernel (the kernels take
# the same order, ``(x, y, w, b, y_hat, r=None, alpha=0.0)``, already checked).


def chain(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    y_hat: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    class_weight: Any = None,
    alpha: float = 0.0,
) -> Gradients:
    r"""The seed's chain rule (docs/math.md §4–§8).

    :math:`G = -\frac1m Y\oslash\hat Y` (:func:`ce_grad_y_hat`),
    :math:`\partial L/\partial Z = \hat Y\odot(G - (G\odot\hat Y)\mathbf 1)` (:func:`softmax_backward`),
    :math:`\partial L/\partial W = X^\top\,\partial L/\partial Z`,
    :math:`\partial L/\partial b = \mathbf 1^\top\,\partial L/\partial Z`.
    Raises :class:`~softmaxlab.errors.NumericalError` when Ŷ underflows to 0 under a target.

    Shape: ``x`` (m, N), ``y`` (m, C), ``w`` (N, C), ``b`` (C,), ``y_hat`` (m, C) or
    ``None`` (then Σ(XW + b)), ``sample_weight`` (m,) non-negative or ``None``,
    ``class_weight`` (C,) or ``"balanced"`` or ``None``, ``alpha`` ≥ 0 →
    :class:`Gradients`. Inputs are checked; errors name the argument.
    """
    with torch.no_grad():
        return _chain(*_checked(x, y, w, b, y_hat, sample_weight, class_weight, alpha))


def fused(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    y_hat: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    class_weight: Any = None,
    alpha: float = 0.0,
) -> Gradients:
    r"""The simplified, numerically safe form:
    :math:`\partial L/\partial Z = (\hat Y - Y)/m` (rows of Y sum to 1), then
    :math:`\partial L/\partial W = X^\top\,\partial L/\partial Z`,
    :math:`\partial L/\partial b = \mathbf 1^\top\,\partial L/\partial Z`.
    Never divides by Ŷ, so it is finite for any finite logits. No ∂L/∂Ŷ.

    Shape: ``x`` (m, N), ``y`` (m, C), ``w`` (N, C), ``b`` (C,), ``y_hat`` (m, C) or
    ``None`` (then Σ(XW + b)), ``sample_weight`` (m,) non-negative or ``None``,
    ``class_weight`` (C,) or ``"balanced"`` or ``None``, ``alpha`` ≥ 0 →
    :class:`Gradients`. Inputs are checked; errors name the argument.
    """
    with torch.no_grad():
        return _fused(*_checked(x, y, w, b, y_hat, sample_weight, class_weight, alpha))


def blockwise(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    y_hat: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    class_weight: Any = None,
    alpha: float = 0.0,
) -> Gradients:
    r"""Per-sample Jacobians: :math:`(\partial L/\partial Z)_{i,:} = J_i^\top\,(\partial L/\partial\hat Y)_{i,:}`
    with :math:`J_i = \operatorname{diag}(\hat y_i) - \hat y_i\hat y_i^\top`
    (:func:`softmax_jacobian_blocks`, m x C x C in memory), then
    :math:`\partial L/\partial W = X^\top\,\partial L/\partial Z`, :math:`\partial L/\partial b = \mathbf 1^\top\,\partial L/\partial Z`.

    Shape: ``x`` (m, N), ``y`` (m, C), ``w`` (N, C), ``b`` (C,), ``y_hat`` (m, C) or
    ``None`` (then Σ(XW + b)), ``sample_weight`` (m,) non-negative or ``None``,
    ``class_weight`` (C,) or ``"balanced"`` or ``None``, ``alpha`` ≥ 0 →
    :class:`Gradients`. Inputs are checked; errors name the argument.
    """
    with torch.no_grad():
        return _blockwise(*_checked(x, y, w, b, y_hat, sample_weight, class_weight, alpha))


def jacobian(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    y_hat: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    class_weight: Any = None,
    alpha: float = 0.0,
) -> Gradients:
    r"""The full-Jacobian einsum of the seed (docs/math.md §5 and §7).

    :math:`\partial L/\partial z_{pq} = \sum_{ij} (\partial L/\partial\hat y_{ij})\,J_{ijpq}`
    with the (m, C, m, C) :func:`softmax_jacobian`;
    :math:`\partial L/\partial w_{pq} = \sum_{ij} (\partial L/\partial z_{ij})\,D_{ijpq}` with
    ∂Z/∂W = I ⊗ X as the (m, C, N, C) tensor :func:`linear_jacobian_w`;
    :math:`\partial L/\partial b_q = \sum_{ij} (\partial L/\partial z_{ij})\,\delta_{jq}`.
    Memory grows as mC²(m + N) (the Jacobian and ∂Z/∂W); refuses steps over :func:`get_memory_budget`.

    Shape: ``x`` (m, N), ``y`` (m, C), ``w`` (N, C), ``b`` (C,), ``y_hat`` (m, C) or
    ``None`` (then Σ(XW + b)), ``sample_weight`` (m,) non-negative or ``None``,
    ``class_weight`` (C,) or ``"balanced"`` or ``None``, ``alpha`` ≥ 0 →
    :class:`Gradients`. Inputs are checked; errors name the argument.
    """
    with torch.no_grad():
        return _jacobian(*_checked(x, y, w, b, y_hat, sample_weight, class_weight, alpha))


def kronecker(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    y_hat: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    class_weight: Any = None,
    alpha: float = 0.0,
) -> Gradients:
    r"""Matrix calculus with vec and Kronecker products (column-major vec).

    :math:`\operatorname{vec}(\partial L/\partial Z) = J^\top \operatorname{vec}(\partial L/\partial\hat Y)`
    with the (mC x mC) :func:`kronecker_softmax_jacobian`;
    :math:`\operatorname{vec}(\partial L/\partial W) = (I_C\otimes X)^\top \operatorname{vec}(\partial L/\partial Z)`;
    :math:`\partial L/\partial b = (I_C\otimes\mathbf 1_m)^\top \operatorname{vec}(\partial L/\partial Z)`.
    Memory grows as mC²(3m + N) ((mC)² three times and I ⊗ X); refuses steps over :func:`get_memory_budget`.

    Shape: ``x`` (m, N), ``y`` (m, C), ``w`` (N, C), ``b`` (C,), ``y_hat`` (m, C) or
    ``None`` (then Σ(XW + b)), ``sample_weight`` (m,) non-negative or ``None``,
    ``class_weight`` (C,) or ``"balanced"`` or ``None``, ``alpha`` ≥ 0 →
    :class:`Gradients`. Inputs are checked; errors name the argument.
    """
    with torch.no_grad():
        return _kronecker(*_checked(x, y, w, b, y_hat, sample_weight, class_weight, alpha))


def autograd(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    y_hat: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    class_weight: Any = None,
    alpha: float = 0.0,
) -> Gradients:
    r"""The reference: ``torch.autograd`` differentiating
    :math:`L = -\frac1m\operatorname{sum}(Y\odot\log\Sigma(XW+b))` (the seed's literal CE, so
    that ∂L/∂Ŷ exists), with ``retain_grad`` on Z and Ŷ to expose the intermediates.
    ``y_hat`` is ignored: the graph recomputes it.

    Shape: ``x`` (m, N), ``y`` (m, C), ``w`` (N, C), ``b`` (C,), ``y_hat`` (m, C) or
    ``None`` (then Σ(XW + b)), ``sample_weight`` (m,) non-negative or ``None``,
    ``class_weight`` (C,) or ``"balanced"`` or ``None``, ``alpha`` ≥ 0 →
    :class:`Gradients`. Inputs are checked; errors name the argument.
    """
    with torch.no_grad():
        return _autograd(*_checked(x, y, w, b, y_hat, sample_weight, class_weight, alpha))


@dataclass(frozen=True)
class Formulation:
    """A named gradient formulation: its checked ``function``, its unchecked ``kernel``
    ``(x, y, w, b, y_hat, r=None, alpha=0.0) -> Gradients`` used inside training loops
    (``r``: row weights, ``None`` for 1/m), and a one-line
    ``summary``. ``bytes_needed(m, N, C, itemsize)`` estimates its largest allocation,
    or is ``None`` when that is O(m·C)."""

    name: str
    function: Callable[..., Gradients]
    kernel: Kernel
    summary: str
    has_d_y_hat: bool
    bytes_needed: Callable[[int, int, int, int], int] | None = None

    def check_budget(self, m: int, n: int, c: int, itemsize: int) -> None:
        """Raise :class:`JacobianTooLargeError` if a batch of ``m`` rows would not fit."""
        if self.bytes_needed is not None:
            _check_budget(self.name, self.bytes_needed(m, n, c, itemsize))


REGISTRY: dict[str, Formulation] = {
    f.name: f
    for f in (
        Formulation("chain", chain, _chain, "seed chain rule: -Y⊘Ŷ/m, then Ŷ⊙(G-(G⊙Ŷ)1)", True),
        Formulation(
            "jacobian",
            jacobian,
            _jacobian,
            "full (m,C,m,C) Jacobian + I⊗X, einsum",
            True,
            _jacobian_bytes,
        ),
        Formulation(
            "kronecker",
            kronecker,
            _kronecker,
            "vec form: D-D(11ᵀ⊗I)D and I⊗X as matrices",
            True,
            _kronecker_bytes,
        ),
        Formulation("blockwise", blockwise, _blockwise, "one C×C Jacobian per sample", True),
        Formulation("fused", fused, _fused, "∂L/∂Z = (Ŷ-Y)/m, no division by Ŷ", False),
        Formulation("autograd", autograd, _autograd, "torch.autograd on the literal CE", True),
    )
}


def names() -> tuple[str, ...]:
    """Names of every formulation, in registry order."""
    return tuple(REGISTRY)


def get(name: str) -> Formulation:
    """Look a formulation up by name; unknown names raise :class:`UnknownGradientError`."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise UnknownGradientError(
            f"gradient: unknown formulation {name!r}; choose one of {', '.join(REGISTRY)}"
        )
    return REGISTRY[name]
