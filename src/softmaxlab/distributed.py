"""Data-parallel training on ``torch.distributed``, equal to one process.

Every rank holds the same parameters (broadcast from rank 0 at the start). Each global
mini-batch — the same in-order batches as ``SoftmaxClassifier.fit`` — is split into
contiguous shards, one per rank; each rank computes the *sums*
:math:`X_r^\\top(\\hat Y_r - Y_r)`, :math:`\\mathbf 1^\\top(\\hat Y_r - Y_r)` and its rows' losses
with the fused gradient, one ``all_reduce`` adds them over the ranks, and every rank divides
by the global batch size m. That is exactly the single-process update
:math:`W \\leftarrow W - \\frac{\\eta}{m} X^\\top(\\hat Y - Y)` up to the order of the
floating-point sums. Validation sums are reduced the same way. Only rank 0 prints and
writes.

Backend: gloo on the CPU, nccl when CUDA is available. Started by ``torchrun`` (its
``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT`` environment), or spawned on this
machine by :func:`fit` with ``nproc``. A rank that fails stops the whole job: the other
ranks are ended and the caller gets a :class:`DistributedError`; collectives time out after
``timeout`` seconds instead of hanging.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .errors import SoftmaxlabError
from .training import EpochRecord

__all__ = ["DistributedError", "fit", "launched_by_torchrun", "run_rank"]


class DistributedError(SoftmaxlabError, RuntimeError):
    """A rank of a data-parallel run failed (or could not start); the run was stopped."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shard(start: int, m: int, rank: int, world: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of the global batch ``[start, start + m)`` that ``rank`` owns."""
    return start + rank * m // world, start + (rank + 1) * m // world


def run_rank(rank: int, world: int, x: torch.Tensor, y: torch.Tensor,
             x_valid: torch.Tensor | None, y_valid: torch.Tensor | None, w: torch.Tensor,
             b: torch.Tensor, epochs: int, lr: float, batch_size: int, *,
             verbose: bool = False) -> list[EpochRecord]:
    """The training loop of one rank, inside an initialised process group. ``w`` (N, C)
    and ``b`` (C,) are updated in place and end equal on every rank."""
    n, (n_features, c) = x.shape[0], w.shape
    dist.broadcast(w, src=0)
    dist.broadcast(b, src=0)
    history = []
    for epoch in range(epochs):
        total = torch.zeros((), dtype=w.dtype)
        batches = 0
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            lo, hi = _shard(start, m, rank, world)
            xb, yb = x[lo:hi], y[lo:hi]
            log_p = torch.log_softmax(torch.addmm(b, xb, w), dim=1)
            g = log_p.exp() - yb  # m ∂L/∂Z on this rank's rows
            sums = torch.cat([(xb.T @ g).reshape(-1), g.sum(dim=0),
                              (-(yb * log_p).sum()).reshape(1)])
            dist.all_reduce(sums)  # Σ over ranks = the whole batch's sums
            w.sub_(sums[: n_features * c].view(n_features, c), alpha=lr / m)
            b.sub_(sums[n_features * c : n_features * c + c], alpha=lr / m)
            total += sums[-1] / m
            batches += 1
        ce = float(total) / batches
        ce_v = acc_v = None
        if x_valid is not None and y_valid is not None:
            lo, hi = _shard(0, x_valid.shape[0], rank, world)
            z = torch.addmm(b, x_valid[lo:hi], w)
            yv = y_valid[lo:hi]
            part = torch.stack([-(yv * torch.log_softmax(z, dim=1)).sum(),
                                (z.argmax(1) == yv.argmax(1)).sum().to(w.dtype)])
            dist.all_reduce(part)
            ce_v = float(part[0]) / x_valid.shape[0]
            acc_v = float(part[1]) / x_valid.shape[0]
        record = EpochRecord(epoch, ce, ce_v, acc_v)
        history.append(record)
        if verbose and rank == 0:
            print(record.line(), flush=True)
    return history


