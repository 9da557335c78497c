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
ranks are ended and the caller gets the rank's own softmaxlab error (bad data, divergence,
a refused checkpoint) or else a :class:`DistributedError`; collectives time out after
``timeout`` seconds instead of hanging.

:func:`fit` hands every rank the whole training set; :func:`fit_file` lets each rank read
only its own rows of a ``.npy``/``.parquet`` file (:mod:`softmaxlab.shards`). Both write
and resume checkpoints (rank 0 writes; rank 0 reads and broadcasts).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ._validation import check_positive_float, check_positive_int, resolve_dtype
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .engine import Engine
from .errors import InvalidInputError, SoftmaxlabError, TrainingDiverged
from .persistence import read_safetensors, write_safetensors_atomic
from .shards import batch_shards, shard_bounds
from .training import EpochRecord, check_fit_args

__all__ = ["Checkpointing", "DistributedError", "ShardedRun", "fit", "fit_file",
           "launched_by_torchrun", "peak_rss_mib", "run_rank", "shard_engine", "train_shards"]


class DistributedError(SoftmaxlabError, RuntimeError):
    """A rank of a data-parallel run failed (or could not start); the run was stopped."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Checkpointing:
    """Checkpoints of a data-parallel run: rank 0 writes ``path`` every ``every`` epochs
    and after the last; with ``resume``, rank 0 reads it and broadcasts what it holds."""

    path: str
    every: int
    fingerprint: str
    kind: str
    resume: bool


def _agree(rank: int, make: Callable[[], Any]) -> Any:
    """Rank 0 computes ``make()`` and every rank receives it; an error on rank 0 is raised
    on every rank (so none waits in a collective for a rank that gave up)."""
    box: list[Any] = [None]
    if rank == 0:
        try:
            box[0] = ("ok", make())
        except SoftmaxlabError as exc:
            box[0] = ("error", exc)
    dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        raise value
    return value


def _resume(rank: int, ck: Checkpointing | None, w: torch.Tensor, b: torch.Tensor,
            epochs: int) -> tuple[int, list[EpochRecord]]:
    """(first epoch, history so far); rank 0 loads the checkpoint's W and b into ``w``,
    ``b`` (broadcast to the others by the caller)."""
    if ck is None or not ck.resume:
        return 0, []

    def load() -> tuple[int, list[dict[str, Any]]]:
        tensors, info = load_checkpoint(ck.path, kind=ck.kind, fingerprint=ck.fingerprint)
        w_saved, b_saved = tensors.get("w"), tensors.get("b")
        if w_saved is None or b_saved is None or w_saved.shape != w.shape \
                or b_saved.shape != b.shape:
            raise CheckpointError(f"checkpoint: {ck.path}: parameters of the wrong shape")
        if info["epoch"] > epochs:
            raise InvalidInputError(
                f"epochs: the checkpoint has already completed {info['epoch']} epochs, "
                f"more than the {epochs} asked for")
        w.copy_(w_saved)
        b.copy_(b_saved)
        return info["epoch"], info["history"]

    start, done = _agree(rank, load)
    return start, [EpochRecord(**r) for r in done]


def train_shards(rank: int, world: int, engine: Engine,
                 shards: list[tuple[int, int, int]],
                 valid: tuple[torch.Tensor, torch.Tensor, int] | None,
                 w: torch.Tensor, b: torch.Tensor, epochs: int, lr: float, *,
                 verbose: bool = False, checkpoint: Checkpointing | None = None,
                 ) -> tuple[list[EpochRecord], list[float]]:
    """The training loop of one rank, inside an initialised process group, on the one
    engine (:mod:`softmaxlab.engine`).

    ``engine`` holds this rank's training rows in epoch order; ``shards`` gives, for every
    global in-order batch, this rank's rows in it (position in the engine's rows, count)
    and the global batch size m. Each step is the engine's kernel on this rank's rows (the
    *sums* Σ X_rᵀ(Ŷ_r − Y_r), Σ(Ŷ_r − Y_r) and the loss sum), one ``all_reduce`` of them,
    division by m and the engine's update — the single-process step. ``valid`` holds
    this rank's validation rows (features, one-hot) and the global count. ``w`` (N, C) and
    ``b`` (C,) start the run and receive the result, equal on every rank. Returns the
    history (with the epochs of a resumed checkpoint) and the wall time of each epoch
    trained here (training and validation; the collectives synchronise the ranks, so rank
    0's clock is the job's)."""
    start, history = _resume(rank, checkpoint, w, b, epochs)
    dist.broadcast(w, src=0)
    dist.broadcast(b, src=0)
    engine.set_params(w, b)
    flat = engine.flat
    seconds = []
    with torch.no_grad():
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            total = 0.0
            for pos, rows, m in shards:
                if rows:
                    flat[-1] = engine.gradient(pos, rows, 1.0)
                else:  # this rank owns no row of the batch
                    flat.zero_()
                dist.all_reduce(flat)  # Σ over ranks = the whole batch's sums
                flat.div_(m)
                total += float(flat[-1])
                engine.update(lr)
            ce = total / len(shards)
            if not math.isfinite(ce) or not bool(torch.isfinite(engine.wt).all()):
                raise TrainingDiverged(f"training diverged at epoch {epoch}: the loss or the "
                                       f"parameters became non-finite (lr={lr})", epoch=epoch)
            w.copy_(engine.w)
            b.copy_(engine.b)
            ce_v = acc_v = None
            if valid is not None:
                ce_v, acc_v = _reduced_metrics(valid, w, b)
            seconds.append(time.perf_counter() - t0)
            record = EpochRecord(epoch, ce, ce_v, acc_v)
            history.append(record)
            if verbose and rank == 0:
                print(record.line(), flush=True)
            if checkpoint is not None and rank == 0 and (
                    (epoch + 1) % checkpoint.every == 0 or epoch + 1 == epochs):
                save_checkpoint(checkpoint.path, {"w": w, "b": b}, kind=checkpoint.kind,
                                fingerprint=checkpoint.fingerprint, epoch=epoch + 1,
                                history=[r.as_dict() for r in history])
    return history, seconds


def shard_engine(x: torch.Tensor, labels: torch.Tensor, w: torch.Tensor, b: torch.Tensor,
                 owned: list[tuple[int, int, int]], *, local: bool
                 ) -> tuple[Engine, list[tuple[int, int, int]]]:
    """The engine of one rank and its ``shards`` for :func:`train_shards`, from
    :func:`~softmaxlab.shards.batch_shards`'s ``(lo, hi, m)``: with ``local`` the rank's
    rows are ``x`` itself, in order; otherwise ``x`` holds every row and the engine reads
    the rank's own ones in place (no copy)."""
    shards, pos = [], 0
    for lo, hi, m in owned:
        shards.append((pos, hi - lo, m))
        pos += hi - lo
    rows = None if local else torch.cat(
        [torch.arange(lo, hi) for lo, hi, _ in owned] or [torch.zeros(0, dtype=torch.int64)])
    biggest = max((hi - lo for lo, hi, _ in owned), default=1)
    engine = Engine(x, labels, w, b, batch_size=max(biggest, 1), rows=rows)
    return engine, shards


