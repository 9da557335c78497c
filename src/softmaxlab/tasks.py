"""What the command line does, as Python functions: data in, results out.

Each command is one call here plus printing, so everything a command computes is
reachable from Python with the same result: ``softmaxlab train`` is :func:`train` (the
fitted estimator, the history, the final metrics, the model file and its recorded
configuration), ``predict`` is :func:`predict`, ``evaluate`` is :func:`evaluate`, and
``plot`` draws what :func:`read_histories` reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data import load_dataset
from .errors import InvalidInputError
from .estimator import SoftmaxRegression
from .fitting import history_records
from .io.sparse_files import is_sparse_file, is_svmlight, read_sparse
from .io.tables import feature_matrix, read_table, resolve_column
from .persistence import SavedModel, load_model, save_model
from .selection import choose_c, dataset_rows
from .training import EpochRecord

__all__ = [
    "TrainResult",
    "certify",
    "evaluate",
    "export_onnx",
    "final_metrics",
    "history_records",
    "model_rows",
    "predict",
    "print_epoch",
    "read_histories",
    "summary",
    "train",
]

#: Options of :func:`train` that configure the estimator (``SoftmaxRegression``'s names).
ESTIMATOR_OPTIONS = (
    "solver",
    "learning_rate",
    "max_epochs",
    "batch_size",
    "alpha",
    "penalty",
    "l1_ratio",
    "class_weight",
    "momentum",
    "nesterov",
    "schedule",
    "early_stopping",
    "tol",
    "n_iter_no_change",
    "gradient",
    "dtype",
    "device",
)


@dataclass
class TrainResult:
    """What :func:`train` produced: the fitted ``model`` (a ``SoftmaxRegression``), one
    :class:`~softmaxlab.training.EpochRecord` per epoch (L-BFGS: per iteration), the final
    ``metrics`` per split (``rows``, ``accuracy``, ``cross_entropy``), the configuration
    stored in the model file, and the data's ``classes``, ``feature_names`` and
    standardisation ``mean``/``scale`` (``None`` unless standardised)."""

    model: SoftmaxRegression
    history: list[EpochRecord]
    metrics: dict[str, dict[str, float]]
    config: dict[str, Any]
    classes: np.ndarray
    feature_names: tuple[str, ...] | None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    epoch_seconds: list[float] = field(default_factory=list)
    peak_rss_mib: list[float] = field(default_factory=list)  # per rank, sharded runs
    text: Any = None  # softmaxlab.text.TextFeatures of a --text run

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model file (safetensors) with the labels, feature names,
        standardisation statistics and this run's configuration and metrics."""
        save_model(
            self.model,
            path,
            feature_names=self.feature_names,
            mean=self.mean,
            scale=self.scale,
            config=self.config,
            text=self.text,
        )


def print_epoch(record: EpochRecord) -> None:
    """Print the seed's epoch line (a picklable callback for data-parallel ranks)."""
    print(record.line(), flush=True)


