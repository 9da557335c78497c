r"""The training engine on sparse rows: :class:`SparseEngine`, and :func:`make_engine`.

The same SGD step, penalty, momentum, row weights, data-parallel epochs and full passes
as :class:`softmaxlab.fast.engine.Engine` (whose docstring states the mathematics), for X
held as CSR (:class:`softmaxlab.sparse.SparseRows`), never densified:

* ``"native"`` (the default where the kernel builds): a whole epoch in one call into
  ``_sparse.c``. Logits are sparse × dense (each stored value adds one row of W, kept as
  (N, C) so that row is contiguous); the gradient scatters into the rows of W that the
  batch's features name, and only those rows are updated. The L2 decay and the momentum
  of every other row are applied lazily — a row untouched for k steps gets the k-th
  power of its 2 × 2 recurrence when it is next read, and every row at the epoch's end
  — so the parameters equal the dense update's to rounding, while a step costs O(nnz of
  the batch × C) instead of O(N × C). Full passes (L-BFGS, ‖∇J‖) share the rows among
  threads, each scattering into a gradient of its own.
* ``"torch"``: each batch as a torch sparse COO tensor and PyTorch's sparse × dense
  products, with dense updates (and the formulations ``chain``, ``blockwise`` and
  ``autograd``, which take sparse batches; ``jacobian`` and ``kronecker`` materialise
  dense Jacobians and refuse sparse input).

An L1 term is trained by proximal steps (soft-thresholding after each step); a row
untouched for k steps gets k steps of decay and shrinking in closed form,
:math:`|w| \leftarrow (1-a)^k |w| - t \sum_{i<k} (1-a)^i` while positive, else 0.

The per-batch penalty an epoch reports is the one at the epoch's start (the rows of W
are only all current there); the parameters are exact. Standardisation scales the stored
values once (``inv_scale``) and never centres (``mean`` must be zero or ``None``).
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
import torch

from .. import gradients as G
from ..errors import InvalidInputError
from ..sparse import SparseRows
from . import native
from .base import EngineBase
from .engine import _ptr
from .threads import budget

__all__ = ["DENSE_ONLY", "SparseEngine"]

#: Threads of a full pass at most (each holds an (N, C) gradient of its own).
MAX_PASS_THREADS = 8
#: Formulations that materialise dense (m, C, m, C)-sized Jacobians of X: not for sparse rows.
DENSE_ONLY = ("jacobian", "kronecker")


def _stride(c: int) -> int:
    """Per-thread stride of a pass's logits and sums: C rounded up to 16 values, plus 16
    (no two threads on one cache line)."""
    return -(-c // 16) * 16 + 16


class SparseEngine(EngineBase):
    """The engine on :class:`~softmaxlab.sparse.SparseRows` (module docstring), on the
    constructor and interface of :class:`~softmaxlab.fast.base.EngineBase`. W is stored
    (N, C); :attr:`wt`, :attr:`vw` are its (C, N) views, as the dense engine's."""

    x: SparseRows

    def __init__(
        self,
        x: SparseRows,
        labels: torch.Tensor,
        w: torch.Tensor,
        b: torch.Tensor,
        *,
        mean: torch.Tensor | None = None,
        inv_scale: torch.Tensor | None = None,
        **options: Any,
    ) -> None:
        gradient = options.get("gradient", "fused")
        if gradient in DENSE_ONLY:
            raise InvalidInputError(
                f"gradient: {gradient!r} materialises dense Jacobians and cannot take sparse "
                f"rows; use one of {', '.join(n for n in G.names() if n not in DENSE_ONLY)}"
            )
        if mean is not None and bool((mean != 0).any()):
            raise InvalidInputError("mean: sparse rows are scaled, never centred")
        n, nf = x.shape
        c = w.shape[1]
        dtype = x.dtype
        cpu = torch.device("cpu")
        native_ok = native.available(dtype, cpu)
        super().__init__(labels, n, nf, c, dtype=dtype, device=cpu, native_ok=native_ok, **options)
        self.inv_scale_sparse = None if inv_scale is None else inv_scale.to(dtype)
        self.x = x.scaled(self.inv_scale_sparse)
        self.mean = self.inv_scale = None  # applied to the stored values once
        # a full pass's intercept sums and the other threads' gradients, allocated once
        self._pass_gb: torch.Tensor | None = None
        self._pass_scratch: torch.Tensor | None = None
        self._w = w.detach().to(dtype).contiguous().clone()  # (N, C)
        self.b = b.detach().to(dtype).clone()
        self._vw: torch.Tensor | None = None
        self.vb = None
        if self.momentum:
            self._vw, self.vb = torch.zeros_like(self._w), torch.zeros_like(self.b)
        self._g = self.flat[: c * nf].view(nf, c)  # the gradient in W's (N, C) layout
        self.gw = self._g.T
        if self.path == "native":
            self._init_native()

    def _init_native(self) -> None:
        """The native kernel's functions, buffers and spec (pointers into tensors that
        this engine keeps alive)."""
        nf, c = self.n_features, self.n_classes
        dtype = self.b.dtype
        self._fns = native.sparse(dtype)
        self._buffers = {
            "z": torch.empty(self.batch, c, dtype=dtype),
            "gw": torch.zeros(nf, c, dtype=dtype),
            "gb": torch.zeros(c, dtype=dtype),
            "pass": torch.zeros(MAX_PASS_THREADS * 2 * _stride(c), dtype=dtype),
            "last": torch.zeros(nf, dtype=torch.int64),
            "touched": torch.empty(nf, dtype=torch.int64),
            "mark": torch.zeros(nf, dtype=torch.uint8),
        }
        self._batch_loss = torch.empty(self.k, dtype=torch.float64)
        self._batch_pen = torch.empty(self.k, dtype=torch.float64)
        buf, xs = self._buffers, self.x
        self._spec = native.SparseSpec(
            c=c,
            nf=nf,
            n=self.n,
            batch=self.batch,
            indptr=xs.indptr.data_ptr(),
            indices=xs.indices.data_ptr(),
            data=xs.data.data_ptr(),
            order=None,
            labels=self.labels.data_ptr(),
            weight=_ptr(self.weight),
            w=self._w.data_ptr(),
            b=self.b.data_ptr(),
            vw=_ptr(self._vw),
            vb=_ptr(self.vb),
            momentum=self.momentum,
            nesterov=int(self.nesterov),
            alpha=self.alpha,
            pen=_ptr(self.penalty),
            z=buf["z"].data_ptr(),
            gw=buf["gw"].data_ptr(),
            gb=buf["gb"].data_ptr(),
            last=buf["last"].data_ptr(),
            touched=buf["touched"].data_ptr(),
            mark=buf["mark"].data_ptr(),
            threads=1,
            scratch=None,
            pass_buf=buf["pass"].data_ptr(),
            stride=_stride(c),
            l1=self.l1,
            pen1=_ptr(self.l1_penalty),
        )
        self._spec_ref = ctypes.byref(self._spec)

    # ------------------------------------------------------------------ layout
    @property
    def wt(self) -> torch.Tensor:
        """Wᵀ (C, N), a view of the (N, C) storage."""
        return self._w.T

    @property
    def w(self) -> torch.Tensor:
        return self._w

    @property
    def w_store(self) -> torch.Tensor:
        """W (N, C) itself; ``flat[:-C-1]`` has its layout."""
        return self._w

    @property
    def vw(self) -> torch.Tensor | None:
        return None if self._vw is None else self._vw.T

    def threads(self, *, lbfgs: bool = False) -> Any:
        self.allowed_threads = torch.get_num_threads()
        per_row = self.x.nnz / max(self.x.shape[0], 1)
        return budget(self.batch * per_row * self.n_classes, lbfgs=lbfgs)

    def _set_order(self, order: torch.Tensor | None) -> None:
        if order is None:
            order = self.rows
        if order is not None:
            order = order.to(dtype=torch.int64).contiguous()
        self._order = order
        self._spec.order = None if order is None else order.data_ptr()

    def _rows(
        self, s: int, m: int, order: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Rows s .. s+m of the epoch as a sparse COO batch (scaled), labels, weights."""
        if order is None:
            order = self.rows
        idx = torch.arange(s, s + m) if order is None else order[s : s + m]
        xb = self.x.coo(None if order is None else order, s, m)
        wb = None if self.weight is None else self.weight[idx]
        return xb, self.labels[idx], wb

    # ------------------------------------------------------------------ gradients
    def gradient(
        self,
        s: int,
        m: int,
        coef: float,
        *,
        accumulate: bool = False,
        order: torch.Tensor | None = None,
    ) -> float:
        if not 0 < m <= self.batch or not 0 <= s <= self.n - m:
            raise InvalidInputError(
                f"m: rows {s}..{s + m} do not fit batches of {self.batch} in {self.n} rows"
            )
        if not accumulate:
            self.flat[:-1].zero_()
        return self._accumulate(s, m, coef, order, threads=1)

    def _accumulate(
        self, s: int, m: int, coef: float, order: torch.Tensor | None, *, threads: int
    ) -> float:
        """gw += coef Xᵀ G and gb += coef Gᵀ1 over rows s .. s+m; Σ s_i ℓ_i."""
        if self.path == "native":
            self._set_order(order)
            gb = self._pass_gb
            if gb is None:
                gb = self._pass_gb = torch.empty_like(self.gb)
            gb.zero_()
            threads = max(1, min(threads, MAX_PASS_THREADS))
            scratch = None
            if threads > 1:  # the other threads' W-gradient buffers, kept between passes
                size = (threads - 1) * self.n_features * self.n_classes
                if self._pass_scratch is None or self._pass_scratch.numel() < size:
                    self._pass_scratch = torch.empty(size, dtype=self._w.dtype)
                scratch = self._pass_scratch
            self._spec.threads = threads
            self._spec.scratch = _ptr(scratch)
            try:
                total = float(
                    self._fns["pass"](self._spec_ref, s, m, coef, self._g.data_ptr(), gb.data_ptr())
                )
            finally:
                self._spec.threads, self._spec.scratch = 1, None
            self.gb.add_(gb)
        else:
            xb, lab, wb = self._rows(s, m, order)
            z = torch.addmm(self.b, xb, self._w)
            log_p = torch.log_softmax(z, dim=1)
            rows = -log_p.gather(1, lab.unsqueeze(1))[:, 0]
            g = log_p.exp_()
            g[torch.arange(m), lab] -= 1
            if wb is not None:
                g.mul_(wb.unsqueeze(1))
                rows = rows * wb
            self._g.add_(xb.T @ g, alpha=coef)
            self.gb.add_(g.sum(dim=0), alpha=coef)
            total = float(rows.sum())
        return total

    def _pass(self, lo: int, hi: int, n: int, chunk: int) -> float:
        if self.path != "native" or hi <= lo:
            return super()._pass(lo, hi, n, chunk)
        threads = max(1, min(torch.get_num_threads(), (hi - lo) // 256 or 1))
        return self._accumulate(lo, hi - lo, 1.0 / n, None, threads=threads)

    def update(self, lr: float, *, batch: int = 0, checked: bool = False) -> None:
        super().update(lr, batch=batch, checked=True if self.path == "native" else checked)

    # ------------------------------------------------------------------ epochs
    def _native_epoch(
        self, lr: float, order: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self._set_order(order)
        self._fns["epoch"](
            self._spec_ref, lr, self._batch_loss.data_ptr(), self._batch_pen.data_ptr()
        )
        return self._batch_loss.clone(), self._batch_pen.clone()

    def metrics(self, x: Any, labels: torch.Tensor) -> tuple[float, float]:
        """Mean CE and accuracy on rows ``x`` (:class:`SparseRows`, scaled as the training
        rows are) with class indices ``labels``."""
        rows = x.scaled(self.inv_scale_sparse) if isinstance(x, SparseRows) else x
        return self._scores(
            torch.from_numpy(np.asarray(rows.csr @ self._w.numpy())) + self.b, labels
        )

    def gemm_floor(self) -> None:
        raise InvalidInputError("gemm_floor: dense rows only")
