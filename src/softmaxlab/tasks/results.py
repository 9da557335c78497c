"""What :func:`softmaxlab.tasks.train` returns and records: :class:`TrainResult`, the
configuration a model file keeps, the final metrics and the epoch line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._validation import class_indices
from ..estimator import SoftmaxRegression
from ..metrics import ce_and_accuracy
from ..persistence import save_model
from ..training import EpochRecord

__all__ = ["ESTIMATOR_OPTIONS", "TrainResult", "final_metrics", "print_epoch", "run_config"]

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
        log_p = torch.from_numpy(np.asarray(model.predict_log_proba(x), dtype=np.float64))
        idx = torch.from_numpy(class_indices(model.classes_, y))
        ce, acc = ce_and_accuracy(log_p, idx)
        out[name] = {"rows": int(x.shape[0]), "accuracy": acc, "cross_entropy": ce}
    return out


def run_config(data: Any, model: SoftmaxRegression, **recorded: Any) -> dict[str, Any]:
    """The configuration a model file records: the run's options, the estimator's
    parameters, and what the fit found (stop reason, solver, alpha)."""
    return {
        "data": os.fspath(data),
        **recorded,
        "estimator": {
            k: v
            for k, v in model.get_params().items()
            if isinstance(v, (str, int, float, bool, type(None)))
        },
        "stop_reason": model.stop_reason_,
        "solver": model.solver_,
        "alpha": model.alpha_,
    }
