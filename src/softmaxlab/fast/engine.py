r"""The one training engine: mini-batch SGD on the analytic gradient, for every fit.

:class:`Engine` holds the parameters of one fit and makes epochs and single steps of
SGD; :func:`softmaxlab.training.drive` runs epochs of it with callbacks (logging,
validation, checkpoints, early stopping, progress). ``SoftmaxClassifier.fit``,
``SoftmaxRegression`` (its SGD epochs and the loss and gradient its L-BFGS solver
evaluates), :mod:`softmaxlab.distributed` and the benchmark contenders all train on it.

The step, for a batch :math:`B` of m rows with weights :math:`s_i` (mean 1 over the
training set; all 1 by default) and true classes :math:`t_i`:

.. math::

    \tilde X_B = (X_B - \mathbf 1\mu^\top)\operatorname{diag}(d^{-1}),\quad
    Z = \tilde X_B W + \mathbf 1 b^\top,\quad \hat Y = \Sigma(Z),

    \ell_B = \frac1m\sum_{i\in B} s_i\,(-\log\hat y_{i t_i}),\qquad
    g_W = \frac1m \tilde X_B^\top \operatorname{diag}(s)(\hat Y - Y)
          + \alpha\,\operatorname{diag}(p)\,W,\qquad
    g_b = \frac1m \mathbf 1^\top\operatorname{diag}(s)(\hat Y - Y),

then :math:`v \leftarrow \mu v + g` and :math:`\theta \leftarrow \theta - \eta v` (or
:math:`\theta - \eta(g + \mu v)` with Nesterov, or :math:`\theta - \eta g` without
momentum), as ``torch.optim.SGD`` does. :math:`\mu`/:math:`d` (``mean``/``inv_scale``)
standardise the rows as they are read, so X is never copied; :math:`p` (``penalty``) is a
per-feature factor of the L2 penalty :math:`\frac\alpha2\sum_{kl} p_k W_{kl}^2` (the
estimator uses :math:`p = d^{-2}`, the penalty on the original coordinates); the bias is
never penalised. An L1 term :math:`\lambda \sum_{kl} q_k |W_{kl}|` (``l1``,
``l1_penalty`` = q, :math:`d^{-1}` in the estimator) is trained by proximal SGD: after
each step :math:`W_{kl} \leftarrow \operatorname{sign}(W_{kl})\max(|W_{kl}| - \eta\lambda
q_k, 0)`, which gives exact zeros (no momentum with it). The seed's loop is the special case s = 1, no standardisation,
:math:`\alpha = \mu = 0`, rows in order.

How a step runs (``path``):

* ``"native"``: the whole epoch in one call into ``_softmax_grad.c``
  (:mod:`softmaxlab.fast.native`): per batch, gather the rows (only when shuffled or
  standardised; otherwise the BLAS reads X in place), one GEMM for the logits, one fused
  pass for softmax, loss and :math:`\hat Y - Y`, one GEMM for the gradient accumulated
  straight into :math:`W^\top` (through a (C, N) buffer when momentum or a penalty need
  it), on the BLAS routine ``torch.mm`` itself uses.
* ``"torch"``: the same mathematics in PyTorch operations (any device, any formulation;
  ``gradient != "fused"`` always runs here, one checked step at a time, as the seed's).

Both give the same parameters to rounding (``tests/fast/test_engine.py``: 1e-12 in float64).

Inside :func:`softmaxlab.fast.comm.data_parallel` an engine is one rank: each step is the
kernel on this rank's rows of the global batch (weighted *sums*), one ``all_reduce`` of the
flat gradient + loss buffer, division by the global m and the same update on every rank.
An epoch whose loss or parameters became non-finite is replayed from its start one
checked step at a time, so that :class:`~softmaxlab.errors.TrainingDiverged` names the
batch and the parameters stay at their last finite values.
"""

from __future__ import annotations

import ctypes
import time
from typing import Any

import torch

from .. import functional as F
from ..errors import InvalidInputError
from . import native
from .base import PATHS, EngineBase
from .threads import SGD_SMALL_WORK, TeamChooser, budget

__all__ = ["PATHS", "Engine"]
#: Batch values (rows × features) from which a native epoch gathers the next batch on a
#: second thread: below it, waking the thread at every step costs more than the gather
#: (benchmarks/README.md, "Measurements behind the thresholds").
PIPELINE_MIN = 8192


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


