"""``train(sharded=True)``: each rank of a data-parallel run reads only its own rows of a
``.npy`` or ``.parquet`` file (:func:`softmaxlab.distributed.fit_file_estimator`)."""

from __future__ import annotations

import os
from typing import Any

from ..errors import InvalidInputError
from ..estimator import SoftmaxRegression
from .results import TrainResult, run_config

__all__ = ["check_sharded", "train_sharded"]


def check_sharded(
    *, nproc: int | None, shuffle: bool, stratify: bool, C: Any, text: Any, n_features: Any
) -> None:
    """The rules of a sharded run (each rank reads only its own rows of a file), for
    ``train(sharded=True)`` and ``softmaxlab train --sharded`` alike."""
    from .. import distributed

    if nproc is None and not distributed.launched_by_torchrun():
        raise InvalidInputError("sharded: needs nproc=N (--nproc N) or a torchrun launch")
    if shuffle or stratify:
        raise InvalidInputError(
            "sharded: rows are used in file order; pass shuffle=False and no stratify "
            "(--no-shuffle, no --stratify), shuffling the file beforehand if it is sorted"
        )
    if C is not None:
        raise InvalidInputError(
            "C: give alpha (--alpha) when sharded: C needs the training rows' count "
            "before the file is read"
        )
    if text is not None or n_features is not None:
        raise InvalidInputError(
            "sharded: reads dense .npy/.parquet rows; give no text or n_features"
        )


def train_sharded(
    data: Any,
    *,
    target: Any,
    columns: Any,
    valid: Any,
    standardize: bool,
    seed: int,
    nproc: int | None,
    callback: Any,
    out: Any,
    checkpoint: Any,
    checkpoint_every: int,
    resume: bool,
    options: dict[str, Any],
) -> TrainResult:
    """``train(sharded=True)``: every rank reads only its rows of the file."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from .. import distributed

    model = SoftmaxRegression(shuffle=False, random_state=seed, **options)
    with warnings.catch_warnings():  # stop_reason_ says it; the command prints it
        warnings.simplefilter("ignore", ConvergenceWarning)
        run = distributed.fit_file_estimator(
            data,
            model,
            target=target,
            features=columns,
            valid=0.2 if valid is None else valid,
            standardize=standardize,
            nproc=nproc,
            callback=callback,
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every,
            resume=resume,
        )
    model = run.model
    config = run_config(
        data,
        model,
        target=target,
        valid=valid,
        shuffle=False,
        standardize=standardize,
        seed=seed,
        nproc=nproc,
        sharded=True,
        metrics=run.metrics,
        history=[r.as_dict() for r in run.history],
    )
    result = TrainResult(
        model,
        list(run.history),
        run.metrics,
        config,
        model.classes_,
        run.feature_names,
        run.mean,
        run.scale,
        list(run.epoch_seconds),
        list(run.peak_rss_mib),
    )
    if out is not None and (
        not distributed.launched_by_torchrun() or os.environ.get("RANK") == "0"
    ):
        result.save(out)
    return result
