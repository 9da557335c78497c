"""``softmaxlab train`` as a Python function: :func:`train` loads and splits the rows,
fits :class:`~softmaxlab.SoftmaxRegression` (in one process, data-parallel, or with every
rank reading its own rows of a file) and returns what the command prints and saves."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..data import load_dataset
from ..errors import InvalidInputError
from ..estimator import SoftmaxRegression
from ..fitting import history_records
from ..selection import choose_c, dataset_rows
from .results import ESTIMATOR_OPTIONS, TrainResult, final_metrics, run_config
from .sharded import check_sharded, train_sharded

__all__ = ["train"]


def _check_options(
    options: dict[str, Any], *, C: Any, cv: Any, sharded: bool, out: Any, checkpoint: Any
) -> None:
    if (
        out is not None
        and checkpoint is not None
        and os.path.realpath(out) == os.path.realpath(checkpoint)
    ):
        raise InvalidInputError(
            f"checkpoint: {checkpoint} is also the out file; give each output its own file"
        )
    if C is not None and "alpha" in options:
        raise InvalidInputError("C: give alpha or C, not both")
    if cv is not None and (C is not None or "alpha" in options):
        raise InvalidInputError("cv: chooses C itself; give no alpha or C")
    if cv is not None and (sharded or options.get("penalty", "l2") is None):
        raise InvalidInputError(
            "cv: needs a penalty to choose, and the rows in memory (not sharded, not penalty=None)"
        )
    unknown = sorted(set(options) - set(ESTIMATOR_OPTIONS))
    if unknown:
        raise InvalidInputError(
            f"options: unknown {unknown}; expected some of {', '.join(ESTIMATOR_OPTIONS)}"
        )


def _labelled_parts(dataset: Any, classes: np.ndarray) -> dict[str, tuple[Any, Any]]:
    """The training rows, and the held-out rows when there are any, as ``(X, labels)``."""
    parts = {
        "train": (dataset_rows(dataset.x_train), classes[dataset.y_train.argmax(dim=1).numpy()])
    }
    if dataset.x_valid is not None and dataset.y_valid is not None:
        parts["valid"] = (
            dataset_rows(dataset.x_valid),
            classes[dataset.y_valid.argmax(dim=1).numpy()],
        )
    return parts


def _alpha_of_c(C: Any, n: int) -> float:
    """scikit-learn's C as softmaxlab's strength: alpha = 1 / (C n)."""
    if isinstance(C, bool) or not isinstance(C, (int, float)) or not C > 0 or not np.isfinite(C):
        raise InvalidInputError(f"C: must be a positive number, got {C!r}")
    alpha = 1.0 / (C * n)
    if not np.isfinite(alpha):
        raise InvalidInputError(
            f"C: {C!r} is too small: alpha = 1 / (C · {n} rows) overflows; give a larger C"
        )
    return alpha


def _fit(
    model: SoftmaxRegression,
    parts: dict[str, tuple[Any, Any]],
    *,
    nproc: int | None,
    callback: Any,
    checkpoint: Any,
    checkpoint_every: int,
    resume: bool,
) -> list[float]:
    """Fit ``model`` on the training part (held-out part as ``eval_set``), in this
    process or data-parallel; the epochs' seconds of a data-parallel run."""
    from .. import distributed

    x_train, y_train = parts["train"]
    options: dict[str, Any] = {
        "eval_set": parts.get("valid"),
        "checkpoint": checkpoint,
        "checkpoint_every": checkpoint_every,
        "resume": resume,
    }
    seconds: list[float] = []
    if nproc is not None or distributed.launched_by_torchrun():
        distributed.fit_estimator(
            model, x_train, y_train, nproc=nproc, callback=callback, timings=seconds, **options
        )
    else:
        model.fit(x_train, y_train, callback=callback, **options)
    return seconds


def _load(
    data: Any,
    *,
    target: Any,
    columns: Any,
    valid: Any,
    shuffle: bool,
    stratify: bool,
    standardize: bool,
    seed: int,
    n_features: Any,
    text: Any,
    text_options: dict[str, Any] | None,
    dtype: str,
) -> tuple[Any, Any]:
    """The split data set of :func:`train`, and the text features of a ``text`` run."""
    synthetic = os.fspath(data) == "synthetic"
    features = None
    if text is not None:  # raw text: TF-IDF fitted on the training rows (softmaxlab.text)
        from ..text import text_dataset

        if columns is not None or n_features is not None:
            raise InvalidInputError(
                "text: the features are the text column's terms; give no columns or n_features"
            )
        dataset, features = text_dataset(
            data,
            text,
            target=target,
            valid=valid,
            shuffle=shuffle,
            stratify=stratify,
            seed=seed,
            standardize=standardize,
            dtype=dtype,
            options=text_options or {},
        )
    else:
        dataset = load_dataset(
            data,
            target=target,
            features=columns,
            valid=valid,
            shuffle=None if synthetic and shuffle else shuffle,
            stratify=stratify,
            seed=seed,
            standardize=standardize,
            dtype=dtype,
            device="cpu",
            n_features=n_features,
        )
    return dataset, features


