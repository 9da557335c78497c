"""What the commands that take a model file compute: ``predict``, ``evaluate``,
``summary``, ``certify``, ``export`` and ``plot``'s histories."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..io.sparse_files import is_sparse_file, is_svmlight, read_sparse
from ..io.tables import feature_matrix, read_table, resolve_column
from ..persistence import SavedModel, load_model

__all__ = [
    "certify",
    "evaluate",
    "export_onnx",
    "model_rows",
    "predict",
    "read_histories",
    "summary",
]


def model_rows(
    model: str | os.PathLike[str] | SavedModel, data: str | os.PathLike[str], target: Any = None
) -> tuple[SavedModel, Any, np.ndarray, str | None]:
    """A model file (or a loaded :class:`~softmaxlab.persistence.SavedModel`) and a
    data file: ``(saved, frame, x, target_column)`` where ``x`` holds the model's feature
    columns (matched by the stored names, see ``SavedModel.feature_columns``) and
    ``target_column`` is ``target`` resolved by name or index (``None`` without one)."""
    saved = model if isinstance(model, SavedModel) else load_model(model)
    if saved.text is not None:  # a --text model: the stored vectorizer makes the rows
        from ..text import text_column

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
    from ..metrics import evaluate_labels

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
    from ..inference import summarize

    saved, x, labels = _estimator_rows(model, data, target, "--summary")
    return summarize(saved.model, x, labels)


def certify(
    model: str | os.PathLike[str] | SavedModel, data: str | os.PathLike[str], target: Any
) -> Any:
    """``softmaxlab certify``: :func:`softmaxlab.certificate.certify` of the model file's
    estimator on the labelled rows of ``data`` (standardised as the model file says):
    the rows it was trained on, for a bound on its own training objective."""
    from ..certificate import certify as certify_model

    saved, x, labels = _estimator_rows(model, data, target, "certify")
    return certify_model(saved.model, x, labels)


#: The largest dense copy of sparse rows that ``certify`` / ``evaluate --summary`` make.
DENSE_LIMIT = 1 << 30


def _estimator_rows(
    model: str | os.PathLike[str] | SavedModel, data: str | os.PathLike[str], target: Any, what: str
) -> tuple[SavedModel, np.ndarray, np.ndarray]:
    """The model file's estimator, the rows of ``data`` standardised as the file says,
    and their labels in the classes' type; ``what`` names the command in the error."""
    from ..errors import ModelFileError
    from ..estimator import SoftmaxRegression

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
    from ..errors import ModelFileError
    from ..estimator import SoftmaxRegression
    from ..export import to_onnx

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