def _reduced_metrics(part: tuple[torch.Tensor, torch.Tensor, int], w: torch.Tensor,
                     b: torch.Tensor) -> tuple[float, float]:
    """Mean CE and accuracy over every rank's rows: local sums, one ``all_reduce``."""
    x, y, n = part
    z = torch.addmm(b, x, w)
    sums = torch.stack([-(y * torch.log_softmax(z, dim=1)).sum(),
                        (z.argmax(1) == y.argmax(1)).sum().to(w.dtype)])
    dist.all_reduce(sums)
    return float(sums[0]) / n, float(sums[1]) / n


def run_rank(rank: int, world: int, x: torch.Tensor, y: torch.Tensor,
             x_valid: torch.Tensor | None, y_valid: torch.Tensor | None, w: torch.Tensor,
             b: torch.Tensor, epochs: int, lr: float, batch_size: int, *,
             verbose: bool = False, checkpoint: Checkpointing | None = None,
             ) -> tuple[list[EpochRecord], list[float]]:
    """:func:`train_shards` for a rank that holds all the rows (``x`` (n, N), one-hot
    ``y`` (n, C)) and trains on its shard of each batch."""
    engine, shards = shard_engine(x, y.argmax(dim=1), w, b,
                                  batch_shards(x.shape[0], batch_size, rank, world),
                                  local=False)
    valid = None
    if x_valid is not None and y_valid is not None:
        lo, hi = shard_bounds(0, x_valid.shape[0], rank, world)
        valid = (x_valid[lo:hi], y_valid[lo:hi], x_valid.shape[0])
    return train_shards(rank, world, engine, shards, valid, w, b, epochs, lr,
                        verbose=verbose, checkpoint=checkpoint)


