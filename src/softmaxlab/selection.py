"""Choosing the penalty: ``train --cv K`` (:func:`choose_c`) and ``softmaxlab path``
(:func:`path`), on :class:`~softmaxlab.SoftmaxRegressionCV` and
:func:`~softmaxlab.regularization_path` (docs/estimator.md#the-regularisation-path)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .data import load_dataset
from .errors import InvalidInputError

__all__ = ["choose_c", "dataset_rows", "path"]


def dataset_rows(x: Any) -> Any:
    """Rows of a :class:`~softmaxlab.Dataset` for the estimator: a tensor's array, or the
    CSR matrix itself."""
    return x if hasattr(x, "tocsr") else x.numpy()


def choose_c(
    x: Any, y: Any, *, cv: int, Cs: Any, options: dict[str, Any], seed: int
) -> dict[str, Any]:
    """``train(cv=K)``: :class:`~softmaxlab.SoftmaxRegressionCV` over ``Cs`` on K stratified
    folds of the training rows, for the penalty in ``options``; returns the chosen ``C``
    and the table of mean and std fold accuracy per C."""
    from sklearn.model_selection import StratifiedKFold

    from .cv import SoftmaxRegressionCV

    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise InvalidInputError(f"cv: expected a number of folds >= 2, got {cv!r}")
    penalty = options.get("penalty", "l2")
    ratio = {"l1": 1.0, "elasticnet": options.get("l1_ratio")}.get(penalty)
    if penalty == "elasticnet" and ratio is None:
        raise InvalidInputError("l1_ratio: penalty='elasticnet' needs l1_ratio in [0, 1]")
    search = SoftmaxRegressionCV(
        Cs=Cs,
        l1_ratios=None if ratio is None else [ratio],
        cv=StratifiedKFold(cv, shuffle=True, random_state=seed),
        tol=options.get("tol") or 1e-4,
        class_weight=options.get("class_weight"),
        refit=False,
    ).fit(x, y)
    scores = search.scores_[search.classes_[0]].reshape(cv, len(search.Cs_))
    return {
        "C": float(search.C_[0]),
        "folds": cv,
        "table": [
            {
                "C": float(c),
                "accuracy": float(scores[:, i].mean()),
                "std": float(scores[:, i].std()),
            }
            for i, c in enumerate(search.Cs_)
        ],
    }


def path(
    data: str | os.PathLike[str],
    *,
    target: Any = None,
    columns: Any = None,
    valid: Any = None,
    standardize: bool = True,
    Cs: Any = 10,
    l1_ratio: float | None = None,
    cv: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """``softmaxlab path``: :func:`softmaxlab.regularization_path` on the training rows of
    ``data`` (standardised by default, so coefficients compare) and the CV accuracy of
    each C (K stratified folds); a JSON-ready dict with the path and the table."""
    from sklearn.model_selection import StratifiedKFold

    from .cv import SoftmaxRegressionCV
    from .path import regularization_path

    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise InvalidInputError(f"cv: expected a number of folds >= 2, got {cv!r}")
    dataset = load_dataset(
        data,
        target=target,
        features=columns,
        valid=0 if valid is None else valid,
        standardize=standardize,
        seed=seed,
        device="cpu",
    )
    classes = dataset.classes if dataset.classes is not None else np.arange(dataset.n_classes)
    x = dataset_rows(dataset.x_train)
    y = classes[dataset.y_train.argmax(dim=1).numpy()]
    found = regularization_path(x, y, Cs=Cs, l1_ratio=l1_ratio)
    search = SoftmaxRegressionCV(
        Cs=found.Cs,
        l1_ratios=None if l1_ratio is None else [l1_ratio],
        refit=False,
        cv=StratifiedKFold(cv, shuffle=True, random_state=seed),
    ).fit(x, y)
    scores = search.scores_[search.classes_[0]].reshape(cv, len(found.Cs))
    rows = [
        {**row, "cv_accuracy": float(scores[:, i].mean()), "cv_std": float(scores[:, i].std())}
        for i, row in enumerate(found.table())
    ]
    return {
        "data": os.fspath(data),
        "l1_ratio": l1_ratio,
        "folds": cv,
        "best_C": float(search.C_[0]),
        "classes": [str(c) for c in found.classes],
        "features": list(dataset.feature_names or range(x.shape[1])),
        "coefs": found.coefs.tolist(),
        "table": rows,
        "seconds": found.seconds,
    }
