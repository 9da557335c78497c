"""The data-parallel epochs of the training engine (a mixin of
:class:`softmaxlab.fast.engine.Engine` and its sparse twin): inside
:func:`softmaxlab.fast.comm.data_parallel` an engine is one rank, each step the kernel on
this rank's rows of the global batch (weighted sums), one ``all_reduce`` of the flat
gradient + loss buffer, division by the global m, and the same update on every rank."""

from __future__ import annotations

import torch

from ..errors import diverged
from .comm import shard_bounds

__all__ = ["ParallelEpochs"]


class ParallelEpochs:
    """``_shards`` and ``_parallel_epoch`` of an engine with ``comm``, ``n``, ``batch``,
    ``flat``, ``gradient``, ``update``, ``penalty_value``, ``_snapshot``/``_restore``."""

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