def _init(rank: int | None, world: int | None, port: int | None, timeout: float) -> None:
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    kwargs: dict[str, Any] = {"timeout": datetime.timedelta(seconds=timeout)}
    if port is None:
        dist.init_process_group(backend, init_method="env://", **kwargs)
    else:
        dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world, **kwargs)


def _enter_worker(rank: int, world: int) -> None:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    if os.environ.get("SOFTMAXLAB_FAIL_RANK") == str(rank):  # fault injection for tests
        raise RuntimeError(f"rank {rank} failed on purpose (SOFTMAXLAB_FAIL_RANK)")


def _worker(rank: int, world: int, port: int, body: Callable[[int, int, Any, str], None],
            payload: Any, timeout: float, out: str) -> None:
    """A spawned rank: join the group, run ``body(rank, world, payload, out)``, leave."""
    _enter_worker(rank, world)
    _init(rank, world, port, timeout)
    try:
        _report_errors(rank, out, lambda: body(rank, world, payload, out))
    finally:
        dist.destroy_process_group()


def _train_in_memory(rank: int, world: int, payload: dict[str, Any], out: str) -> None:
    w, b = payload["w"].clone(), payload["b"].clone()
    history, seconds = run_rank(rank, world, payload["x"], payload["y"],
                                payload["x_valid"], payload["y_valid"], w, b,
                                payload["epochs"], payload["lr"], payload["batch_size"],
                                verbose=payload["verbose"],
                                checkpoint=payload["checkpoint"])
    if rank == 0:
        write_safetensors_atomic({"w": w, "b": b}, {
            "history": json.dumps([r.as_dict() for r in history]),
            "seconds": json.dumps(seconds)}, out)


def _report_errors(rank: int, out: str, body: Callable[[], None]) -> None:
    """Run a rank's ``body``; a softmaxlab error (bad data, divergence, a refused
    checkpoint) is written next to ``out`` so that the caller can raise it as it is."""
    try:
        body()
    except SoftmaxlabError as exc:
        record = {"type": type(exc).__name__, "message": str(exc),
                  "epoch": getattr(exc, "epoch", None), "batch": getattr(exc, "batch", None)}
        Path(f"{out}.error{rank}").write_text(json.dumps(record))
        raise


def _raise_rank_error(out: str) -> None:
    """Re-raise the first softmaxlab error a rank reported, with its own type."""
    from . import checkpoint, errors

    for path in sorted(Path(out).parent.glob(Path(out).name + ".error*")):
        record = json.loads(path.read_text())
        kind = getattr(errors, record["type"], None) or getattr(checkpoint, record["type"],
                                                                None)
        if kind is errors.TrainingDiverged:
            raise errors.TrainingDiverged(record["message"], epoch=record["epoch"],
                                          batch=record["batch"])
        if isinstance(kind, type) and issubclass(kind, SoftmaxlabError):
            raise kind(record["message"])


