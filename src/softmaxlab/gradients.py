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

import numpy as np
import torch

from . import functional as F
from ._validation import as_matrix, as_targets
from .derivatives import (
    _check_budget,
    _jacobian_bytes,
    _kronecker_bytes,
    _unvec,
    _vec,
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
from .errors import (
    InvalidInputError,
    InvalidTypeError,
    NumericalError,
    UnknownGradientError,
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


# --------------------------------------------------------------------------- public functions

Kernel = Callable[..., Gradients]


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
