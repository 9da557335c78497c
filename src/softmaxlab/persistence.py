"""Model files: safetensors with metadata, never pickle.

A file holds the parameters as tensors (``w`` (N, C), ``b`` (C,), and for standardised
data ``mean`` and ``scale`` (N,)) and a string-to-string metadata header:

===================  ==========================================================
``format``           ``"softmaxlab-model"``
``format_version``   ``"1"``; a larger number is refused with a clear message
``kind``             ``"SoftmaxClassifier"`` or ``"SoftmaxRegression"``
``classes``          JSON list of the original labels, ``classes_dtype`` their dtype
``feature_names``    JSON list (or ``null``)
``dtype``            ``"float64"`` / ``"float32"``
``gradient``         the gradient formulation
``config``           JSON: the training configuration (hyper-parameters, data)
``softmaxlab``       the package version that wrote the file
===================  ==========================================================

Loading parses only that header and raw tensor bytes (safetensors executes nothing), then
checks every shape against the metadata. Any problem is a
:class:`~softmaxlab.errors.ModelFileError` naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from . import functional as F
from ._validation import check_finite_logits, check_regular_file, resolve_device
from ._version import __version__
from .errors import InvalidInputError, InvalidTypeError, ModelFileError, SoftmaxlabError
from .io.atomic import read_safetensors, write_safetensors_atomic
from .io.schema import check_model_meta

__all__ = ["FORMAT_VERSION", "SavedModel", "load_model", "save_model"]

FORMAT = "softmaxlab-model"
FORMAT_VERSION = 1


@dataclass
class SavedModel:
    """What a model file holds: the ``model`` and the facts needed to use it on new data.

    ``mean``/``scale`` standardise raw features as ``(x - mean) / scale`` before
    ``model`` sees them (``None``: no standardisation).
    """

    model: Any
    classes: np.ndarray
    feature_names: list[str] | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    config: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    text: Any = None  # softmaxlab.text.TextFeatures of a --text model: raw text in

    @property
    def n_features(self) -> int:
        m = self.model
        return int(m.n_features if hasattr(m, "n_features") else m.n_features_in_)

    def feature_columns(self, frame: Any, exclude: str | None = None) -> list[str]:
        """The columns of the DataFrame ``frame`` that hold the model's features: the
        stored feature names when the file has them all, else every column but
        ``exclude`` when there are exactly as many as the model has features."""
        names = self.feature_names
        cols = [c for c in frame.columns if c != exclude]
        if names is not None and all(n in frame.columns for n in names):
            return list(names)
        if len(cols) == self.n_features:
            return cols
        if names is not None:
            missing = [n for n in names if n not in frame.columns]
            raise InvalidInputError(
                f"data: the model expects {self.n_features} features; the file has "
                f"{len(cols)} columns and lacks {missing[:5]}"
                f"{' ...' if len(missing) > 5 else ''}"
            )
        raise InvalidInputError(
            f"data: has {len(cols)} feature columns, the model expects {self.n_features}"
        )

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Apply the stored standardisation to raw features (n, N)."""
        if self.mean is None or self.scale is None:
            return x
        if hasattr(x, "tocsr"):  # sparse rows: scaled, never centred (docs/text.md)
            import scipy.sparse as sp

            if np.any(self.mean):
                raise InvalidInputError(
                    "data: sparse rows cannot be centred; this model "
                    "was trained on standardised dense rows"
                )
            return (x @ sp.diags(1.0 / self.scale)).tocsr()
        return (x - self.mean) / self.scale

    def logits(self, x: np.ndarray) -> torch.Tensor:
        """Z = prepare(x) W + b for raw features ``x`` (n, N) → (n, C), in float64."""
        from .model import SoftmaxClassifier

        sparse = hasattr(x, "tocsr")
        x = x.astype(np.float64) if sparse else np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise InvalidInputError(
                f"data: has {x.shape[-1] if x.ndim else 0} feature columns, the model "
                f"expects {self.n_features}"
            )
        rows: Any = self.prepare(x) if sparse else torch.from_numpy(self.prepare(x))
        m = self.model
        if isinstance(m, SoftmaxClassifier):
            w, b = m.w.detach().cpu().double(), m.b.detach().cpu().double()
        else:
            w = torch.from_numpy(m.coef_.T.astype(np.float64))
            b = torch.from_numpy(m.intercept_.astype(np.float64))
        # sparse rows: one sparse × dense product (softmaxlab.sparse.logits)
        z = torch.from_numpy(np.asarray(rows @ w.numpy())) + b if sparse else F.logits(rows, w, b)
        check_finite_logits(z, rows, "data")
        return z

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (n, C) for raw features ``x`` (n, N)."""
        return F.softmax(self.logits(x)).numpy()

    def predict_log_proba(self, x: np.ndarray) -> np.ndarray:
        """Log-probabilities (n, C), computed stably from the logits."""
        return F.log_softmax(self.logits(x)).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Original labels of the most probable class for raw features ``x``."""
        return self.classes[np.argmax(self.predict_proba(x), axis=1)]