def _worker(rank: int, world: int, port: int, payload: dict[str, Any], out: str,
            timeout: float) -> None:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    if os.environ.get("SOFTMAXLAB_FAIL_RANK") == str(rank):  # fault injection for tests
        raise RuntimeError(f"rank {rank} failed on purpose (SOFTMAXLAB_FAIL_RANK)")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=timeout))
    try:
        w, b = payload["w"].clone(), payload["b"].clone()
        history = run_rank(rank, world, payload["x"], payload["y"], payload["x_valid"],
                           payload["y_valid"], w, b, payload["epochs"], payload["lr"],
                           payload["batch_size"], verbose=payload["verbose"])
        if rank == 0:
            from .persistence import write_safetensors_atomic

            write_safetensors_atomic({"w": w, "b": b},
                                     {"history": json.dumps([r.as_dict() for r in history])},
                                     out)
    finally:
        dist.destroy_process_group()


def launched_by_torchrun() -> bool:
    """Whether this process is one rank of a ``torchrun`` job (its environment is set)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def fit(model: Any, x_train: Any, y_train: Any, epochs: int, lr: float, batch_size: int,
        x_valid: Any = None, y_valid: Any = None, *, nproc: int | None = None,
        verbose: bool = False, timeout: float = 120.0) -> list[EpochRecord]:
    """Train ``model`` (a :class:`~softmaxlab.SoftmaxClassifier`) data-parallel with the
    seed's in-order batches; the final parameters equal ``model.fit``'s (fused gradient)
    to rounding. Returns the history; the model's parameters are updated only when every
    rank succeeded.

    ``nproc=N`` spawns N local processes (gloo over loopback). With ``nproc=None`` inside
    a ``torchrun`` job this process is one rank (``env://`` rendezvous) and every rank
    returns the same result."""
    import torch.multiprocessing as mp
    from safetensors import safe_open

    from ._validation import check_positive_int
    from .training import check_fit_args

    data = check_fit_args(x_train, y_train, epochs, lr, batch_size, x_valid, y_valid,
                          n_features=model.n_features, n_classes=model.n_classes,
                          dtype=model.dtype, device=torch.device("cpu"))
    if nproc is None:
        if not launched_by_torchrun():
            raise DistributedError("nproc: give a number of processes, or start with torchrun")
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, init_method="env://",
                                timeout=datetime.timedelta(seconds=timeout))
        try:
            w, b = model.w.detach().cpu().clone(), model.b.detach().cpu().clone()
            history = run_rank(dist.get_rank(), dist.get_world_size(), data.x, data.y,
                               data.x_valid, data.y_valid, w, b, data.epochs, data.lr,
                               data.batch_size, verbose=verbose)
        finally:
            dist.destroy_process_group()
        model.w.copy_(w)
        model.b.copy_(b)
        return history
    nproc = check_positive_int(nproc, "nproc")
    payload = {"x": data.x, "y": data.y, "x_valid": data.x_valid, "y_valid": data.y_valid,
               "w": model.w.detach().cpu(), "b": model.b.detach().cpu(),
               "epochs": data.epochs, "lr": data.lr, "batch_size": data.batch_size,
               "verbose": verbose}
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "result.safetensors")
        try:
            mp.spawn(_worker, args=(nproc, _free_port(), payload, out, timeout),
                     nprocs=nproc, join=True)
        except Exception as exc:
            lines = [line for line in str(exc).splitlines() if line.strip()]
            raise DistributedError(
                f"nproc: the data-parallel run failed and was stopped ({lines[-1] if lines else exc})"
            ) from None
        with safe_open(out, framework="pt") as fh:
            w, b = fh.get_tensor("w"), fh.get_tensor("b")
            history = [EpochRecord(**r) for r in json.loads(fh.metadata()["history"])]
    model.w.copy_(w)
    model.b.copy_(b)
    return history