def final_metrics(model: Any, parts: dict[str, tuple[Any, Any]]) -> dict[str, dict[str, float]]:
    """Rows, accuracy and mean cross-entropy of a fitted estimator on each named
    ``(X, y)`` split (original labels)."""
    out = {}
    for name, (x, y) in parts.items():
        log_p = model.predict_log_proba(x)
        idx = np.searchsorted(model.classes_, y)
        out[name] = {
            "rows": int(x.shape[0]),
            "accuracy": float(np.mean(model.classes_[log_p.argmax(1)] == y)),
            "cross_entropy": float(-log_p[np.arange(len(idx)), idx].mean()),
        }
    return out


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
    if sharded and (text is not None or n_features is not None):
        raise InvalidInputError(
            "sharded: reads dense .npy/.parquet rows; give no text or n_features"
        )
    if sharded:
        return _train_sharded(
            data,
            target=target,
            columns=columns,
            valid=valid,
            shuffle=shuffle,
            stratify=stratify,
            standardize=standardize,
            seed=seed,
            nproc=nproc,
            C=C,
            callback=callback,
            out=out,
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every,
            resume=resume,
            options=options,
        )
    synthetic = os.fspath(data) == "synthetic"
    dtype = options.get("dtype", "float64")
    features = None
    if text is not None:  # raw text: TF-IDF fitted on the training rows (softmaxlab.text)
        from .text import text_dataset

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
    classes = dataset.classes if dataset.classes is not None else np.arange(dataset.n_classes)
    x_train = dataset_rows(dataset.x_train)
    y_train = classes[dataset.y_train.argmax(dim=1).numpy()]
    eval_set = None
    parts = {"train": (x_train, y_train)}
    if dataset.x_valid is not None and dataset.y_valid is not None:
        eval_set = (dataset_rows(dataset.x_valid), classes[dataset.y_valid.argmax(dim=1).numpy()])
        parts["valid"] = eval_set
    elif options.get("early_stopping"):
        raise InvalidInputError("early_stopping: needs validation rows (valid > 0)")
    cv_result = None
    if cv is not None:  # choose C on the training rows' folds (SoftmaxRegressionCV)
        cv_result = choose_c(x_train, y_train, cv=cv, Cs=Cs, options=options, seed=seed)
        C = cv_result["C"]
    if C is not None:  # scikit-learn's C: alpha = 1 / (C n)
        if (
            isinstance(C, bool)
            or not isinstance(C, (int, float))
            or not C > 0
            or not np.isfinite(C)
        ):
            raise InvalidInputError(f"C: must be a positive number, got {C!r}")
        options["alpha"] = 1.0 / (C * x_train.shape[0])
    model = SoftmaxRegression(shuffle=bool(shuffle), random_state=seed, **options)
    fit_options: dict[str, Any] = {
        "eval_set": eval_set,
        "checkpoint": checkpoint,
        "checkpoint_every": checkpoint_every,
        "resume": resume,
    }
    seconds: list[float] = []
    from . import distributed

    if nproc is not None or distributed.launched_by_torchrun():
        distributed.fit_estimator(
            model, x_train, y_train, nproc=nproc, callback=callback, timings=seconds, **fit_options
        )
    else:
        model.fit(x_train, y_train, callback=callback, **fit_options)
    config = {
        "data": os.fspath(data),
        "target": target,
        "valid": valid,
        "shuffle": bool(shuffle),
        "stratify": stratify,
        "standardize": standardize,
        "seed": seed,
        "nproc": nproc,
        "estimator": {
            k: v
            for k, v in model.get_params().items()
            if isinstance(v, (str, int, float, bool, type(None)))
        },
    }
    metrics = final_metrics(model, parts)
    history = history_records(model)
    config |= {
        "metrics": metrics,
        "history": [r.as_dict() for r in history],
        "stop_reason": model.stop_reason_,
        "solver": model.solver_,
        "alpha": model.alpha_,
    }
    if features is not None:
        config["text"] = {"column": features.column, "terms": features.n_features}
    if cv_result is not None:
        config["cv"] = cv_result
    result = TrainResult(
        model,
        history,
        metrics,
        config,
        classes,
        dataset.feature_names,
        dataset.mean,
        dataset.scale,
        seconds,
        text=features,
    )
    if out is not None:
        result.save(out)
    return result


