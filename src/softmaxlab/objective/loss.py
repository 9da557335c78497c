r"""The multinomial loss over a flat parameter vector: the data term every solver minimises.

.. math::

    f(\theta) = \frac1n\sum_{i} s_i\,\ell_i,\qquad
    \ell_i = -\log\sigma(\tilde x_i \tilde W + \tilde b)_{t_i},\qquad
    \tilde x_i = (x_i - \mu)\oslash d,

over the training rows (weights :math:`s_i`, mean 1: :mod:`softmaxlab.objective.weights`;
true classes :math:`t_i`), in the standardised coordinates :math:`\tilde W =
\operatorname{diag}(d) W`, :math:`\tilde b = b + \mu^\top W` (docs/math.md §8b). The rows
are never copied: the engine (:mod:`softmaxlab.fast`) reads :math:`\tilde x_i` as it goes,
dense or sparse, native kernel or torch, one rank or many.

**Layout of θ** (n_params = N·C + C, float64): the weights in the engine's storage order,
then the intercepts — ``θ[:N·C]`` is :math:`\tilde W^\top` (C, N) row by row on dense
rows and :math:`\tilde W` (N, C) row by row on sparse rows (where a stored value adds one
row of W), ``θ[N·C:]`` is :math:`\tilde b` (C,). :meth:`MultinomialLoss.w_view` gives the
(C, N) view of either. An evaluation is then one copy in, one pass, one copy out.

The row weights are computed here, once, for every entry point:
:math:`s_i = w_i\,c_{t_i}`, the ``sample_weight`` of row i times the ``class_weight`` of
its class :math:`t_i`. ``class_weight="balanced"`` is scikit-learn's :math:`c_k = n /
(K\,n_k)` over the :math:`K` classes present (counts :math:`n_k`, :math:`n = \sum_k n_k`);
a dict maps labels to weights; ``None`` is all 1. The counts may be global sums over
data-parallel ranks (:func:`class_weight_vector` takes them as given).

:class:`~softmaxlab.objective.log_odds.LogOddsLoss` is the same function for two classes
on the log-odds parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import InvalidInputError
from ..fast import make_engine
from ..fast.comm import shard_bounds
from ..sparse import SparseRows

__all__ = [
    "FULL_PASS_CHUNK",
    "MultinomialLoss",
    "Rows",
    "class_weight_vector",
    "row_weights",
]

#: rows per pass of a full-batch evaluation (bounds the engine's buffers)
FULL_PASS_CHUNK = 4096


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


@dataclass
class Rows:
    """One fit's training data as the engine takes it: all rows ``x`` (n, N) (a tensor
    or :class:`~softmaxlab.sparse.SparseRows`, never copied), class indices ``labels``
    (n,), row ``weight`` (n,) with mean 1 over the training rows, the training rows
    ``train`` (indices, or ``None`` for all) and the standardisation ``mean``/``scale``
    (N,) (``mean`` 0 and ``scale`` 1 leave the rows as they are)."""

    x: Any
    labels: torch.Tensor
    weight: torch.Tensor
    train: torch.Tensor | None
    mean: torch.Tensor
    scale: torch.Tensor

    @property
    def n_train(self) -> int:
        return int(self.x.shape[0] if self.train is None else self.train.shape[0])

    @property
    def unit(self) -> bool:
        """Whether the rows are used as they are (no centring, no scaling)."""
        return bool((self.scale == 1).all()) and not bool((self.mean != 0).any())


class MultinomialLoss:
    """:math:`f(\\theta)` of the module docstring on :class:`Rows`, with its gradient and
    Hessian-vector product (all float64 vectors in the layout of the module docstring)."""

    def __init__(self, rows: Rows, n_classes: int, *, chunk: int = FULL_PASS_CHUNK) -> None:
        self.rows = rows
        n_features = rows.x.shape[1]
        kw: dict[str, Any] = {"dtype": rows.x.dtype, "device": rows.x.device}
        unit = rows.unit
        self.engine = make_engine(
            rows.x,
            rows.labels,
            torch.zeros(n_features, n_classes, **kw),
            torch.zeros(n_classes, **kw),
            batch_size=max(1, min(chunk, rows.x.shape[0])),
            weight=rows.weight,
            mean=None if unit else rows.mean,
            inv_scale=None if unit else 1 / rows.scale,
            rows=rows.train,
        )
        e = self.engine
        self.n_features, self.n_classes = n_features, n_classes
        self.n_weights = n_features * n_classes
        self.n_params = self.n_weights + n_classes
        self.transposed = e.w_store is e.wt  # θ's weights are W̃ᵀ (C, N)
        self._np = e.wt.dtype == torch.float64 and e.wt.device.type == "cpu"
        scale = rows.scale.double().cpu().numpy()
        self.l2_weights = self.feature_weights(scale**-2)
        self.l1_weights = self.feature_weights(1 / scale)
        self._scaled: SparseRows | None = None  # the scaled sparse rows of hessp

    @property
    def is_main(self) -> bool:
        """Whether this process prints and calls back: rank 0 of a data-parallel run of
        this loss's engine, or no such run."""
        comm = self.engine.comm
        return comm is None or comm.rank == 0

    # ------------------------------------------------------------ layout
    def w_view(self, theta: np.ndarray) -> np.ndarray:
        """The (C, N) view of θ's weights (a transpose view on sparse rows)."""
        w = theta[: self.n_weights]
        if self.transposed:
            return w.reshape(self.n_classes, self.n_features)
        return w.reshape(self.n_features, self.n_classes).T

    def feature_weights(self, per_feature: np.ndarray) -> np.ndarray:
        """A per-feature vector (N,) laid out as θ (each weight of feature k gets entry
        k; the intercepts 0): the penalties' :math:`p`, :math:`q`."""
        out = np.zeros(self.n_params)
        self.w_view(out)[:] = per_feature
        return out

    def from_original(self, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        r"""θ of the model ``coef`` (C, N), ``intercept`` (C,) in original coordinates:
        :math:`\tilde W = \operatorname{diag}(d) W`, :math:`\tilde b = b + \mu^\top W`."""
        d = self.rows.scale.double().cpu().numpy()
        mu = self.rows.mean.double().cpu().numpy()
        coef = np.asarray(coef, dtype=np.float64)
        theta = np.empty(self.n_params)
        self.w_view(theta)[:] = coef * d
        theta[self.n_weights :] = np.asarray(intercept, dtype=np.float64) + coef @ mu
        return theta

    def to_original(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""``(coef (C, N), intercept (C,))`` of θ: :math:`W = \operatorname{diag}(d)^{-1}
        \tilde W`, :math:`b = \tilde b - \mu^\top W`."""
        d = self.rows.scale.double().cpu().numpy()
        mu = self.rows.mean.double().cpu().numpy()
        coef = self.w_view(theta) / d
        return np.ascontiguousarray(coef), theta[self.n_weights :] - coef @ mu

    def gradient_to_original(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""A gradient in θ's coordinates as ``(∂/∂W (C, N), ∂/∂b (C,))`` in the original
        ones: :math:`\partial_W = \operatorname{diag}(d)\,\partial_{\tilde W} + \mu\,
        (\partial_{\tilde b})^\top`, :math:`\partial_b = \partial_{\tilde b}`."""
        d = self.rows.scale.double().cpu().numpy()
        mu = self.rows.mean.double().cpu().numpy()
        g_b = g[self.n_weights :]
        return self.w_view(g) * d + np.outer(g_b, mu), g_b

    def original_norm(self, g: np.ndarray) -> float:
        """‖g‖ over W and b after :meth:`gradient_to_original`."""
        g_w, g_b = self.gradient_to_original(g)
        return float(np.sqrt((g_w**2).sum() + (g_b**2).sum()))

    # ------------------------------------------------------------ evaluations
    def load(self, theta: np.ndarray) -> None:
        """Put θ into the engine's parameters."""
        e = self.engine
        if self._np:
            e.w_store.numpy().reshape(-1)[:] = theta[: self.n_weights]
            e.b.numpy()[:] = theta[self.n_weights :]
        else:
            t = torch.from_numpy(np.asarray(theta))
            e.w_store.view(-1).copy_(t[: self.n_weights])
            e.b.copy_(t[self.n_weights :])

    def theta(self) -> np.ndarray:
        """The engine's current parameters as θ (a copy)."""
        e = self.engine
        return torch.cat([e.w_store.reshape(-1), e.b]).cpu().numpy().astype(np.float64)

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``(f(θ), ∇f(θ))``: one full pass. The gradient may be a view of the engine's
        buffer, valid until the next evaluation (copy it to keep it)."""
        self.load(theta)
        value = self.engine.objective()
        g = self.engine.flat[:-1].cpu().numpy()
        return value, g if g.dtype == np.float64 else g.astype(np.float64)

    def value(self, theta: np.ndarray) -> float:
        """f(θ)."""
        return self.value_and_gradient(theta)[0]

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """∇f(θ) (a copy)."""
        return np.array(self.value_and_gradient(theta)[1])

    def hessp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        r"""The Hessian-vector product :math:`\nabla^2 f(\theta)\,v` (n_params,). For each
        row, with :math:`p_i = \sigma(z_i)` and :math:`u_i = \tilde x_i V + v_b`:
        :math:`r_i = s_i\,(p_i \odot u_i - p_i\,(p_i^\top u_i))`, then :math:`H v =
        (\tilde X^\top R,\ \mathbf 1^\top R)/n` (docs/math.md §8b)."""
        return self.hessian(theta)(v)

    def hessian(self, theta: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """:meth:`hessp` at a fixed θ, as a function of v: the probabilities of every row
        are computed once (n × C values kept), and each product is then two passes of
        products with the rows, in chunks, reduced over the ranks of a data-parallel run.
        Dense rows are never standardised in memory: the scaling moves to the direction,
        :math:`\tilde X V^\top = X (V \\oslash d)^\top - (\\mu \\oslash d) V^\top`, and back,
        :math:`\tilde X^\top R = (X^\top R - \\mu\\,\\mathbf 1^\top R) \\oslash d`."""
        e, rows = self.engine, self.rows
        dtype = e.b.dtype
        w = torch.from_numpy(self.w_view(np.asarray(theta, np.float64)).copy()).to(dtype)
        b = torch.from_numpy(np.asarray(theta[self.n_weights :], np.float64)).to(dtype)
        dense = not isinstance(rows.x, SparseRows)
        mean, scale = rows.mean.to(dtype), rows.scale.to(dtype)
        lo, hi, n = 0, e.n, e.n
        if e.comm is not None:
            if e.comm.shards is None:
                lo, hi = shard_bounds(0, e.n, e.comm.rank, e.comm.world)
            else:
                n = int(e.comm.n_rows or e.n)
        chunks = [(s, min(e.batch, hi - s)) for s in range(lo, hi, e.batch)]
        w_raw, b_raw = (w / scale, b - (mean / scale) @ w.T) if dense else (w, b)
        probs = [torch.softmax(_mm(self._raw(s, m), w_raw.T) + b_raw, dim=1) for s, m in chunks]

        def product(v: np.ndarray) -> np.ndarray:
            vw = torch.from_numpy(self.w_view(np.asarray(v, np.float64)).copy()).to(dtype)
            vb = torch.from_numpy(np.asarray(v[self.n_weights :], np.float64)).to(dtype)
            if dense:  # the direction in the rows' own coordinates
                vw, vb = vw / scale, vb - (mean / scale) @ vw.T
            out_w = torch.zeros(self.n_classes, self.n_features, dtype=torch.float64)
            out_b = torch.zeros(self.n_classes, dtype=torch.float64)
            for (s, m), p in zip(chunks, probs, strict=True):
                xb = self._raw(s, m)
                u = _mm(xb, vw.T) + vb
                r = p * u - p * (p * u).sum(dim=1, keepdim=True)
                r = r * self._weights(s, m).unsqueeze(1)
                out_w += _mm_t(r, xb).double()
                out_b += r.sum(dim=0).double()
            if dense:  # back to the standardised coordinates
                out_w = (out_w - torch.outer(out_b, mean.double())) / scale.double()
            flat = torch.cat([out_w.reshape(-1), out_b])
            if e.comm is not None:
                e.comm.all_reduce(flat)
            flat /= n
            out = np.empty(self.n_params)
            self.w_view(out)[:] = flat[: self.n_weights].view(self.n_classes, -1).numpy()
            out[self.n_weights :] = flat[self.n_weights :].numpy()
            return out

        return product

    def _raw(self, s: int, m: int) -> Any:
        """Rows s .. s+m of the training rows as the engine holds them: dense rows as
        given (a view, or a gather of a subset), sparse rows scaled once and kept."""
        rows = self.rows
        if isinstance(rows.x, SparseRows):
            if self._scaled is None:
                self._scaled = rows.x if rows.unit else rows.x.scaled(1 / rows.scale)
            return self._scaled.coo(rows.train, s, m)
        return rows.x[s : s + m] if rows.train is None else rows.x[rows.train[s : s + m]]

    def _weights(self, s: int, m: int) -> torch.Tensor:
        rows = self.rows
        return rows.weight[s : s + m] if rows.train is None else rows.weight[rows.train[s : s + m]]

    def scores(self, theta: np.ndarray, x: Any, labels: torch.Tensor) -> tuple[float, float]:
        """Mean CE and accuracy of θ on held-out rows ``x`` with class indices ``labels``."""
        self.load(theta)
        return self.engine.metrics(x, labels)

    def sgd_engine(
        self,
        theta: np.ndarray,
        *,
        batch_size: int,
        gradient: str,
        momentum: float,
        nesterov: bool,
        l2: float,
        l1: float,
    ) -> Any:
        """An SGD engine on these rows starting at θ: batches of ``batch_size``, the
        formulation ``gradient``, momentum, and the penalty's L2 / L1 strengths on the
        original coordinates (:math:`p = d^{-2}`, :math:`q = d^{-1}`)."""
        rows = self.rows
        kw: dict[str, Any] = {"dtype": rows.x.dtype, "device": rows.x.device}
        w = torch.from_numpy(self.w_view(theta).T.copy()).to(**kw)
        b = torch.from_numpy(theta[self.n_weights :].copy()).to(**kw)
        return make_engine(
            rows.x,
            rows.labels,
            w,
            b,
            batch_size=batch_size,
            gradient=gradient,
            weight=rows.weight,
            mean=rows.mean,
            inv_scale=1 / rows.scale,
            penalty=rows.scale**-2,
            alpha=l2,
            momentum=momentum,
            nesterov=nesterov,
            rows=rows.train,
            l1=l1,
            l1_penalty=1 / rows.scale,
        )

    def engine_theta(self, engine: Any) -> np.ndarray:
        """θ of an engine's current W (N, C) and b (C,) (an SGD engine of these rows)."""
        theta = np.empty(self.n_params)
        self.w_view(theta)[:] = engine.w.T.double().cpu().numpy()
        theta[self.n_weights :] = engine.b.double().cpu().numpy()
        return theta


def _mm(x: Any, w: torch.Tensor) -> torch.Tensor:
    return torch.sparse.mm(x, w) if x.is_sparse else x @ w


def _mm_t(r: torch.Tensor, x: Any) -> torch.Tensor:
    """Rᵀ X (C, N) for dense or sparse X."""
    return torch.sparse.mm(x.t(), r).T if x.is_sparse else r.T @ x
