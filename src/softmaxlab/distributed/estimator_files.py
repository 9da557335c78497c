"""``SoftmaxRegression`` on a file that no process reads whole (``softmaxlab train
--sharded``): every rank reads only its own rows of a ``.npy``/``.parquet`` file and runs
the estimator's own solvers on them inside :func:`softmaxlab.fast.comm.data_parallel`.

What one process computes over all rows is computed with reductions: the classes (all
ranks' labels, ``all_gather``), the class counts behind ``class_weight="balanced"``, the
weights' mean and ``alpha="auto"`` (Σ s), the standardisation sums (one shifted pass,
``all_reduce``), every SGD step and L-BFGS pass (the engine's data-parallel step), the
held-out rows' metrics and the final ‖∇J‖ pass. Rows are used in file order (the last
``valid`` rows are held out), so ``shuffle=False`` is required; with that, the fit equals
``SoftmaxRegression(...).fit(X_train, y_train, eval_set=(X_valid, y_valid))`` in one
process to rounding (``tests/distributed/test_distributed.py``).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from .._inputs import start_params
from .._validation import check_positive_int, check_statistics
from ..errors import InvalidInputError, InvalidTypeError
from ..fast.comm import agree, data_parallel
from ..fitting import (
    adopt,
    batch_rows,
    check_settings,
    fit_fingerprint,
    history_records,
    plan,
    solve,
)
from ..io.shards import RowFile, batch_shards, owned_ranges, shard_bounds
from ..metrics import ce_and_accuracy
from ..objective import Rows, class_weight_vector
from ..scaling import standardisation
from ..solvers import CheckpointPlan
from ._procs import (
    _check_nproc,
    _EpochClock,
    _init,
    _labels_to_index,
    _require_torchrun,
    adopt_fitted,
    group_comm,
    peak_rss_mib,
    spawn_for_result,
)
from .files import ShardedRun, file_columns

__all__ = ["fit_file_estimator"]


@dataclass(frozen=True)
class _Spec:
    path: str
    target: int
    features: list[int]
    names: tuple[str, ...]
    n_train: int
    n_valid: int
    standardize: bool
    estimator: Any
    checkpoint: str | None
    checkpoint_every: int
    resume: bool
    callback: Any
    fingerprint: str | None = None  # the file's and settings' digest, computed once


def _rank(rank: int, world: int, spec: _Spec) -> dict[str, Any]:
    start_rss = peak_rss_mib()
    est = spec.estimator
    dtype, _ = check_settings(est)
    rows = RowFile.open(spec.path)
    batch = batch_rows(est, spec.n_train)
    x_tr, lab_tr = rows.read(
        owned_ranges(spec.n_train, batch, rank, world), spec.features, spec.target
    )
    vlo, vhi = shard_bounds(spec.n_train, spec.n_valid, rank, world)
    x_v, lab_v = rows.read([(vlo, vhi)] if vhi > vlo else [], spec.features, spec.target)
    classes, (idx_tr, idx_v) = _labels_to_index([lab_tr, lab_v])
    xt, xv = torch.from_numpy(x_tr).to(dtype), torch.from_numpy(x_v).to(dtype)
    del x_tr, x_v
    shards, pos = [], 0
    for lo, hi, m in batch_shards(spec.n_train, batch, rank, world):
        shards.append((pos, hi - lo, m))  # positions in this rank's own rows
        pos += hi - lo
    first = torch.zeros(xt.shape[1], dtype=torch.float64)
    if rank == 0 and xt.shape[0]:
        first.copy_(xt[0])
    dist.broadcast(first, src=0)  # one shift for every rank's sums
    mean = scale = None
    if spec.standardize:  # the file's standardisation, stored in the model file
        mean, scale = standardisation(xt, shift=first.to(dtype), reduce=dist.all_reduce)
        check_statistics(mean.cpu().numpy(), scale.cpu().numpy(), "standardize")
        xt, xv = xt.sub_(mean).div_(scale), xv.sub_(mean).div_(scale)
        first = ((first.to(dtype) - mean) / scale).double()
    labels = torch.as_tensor(idx_tr, dtype=torch.int64)
    lab_v_t = torch.as_tensor(idx_v, dtype=torch.int64)
    counts = torch.bincount(labels, minlength=len(classes)).double()
    dist.all_reduce(counts)  # the global counts behind class_weight="balanced"
    cw = torch.from_numpy(class_weight_vector(est.class_weight, classes, counts.numpy()))
    s = cw[labels].to(dtype)
    total = (s.double().sum()).reshape(1)
    dist.all_reduce(total)
    st = s * (spec.n_train / float(total))  # mean weight 1 over every rank's rows
    clock = _EpochClock(spec.callback)
    with data_parallel(group_comm(shards=shards, n_rows=spec.n_train)):
        mu, d = standardisation(xt, st, shift=first.to(dtype), reduce=dist.all_reduce)
        check_statistics(mu.cpu().numpy(), d.cpu().numpy(), "standardize")
        est.n_features_in_ = xt.shape[1]
        est.feature_names_in_ = np.asarray(spec.names, dtype=object)
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        start_params(est, classes, xt.shape[1], np_dtype)
        ckpt = None
        if spec.checkpoint is not None:
            identity = spec.fingerprint or agree(lambda: _digest(spec))
            ckpt = CheckpointPlan(spec.checkpoint, spec.checkpoint_every, identity, spec.resume)
        setup = plan(
            est,
            Rows(xt, labels, st, None, mu, d),
            total_weight=float(total),
            valid=(xv, lab_v_t) if spec.n_valid else None,
            seed=0,
            callback=clock,
            checkpoint=ckpt,
        )
        adopt(est, setup, solve(setup))
    metrics = {"train": _metrics(est, xt, labels, spec.n_train)}
    if spec.n_valid:
        metrics["valid"] = _metrics(est, xv, lab_v_t, spec.n_valid)
    rss: list[Any] = [None] * world
    dist.all_gather_object(rss, (start_rss, peak_rss_mib()))
    return {
        "state": {k: v for k, v in est.__dict__.items() if k.endswith("_")},
        "metrics": metrics,
        "mean": mean,
        "scale": scale,
        "seconds": clock.seconds,
        "start_rss": [r[0] for r in rss],
        "peak_rss": [r[1] for r in rss],
    }


def _metrics(est: Any, x: torch.Tensor, labels: torch.Tensor, n: int) -> dict[str, float]:
    """Rows, accuracy and mean CE of the fitted estimator over every rank's rows."""
    z = (
        x.double() @ torch.from_numpy(est.coef_.T).double()
        + torch.from_numpy(est.intercept_).double()
    )
    ce, acc = ce_and_accuracy(z, labels, reduce=dist.all_reduce)
    return {"rows": n, "accuracy": acc, "cross_entropy": ce}


