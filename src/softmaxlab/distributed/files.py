"""``SoftmaxClassifier`` on a ``.npy``/``.parquet`` file of which each rank reads only its
own rows (:func:`fit_file`); the estimator's version is
:func:`softmaxlab.distributed.estimator_files.fit_file_estimator`."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from .._validation import check_positive_float, check_positive_int, check_statistics, resolve_dtype
from ..data import n_validation_rows
from ..errors import DistributedError, InvalidInputError
from ..fast.comm import agree, data_parallel
from ..fast.engine import Engine
from ..io.atomic import read_safetensors, write_safetensors_atomic
from ..io.checkpoint import fingerprint, load_checkpoint
from ..io.shards import RowFile, batch_shards, owned_ranges, shard_bounds
from ..training import CheckpointPlan, EpochRecord, fit_engine, resume_params
from ._procs import (
    _EpochClock,
    _init,
    _labels_to_index,
    _spawn,
    _worker,
    group_comm,
    launched_by_torchrun,
    peak_rss_mib,
)


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


def _file_fingerprint(spec: _FileSpec) -> str:
    """The fingerprint of a sharded run: the file's bytes and the settings that shape the
    run (:func:`softmaxlab.io.checkpoint.fingerprint`); computed by one process."""
    settings = {
        k: v
        for k, v in spec.__dict__.items()
        if k
        not in (
            "path",
            "verbose",
            "checkpoint",
            "checkpoint_every",
            "resume",
            "epochs",
            "fingerprint",
        )
    }
    return fingerprint([Path(spec.path)], settings)


def _sharded_rank(rank: int, world: int, spec: _FileSpec) -> dict[str, Any]:
    from ..model import SoftmaxClassifier
    from ..scaling import standardisation

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
        check_statistics(mean.cpu().numpy(), scale.cpu().numpy(), "standardize")
        xt = xt.sub_(mean).div_(scale)
        xv = xv.sub_(mean).div_(scale)
    model = SoftmaxClassifier(
        len(spec.features), c, gradient="fused", seed=spec.seed, dtype=dtype, device="cpu"
    )
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
        start, done = 0, list[Any]()
        if spec.resume and plan is not None:
            start, done = resume_params(plan, w, b, spec.epochs)
        engine = Engine(xt, labels_tr, w, b, batch_size=max(biggest, 1))
        labels_v = torch.as_tensor(idx_v, dtype=torch.int64)
        clock = _EpochClock()
        history = fit_engine(
            engine,
            spec.epochs,
            spec.lr,
            start=start,
            history=done,
            valid=(xv, labels_v) if spec.n_valid else None,
            verbose=spec.verbose,
            callback=clock,
            checkpoint=plan,
        )
        w, b = engine.w.contiguous(), engine.b.clone()
        metrics = {
            "train": {
                "rows": spec.n_train,
                **dict(
                    zip(("cross_entropy", "accuracy"), engine.metrics(xt, labels_tr), strict=True)
                ),
            }
        }
        if spec.n_valid:
            metrics["valid"] = {
                "rows": spec.n_valid,
                **dict(
                    zip(("cross_entropy", "accuracy"), engine.metrics(xv, labels_v), strict=True)
                ),
            }
    seconds = clock.seconds
    rss: list[Any] = [None] * world
    dist.all_gather_object(rss, (start_rss, peak_rss_mib()))
    return {
        "w": w,
        "b": b,
        "history": history,
        "seconds": seconds,
        "classes": classes,
        "mean": mean,
        "scale": scale,
        "metrics": metrics,
        "start_rss": [r[0] for r in rss],
        "peak_rss": [r[1] for r in rss],
    }


def _sharded_result(rank: int, world: int, spec: _FileSpec, out: str) -> None:
    result = _sharded_rank(rank, world, spec)
    if rank == 0:
        tensors = {"w": result["w"], "b": result["b"]}
        if result["mean"] is not None:
            tensors.update(mean=result["mean"], scale=result["scale"])
        write_safetensors_atomic(
            tensors,
            {
                "result": json.dumps(
                    {
                        "history": [r.as_dict() for r in result["history"]],
                        "seconds": result["seconds"],
                        "classes": result["classes"].tolist(),
                        "metrics": result["metrics"],
                        "start_rss": result["start_rss"],
                        "peak_rss": result["peak_rss"],
                    }
                )
            },
            out,
        )


def file_columns(
    path: Any, target: Any, features: Any, valid: Any
) -> tuple[RowFile, int, list[int], int]:
    """The row file, its target and feature columns, and the held-out row count of a
    sharded run (the rules of :func:`softmaxlab.load_dataset`)."""
    rows = RowFile.open(path)
    target_col = rows.column(-1 if target is None else target, "target")
    feature_cols = rows.features(features, target_col)
    return rows, target_col, feature_cols, n_validation_rows(valid, rows.n_rows)


def fit_file(
    path: str | os.PathLike[str],
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    target: Any = None,
    features: Any = None,
    valid: float | int = 0.2,
    standardize: bool = False,
    seed: int = 0,
    dtype: str = "float64",
    nproc: int | None = None,
    verbose: bool = False,
    timeout: float = 120.0,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
) -> ShardedRun:
    """Train a ``SoftmaxClassifier`` data-parallel on a ``.npy`` or ``.parquet`` file of
    which each rank reads only its own rows (:mod:`softmaxlab.io.shards`).

    The run equals, to rounding, ``load_dataset(path, target=, features=, valid=,
    shuffle=False, standardize=, seed=)`` followed by ``SoftmaxClassifier(..., seed=)``
    and ``fit`` with the fused gradient: rows in file order, the last ``valid`` rows for
    validation, classes found over all ranks (all_gather), standardisation statistics of
    the training rows reduced over the ranks. ``nproc``/``timeout`` as in :func:`fit`;
    checkpoints are tied to the file's bytes (SHA-256) and the settings, and resume with
    any number of processes."""
    from ..model import SoftmaxClassifier

    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = check_positive_float(lr, "lr")
    dtype_name = str(resolve_dtype(dtype)).removeprefix("torch.")
    every = check_positive_int(checkpoint_every, "checkpoint_every")
    if resume and checkpoint is None:
        raise InvalidInputError("resume: needs checkpoint=PATH")
    rows, target_col, feature_cols, n_valid = file_columns(path, target, features, valid)
    spec = _FileSpec(
        os.fspath(path),
        target_col,
        feature_cols,
        rows.n_rows - n_valid,
        n_valid,
        bool(standardize),
        int(seed),
        dtype_name,
        epochs,
        lr,
        batch_size,
        bool(verbose),
        None if checkpoint is None else os.fspath(checkpoint),
        every,
        bool(resume),
    )
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
        meta = {
            "seconds": result["seconds"],
            "metrics": result["metrics"],
            "start_rss": result["start_rss"],
            "peak_rss": result["peak_rss"],
        }
        classes, tensors = result["classes"], result
    else:
        nproc = check_positive_int(nproc, "nproc")
        if spec.checkpoint is not None:
            spec = replace(spec, fingerprint=_file_fingerprint(spec))
            if spec.resume:  # refuse a wrong checkpoint before starting processes
                load_checkpoint(
                    str(spec.checkpoint), kind=SHARDED_KIND, fingerprint=spec.fingerprint or ""
                )
        with tempfile.TemporaryDirectory() as tmp:
            out = str(Path(tmp) / "result.safetensors")
            _spawn(_worker, nproc, (_sharded_result, spec, timeout), out)
            tensors, raw = read_safetensors(Path(out), DistributedError, "nproc: no result")
        meta = json.loads(raw["result"])
        history = [EpochRecord(**r) for r in meta["history"]]
        classes = np.asarray(meta["classes"])
    model = SoftmaxClassifier(
        len(feature_cols),
        len(classes),
        gradient="fused",
        seed=spec.seed,
        dtype=spec.dtype,
        device="cpu",
    )
    model.w.copy_(tensors["w"])
    model.b.copy_(tensors["b"])
    mean = tensors.get("mean")
    scale = tensors.get("scale")
    return ShardedRun(
        model,
        history,
        classes,
        names,
        None if mean is None else mean.numpy(),
        None if scale is None else scale.numpy(),
        meta["metrics"],
        meta["seconds"],
        meta["peak_rss"],
        meta["start_rss"],
    )