def _train_sharded(
    data: Any,
    *,
    target: Any,
    columns: Any,
    valid: Any,
    shuffle: bool,
    stratify: bool,
    standardize: bool,
    seed: int,
    nproc: int | None,
    C: Any,
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

    from . import distributed

    if nproc is None and not distributed.launched_by_torchrun():
        raise InvalidInputError("sharded: needs nproc=N or a torchrun launch")
    if shuffle or stratify:
        raise InvalidInputError(
            "sharded: rows are used in file order; pass shuffle=False "
            "and stratify=False, shuffling the file beforehand if it "
            "is sorted"
        )
    if C is not None:
        raise InvalidInputError(
            "C: give alpha with sharded=True (C needs the training "
            "rows' count before the file is read)"
        )
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
    config = {
        "data": os.fspath(data),
        "target": target,
        "valid": valid,
        "shuffle": False,
        "standardize": standardize,
        "seed": seed,
        "nproc": nproc,
        "sharded": True,
        "estimator": {
            k: v
            for k, v in model.get_params().items()
            if isinstance(v, (str, int, float, bool, type(None)))
        },
        "metrics": run.metrics,
        "history": [r.as_dict() for r in run.history],
        "stop_reason": model.stop_reason_,
        "solver": model.solver_,
        "alpha": model.alpha_,
    }
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


# ----------------------------------------------------------------------------- saved models


def model_rows(
    model: str | os.PathLike[str] | SavedModel, data: str | os.PathLike[str], target: Any = None
) -> tuple[SavedModel, Any, np.ndarray, str | None]:
    """A model file (or a loaded :class:`~softmaxlab.persistence.SavedModel`) and a
    data file: ``(saved, frame, x, target_column)`` where ``x`` holds the model's feature
    columns (matched by the stored names, see ``SavedModel.feature_columns``) and
    ``target_column`` is ``target`` resolved by name or index (``None`` without one)."""
    saved = model if isinstance(model, SavedModel) else load_model(model)
    if saved.text is not None:  # a --text model: the stored vectorizer makes the rows
        from .text import text_column

        frame = read_table(data)
        _, docs = text_column(frame, saved.text.column)
        column = None if target is None else resolve_column(frame, target, "target")
        return saved, frame, saved.text.transform(docs.to_numpy()), column
    if is_sparse_file(data):  # svmlight/.npz: the labels come with the rows
        import pandas as pd

        x, labels = read_sparse(
            data, n_features=saved.n_features, labels=None if is_svmlight(data) else target
        )
        return saved, pd.DataFrame({"label": labels}), x, "label"
    frame = read_table(data)
    column = None if target is None else resolve_column(frame, target, "target")
    x = feature_matrix(frame, saved.feature_columns(frame, exclude=column))
    return saved, frame, x, column


def predict(
    model: str | os.PathLike[str] | SavedModel, data: str | os.PathLike[str], *, proba: bool = False
) -> Any:
    """``softmaxlab predict``: a DataFrame with one ``prediction`` (the original class
    label) per row of ``data``, and with ``proba`` one ``p_<label>`` column per class."""
    import pandas as pd

    saved, _, x, _ = model_rows(model, data)
    p = saved.predict_proba(x)
    out = pd.DataFrame({"prediction": saved.classes[p.argmax(axis=1)]})
    if proba:
        for k, label in enumerate(saved.classes):
            out[f"p_{label}"] = p[:, k]
    return out


def evaluate(
    model: str | os.PathLike[str] | SavedModel, data: str | os.PathLike[str], target: Any
) -> dict[str, Any]:
    """``softmaxlab evaluate``: :func:`softmaxlab.metrics.evaluate_labels` of the model on
    the labelled rows of ``data`` (accuracy, cross-entropy, Brier, ECE and its bins,
    per-class precision and recall, the confusion matrix)."""
    from .metrics import evaluate_labels

    saved, frame, x, column = model_rows(model, data, target)
    if column is None:
        raise InvalidInputError("target: name the label column (svmlight files carry their labels)")
    return evaluate_labels(saved.classes, frame[column].to_numpy(), saved.predict_log_proba(x))


def summary(
    model: str | os.PathLike[str] | SavedModel, data: str | os.PathLike[str], target: Any
) -> Any:
    """``softmaxlab evaluate --summary``: :func:`softmaxlab.inference.summarize` of the
    model file's estimator on the labelled rows of ``data`` (standardised as the model
    file says), against the first class."""
    from .inference import summarize

    saved, x, labels = _estimator_rows(model, data, target, "--summary")
    return summarize(saved.model, x, labels)


def certify(
    model: str | os.PathLike[str] | SavedModel, data: str | os.PathLike[str], target: Any
) -> Any:
    """``softmaxlab certify``: :func:`softmaxlab.certificate.certify` of the model file's
    estimator on the labelled rows of ``data`` (standardised as the model file says):
    the rows it was trained on, for a bound on its own training objective."""
    from .certificate import certify as certify_model

    saved, x, labels = _estimator_rows(model, data, target, "certify")
    return certify_model(saved.model, x, labels)


#: The largest dense copy of sparse rows that ``certify`` / ``evaluate --summary`` make.
DENSE_LIMIT = 1 << 30


def _estimator_rows(
    model: str | os.PathLike[str] | SavedModel, data: str | os.PathLike[str], target: Any, what: str
) -> tuple[SavedModel, np.ndarray, np.ndarray]:
    """The model file's estimator, the rows of ``data`` standardised as the file says,
    and their labels in the classes' type; ``what`` names the command in the error."""
    from .errors import ModelFileError
    from .estimator import SoftmaxRegression

    saved, frame, x, column = model_rows(model, data, target)
    if not isinstance(saved.model, SoftmaxRegression):
        raise ModelFileError(
            f"model: {what} needs a model trained by softmaxlab train (a SoftmaxRegression)"
        )
    labels = frame[column].to_numpy()
    if saved.classes.dtype.kind in "iuf":
        labels = labels.astype(saved.classes.dtype)
    x = saved.prepare(x)
    if hasattr(x, "toarray"):  # summaries and certificates work on dense rows
        dense_bytes = 8 * x.shape[0] * x.shape[1]
        if dense_bytes > DENSE_LIMIT:
            raise InvalidInputError(
                f"data: {what} works on dense rows, and these "
                f"{x.shape[0]} × {x.shape[1]} would take "
                f"{dense_bytes / 2**30:.1f} GiB"
            )
        x = x.toarray()
    return saved, x, labels


def export_onnx(
    model: str | os.PathLike[str] | SavedModel, out: str | os.PathLike[str]
) -> SavedModel:
    """``softmaxlab export --onnx``: the model file's estimator as an ONNX graph, its
    standardisation folded into the weights, so that the graph takes raw features."""
    from .errors import ModelFileError
    from .estimator import SoftmaxRegression
    from .export import to_onnx

    saved = model if isinstance(model, SavedModel) else load_model(model)
    if not isinstance(saved.model, SoftmaxRegression):
        raise ModelFileError(
            "model: export needs a model trained by softmaxlab train (a SoftmaxRegression)"
        )
    to_onnx(saved.model, out, saved.mean, saved.scale)
    return saved


def read_histories(path: str | os.PathLike[str]) -> dict[str, list[dict[str, Any]]]:
    """The learning curves a file holds, by run name: the history of a ``.safetensors``
    model file written by ``train``, a JSON list of epoch records, or a
    ``compare --json`` file (every reference's log and every softmaxlab run started from
    it). Records are dicts with at least ``epoch`` and ``ce``; a file with none, or not
    JSON, is an :class:`~softmaxlab.errors.InvalidInputError`."""
    import json
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"history: no such file: {p}")
    if p.suffix == ".safetensors":
        histories = {"softmaxlab": load_model(p).config.get("history")}
    else:
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"history: {p.name} is not JSON ({exc})") from None
        except RecursionError:
            raise InvalidInputError(f"history: {p.name} is nested too deeply") from None
        if isinstance(data, list):
            histories = {"softmaxlab": data}
        elif isinstance(data, dict) and "reference_logs" in data:
            refs, models = data["reference_logs"], data.get("model_logs", {})
            if not (
                isinstance(refs, dict)
                and isinstance(models, dict)
                and all(isinstance(per, dict) for per in models.values())
            ):
                raise InvalidInputError(
                    f"history: {p.name} is not a compare --json file "
                    "(reference_logs and model_logs must be objects)"
                )
            histories = dict(refs)
            for ref, per in models.items():
                for g, log in per.items():
                    histories[f"softmaxlab ({g}) from {ref}"] = log
        else:
            histories = {}
    valid = {
        k: v
        for k, v in histories.items()
        if isinstance(v, list)
        and v
        and all(isinstance(r, dict) and "epoch" in r and "ce" in r for r in v)
    }
    if not valid:
        raise InvalidInputError(f"history: {p.name} holds no epoch records")
    return valid
