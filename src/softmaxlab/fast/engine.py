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
from .. import gradients as G
from ..errors import InvalidInputError, NumericalError, diverged
from . import comm as comm_
from . import native
from .comm import shard_bounds
from .parallel import ParallelEpochs
from .threads import SGD_SMALL_WORK, TeamChooser, budget

__all__ = ["PATHS", "Engine"]
#: How an engine can run, fastest first ("auto": the first available here).
PATHS = ("auto", "native", "torch")
#: Batch values (rows × features) from which a native epoch gathers the next batch on a
#: second thread: below it, waking the thread at every step costs more than the gather
#: (the seed's 33 × 5 batches: 41 µs per epoch on one thread, 179 µs pipelined).
PIPELINE_MIN = 8192


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def check_l1(l1: float, momentum: float) -> None:
    """The L1 term is trained by proximal SGD: plain steps, then a soft-threshold."""
    if l1 and momentum:
        raise InvalidInputError(
            "momentum: proximal SGD for an L1 penalty takes plain "
            "steps; set momentum=0 (or use solver='lbfgs')"
        )


class Engine(ParallelEpochs):
    """Mini-batch SGD state of one fit (see the module docstring for the step).

    ``x`` (n, N) floating rows, kept by reference (made contiguous only if it is not);
    ``labels`` (n,) class indices in ``[0, C)``; ``w`` (N, C) and ``b`` (C,) the starting
    parameters (copied; :attr:`w` and :attr:`b` give the current ones); ``weight`` (n,)
    row weights with mean 1 (``None``: all 1); ``mean``/``inv_scale`` (N,) standardise
    rows as they are read (either may be ``None``; ``inv_scale`` alone scales without
    centring); ``penalty`` (N,) the per-feature factor of the L2 penalty ``alpha``;
    ``momentum``/``nesterov`` as ``torch.optim.SGD``; ``gradient`` a formulation name of
    :mod:`softmaxlab.gradients`; ``rows`` (indices) the rows an epoch covers (all by
    default; an ``order`` given to :meth:`epoch` then permutes these indices).
    """

    def __init__(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        w: torch.Tensor,
        b: torch.Tensor,
        *,
        batch_size: int,
        gradient: str = "fused",
        weight: torch.Tensor | None = None,
        mean: torch.Tensor | None = None,
        inv_scale: torch.Tensor | None = None,
        penalty: torch.Tensor | None = None,
        alpha: float = 0.0,
        momentum: float = 0.0,
        nesterov: bool = False,
        rows: torch.Tensor | None = None,
        path: str = "auto",
        l1: float = 0.0,
        l1_penalty: torch.Tensor | None = None,
    ) -> None:
        check_l1(l1, momentum)
        if path not in PATHS:
            raise InvalidInputError(f"path: one of {', '.join(PATHS)}, got {path!r}")
        self.comm = comm_.current()
        if self.comm is not None and self.comm.world == 1:
            self.comm = None  # a group of one: nothing to share, the one-process epoch
        if self.comm is not None and gradient != "fused":
            raise InvalidInputError(
                f"gradient: data-parallel training uses the fused gradient, got {gradient!r}"
            )
        n, nf = x.shape
        c = w.shape[1]
        dtype, device = x.dtype, x.device
        if x.stride(1) != 1:
            x = x.contiguous()
        self.x, self.labels = x, labels.to(device=device, dtype=torch.int64).contiguous()
        self.rows = None if rows is None else rows.to(device=device, dtype=torch.int64).contiguous()
        if self.rows is not None:
            n = self.rows.shape[0]  # the epochs cover these rows only
        self.n, self.n_features, self.n_classes = n, nf, c
        self.batch = max(1, min(int(batch_size), n))
        self._teams: TeamChooser | None = None  # pipelined epochs' team, by measurement
        self.formulation = G.get(gradient)
        self.weight = None if weight is None else weight.to(x).contiguous()
        self.mean = None if mean is None else mean.to(x).contiguous()
        self.inv_scale = None if inv_scale is None else inv_scale.to(x).contiguous()
        self.penalty = None if penalty is None else penalty.to(x).contiguous()
        self.alpha, self.momentum, self.nesterov = float(alpha), float(momentum), bool(nesterov)
        self.l1 = float(l1)
        self.l1_penalty = None if l1_penalty is None else l1_penalty.to(x).contiguous()
        self.wt = w.detach().T.to(x).contiguous().clone()  # (C, N)
        self.b = b.detach().to(x).clone()
        self.vw = self.vb = None
        if self.momentum:
            self.vw, self.vb = torch.zeros_like(self.wt), torch.zeros_like(self.b)
        # the gradient and a loss slot in one flat buffer, so that a data-parallel step
        # reduces all of it with one all_reduce (softmaxlab.distributed)
        self.flat = torch.zeros(c * nf + c + 1, dtype=dtype, device=device)
        self.gw = self.flat[: c * nf].view(c, nf)
        self.gb = self.flat[c * nf : c * nf + c]
        can = native.engine_available(dtype, device) and gradient == "fused"
        if path == "auto":
            path = "native" if can else "torch"
        elif path == "native" and not can:
            raise InvalidInputError(
                "path: the native engine is not available here (see "
                "softmaxlab.fast.native; it serves gradient='fused' on the CPU)"
            )
        self.path = path
        self.k = -(-n // self.batch)  # batches per epoch
        self._order: torch.Tensor | None = None
        if path == "native":
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

    # ------------------------------------------------------------------ parameters
    @property
    def w(self) -> torch.Tensor:
        """The current W (N, C) (a view of the engine's Wᵀ)."""
        return self.wt.T

    @property
    def w_store(self) -> torch.Tensor:
        """The contiguous tensor holding W (here Wᵀ (C, N)); ``flat[:-C-1]`` has its layout."""
        return self.wt

    def state(self) -> dict[str, torch.Tensor]:
        """Parameters and velocity, as tensors a checkpoint can hold."""
        out = {"wt": self.wt, "b": self.b}
        if self.vw is not None and self.vb is not None:
            out |= {"vw": self.vw, "vb": self.vb}
        return out

    def _snapshot(self) -> list[torch.Tensor]:
        return [t.clone() for t in self.state().values()]

    def _restore(self, saved: list[torch.Tensor]) -> None:
        for t, s in zip(self.state().values(), saved, strict=True):
            t.copy_(s)

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

    def penalty_value(self) -> float:
        """α/2 Σ p_k W_kl² + λ Σ q_k |W_kl| (``l1``, ``l1_penalty``) at the current W."""
        sq = self.wt * self.wt if self.penalty is None else self.wt * self.wt * self.penalty
        out = 0.5 * self.alpha * float(sq.sum()) if self.alpha else 0.0
        if self.l1:
            ab = self.wt.abs() if self.l1_penalty is None else self.wt.abs() * self.l1_penalty
            out += self.l1 * float(ab.sum())
        return out

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
        """One SGD step from the data gradient in :attr:`gw`, :attr:`gb`: add the
        penalty's gradient, apply momentum, step. With ``checked`` the new parameters
        are formed aside and kept only when finite (else :class:`TrainingDiverged`)."""
        if self.path == "native" and not checked:
            self._fns["update"](self._spec_ref, lr)
            return
        gw, gb = self.gw, self.gb
        if self.alpha:
            pen = self.wt if self.penalty is None else self.wt * self.penalty
            gw = gw + self.alpha * pen
        vw = vb = None
        if self.vw is not None and self.vb is not None:
            vw, vb = self.vw * self.momentum + gw, self.vb * self.momentum + gb
            if self.nesterov:
                gw, gb = gw + self.momentum * vw, gb + self.momentum * vb
            else:
                gw, gb = vw, vb
        wt, b = self.wt - lr * gw, self.b - lr * gb
        if self.l1:  # the L1 term's proximal step: soft-threshold by lr·λ·q_k
            t = lr * self.l1 * (1.0 if self.l1_penalty is None else self.l1_penalty)
            wt = wt.sign() * (wt.abs() - t).clamp_min(0)
        if checked and not bool(torch.isfinite(wt).all() & torch.isfinite(b).all()):
            raise diverged(lr, batch, "the parameters")
        self.wt.copy_(wt)
        self.b.copy_(b)
        if vw is not None and vb is not None and self.vw is not None and self.vb is not None:
            self.vw.copy_(vw)
            self.vb.copy_(vb)

    def _formulation_step(
        self, s: int, m: int, order: torch.Tensor | None, lr: float, batch: int
    ) -> torch.Tensor:
        """One checked step with the engine's gradient formulation; the batch loss."""
        xb, lab, wb = self._rows(s, m, order)
        log_p = F.log_softmax(F.logits(xb, self.wt.T, self.b))
        rows = -log_p.gather(1, lab.unsqueeze(1))[:, 0]
        loss = (rows if wb is None else rows * wb).sum() / m
        if not bool(torch.isfinite(loss)):
            raise diverged(lr, batch, "the loss")
        y = torch.nn.functional.one_hot(lab, self.n_classes).to(xb.dtype)
        r = None if wb is None else wb / m
        try:
            grads = self.formulation.kernel(xb, y, self.wt.T, self.b, log_p.exp_(), r)
        except NumericalError as exc:
            raise NumericalError(f"batch {batch}: {exc}") from exc
        self.gw.copy_(grads.d_w.T)
        self.gb.copy_(grads.d_b)
        self.update(lr, batch=batch, checked=True)
        return loss

    # ------------------------------------------------------------------ epochs
    def _set_order(self, order: torch.Tensor | None) -> None:
        if order is None:
            order = self.rows
        if order is not None:
            order = order.to(device=self.x.device, dtype=torch.int64).contiguous()
        self._order = order  # kept alive while C reads it
        self._spec.order = None if order is None else order.data_ptr()

    def epoch(
        self, lr: float, order: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass over the batches (in order, or in the row order ``order`` (n,)).
        Returns each batch's loss and penalty, taken before its step, as two float64
        tensors (k,)."""
        if self.comm is not None:
            return self._parallel_epoch(lr, order)
        if self.formulation.name != "fused":
            steps: list[torch.Tensor] = []
            pens = []
            for j, s in enumerate(range(0, self.n, self.batch)):
                pens.append(self.penalty_value())
                steps.append(self._formulation_step(s, min(self.batch, self.n - s), order, lr, j))
            return (torch.stack(steps).double().cpu(), torch.tensor(pens, dtype=torch.float64))
        start = self._snapshot()
        if self.path == "native":
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
            loss, pen = self._batch_loss.clone(), self._batch_pen.clone()
        else:
            losses: list[float] = []
            pens = []
            for s in range(0, self.n, self.batch):
                m = min(self.batch, self.n - s)
                pens.append(self.penalty_value() if self.alpha or self.l1 else 0.0)
                losses.append(self.gradient(s, m, 1.0 / m, order=order) / m)
                self.update(lr)
            loss = torch.tensor(losses, dtype=torch.float64)
            pen = torch.tensor(pens, dtype=torch.float64)
        if not bool(
            torch.isfinite(loss).all()
            & torch.isfinite(pen).all()
            & torch.isfinite(self.wt).all()
            & torch.isfinite(self.b).all()
        ):
            self._restore(start)
            self._replay(lr, order)
        return loss, pen

    def _replay(self, lr: float, order: torch.Tensor | None) -> None:
        """Redo the epoch one checked step at a time; raise at the first non-finite one."""
        for j, s in enumerate(range(0, self.n, self.batch)):
            m = min(self.batch, self.n - s)
            xb, _, _ = self._rows(s, m, order)
            if not bool(torch.isfinite(torch.addmm(self.b, xb, self.wt.T)).all()):
                raise diverged(lr, j, "the logits")
            saved_path, self.path = self.path, "torch"
            try:
                loss = self.gradient(s, m, 1.0 / m, order=order)
                if not torch.isfinite(torch.tensor(loss)):
                    raise diverged(lr, j, "the loss")
                self.update(lr, batch=j, checked=True)
            finally:
                self.path = saved_path
        raise diverged(lr, self.k - 1, "the loss")  # not reached in exact arithmetic

    def batch_sizes(self) -> torch.Tensor:
        """Rows of each batch of an epoch (float64, (k,)): the global batches of a
        data-parallel run, whichever rows this rank holds."""
        if self.comm is not None:
            return torch.tensor([float(m) for _, _, m in self._shards()], dtype=torch.float64)
        sizes = torch.full((self.k,), float(self.batch), dtype=torch.float64)
        if self.k:
            sizes[-1] = self.n - self.batch * (self.k - 1)
        return sizes

    # ------------------------------------------------------------------ full passes
    def objective(self, chunk: int | None = None) -> float:
        """The smooth training objective at the current parameters, with its gradient left
        in :attr:`gw`, :attr:`gb` (L2 included, the L1 term not: OWL-QN adds it): Σ s_i ℓ_i
        / n + α/2 Σ p W², in passes of ``chunk`` rows (at most, and by default, the batch)."""
        chunk = min(chunk or self.batch, self.batch)
        lo, hi, n = 0, self.n, self.n
        comm = self.comm
        if comm is not None:  # this rank's rows, then one all_reduce
            if comm.shards is None:
                lo, hi = shard_bounds(0, self.n, comm.rank, comm.world)
            else:
                n = int(comm.n_rows or self.n)
        self.flat.zero_()
        total = self._pass(lo, hi, n, chunk)
        if comm is not None:
            self.flat[-1] = total
            comm.all_reduce(self.flat)
            total = float(self.flat[-1])
        if not self.alpha:
            return total / n
        if self.penalty is None:  # α/2 ‖W‖², without a temporary the size of W
            self.gw.add_(self.wt, alpha=self.alpha)
            return total / n + 0.5 * self.alpha * float(torch.linalg.vector_norm(self.wt)) ** 2
        pen = self.wt * self.penalty
        self.gw.add_(pen, alpha=self.alpha)
        # α/2 Σ p W² = α/2 ⟨pW, W⟩, from the same product (any layout of W)
        return total / n + 0.5 * self.alpha * float((pen * self.wt).sum())

    def _pass(self, lo: int, hi: int, n: int, chunk: int) -> float:
        """Data gradient of rows lo .. hi, over ``n``, added to gw, gb; Σ s_i ℓ_i."""
        return sum(
            self.gradient(s, min(chunk, hi - s), 1 / n, accumulate=True)
            for s in range(lo, hi, chunk)
        )

    def metrics(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
        """Mean CE and accuracy of the current parameters on rows ``x`` (standardised as
        the training rows are) with class indices ``labels``."""
        if self.mean is not None:
            x = x - self.mean
        if self.inv_scale is not None:
            x = x * self.inv_scale
        return self._scores(F.logits(x, self.wt.T, self.b), labels)

    def _scores(self, z: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
        """Mean CE and accuracy of logits ``z`` (m, C) against class indices ``labels``
        (reduced over the ranks when each holds its own validation rows)."""
        labels = labels.to(device=z.device, dtype=torch.int64)
        ce = -torch.log_softmax(z, dim=1).gather(1, labels.unsqueeze(1))
        hits = (z.argmax(dim=1) == labels).to(z.dtype)
        if self.comm is not None and self.comm.shards is not None:
            # each rank holds its own validation rows: reduce the sums and the count
            sums = torch.stack(
                [ce.sum(), hits.sum(), torch.tensor(float(z.shape[0]), dtype=z.dtype)]
            )
            self.comm.all_reduce(sums)
            return float(sums[0] / sums[2]), float(sums[1] / sums[2])
        return ce.mean().item(), hits.mean().item()

    def gemm_floor(self) -> None:
        """Only the two GEMMs of each in-order batch (native path; for the benchmarks)."""
        self._fns["gemm_floor"](self._spec_ref)
