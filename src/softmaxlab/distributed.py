r"""Data-parallel training on ``torch.distributed``, equal to one process.

Every rank runs the very fit of one process — ``SoftmaxClassifier.fit`` (:func:`fit`),
``SoftmaxRegression.fit`` with all its options (:func:`fit_estimator`) — inside
:func:`softmaxlab.comm.data_parallel`, where each step of the one engine
(:mod:`softmaxlab.engine`) splits the global mini-batch into contiguous shards, one per
rank: each rank computes the *sums* :math:`\tilde X_r^\top S_r(\hat Y_r - Y_r)`,
:math:`\mathbf 1^\top S_r(\hat Y_r - Y_r)` and its rows' losses, one ``all_reduce`` adds
them, and every rank divides by the global batch size m and makes the same update
(penalty, momentum). That is exactly the single-process step up to the order of the
floating-point sums; every rank shuffles with the same generator, so shuffled runs split
the same batches. L-BFGS's full passes are split and reduced the same way. Only rank 0
prints and writes checkpoints; rank 0 reads them and broadcasts what they hold.

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
import os
import pickle
import socket
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ._validation import check_positive_float, check_positive_int, resolve_dtype
from .atomic import read_safetensors, write_safetensors_atomic
from .checkpoint import fingerprint, load_checkpoint
from .comm import Comm, agree, data_parallel
from .engine import Engine
from .errors import DistributedError, InvalidInputError, InvalidTypeError, SoftmaxlabError
from .shards import batch_shards, shard_bounds
from .training import CheckpointPlan, EpochRecord, check_fit_args, fit_engine, resume_params

__all__ = ["MAX_NPROC", "DistributedError", "ShardedRun", "fit", "fit_estimator", "fit_file",
           "group_comm", "launched_by_torchrun", "peak_rss_mib"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def group_comm(*, shards: list[tuple[int, int, int]] | None = None,
               n_rows: int | None = None) -> Comm:
    """This rank's :class:`~softmaxlab.comm.Comm` in the initialised process group."""

    def broadcast(obj: Any) -> Any:
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    return Comm(dist.get_rank(), dist.get_world_size(), dist.all_reduce, broadcast,
                None if shards is None else tuple(shards), n_rows)


class _EpochClock:
    """Wall time of each epoch of a rank's fit (the collectives synchronise the ranks,
    so rank 0's clock is the job's): the time between successive epoch callbacks."""

    def __init__(self, then: Callable[[Any], None] | None = None) -> None:
        self.seconds: list[float] = []
        self.last = time.perf_counter()
        self.then = then

    def __call__(self, record: Any) -> None:
        now = time.perf_counter()
        self.seconds.append(now - self.last)
        self.last = now
        if self.then is not None:
            self.then(record)


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
    """A rank of :func:`fit`: the model's own ``fit`` inside the data-parallel context."""
    from .model import SoftmaxClassifier

    model = SoftmaxClassifier(payload["n_features"], payload["n_classes"], gradient="fused",
                              dtype=payload["dtype"], device="cpu")
    model.w.copy_(payload["w"])
    model.b.copy_(payload["b"])
    clock = _EpochClock()
    with data_parallel(group_comm()):
        history = model.fit(*payload["args"], verbose=payload["verbose"], callback=clock,
                            **payload["checkpointing"])
    if rank == 0:
        write_safetensors_atomic({"w": model.w, "b": model.b}, {
            "history": json.dumps([r.as_dict() for r in history]),
            "seconds": json.dumps(clock.seconds)}, out)