def _digest(spec: _Spec) -> str:
    """The checkpoints' identity of this run (:func:`softmaxlab.fitting.fit_fingerprint`):
    the file's bytes, the estimator's settings and the columns and split that shape it."""
    return fit_fingerprint(
        spec.estimator,
        [Path(spec.path)],
        file=[spec.target, spec.features, spec.n_train, spec.n_valid, spec.standardize],
    )


def _result(rank: int, world: int, spec: _Spec, out: str) -> None:
    result = _rank(rank, world, spec)
    if rank == 0:  # our own private temporary directory: the parent reads it back
        Path(out).write_bytes(pickle.dumps(result))


def fit_file_estimator(
    path: str | os.PathLike[str],
    estimator: Any,
    *,
    target: Any = None,
    features: Any = None,
    valid: float | int = 0.2,
    standardize: bool = False,
    nproc: int | None = None,
    callback: Any = None,
    timeout: float = 120.0,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
) -> ShardedRun:
    """Fit ``estimator`` (a :class:`~softmaxlab.SoftmaxRegression` with ``shuffle=False``)
    data-parallel on a ``.npy``/``.parquet`` file, each rank reading only its own rows
    (see the module docstring); every estimator option works but shuffling. The last
    ``valid`` rows are held out (reported each epoch; monitored with
    ``early_stopping``). ``nproc``/``timeout`` as in :func:`softmaxlab.distributed.fit`
    (``None`` inside torchrun); ``callback(record)`` runs on rank 0 after each epoch
    (picklable when spawned); checkpoints are tied to the file's bytes and the settings
    and resume with any number of processes. Returns a
    :class:`~softmaxlab.distributed.ShardedRun` whose ``model`` is the fitted estimator;
    a failed run leaves ``estimator`` as it was."""
    from ..estimator import SoftmaxRegression

    if not isinstance(estimator, SoftmaxRegression):
        raise InvalidTypeError(
            f"estimator: expected a SoftmaxRegression, got {type(estimator).__name__}"
        )
    check_settings(estimator)
    if estimator.shuffle:
        raise InvalidInputError(
            "shuffle: a sharded file is read in file order; set "
            "shuffle=False (shuffle the file beforehand if it is sorted)"
        )
    every = check_positive_int(checkpoint_every, "checkpoint_every")
    if resume and checkpoint is None:
        raise InvalidInputError("resume: needs checkpoint=PATH")
    rows, target_col, feature_cols, n_valid = file_columns(path, target, features, valid)
    if estimator.early_stopping and not n_valid:
        raise InvalidInputError("early_stopping: needs validation rows (valid > 0)")
    spec = _Spec(
        os.fspath(path),
        target_col,
        feature_cols,
        tuple(rows.columns[j] for j in feature_cols),
        rows.n_rows - n_valid,
        n_valid,
        bool(standardize),
        estimator,
        None if checkpoint is None else os.fspath(checkpoint),
        every,
        bool(resume),
        callback,
    )
    if nproc is None:
        _require_torchrun()
        snapshot = dict(estimator.__dict__)
        _init(None, None, None, timeout)
        try:
            result = _rank(dist.get_rank(), dist.get_world_size(), spec)
        except BaseException:
            estimator.__dict__.clear()  # a failed run leaves the estimator as it was
            estimator.__dict__.update(snapshot)
            raise
        finally:
            dist.destroy_process_group()
    else:
        nproc = _check_nproc(nproc)
        spec = replace(spec, fingerprint=_digest(spec) if checkpoint is not None else None)
        result = spawn_for_result(_result, nproc, spec, timeout)
        adopt_fitted(estimator, result["state"])
    mean, scale = result["mean"], result["scale"]
    return ShardedRun(
        estimator,
        history_records(estimator),
        estimator.classes_,
        spec.names,
        None if mean is None else mean.numpy(),
        None if scale is None else scale.numpy(),
        result["metrics"],
        result["seconds"],
        result["peak_rss"],
        result["start_rss"],
    )