def _json_labels(classes: np.ndarray) -> str:
    """The labels as JSON, refused unless they read back equal with their dtype."""
    try:
        text = json.dumps([c.item() if isinstance(c, np.generic) else c for c in classes.tolist()])
        back = np.array(json.loads(text), dtype=classes.dtype)
        same = back.shape == classes.shape and bool(np.all(back == classes))
    except (TypeError, ValueError, OverflowError):
        same = False
    if not same:
        raise ModelFileError(
            f"classes: labels of dtype {classes.dtype} cannot be stored in "
            "a model file and read back; use text or numbers"
        )
    return text


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    classes: Any = None,
    feature_names: Any = None,
    mean: Any = None,
    scale: Any = None,
    config: dict[str, Any] | None = None,
    text: Any = None,
) -> None:
    """Write ``model`` (a :class:`~softmaxlab.SoftmaxClassifier` or a fitted
    :class:`~softmaxlab.SoftmaxRegression`) to ``path`` atomically: a temporary file in the
    same folder, fsync, then a rename, so ``path`` is never left half-written. ``text``
    (:class:`~softmaxlab.text.TextFeatures`) stores a text model's vocabulary and idf
    weights as tensors and its options as JSON."""
    from .estimator import SoftmaxRegression
    from .model import SoftmaxClassifier

    if isinstance(model, SoftmaxClassifier):
        w, b = model.w.detach().cpu(), model.b.detach().cpu()
        kind, gradient, dtype = "SoftmaxClassifier", model.gradient, model.dtype
        labels = np.arange(model.n_classes) if classes is None else np.asarray(classes)
        names = feature_names
        params: dict[str, Any] = {}
    elif isinstance(model, SoftmaxRegression):
        if not hasattr(model, "coef_"):
            raise ModelFileError("model: the SoftmaxRegression is not fitted")
        w = torch.from_numpy(np.ascontiguousarray(model.coef_.T))
        b = torch.from_numpy(np.ascontiguousarray(model.intercept_))
        kind, gradient, dtype = "SoftmaxRegression", model.gradient, w.dtype
        labels = model.classes_
        names = (
            feature_names
            if feature_names is not None
            else getattr(model, "feature_names_in_", None)
        )
        params = {
            k: v
            for k, v in model.get_params().items()
            if isinstance(v, (str, int, float, bool, type(None)))
        }
    else:
        raise InvalidTypeError(
            f"model: expected a SoftmaxClassifier or SoftmaxRegression, got {type(model).__name__}"
        )
    if len(labels) != w.shape[1]:
        raise ModelFileError(f"classes: {len(labels)} labels for {w.shape[1]} classes")
    if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
        raise ModelFileError(
            "model: its parameters hold NaN or infinite values; such a "
            "file could not be used (nothing was written)"
        )
    tensors = {"w": w.contiguous(), "b": b.contiguous()}
    if (mean is None) != (scale is None):
        raise ModelFileError("mean and scale: give both or neither")
    if mean is not None:
        tensors["mean"] = torch.as_tensor(np.asarray(mean, dtype=np.float64))
        tensors["scale"] = torch.as_tensor(np.asarray(scale, dtype=np.float64))
        if not (
            torch.isfinite(tensors["mean"]).all()
            and torch.isfinite(tensors["scale"]).all()
            and (tensors["scale"] > 0).all()
        ):
            raise ModelFileError(
                "mean and scale: must be finite, and scale > 0 (nothing was written)"
            )
    text_meta = {}
    if text is not None:
        if text.n_features != w.shape[0]:
            raise ModelFileError(f"text: {text.n_features} terms for {w.shape[0]} features")
        text_tensors, text_meta["text"] = text.to_stored()
        tensors |= text_tensors
    metadata = {
        **text_meta,
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "kind": kind,
        "classes": _json_labels(np.asarray(labels)),
        "classes_dtype": np.asarray(labels).dtype.str,
        "feature_names": json.dumps(None if names is None else [str(n) for n in names]),
        "dtype": str(dtype).removeprefix("torch."),
        "gradient": gradient,
        "params": json.dumps(params),
        "config": json.dumps(config or {}, default=str),
        "softmaxlab": __version__,
    }
    write_safetensors_atomic(tensors, metadata, path)