def _spawn(worker: Callable[..., None], nproc: int, args: tuple[Any, ...], out: str) -> None:
    import logging

    import torch.multiprocessing as mp

    spawn_log = logging.getLogger("torch.multiprocessing.spawn")
    level = spawn_log.level
    spawn_log.setLevel(logging.ERROR)  # not "Terminating process ..." on the console
    try:
        mp.spawn(worker, args=(nproc, _free_port(), *args, out), nprocs=nproc, join=True)
    except Exception as exc:
        _raise_rank_error(out)
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise DistributedError(
            f"nproc: the data-parallel run failed and was stopped ({lines[-1] if lines else exc})"
        ) from None
    finally:
        spawn_log.setLevel(level)


def launched_by_torchrun() -> bool:
    """Whether this process is one rank of a ``torchrun`` job (its environment is set)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def fit(model: Any, x_train: Any, y_train: Any, epochs: int, lr: float, batch_size: int,
        x_valid: Any = None, y_valid: Any = None, *, nproc: int | None = None,
        verbose: bool = False, timeout: float = 120.0,
        checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int = 1,
        resume: bool = False, timings: list[float] | None = None) -> list[EpochRecord]:
    """Train ``model`` (a :class:`~softmaxlab.SoftmaxClassifier`) data-parallel with the
    seed's in-order batches; the final parameters equal ``model.fit``'s (fused gradient)
    to rounding. Returns the history; the model's parameters are updated only when every
    rank succeeded.

    ``nproc=N`` spawns N local processes (gloo over loopback). With ``nproc=None`` inside
    a ``torchrun`` job this process is one rank (``env://`` rendezvous) and every rank
    returns the same result.

    ``checkpoint``/``checkpoint_every``/``resume`` work as in ``model.fit``, and the files
    are the same: rank 0 writes them, and a checkpoint of a run with any number of
    processes (or of a single-process fused run) resumes with any other.

    ``timings``, if a list, receives the wall time of each epoch trained (rank 0's clock;
    process start-up excluded)."""
    from .checkpoint import classifier_fingerprint

    data = check_fit_args(x_train, y_train, epochs, lr, batch_size, x_valid, y_valid,
                          n_features=model.n_features, n_classes=model.n_classes,
                          dtype=model.dtype, device=torch.device("cpu"))
    every = check_positive_int(checkpoint_every, "checkpoint_every")
    if resume and checkpoint is None:
        raise InvalidInputError("resume: needs checkpoint=PATH")
    ck = None
    if checkpoint is not None:
        ck = Checkpointing(os.fspath(checkpoint), every,
                           classifier_fingerprint(data, model.n_features, model.n_classes,
                                                  "fused", model.dtype),
                           "SoftmaxClassifier", resume)
    if nproc is None:
        if not launched_by_torchrun():
            raise DistributedError("nproc: give a number of processes, or start with torchrun")
        _init(None, None, None, timeout)
        try:
            w, b = model.w.detach().cpu().clone(), model.b.detach().cpu().clone()
            history, seconds = run_rank(dist.get_rank(), dist.get_world_size(), data.x, data.y,
                                  data.x_valid, data.y_valid, w, b, data.epochs, data.lr,
                                  data.batch_size, verbose=verbose, checkpoint=ck)
        finally:
            dist.destroy_process_group()
        model.w.copy_(w)
        model.b.copy_(b)
        if timings is not None:
            timings.extend(seconds)
        return history
    nproc = check_positive_int(nproc, "nproc")
    if ck is not None and resume:  # refuse a wrong checkpoint before starting processes
        load_checkpoint(ck.path, kind=ck.kind, fingerprint=ck.fingerprint)
    payload = {"x": data.x, "y": data.y, "x_valid": data.x_valid, "y_valid": data.y_valid,
               "w": model.w.detach().cpu(), "b": model.b.detach().cpu(),
               "epochs": data.epochs, "lr": data.lr, "batch_size": data.batch_size,
               "verbose": verbose, "checkpoint": ck}
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "result.safetensors")
        _spawn(_worker, nproc, (_train_in_memory, payload, timeout), out)
        tensors, meta = read_safetensors(Path(out), DistributedError, "nproc: no result")
    model.w.copy_(tensors["w"])
    model.b.copy_(tensors["b"])
    if timings is not None:
        timings.extend(json.loads(meta["seconds"]))
    return [EpochRecord(**r) for r in json.loads(meta["history"])]


# ----------------------------------------------------------------------------- sharded files


@dataclass
class ShardedRun:
    """The result of :func:`fit_file`: the trained model and what is needed to save it.

    ``metrics`` has ``train``/``valid`` entries (rows, accuracy, cross_entropy), reduced
    over the ranks; ``epoch_seconds`` the wall time of each epoch trained (rank 0's clock,
    start-up excluded); ``peak_rss_mib`` each rank's peak resident memory and
    ``start_rss_mib`` each rank's before it read any row."""

    model: Any
    history: list[EpochRecord]
    classes: np.ndarray
    feature_names: tuple[str, ...]
    mean: np.ndarray | None
    scale: np.ndarray | None
    metrics: dict[str, dict[str, float]]
    epoch_seconds: list[float]
    peak_rss_mib: list[float]
    start_rss_mib: list[float]


SHARDED_KIND = "SoftmaxClassifier (sharded file)"


@dataclass(frozen=True)
class _FileSpec:
    path: str
    target: int
    features: list[int]
    n_train: int
    n_valid: int
    standardize: bool
    seed: int
    dtype: str
    epochs: int
    lr: float
    batch_size: int
    verbose: bool
    checkpoint: str | None
    checkpoint_every: int
    resume: bool
    fingerprint: str | None = None  # computed once by whoever starts the ranks


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: ``VmHWM`` of ``/proc/self/status``
    where there is one (``ru_maxrss`` would include the parent's peak, which a spawned
    process inherits across ``exec`` on Linux), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _file_fingerprint(spec: _FileSpec) -> str:
    """SHA-256 of the file's bytes (streamed in 1 MiB blocks: constant memory) and of the
    settings that shape the run; computed by rank 0 only."""
    import hashlib

    h = hashlib.sha256()
    with open(spec.path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    settings = {k: v for k, v in spec.__dict__.items()
                if k not in ("path", "verbose", "checkpoint", "checkpoint_every", "resume",
                             "epochs", "fingerprint")}
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()


def _labels_to_index(local: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Classes over every rank's labels (all-gathered unique values, ordered and typed as
    :func:`softmaxlab.load_dataset` does) and the class index of each local label."""
    import pandas as pd

    from .data import _labels

    parts = []
    for values in local:
        series = pd.Series(values)
        if series.isna().any():
            raise InvalidInputError("data: missing label in the target column")
        parts.append(series.unique())
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, np.concatenate(parts))
    classes, _ = _labels(np.concatenate([g for g in gathered if len(g)]), "target column")
    index = pd.Index(classes)
    out = []
    for values in local:
        idx = index.get_indexer(values.astype(classes.dtype) if classes.dtype.kind in "iuf"
                                else values)
        out.append(idx)
    return classes, out


def _standardisation(x_train: torch.Tensor, n_train: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (population) standard deviation over every rank's training rows, in two
    reduced passes (float64 sums); constant columns get scale 1, as in load_dataset."""
    blocks = x_train.split(1 << 16)  # bounded temporaries: no second copy of the rows
    total = torch.zeros(x_train.shape[1], dtype=torch.float64)
    for block in blocks:
        total += block.to(torch.float64).sum(dim=0)
    dist.all_reduce(total)
    mean = total / n_train
    sq = torch.zeros_like(total)
    for block in blocks:
        sq += (block.to(torch.float64) - mean).square_().sum(dim=0)
    dist.all_reduce(sq)
    scale = (sq / n_train).sqrt()
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return mean.to(x_train.dtype), scale.to(x_train.dtype)


def _sharded_rank(rank: int, world: int, spec: _FileSpec) -> dict[str, Any]:
    from .data import one_hot
    from .model import SoftmaxClassifier
    from .shards import RowFile, owned_ranges

    start_rss = peak_rss_mib()
    dtype = getattr(torch, spec.dtype)
    rows = RowFile.open(spec.path)
    train_ranges = owned_ranges(spec.n_train, spec.batch_size, rank, world)
    x_tr, lab_tr = rows.read(train_ranges, spec.features, spec.target)
    vlo, vhi = shard_bounds(spec.n_train, spec.n_valid, rank, world)
    x_v, lab_v = rows.read([(vlo, vhi)] if vhi > vlo else [], spec.features, spec.target)
    classes, (idx_tr, idx_v) = _labels_to_index([lab_tr, lab_v])
    c = len(classes)
    xt = torch.from_numpy(x_tr).to(dtype)
    xv = torch.from_numpy(x_v).to(dtype)
    del x_tr, x_v
    mean = scale = None
    if spec.standardize:
        mean, scale = _standardisation(xt, spec.n_train)
        xt = xt.sub_(mean).div_(scale)
        xv = xv.sub_(mean).div_(scale)
    def targets(idx: np.ndarray) -> torch.Tensor:  # a rank may own no row of a split
        return one_hot(idx, c, dtype=dtype, device="cpu") if len(idx) \
            else torch.zeros(0, c, dtype=dtype)

    yt, yv = targets(idx_tr), targets(idx_v)
    model = SoftmaxClassifier(len(spec.features), c, gradient="fused", seed=spec.seed,
                              dtype=dtype, device="cpu")
    w, b = model.w.clone(), model.b.clone()
    labels_tr = torch.as_tensor(idx_tr, dtype=torch.int64)
    engine, shards = shard_engine(xt, labels_tr, w, b,
                                  batch_shards(spec.n_train, spec.batch_size, rank, world),
                                  local=True)
    valid = (xv, yv, spec.n_valid) if spec.n_valid else None
    ck = None
    if spec.checkpoint is not None:
        fp = spec.fingerprint or _agree(rank, lambda: _file_fingerprint(spec))
        ck = Checkpointing(spec.checkpoint, spec.checkpoint_every, fp,
                           SHARDED_KIND, spec.resume)
    history, seconds = train_shards(rank, world, engine, shards, valid, w, b, spec.epochs,
                                    spec.lr, verbose=spec.verbose, checkpoint=ck)
    metrics = {"train": dict(zip(("cross_entropy", "accuracy"),
                                 _reduced_metrics((xt, yt, spec.n_train), w, b), strict=True))}
    metrics["train"]["rows"] = spec.n_train
    if valid is not None:
        metrics["valid"] = dict(zip(("cross_entropy", "accuracy"),
                                    _reduced_metrics(valid, w, b), strict=True))
        metrics["valid"]["rows"] = spec.n_valid
    rss: list[Any] = [None] * world
    dist.all_gather_object(rss, (start_rss, peak_rss_mib()))
    return {"w": w, "b": b, "history": history, "seconds": seconds, "classes": classes,
            "mean": mean, "scale": scale, "metrics": metrics,
            "start_rss": [r[0] for r in rss], "peak_rss": [r[1] for r in rss]}


def _sharded_result(rank: int, world: int, spec: _FileSpec, out: str) -> None:
    result = _sharded_rank(rank, world, spec)
    if rank == 0:
        tensors = {"w": result["w"], "b": result["b"]}
        if result["mean"] is not None:
            tensors.update(mean=result["mean"], scale=result["scale"])
        write_safetensors_atomic(tensors, {"result": json.dumps({
            "history": [r.as_dict() for r in result["history"]],
            "seconds": result["seconds"], "classes": result["classes"].tolist(),
            "metrics": result["metrics"], "start_rss": result["start_rss"],
            "peak_rss": result["peak_rss"]})}, out)


def fit_file(path: str | os.PathLike[str], *, epochs: int, lr: float, batch_size: int,
             target: Any = None, features: Any = None, valid: float | int = 0.2,
             standardize: bool = False, seed: int = 0, dtype: str = "float64",
             nproc: int | None = None, verbose: bool = False, timeout: float = 120.0,
             checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int = 1,
             resume: bool = False) -> ShardedRun:
    """Train a ``SoftmaxClassifier`` data-parallel on a ``.npy`` or ``.parquet`` file of
    which each rank reads only its own rows (:mod:`softmaxlab.shards`).

    The run equals, to rounding, ``load_dataset(path, target=, features=, valid=,
    shuffle=False, standardize=, seed=)`` followed by ``SoftmaxClassifier(..., seed=)``
    and ``fit`` with the fused gradient: rows in file order, the last ``valid`` rows for
    validation, classes found over all ranks (all_gather), standardisation statistics of
    the training rows reduced over the ranks. ``nproc``/``timeout`` as in :func:`fit`;
    checkpoints are tied to the file's bytes (SHA-256) and the settings, and resume with
    any number of processes."""
    from .model import SoftmaxClassifier
    from .shards import RowFile, n_validation_rows

    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = check_positive_float(lr, "lr")
    dtype_name = str(resolve_dtype(dtype)).removeprefix("torch.")
    every = check_positive_int(checkpoint_every, "checkpoint_every")
    if resume and checkpoint is None:
        raise InvalidInputError("resume: needs checkpoint=PATH")
    rows = RowFile.open(path)
    target_col = rows.column(-1 if target is None else target, "target")
    feature_cols = rows.features(features, target_col)
    n_valid = n_validation_rows(valid, rows.n_rows)
    spec = _FileSpec(os.fspath(path), target_col, feature_cols, rows.n_rows - n_valid,
                     n_valid, bool(standardize), int(seed), dtype_name, epochs, lr,
                     batch_size, bool(verbose),
                     None if checkpoint is None else os.fspath(checkpoint), every,
                     bool(resume))
    names = tuple(rows.columns[j] for j in feature_cols)
    if nproc is None:
        if not launched_by_torchrun():
            raise DistributedError("nproc: give a number of processes, or start with torchrun")
        _init(None, None, None, timeout)
        try:
            result = _sharded_rank(dist.get_rank(), dist.get_world_size(), spec)
        finally:
            dist.destroy_process_group()
        history = result["history"]
        meta = {"seconds": result["seconds"], "metrics": result["metrics"],
                "start_rss": result["start_rss"], "peak_rss": result["peak_rss"]}
        classes, tensors = result["classes"], result
    else:
        nproc = check_positive_int(nproc, "nproc")
        if spec.checkpoint is not None:
            spec = replace(spec, fingerprint=_file_fingerprint(spec))
            if spec.resume:  # refuse a wrong checkpoint before starting processes
                load_checkpoint(spec.checkpoint, kind=SHARDED_KIND,
                                fingerprint=spec.fingerprint)
        with tempfile.TemporaryDirectory() as tmp:
            out = str(Path(tmp) / "result.safetensors")
            _spawn(_worker, nproc, (_sharded_result, spec, timeout), out)
            tensors, raw = read_safetensors(Path(out), DistributedError, "nproc: no result")
        meta = json.loads(raw["result"])
        history = [EpochRecord(**r) for r in meta["history"]]
        classes = np.asarray(meta["classes"])
    model = SoftmaxClassifier(len(feature_cols), len(classes), gradient="fused",
                              seed=spec.seed, dtype=spec.dtype, device="cpu")
    model.w.copy_(tensors["w"])
    model.b.copy_(tensors["b"])
    mean = tensors.get("mean")
    scale = tensors.get("scale")
    return ShardedRun(model, history, classes, names,
                      None if mean is None else mean.numpy(),
                      None if scale is None else scale.numpy(), meta["metrics"],
                      meta["seconds"], meta["peak_rss"], meta["start_rss"])