class Engine(EngineBase):
    """Mini-batch SGD state of one fit (see the module docstring for the step).

    ``x`` (n, N) floating rows, kept by reference (made contiguous only if it is not);
    ``labels`` (n,) class indices in ``[0, C)``; ``w`` (N, C) and ``b`` (C,) the starting
    parameters (copied; :attr:`w` and :attr:`b` give the current ones); ``weight`` (n,)
    row weights with mean 1 (``None``: all 1); ``mean``/``inv_scale`` (N,) standardise
    rows as they are read (either may be ``None``; ``inv_scale`` alone scales without
    centring); ``penalty`` (N,) the per-feature factor of the L2 penalty ``alpha``;
    ``momentum``/``nesterov`` as ``torch.optim.SGD``; ``gradient`` a formulation name of
    :mod:`softmaxlab.gradients`; ``rows`` (indices) the rows an epoch covers (all by
    default; an ``order`` given to :meth:`epoch` then permutes these indices). The
    keyword arguments other than ``mean`` and ``inv_scale`` are
    :class:`~softmaxlab.fast.base.EngineBase`'s.
    """

    def __init__(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        w: torch.Tensor,
        b: torch.Tensor,
        *,
        mean: torch.Tensor | None = None,
        inv_scale: torch.Tensor | None = None,
        **options: Any,
    ) -> None:
        n, nf = x.shape
        c = w.shape[1]
        dtype, device = x.dtype, x.device
        native_ok = native.engine_available(dtype, device)
        super().__init__(
            labels, n, nf, c, dtype=dtype, device=device, native_ok=native_ok, **options
        )
        self.x = x if x.stride(1) == 1 else x.contiguous()
        self.mean = None if mean is None else mean.to(x).contiguous()
        self.inv_scale = None if inv_scale is None else inv_scale.to(x).contiguous()
        self._wt = w.detach().T.to(x).contiguous().clone()  # (C, N)
        self.b = b.detach().to(x).clone()
        self._vw: torch.Tensor | None = None
        self.vb = None
        if self.momentum:
            self._vw, self.vb = torch.zeros_like(self._wt), torch.zeros_like(self.b)
        self.gw = self.flat[: c * nf].view(c, nf)
        if self.path == "native":
            self._init_native()

    def threads(self, *, lbfgs: bool = False) -> Any:
        """The thread budget of a fit on this engine (:func:`softmaxlab.fast.threads.budget`
        for GEMMs of batch × N × C multiply-adds). The threads the caller allows are
        noted first: an epoch that gathers its rows uses two of them, one gathering the
        next batch while the other computes, even where the GEMMs get one."""
        self.allowed_threads = torch.get_num_threads()
        return budget(self.batch * self.n_features * self.n_classes, lbfgs=lbfgs)

    def _pipelines(self) -> bool:
        """Whether a native epoch gathers the next batch on a second thread: where a
        batch is big enough to pay for waking the thread at every step (PIPELINE_MIN
        values) and its GEMMs small enough to run on one thread anyway (a GEMM inside
        the pipeline's team gets one thread; bigger ones are faster on all of them)."""
        values = self.batch * self.n_features
        return values >= PIPELINE_MIN and values * self.n_classes < SGD_SMALL_WORK and self.k >= 4

    def _init_native(self) -> None:
        """The native kernel's functions, buffers and spec (pointers into tensors that
        this engine keeps alive)."""
        x, nf, c = self.x, self.n_features, self.n_classes
        dtype, device = x.dtype, x.device
        self._fns, gemm = native.engine(dtype)
        kw: dict[str, Any] = {"dtype": dtype, "device": device}
        self._buffers = {
            "xbuf": torch.empty(self.batch, nf, **kw),
            "z": torch.empty(c, self.batch, **kw),
            "lbuf": torch.empty(self.batch, dtype=torch.int64, device=device),
            "sbuf": torch.empty(self.batch, **kw),
            "row_loss": torch.empty(self.batch, **kw),
            # the second buffers of a pipelined epoch (gather the next batch while
            # this one computes: softmaxlab.fast.threads)
            "xbuf2": torch.empty(self.batch, nf, **kw),
            "lbuf2": torch.empty(self.batch, dtype=torch.int64, device=device),
            "sbuf2": torch.empty(self.batch, **kw),
        }
        self._batch_loss = torch.empty(self.k, dtype=torch.float64)
        self._batch_pen = torch.empty(self.k, dtype=torch.float64)
        buf = self._buffers
        self._spec = native.EngineSpec(
            gemm=gemm,
            c=c,
            nf=nf,
            x=x.data_ptr(),
            ldx=x.stride(0),
            n=self.n,
            batch=self.batch,
            order=None,
            mu=_ptr(self.mean),
            inv_d=_ptr(self.inv_scale),
            labels=self.labels.data_ptr(),
            weight=_ptr(self.weight),
            wt=self.wt.data_ptr(),
            b=self.b.data_ptr(),
            vw=_ptr(self.vw),
            vb=_ptr(self.vb),
            momentum=self.momentum,
            nesterov=int(self.nesterov),
            alpha=self.alpha,
            pen=_ptr(self.penalty),
            xbuf=buf["xbuf"].data_ptr(),
            z=buf["z"].data_ptr(),
            gw=self.gw.data_ptr(),
            gb=self.gb.data_ptr(),
            lbuf=buf["lbuf"].data_ptr(),
            sbuf=buf["sbuf"].data_ptr(),
            row_loss=buf["row_loss"].data_ptr(),
            xbuf2=buf["xbuf2"].data_ptr(),
            lbuf2=buf["lbuf2"].data_ptr(),
            sbuf2=buf["sbuf2"].data_ptr(),
            pipeline=0,
            l1=self.l1,
            pen1=_ptr(self.l1_penalty),
        )
        self._spec_ref = ctypes.byref(self._spec)

    # ------------------------------------------------------------------ parameters
    @property
    def wt(self) -> torch.Tensor:
        """The current Wᵀ (C, N), the engine's own storage."""
        return self._wt

    @property
    def vw(self) -> torch.Tensor | None:
        return self._vw

    @property
    def w_store(self) -> torch.Tensor:
        """The contiguous tensor holding W (here Wᵀ (C, N)); ``flat[:-C-1]`` has its layout."""
        return self._wt

    # ------------------------------------------------------------------ rows
    def _rows(
        self, s: int, m: int, order: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Rows s .. s+m of the epoch, standardised: (X̃_B, labels, weights)."""
        if order is None:
            order = self.rows
        if order is None:
            xb, lab = self.x[s : s + m], self.labels[s : s + m]
            wb = None if self.weight is None else self.weight[s : s + m]
        else:
            idx = order[s : s + m]
            xb, lab = self.x[idx], self.labels[idx]
            wb = None if self.weight is None else self.weight[idx]
        if self.mean is not None:
            xb = xb - self.mean
        if self.inv_scale is not None:
            xb = xb * self.inv_scale
        return xb, lab, wb

    # ------------------------------------------------------------------ one step
    def gradient(
        self,
        s: int,
        m: int,
        coef: float,
        *,
        accumulate: bool = False,
        order: torch.Tensor | None = None,
    ) -> float:
        """Data gradient of rows s .. s+m, times ``coef``, into :attr:`gw` (C, N) and
        :attr:`gb` (C,) (added to what they hold with ``accumulate``); returns the rows'
        weighted loss sum Σ s_i ℓ_i. The penalty is not included (see :meth:`update`).
        ``m`` is at most the batch size (the size of the engine's buffers)."""
        if not 0 < m <= self.batch or not 0 <= s <= self.n - m:
            raise InvalidInputError(
                f"m: rows {s}..{s + m} do not fit batches of {self.batch} in {self.n} rows"
            )
        if self.path == "native":
            self._set_order(order)
            return float(self._fns["gradient"](self._spec_ref, s, m, coef, int(accumulate)))
        xb, lab, wb = self._rows(s, m, order)
        z = torch.addmm(self.b, xb, self.wt.T)
        log_p = torch.log_softmax(z, dim=1)
        rows = -log_p.gather(1, lab.unsqueeze(1))[:, 0]
        g = log_p.exp_()
        g[torch.arange(m, device=g.device), lab] -= 1
        if wb is not None:
            g.mul_(wb.unsqueeze(1))
            rows = rows * wb
        beta = 1.0 if accumulate else 0.0
        self.gw.mul_(beta).addmm_(g.T, xb, alpha=coef)
        self.gb.mul_(beta).add_(g.sum(dim=0), alpha=coef)
        return float(rows.sum())

    def update(self, lr: float, *, batch: int = 0, checked: bool = False) -> None:
        if self.path == "native" and not checked:
            self._fns["update"](self._spec_ref, lr)
            return
        super().update(lr, batch=batch, checked=checked)

    # ------------------------------------------------------------------ epochs
    def _set_order(self, order: torch.Tensor | None) -> None:
        if order is None:
            order = self.rows
        if order is not None:
            order = order.to(device=self.x.device, dtype=torch.int64).contiguous()
        self._order = order  # kept alive while C reads it
        self._spec.order = None if order is None else order.data_ptr()

    def _native_epoch(
        self, lr: float, order: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One epoch in one call into the kernel, pipelined where that pays."""
        self._set_order(order)
        team = 0
        if self._pipelines():
            self._teams = TeamChooser.following(
                self._teams, getattr(self, "allowed_threads", torch.get_num_threads())
            )
            team = self._teams.pick()
        self._spec.pipeline = team
        started = time.perf_counter()
        self._fns["epoch"](
            self._spec_ref, lr, self._batch_loss.data_ptr(), self._batch_pen.data_ptr()
        )
        if team and self._teams is not None:
            self._teams.record(team, time.perf_counter() - started)
        return self._batch_loss.clone(), self._batch_pen.clone()

    # ------------------------------------------------------------------ held-out rows
    def metrics(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
        """Mean CE and accuracy of the current parameters on rows ``x`` (standardised as
        the training rows are) with class indices ``labels``."""
        if self.mean is not None:
            x = x - self.mean
        if self.inv_scale is not None:
            x = x * self.inv_scale
        return self._scores(F.logits(x, self.wt.T, self.b), labels)

    def gemm_floor(self) -> None:
        """Only the two GEMMs of each in-order batch (native path; for the benchmarks)."""
        self._fns["gemm_floor"](self._spec_ref)