def load_model(path: str | os.PathLike[str], *, device: Any = "cpu") -> SavedModel:
    """Read a model file written by :func:`save_model`. Nothing in the file is executed;
    anything that is not a valid model file raises :class:`ModelFileError`."""
    p = check_regular_file(path, "model", ModelFileError)
    where = f"model: {p}"
    tensors, meta = read_safetensors(p, ModelFileError, f"{where}: not a softmaxlab model file")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{where}: not a softmaxlab model file (no format tag)")
    try:
        version = int(meta["format_version"])
    except (KeyError, ValueError):
        raise ModelFileError(f"{where}: unreadable format_version") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where}: format version {version} is newer than this softmaxlab reads "
            f"({FORMAT_VERSION}); upgrade softmaxlab"
        )
    try:
        return _build(meta, tensors, device)
    except SoftmaxlabError as exc:  # ModelFileError, or an unknown gradient or dtype
        raise ModelFileError(f"{where}: {exc}") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: inconsistent model file ({exc})") from None


def _build(meta: dict[str, str], tensors: dict[str, torch.Tensor], device: Any) -> SavedModel:
    from .estimator import SoftmaxRegression
    from .model import SoftmaxClassifier

    w, b = tensors["w"], tensors["b"]
    if w.ndim != 2 or b.shape != (w.shape[1],) or w.shape[1] < 2 or w.shape[0] < 1:
        raise ModelFileError(f"wrong shapes: w {tuple(w.shape)}, b {tuple(b.shape)}")
    if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
        raise ModelFileError("parameters hold NaN or infinite values")
    n, c = w.shape
    fields = check_model_meta(meta, n, c, ModelFileError)
    classes = np.array(fields["classes"], dtype=np.dtype(meta["classes_dtype"]))
    if classes.shape != (c,):
        raise ModelFileError(f"{classes.size} class labels for {c} classes")
    names = fields["feature_names"]
    mean = scale = None
    if "mean" in tensors:
        mean, scale = tensors["mean"].numpy(), tensors["scale"].numpy()
        if mean.shape != (n,) or scale.shape != (n,) or not np.all(scale > 0):
            raise ModelFileError("wrong standardisation statistics")
        if not (np.isfinite(mean).all() and np.isfinite(scale).all()):
            raise ModelFileError("standardisation statistics hold NaN or infinite values")
    kind = meta["kind"]
    if kind == "SoftmaxClassifier":
        model = SoftmaxClassifier(
            n,
            c,
            gradient=meta["gradient"],
            dtype=meta["dtype"],
            device=resolve_device(device),
            seed=0,
        )
        model.w.copy_(w)
        model.b.copy_(b)
    elif kind == "SoftmaxRegression":
        unknown = sorted(set(fields["params"]) - set(SoftmaxRegression().get_params()))
        if unknown:
            raise ModelFileError(f"params: unknown estimator parameters {unknown[:5]}")
        model = SoftmaxRegression(**fields["params"])
        model.classes_ = classes
        model.coef_ = w.T.numpy().copy()
        model.intercept_ = b.numpy().copy()
        model.n_features_in_ = n
        if names is not None:
            model.feature_names_in_ = np.array(names, dtype=object)
        model.n_iter_ = 0
        model.loss_curve_ = []
        for key in ("stop_reason", "alpha", "solver"):  # what the run recorded, if it did
            value = fields["config"].get(key)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                setattr(model, f"{key}_", value)
    else:
        raise ModelFileError(f"unknown model kind {kind!r}")
    text = None
    if "text" in meta:
        from .text import TextFeatures

        if "text_vocabulary" not in tensors or "text_idf" not in tensors:
            raise ModelFileError("text: the vocabulary or idf tensor is missing")
        text = TextFeatures.from_stored(tensors, meta["text"], n)
    return SavedModel(
        model, classes, names, mean, scale, fields["config"], meta.get("softmaxlab", ""), text
    )