def _fit_estimator_rank(rank: int, world: int, payload: dict[str, Any], out: str) -> None:
    """A rank of :func:`fit_estimator`: the estimator's own ``fit`` in the context."""
    est = payload["estimator"]
    clock = _EpochClock(payload["callback"])
    with data_parallel(group_comm()), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(*payload["args"], callback=clock, **payload["kwargs"])
    if rank == 0:  # our own private temporary directory: the parent reads it back
        state = {k: v for k, v in est.__dict__.items() if k.endswith("_")}
        relay = [(w.category, str(w.message)) for w in caught]
        Path(out).write_bytes(pickle.dumps({"state": state, "seconds": clock.seconds,
                                            "warnings": relay}))


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
    from . import errors

    for path in sorted(Path(out).parent.glob(Path(out).name + ".error*")):
        record = json.loads(path.read_text())
        kind = getattr(errors, record["type"], None)
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
    seed's in-order batches: every rank runs ``model.fit`` itself (fused gradient) inside
    :func:`softmaxlab.comm.data_parallel`, so the final parameters equal ``model.fit``'s
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
    from .model import SoftmaxClassifier

    if not isinstance(model, SoftmaxClassifier):
        raise InvalidTypeError(f"model: expected a SoftmaxClassifier, got "
                               f"{type(model).__name__} (SoftmaxRegression: use "
                               "fit_estimator)")
    data = check_fit_args(x_train, y_train, epochs, lr, batch_size, x_valid, y_valid,
                          n_features=model.n_features, n_classes=model.n_classes,
                          dtype=model.dtype, device=torch.device("cpu"))
    every = check_positive_int(checkpoint_every, "checkpoint_every")
    if resume and checkpoint is None:
        raise InvalidInputError("resume: needs checkpoint=PATH")
    checkpointing = {"checkpoint": checkpoint, "checkpoint_every": every, "resume": resume}
    args = (data.x, data.y, data.epochs, data.lr, data.batch_size, data.x_valid, data.y_valid)
    if nproc is None:
        _require_torchrun()
        clock = _EpochClock()
        w, b = model.w.detach().clone(), model.b.detach().clone()
        _init(None, None, None, timeout)
        try:
            dist.broadcast(model.w, src=0)  # every rank starts from rank 0's parameters
            dist.broadcast(model.b, src=0)
            with data_parallel(group_comm()):
                history = model.fit(*args, verbose=verbose, callback=clock, **checkpointing)
        except BaseException:
            model.w.copy_(w)  # the model changes only when every rank succeeded
            model.b.copy_(b)
            raise
        finally:
            dist.destroy_process_group()
        if timings is not None:
            timings.extend(clock.seconds)
        return history
    nproc = _check_nproc(nproc)
    if checkpoint is not None and resume:  # refuse a wrong checkpoint before starting
        load_checkpoint(checkpoint, kind="SoftmaxClassifier", fingerprint=classifier_fingerprint(
            data, model.n_features, model.n_classes, "fused", model.dtype))
    payload = {"n_features": model.n_features, "n_classes": model.n_classes,
               "dtype": model.dtype, "w": model.w.detach().cpu(), "b": model.b.detach().cpu(),
               "args": args, "verbose": verbose, "checkpointing": checkpointing}
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "result.safetensors")
        _spawn(_worker, nproc, (_train_in_memory, payload, timeout), out)
        tensors, meta = read_safetensors(Path(out), DistributedError, "nproc: no result")
    model.w.copy_(tensors["w"])
    model.b.copy_(tensors["b"])
    if timings is not None:
        timings.extend(json.loads(meta["seconds"]))
    return [EpochRecord(**r) for r in json.loads(meta["history"])]


def fit_estimator(estimator: Any, X: Any, y: Any, sample_weight: Any = None, *,
                  eval_set: Any = None, callback: Any = None, nproc: int | None = None,
                  timeout: float = 120.0,
                  checkpoint: str | os.PathLike[str] | None = None,
                  checkpoint_every: int = 1, resume: bool = False,
                  timings: list[float] | None = None) -> Any:
    """Fit a :class:`~softmaxlab.SoftmaxRegression` data-parallel, with every option it
    has (solver, penalty, class and sample weights, shuffling, momentum, schedules, early
    stopping, checkpoints): every rank runs ``estimator.fit`` itself inside
    :func:`softmaxlab.comm.data_parallel` — the same rows, the same shuffling — and each
    engine step splits the batch between the ranks and all-reduces the gradient sums, so
    the fit equals one process's to rounding. Returns the fitted ``estimator``; a failed
    run leaves it as it was.

    ``nproc``/``timeout``/``timings`` and the torchrun mode as in :func:`fit`;
    ``eval_set``/``checkpoint``/``checkpoint_every``/``resume`` as in
    ``SoftmaxRegression.fit``; ``callback(record)`` is called after each epoch on rank 0
    (in its own process when spawned, so it must be picklable: a module-level function)."""
    from .estimator import SoftmaxRegression

    if not isinstance(estimator, SoftmaxRegression):
        raise InvalidTypeError(f"estimator: expected a SoftmaxRegression, got "
                               f"{type(estimator).__name__}")
    kwargs = {"eval_set": eval_set, "checkpoint": checkpoint,
              "checkpoint_every": checkpoint_every, "resume": resume}
    user_callback = callback
    if nproc is None:
        _require_torchrun()
        clock = _EpochClock(user_callback)
        _init(None, None, None, timeout)
        try:
            with data_parallel(group_comm()):
                estimator.fit(X, y, sample_weight, callback=clock, **kwargs)
        finally:
            dist.destroy_process_group()
        if timings is not None:
            timings.extend(clock.seconds)
        return estimator
    nproc = _check_nproc(nproc)
    estimator._check_params()  # refuse bad settings before starting processes
    payload = {"estimator": estimator, "args": (X, y, sample_weight), "kwargs": kwargs,
               "callback": user_callback}
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "result.pickle")
        _spawn(_worker, nproc, (_fit_estimator_rank, payload, timeout), out)
        try:
            result = pickle.loads(Path(out).read_bytes())  # written by our own rank 0
        except OSError:
            raise DistributedError("nproc: no result") from None
    for key in [k for k in estimator.__dict__ if k.endswith("_")]:
        del estimator.__dict__[key]
    estimator.__dict__.update(result["state"])
    for category, message in result["warnings"]:  # as a one-process fit would warn
        warnings.warn(message, category, stacklevel=2)
    if timings is not None:
        timings.extend(result["seconds"])
    return estimator


