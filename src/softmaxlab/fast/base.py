""":class:`EngineBase`, what the dense (:class:`~softmaxlab.fast.engine.Engine`) and the
sparse engine (:class:`~softmaxlab.fast.sparse.SparseEngine`) share. Its constructor, which
both call, checks and stores what every engine takes (labels, row weights, the penalty's
factors, momentum, the rows an epoch covers, the data-parallel context), allocates the
flat gradient + loss buffer and resolves the ``path``; the subclasses add their parameter
storage and their kernel. On their :meth:`gradient` and :meth:`update` it builds full
passes (:meth:`objective`), epochs, the data-parallel epoch (one rank: this rank's rows
of each global batch, one ``all_reduce`` of the flat buffer, division by the global m,
the same update everywhere), snapshots and held-out scores.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import functional as F
from .. import gradients as G
from .._validation import check_l1
from ..errors import InvalidInputError, NumericalError, diverged
from ..metrics import ce_and_accuracy
from . import comm as comm_
from .comm import shard_bounds

__all__ = ["PATHS", "EngineBase"]

#: How an engine can run, fastest first ("auto": the first available here).
PATHS = ("auto", "native", "torch")


def _on(t: torch.Tensor | None, dtype: torch.dtype, device: torch.device) -> Any:
    return None if t is None else t.to(dtype=dtype, device=device).contiguous()


class EngineBase:
    """Mini-batch SGD state of one fit on ``n_features`` × ``n_classes`` parameters
    (module docstring). ``labels`` (n,) class indices; ``weight`` (n,) row weights with
    mean 1 (``None``: all 1); ``penalty`` (N,) the per-feature factor of the L2 penalty
    ``alpha``, ``l1_penalty`` (N,) that of the L1 term ``l1``; ``momentum``/``nesterov``
    as ``torch.optim.SGD``; ``gradient`` a formulation of :mod:`softmaxlab.gradients`;
    ``rows`` (indices) the rows an epoch covers (all by default); ``path`` one of
    :data:`PATHS`, "native" only where ``native_ok``."""

    x: Any
    b: torch.Tensor
    vb: torch.Tensor | None
    mean: torch.Tensor | None
    inv_scale: torch.Tensor | None
    gw: torch.Tensor

    def __init__(
        self,
        labels: torch.Tensor,
        n: int,
        n_features: int,
        n_classes: int,
        *,
        dtype: torch.dtype,
        device: torch.device,
        native_ok: bool,
        batch_size: int,
        gradient: str = "fused",
        weight: torch.Tensor | None = None,
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
        self.formulation = G.get(gradient)
        self.comm = comm_.current()
        if self.comm is not None and self.comm.world == 1:
            self.comm = None  # a group of one: nothing to share, the one-process epoch
        if self.comm is not None and gradient != "fused":
            raise InvalidInputError(
                f"gradient: data-parallel training uses the fused gradient, got {gradient!r}"
            )
        self.labels = labels.to(device=device, dtype=torch.int64).contiguous()
        self.rows = None if rows is None else rows.to(device=device, dtype=torch.int64).contiguous()
        if self.rows is not None:
            n = self.rows.shape[0]  # the epochs cover these rows only
        self.n, self.n_features, self.n_classes = n, n_features, n_classes
        self.batch = max(1, min(int(batch_size), n))
        self.k = -(-n // self.batch)  # batches per epoch
        self.weight = _on(weight, dtype, device)
        self.penalty = _on(penalty, dtype, device)
        self.l1_penalty = _on(l1_penalty, dtype, device)
        self.alpha, self.momentum, self.nesterov = float(alpha), float(momentum), bool(nesterov)
        self.l1 = float(l1)
        self._order: torch.Tensor | None = None
        self._teams: Any = None  # pipelined epochs' team, by measurement (dense engine)
        # the gradient and a loss slot in one flat buffer, so that a data-parallel step
        # reduces all of it with one all_reduce (softmaxlab.distributed)
        c, nf = n_classes, n_features
        self.flat = torch.zeros(c * nf + c + 1, dtype=dtype, device=device)
        self.gb = self.flat[c * nf : c * nf + c]
        can = native_ok and gradient == "fused"
        if path == "auto":
            path = "native" if can else "torch"
        elif path == "native" and not can:
            raise InvalidInputError(
                "path: the native engine is not available here (see "
                "softmaxlab.fast.native; it serves gradient='fused' on the CPU)"
            )
        self.path = path

    # ------------------------------------------------------------------ parameters
    @property
    def wt(self) -> torch.Tensor:
        """The current Wᵀ (C, N) (a view of the engine's storage)."""
        raise NotImplementedError

    @property
    def vw(self) -> torch.Tensor | None:
        """The velocity of W, (C, N) like :attr:`wt` (``None`` without momentum)."""
        raise NotImplementedError

    @property
    def w(self) -> torch.Tensor:
        """The current W (N, C)."""
        return self.wt.T

    @property
    def w_store(self) -> torch.Tensor:
        """The contiguous tensor holding W; ``flat[:-C-1]`` has its layout."""
        raise NotImplementedError

    def gradient(
        self,
        s: int,
        m: int,
        coef: float,
        *,
        accumulate: bool = False,
        order: torch.Tensor | None = None,
    ) -> float:
        """The data gradient of rows s .. s+m of the epoch, times ``coef``, into
        :attr:`gw`, :attr:`gb` (added with ``accumulate``); returns Σ s_i ℓ_i."""
        raise NotImplementedError

    def update(self, lr: float, *, batch: int = 0, checked: bool = False) -> None:
        """One SGD step from the data gradient in :attr:`gw`, :attr:`gb`: add the
        penalty's gradient, apply momentum, step. With ``checked`` the new parameters
        are formed aside and kept only when finite (else :class:`TrainingDiverged`)."""
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
            loss, pen = self._native_epoch(lr, order)
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

    def _scores(self, z: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
        """Mean CE and accuracy of logits ``z`` (m, C) against class indices ``labels``
        (:func:`softmaxlab.metrics.ce_and_accuracy`; reduced over the ranks when each
        holds its own validation rows)."""
        comm = self.comm
        reduce = comm.all_reduce if comm is not None and comm.shards is not None else None
        return ce_and_accuracy(z, labels, reduce=reduce)

    def _native_epoch(
        self, lr: float, order: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One epoch in the native kernel: each batch's loss and penalty (k,)."""
        raise NotImplementedError

    def _rows(
        self, s: int, m: int, order: torch.Tensor | None
    ) -> tuple[Any, torch.Tensor, torch.Tensor | None]:
        """Rows s .. s+m of the epoch, standardised: (X̃_B, labels, weights)."""
        raise NotImplementedError

    def threads(self, *, lbfgs: bool = False) -> Any:
        """The thread budget of a fit on this engine (a context manager:
        :func:`softmaxlab.fast.threads.budget` for this engine's work per batch)."""
        raise NotImplementedError

    def metrics(self, x: Any, labels: torch.Tensor) -> tuple[float, float]:
        """Mean CE and accuracy of the current parameters on held-out rows ``x``
        (standardised as the training rows are) with class indices ``labels``."""
        raise NotImplementedError

    def _pass(self, lo: int, hi: int, n: int, chunk: int) -> float:
        """Data gradient of rows lo .. hi, over ``n``, added to gw, gb; Σ s_i ℓ_i."""
        return sum(
            self.gradient(s, min(chunk, hi - s), 1 / n, accumulate=True)
            for s in range(lo, hi, chunk)
        )

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

    def penalty_value(self) -> float:
        """α/2 Σ p_k W_kl² + λ Σ q_k |W_kl| (``l1``, ``l1_penalty``) at the current W."""
        wt = self.wt
        sq = wt * wt if self.penalty is None else wt * wt * self.penalty
        out = 0.5 * self.alpha * float(sq.sum()) if self.alpha else 0.0
        if self.l1:
            a = wt.abs() if self.l1_penalty is None else wt.abs() * self.l1_penalty
            out += self.l1 * float(a.sum())
        return out

    def _shards(self) -> list[tuple[int, int, int]]:
        """This rank's ``(position, count, m)`` in each global batch of the epoch."""
        comm = self.comm
        assert comm is not None
        if comm.shards is not None:
            return list(comm.shards)
        out = []
        for s in range(0, self.n, self.batch):
            m = min(self.batch, self.n - s)
            lo, hi = shard_bounds(s, m, comm.rank, comm.world)
            out.append((lo, hi - lo, m))
        return out

    def _parallel_epoch(
        self, lr: float, order: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One epoch as one rank: per global batch, this rank's gradient sums, one
        ``all_reduce``, division by m, the update. Every rank sees the same reduced loss,
        so all of them stop together on a non-finite one (parameters back at the epoch's
        start)."""
        comm = self.comm
        assert comm is not None
        start = self._snapshot()
        flat = self.flat
        losses, pens = [], []
        for j, (pos, count, m) in enumerate(self._shards()):
            pens.append(self.penalty_value())
            if count:
                flat[-1] = self.gradient(pos, count, 1.0, order=order)
            else:  # this rank owns no row of the batch
                flat.zero_()
            comm.all_reduce(flat)
            flat.div_(m)
            loss = float(flat[-1])
            losses.append(loss)
            finite = loss == loss and abs(loss) != float("inf")
            if finite:
                self.update(lr)
            if not finite or not bool(torch.isfinite(self.wt).all() & torch.isfinite(self.b).all()):
                self._restore(start)
                raise diverged(lr, j, "the loss" if not finite else "the parameters")
        return (torch.tensor(losses, dtype=torch.float64), torch.tensor(pens, dtype=torch.float64))