def train(
    data: str | os.PathLike[str],
    *,
    target: Any = None,
    columns: Any = None,
    valid: float | int | None = None,
    shuffle: bool = True,
    stratify: bool = False,
    standardize: bool = False,
    seed: int = 0,
    nproc: int | None = None,
    sharded: bool = False,
    n_features: int | None = None,
    text: Any = None,
    text_options: dict[str, Any] | None = None,
    callback: Any = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    out: str | os.PathLike[str] | None = None,
    **options: Any,
) -> TrainResult:
    """Train :class:`~softmaxlab.SoftmaxRegression` on a data set or file, as
    ``softmaxlab train`` does.

    ``data``/``target``/``columns``/``valid``/``stratify``/``standardize`` load and split
    the rows as :func:`~softmaxlab.load_dataset` (``valid`` rows are held out and
    reported every epoch; with ``early_stopping`` they are the rows monitored).
    ``shuffle`` shuffles the split and every epoch (``False``: file order throughout);
    ``seed`` drives both. ``options`` are the estimator's parameters
    (:data:`ESTIMATOR_OPTIONS`; its defaults otherwise), or ``C`` for scikit-learn's
    inverse penalty (``alpha = 1 / (C · training rows)``). ``nproc=N`` trains
    data-parallel on N local processes, and inside a ``torchrun`` job this process is one
    rank (:func:`softmaxlab.distributed.fit_estimator`, equal to one process). With
    ``sharded=True`` (needs ``nproc`` or torchrun, ``shuffle=False``, no ``stratify``,
    ``alpha`` rather than ``C``) each rank reads only its own rows of a ``.npy`` or
    ``.parquet`` file (:func:`softmaxlab.distributed.fit_file_estimator`); the last
    ``valid`` rows (default 0.2) are held out.
    ``callback(record)`` sees each epoch (in rank 0's process when data-parallel).
    ``checkpoint``/``checkpoint_every``/``resume`` as in ``SoftmaxRegression.fit``;
    ``out`` writes the model file. ``n_features`` widens a sparse file (svmlight,
    ``.npz``). ``text`` names a text column: its TF-IDF terms are the features
    (``text_options`` as :data:`softmaxlab.text.TEXT_OPTIONS`), fitted on the training
    rows and stored in the model file (docs/text.md). Returns a :class:`TrainResult`."""
    C = options.pop("C", None)
    cv = options.pop("cv", None)
    Cs = options.pop("Cs", 10)
    _check_options(options, C=C, cv=cv, sharded=sharded, out=out, checkpoint=checkpoint)
    split: dict[str, Any] = {
        "target": target,
        "valid": valid,
        "standardize": standardize,
        "seed": seed,
    }
    ckpt: dict[str, Any] = {
        "checkpoint": checkpoint,
        "checkpoint_every": checkpoint_every,
        "resume": resume,
    }
    if sharded:
        check_sharded(
            nproc=nproc, shuffle=shuffle, stratify=stratify, C=C, text=text, n_features=n_features
        )
        return train_sharded(
            data,
            columns=columns,
            nproc=nproc,
            callback=callback,
            out=out,
            options=options,
            **split,
            **ckpt,
        )
    dataset, features = _load(
        data,
        columns=columns,
        shuffle=shuffle,
        stratify=stratify,
        n_features=n_features,
        text=text,
        text_options=text_options,
        dtype=options.get("dtype", "float64"),
        **split,
    )
    classes = dataset.classes if dataset.classes is not None else np.arange(dataset.n_classes)
    parts = _labelled_parts(dataset, classes)
    if "valid" not in parts and options.get("early_stopping"):
        raise InvalidInputError("early_stopping: needs validation rows (valid > 0)")
    x_train, y_train = parts["train"]
    cv_result = None
    if cv is not None:  # choose C on the training rows' folds (SoftmaxRegressionCV)
        cv_result = choose_c(x_train, y_train, cv=cv, Cs=Cs, options=options, seed=seed)
        C = cv_result["C"]
    if C is not None:
        options["alpha"] = _alpha_of_c(C, x_train.shape[0])
    model = SoftmaxRegression(shuffle=bool(shuffle), random_state=seed, **options)
    seconds = _fit(model, parts, nproc=nproc, callback=callback, **ckpt)
    metrics = final_metrics(model, parts)
    history = history_records(model)
    config = run_config(
        data,
        model,
        **split,
        shuffle=bool(shuffle),
        stratify=stratify,
        nproc=nproc,
        metrics=metrics,
        history=[r.as_dict() for r in history],
    )
    if features is not None:
        config["text"] = {"column": features.column, "terms": features.n_features}
    if cv_result is not None:
        config["cv"] = cv_result
    result = TrainResult(
        model, history, metrics, config, classes, dataset.feature_names, text=features
    )
    result.mean, result.scale, result.epoch_seconds = dataset.mean, dataset.scale, seconds
    if out is not None:
        result.save(out)
    return result
