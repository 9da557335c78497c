"""Data-parallel fits of data every rank holds: :func:`fit` (the seed's
``SoftmaxClassifier``) and :func:`fit_estimator` (``SoftmaxRegression`` with every
option)."""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .._validation import check_positive_int
from ..errors import DistributedError, InvalidInputError, InvalidTypeError
from ..fast.comm import data_parallel
from ..fitting import check_settings
from ..io.atomic import read_safetensors, write_safetensors_atomic
from ..io.checkpoint import load_checkpoint
from ..training import EpochRecord, check_fit_args
from ._procs import (
    _check_nproc,
    _EpochClock,
    _init,
    _require_torchrun,
    _spawn,
    _worker,
    adopt_fitted,
    group_comm,
    spawn_for_result,
)


def _train_in_memory(rank: int, world: int, payload: dict[str, Any], out: str) -> None:
    """A rank of :func:`fit`: the model's own ``fit`` inside the data-parallel context."""
    from ..model import SoftmaxClassifier

    model = SoftmaxClassifier(
        payload["n_features"],
        payload["n_classes"],
        gradient="fused",
        dtype=payload["dtype"],
        device="cpu",
    )
    model.w.copy_(payload["w"])
    model.b.copy_(payload["b"])
    clock = _EpochClock()
    with data_parallel(group_comm()):
        history = model.fit(
            *payload["args"], verbose=payload["verbose"], callback=clock, **payload["checkpointing"]
        )
    if rank == 0:
        write_safetensors_atomic(
            {"w": model.w, "b": model.b},
            {
                "history": json.dumps([r.as_dict() for r in history]),
                "seconds": json.dumps(clock.seconds),
            },
            out,
        )


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
        Path(out).write_bytes(
            pickle.dumps({"state": state, "seconds": clock.seconds, "warnings": relay})
        )


def fit(
    model: Any,
    x_train: Any,
    y_train: Any,
    epochs: int,
    lr: float,
    batch_size: int,
    x_valid: Any = None,
    y_valid: Any = None,
    *,
    nproc: int | None = None,
    verbose: bool = False,
    timeout: float = 120.0,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    timings: list[float] | None = None,
) -> list[EpochRecord]:
    """Train ``model`` (a :class:`~softmaxlab.SoftmaxClassifier`) data-parallel with the
    seed's in-order batches: every rank runs ``model.fit`` itself (fused gradient) inside
    :func:`softmaxlab.fast.comm.data_parallel`, so the final parameters equal ``model.fit``'s
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
    from ..io.checkpoint import classifier_fingerprint
    from ..model import SoftmaxClassifier

    if not isinstance(model, SoftmaxClassifier):
        raise InvalidTypeError(
            f"model: expected a SoftmaxClassifier, got "
            f"{type(model).__name__} (SoftmaxRegression: use "
            "fit_estimator)"
        )
    data = check_fit_args(
        x_train,
        y_train,
        epochs,
        lr,
        batch_size,
        x_valid,
        y_valid,
        n_features=model.n_features,
        n_classes=model.n_classes,
        dtype=model.dtype,
        device=torch.device("cpu"),
    )
    every = check_positive_int(checkpoint_every, "checkpoint_every")
    if resume and checkpoint is None:
        raise InvalidInputError("resume: needs checkpoint=PATH")
    checkpointing: dict[str, Any] = {
        "checkpoint": checkpoint,
        "checkpoint_every": every,
        "resume": resume,
    }
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
        load_checkpoint(
            checkpoint,
            kind="SoftmaxClassifier",
            fingerprint=classifier_fingerprint(
                data, model.n_features, model.n_classes, "fused", model.dtype
            ),
        )
    payload = {
        "n_features": model.n_features,
        "n_classes": model.n_classes,
        "dtype": model.dtype,
        "w": model.w.detach().cpu(),
        "b": model.b.detach().cpu(),
        "args": args,
        "verbose": verbose,
        "checkpointing": checkpointing,
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "result.safetensors")
        _spawn(_worker, nproc, (_train_in_memory, payload, timeout), out)
        tensors, meta = read_safetensors(Path(out), DistributedError, "nproc: no result")
    model.w.copy_(tensors["w"])
    model.b.copy_(tensors["b"])
    if timings is not None:
        timings.extend(json.loads(meta["seconds"]))
    return [EpochRecord(**r) for r in json.loads(meta["history"])]


def fit_estimator(
    estimator: Any,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    eval_set: Any = None,
    callback: Any = None,
    nproc: int | None = None,
    timeout: float = 120.0,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    timings: list[float] | None = None,
) -> Any:
    """Fit a :class:`~softmaxlab.SoftmaxRegression` data-parallel, with every option it
    has (solver, penalty, class and sample weights, shuffling, momentum, schedules, early
    stopping, checkpoints): every rank runs ``estimator.fit`` itself inside
    :func:`softmaxlab.fast.comm.data_parallel` — the same rows, the same shuffling — and each
    engine step splits the batch between the ranks and all-reduces the gradient sums, so
    the fit equals one process's to rounding. Returns the fitted ``estimator``; a failed
    run leaves it as it was.

    ``nproc``/``timeout``/``timings`` and the torchrun mode as in :func:`fit`;
    ``eval_set``/``checkpoint``/``checkpoint_every``/``resume`` as in
    ``SoftmaxRegression.fit``; ``callback(record)`` is called after each epoch on rank 0
    (in its own process when spawned, so it must be picklable: a module-level function)."""
    from ..estimator import SoftmaxRegression

    if not isinstance(estimator, SoftmaxRegression):
        raise InvalidTypeError(
            f"estimator: expected a SoftmaxRegression, got {type(estimator).__name__}"
        )
    kwargs = {
        "eval_set": eval_set,
        "checkpoint": checkpoint,
        "checkpoint_every": checkpoint_every,
        "resume": resume,
    }
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
    check_settings(estimator)  # refuse bad settings before starting processes
    payload = {
        "estimator": estimator,
        "args": (X, y, sample_weight),
        "kwargs": kwargs,
        "callback": user_callback,
    }
    result = spawn_for_result(_fit_estimator_rank, nproc, payload, timeout)
    adopt_fitted(estimator, result["state"])
    for category, message in result["warnings"]:  # as a one-process fit would warn
        warnings.warn(message, category, stacklevel=2)
    if timings is not None:
        timings.extend(result["seconds"])
    return estimator