#: The most local processes ``nproc`` may ask for: beyond a few per core, more ranks only
#: add start-up time and memory.
MAX_NPROC = max(8, 4 * (os.cpu_count() or 1))


def _check_nproc(nproc: Any) -> int:
    nproc = check_positive_int(nproc, "nproc")
    if nproc > MAX_NPROC:
        raise InvalidInputError(f"nproc: at most {MAX_NPROC} local processes on this machine "
                                f"({os.cpu_count()} cores), got {nproc}")
    return nproc


def _require_torchrun() -> None:
    if not launched_by_torchrun():
        raise DistributedError("nproc: give a number of processes, or start with torchrun")


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
    """The fingerprint of a sharded run: the file's bytes and the settings that shape the
    run (:func:`softmaxlab.checkpoint.fingerprint`); computed by one process."""
    settings = {k: v for k, v in spec.__dict__.items()
                if k not in ("path", "verbose", "checkpoint", "checkpoint_every", "resume",
                             "epochs", "fingerprint")}
    return fingerprint([Path(spec.path)], settings)


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


def _sharded_rank(rank: int, world: int, spec: _FileSpec) -> dict[str, Any]:
    from .data import standardisation
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
    if spec.standardize:  # the one standardisation, its sums reduced over the ranks
        first = torch.zeros(xt.shape[1], dtype=torch.float64)
        if rank == 0 and xt.shape[0]:
            first.copy_(xt[0])
        dist.broadcast(first, src=0)  # every rank shifts by the first training row
        shift = first.to(dtype)
        mean, scale = standardisation(xt, shift=shift, reduce=dist.all_reduce)
        xt = xt.sub_(mean).div_(scale)
        xv = xv.sub_(mean).div_(scale)
    model = SoftmaxClassifier(len(spec.features), c, gradient="fused", seed=spec.seed,
                              dtype=dtype, device="cpu")
    w, b = model.w.clone(), model.b.clone()
    labels_tr = torch.as_tensor(idx_tr, dtype=torch.int64)
    shards, pos = [], 0
    for lo, hi, m in batch_shards(spec.n_train, spec.batch_size, rank, world):
        shards.append((pos, hi - lo, m))  # positions in this rank's own rows
        pos += hi - lo
    biggest = max((count for _, count, _ in shards), default=1)
    with data_parallel(group_comm(shards=shards, n_rows=spec.n_train)):
        plan = None
        if spec.checkpoint is not None:
            fp = spec.fingerprint or agree(lambda: _file_fingerprint(spec))
            plan = CheckpointPlan(spec.checkpoint, spec.checkpoint_every, SHARDED_KIND, fp)
        start, done = 0, []
        if spec.resume and plan is not None:
            start, done = resume_params(plan, w, b, spec.epochs)
        engine = Engine(xt, labels_tr, w, b, batch_size=max(biggest, 1))
        lab_v = torch.as_tensor(idx_v, dtype=torch.int64)
        clock = _EpochClock()
        history = fit_engine(engine, spec.epochs, spec.lr, start=start, history=done,
                             valid=(xv, lab_v) if spec.n_valid else None,
                             verbose=spec.verbose, callback=clock, checkpoint=plan)
        w, b = engine.w.contiguous(), engine.b.clone()
        metrics = {"train": {"rows": spec.n_train, **dict(zip(
            ("cross_entropy", "accuracy"), engine.metrics(xt, labels_tr), strict=True))}}
        if spec.n_valid:
            metrics["valid"] = {"rows": spec.n_valid, **dict(zip(
                ("cross_entropy", "accuracy"), engine.metrics(xv, lab_v), strict=True))}
    seconds = clock.seconds
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
    from .data import n_validation_rows
    from .model import SoftmaxClassifier
    from .shards import RowFile

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
