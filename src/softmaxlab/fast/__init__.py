"""Speed: the one training engine and what it runs on.

- :mod:`~softmaxlab.fast.base` — ``EngineBase``: the constructor and interface both
  engines share (full passes, the data-parallel epoch, snapshots, held-out scores);
- :mod:`~softmaxlab.fast.engine` — ``Engine`` on dense rows (native kernel or torch);
- :mod:`~softmaxlab.fast.sparse` — ``SparseEngine`` on CSR rows;
- :func:`make_engine` (here) — the factory that picks between them;
- :mod:`~softmaxlab.fast.native` — the C kernels (``_softmax_grad.c``, ``_sparse.c``);
- :mod:`~softmaxlab.fast.comm` — ``Comm``: the reductions that make one engine a rank;
- :mod:`~softmaxlab.fast.threads` — thread budgets for BLAS and torch.

The benchmark harness is :mod:`softmaxlab.bench`.
"""

from __future__ import annotations

from typing import Any

import torch

from ..sparse import SparseRows
from .base import EngineBase
from .engine import Engine
from .sparse import SparseEngine

__all__ = ["Engine", "EngineBase", "SparseEngine", "make_engine"]


def make_engine(
    x: Any, labels: torch.Tensor, w: torch.Tensor, b: torch.Tensor, **kw: Any
) -> EngineBase:
    """An :class:`Engine` for dense rows ``x``, a :class:`SparseEngine` for
    :class:`~softmaxlab.sparse.SparseRows` (the same keyword arguments)."""
    if isinstance(x, SparseRows):
        return SparseEngine(x, labels, w, b, **kw)
    return Engine(x, labels, w, b, **kw)
