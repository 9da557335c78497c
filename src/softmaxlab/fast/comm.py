"""Data-parallel context: how one rank of a run shares each SGD step with the others.

Inside ``with data_parallel(comm):`` every :class:`~softmaxlab.fast.engine.Engine` made is one
rank of a data-parallel run: each step computes the gradient *sums* of this rank's rows
of the global batch, one ``all_reduce`` adds them over the ranks, and every rank divides
by the global batch size and makes the same update. So the very fits of one process —
``SoftmaxClassifier.fit``, ``SoftmaxRegression.fit`` with every option — run unchanged on
every rank (:mod:`softmaxlab.distributed` starts the ranks). Checkpoints are written by
rank 0 only and read by rank 0 for everyone (:func:`agree`); only rank 0 prints.

This module depends on nothing but the standard library, so that any module may ask
:func:`current` without import cycles.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Comm",
    "agree",
    "batch_shards",
    "current",
    "data_parallel",
    "is_main",
    "owned_ranges",
    "shard_bounds",
]


@dataclass(frozen=True)
class Comm:
    """One rank's view of a data-parallel run.

    ``all_reduce(t)`` sums a tensor over the ranks in place; ``broadcast(obj)`` returns
    rank 0's ``obj`` on every rank. ``shards``, when given, lists for each global batch
    this rank's rows as ``(position, count, m)`` — position in the engine's own rows, and
    m the global batch size — for a rank that holds only its own rows (sharded files);
    without it every rank holds every row and takes its contiguous part of each batch.
    ``n_rows`` is the global number of training rows when ``shards`` is given."""

    rank: int
    world: int
    all_reduce: Callable[[Any], None]
    broadcast: Callable[[Any], Any]
    shards: tuple[tuple[int, int, int], ...] | None = None
    n_rows: int | None = None


_CURRENT: contextvars.ContextVar[Comm | None] = contextvars.ContextVar(
    "softmaxlab_comm", default=None
)


def current() -> Comm | None:
    """The data-parallel context of this process, or ``None`` outside one."""
    return _CURRENT.get()


def is_main() -> bool:
    """Whether this process prints and writes: rank 0, or not data-parallel at all."""
    comm = _CURRENT.get()
    return comm is None or comm.rank == 0


@contextlib.contextmanager
def data_parallel(comm: Comm) -> Iterator[Comm]:
    """Make every engine created in the block one rank of ``comm``'s run."""
    token = _CURRENT.set(comm)
    try:
        yield comm
    finally:
        _CURRENT.reset(token)


def agree(make: Callable[[], Any]) -> Any:
    """``make()`` computed by rank 0 and received by every rank (just ``make()`` outside a
    data-parallel run). An exception on rank 0 is raised on every rank, so that no rank
    waits in a collective for one that gave up."""
    comm = _CURRENT.get()
    if comm is None:
        return make()
    box: tuple[str, Any] | None = None
    if comm.rank == 0:
        try:
            box = ("ok", make())
        except Exception as exc:  # re-raised on every rank below
            box = ("error", exc)
    status, value = comm.broadcast(box)
    if status == "error":
        raise value
    return value


def shard_bounds(start: int, m: int, rank: int, world: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of the global batch ``[start, start + m)`` that ``rank`` owns:
    contiguous, sizes differing by at most one, possibly empty when ``m < world``."""
    return start + rank * m // world, start + (rank + 1) * m // world


def batch_shards(n: int, batch_size: int, rank: int, world: int) -> list[tuple[int, int, int]]:
    """``(lo, hi, m)`` for every in-order global batch of ``n`` rows: this rank's rows
    ``[lo, hi)`` (indices into all ``n`` rows) and the global batch size ``m``."""
    out = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        lo, hi = shard_bounds(start, m, rank, world)
        out.append((lo, hi, m))
    return out


def owned_ranges(n: int, batch_size: int, rank: int, world: int) -> list[tuple[int, int]]:
    """The row ranges of ``n`` training rows that ``rank`` of ``world`` needs, in order,
    adjacent ranges merged (one range in all for ``world == 1``)."""
    ranges: list[tuple[int, int]] = []
    for lo, hi, _ in batch_shards(n, batch_size, rank, world):
        if hi == lo:
            continue
        if ranges and ranges[-1][1] == lo:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))
    return ranges
