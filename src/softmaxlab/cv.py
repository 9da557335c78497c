"""``SoftmaxRegressionCV``: the penalty chosen by cross-validation along regularisation
paths, as scikit-learn's ``LogisticRegressionCV`` (docs/estimator.md#cross-validation).

For every fold and every ``l1_ratio``, one warm-started path over ``Cs``
(:func:`softmaxlab.path.fit_path`) is fitted on the fold's training rows and scored on
its held-out rows. The (C, l1_ratio) with the best mean score wins, and with ``refit``
the model is fitted again on every row at that setting. Without ``refit``, the folds'
coefficients at that setting are averaged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._inputs import check_rows
from .errors import InvalidInputError
from .estimator import SoftmaxRegression
from .objective import row_weights
from .path import check_cs, fit_path, penalty_of

__all__ = ["SoftmaxRegressionCV"]


def _fold_path(
    base: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    train: np.ndarray,
    test: np.ndarray,
    cs: np.ndarray,
    scorer: Any,
) -> tuple[list[Any], list[float]]:
    """One fold's path: the fitted models per C and their held-out scores."""
    sw = None if sample_weight is None else sample_weight[train]
    fits = fit_path(base, X[train], y[train], cs, sw)
    if scorer is not None:
        return fits, [float(scorer(f, X[test], y[test])) for f in fits]
    # accuracy straight from the logits (the rows were checked once, in fit)
    x_test, y_test = X[test], y[test]
    return fits, [
        float(
            np.mean(
                f.classes_[np.argmax(np.asarray(x_test @ f.coef_.T) + f.intercept_, axis=1)]
                == y_test
            )
        )
        for f in fits
    ]


class SoftmaxRegressionCV(ClassifierMixin, BaseEstimator):
    """Softmax regression with its penalty strength (and elastic-net mix) chosen by
    cross-validation.

    Parameters
    ----------
    Cs : int or list of float, default=10
        Inverse penalty strengths (alpha = 1/(C n)); an int k is k values log-spaced over
        [1e-4, 1e4].
    l1_ratios : list of float or None, default=None
        Elastic-net mixes to try (``penalty="elasticnet"``); ``None`` is the L2 path.
    cv : int, splitter or None, default=None
        Folds (stratified; ``None`` is 5).
    scoring : str, callable or None, default=None
        What the folds maximise (``None``: accuracy).
    refit : bool, default=True
        Refit on every row at the best setting; else average the folds' models there.
    n_jobs : int or None, default=None
        Folds × l1_ratios fitted in parallel (joblib).
    tol, max_epochs, class_weight
        As ``SoftmaxRegression`` (solver L-BFGS, OWL-QN with an L1 term).

    Attributes
    ----------
    classes_, coef_ (n_classes, n_features), intercept_ (n_classes,)
    Cs_ : ndarray (n_Cs,)
    l1_ratios_ : ndarray (n_l1_ratios,) or None
    C_, l1_ratio_ : ndarray (n_classes,)
        The chosen setting, repeated per class as ``LogisticRegressionCV`` reports it.
    scores_ : dict class -> ndarray (n_folds, n_Cs) or (n_folds, n_Cs, n_l1_ratios)
    coefs_paths_ : dict class -> ndarray (n_folds, n_Cs[, n_l1_ratios], n_features + 1)
        Each class's weights and intercept along each fold's path.
    n_iter_ : ndarray (1, n_folds, n_Cs[, n_l1_ratios])
    estimator_ : SoftmaxRegression
        The model ``predict`` uses.
    """

    def __init__(
        self,
        *,
        Cs: Any = 10,
        l1_ratios: Any = None,
        cv: Any = None,
        scoring: Any = None,
        refit: bool = True,
        n_jobs: int | None = None,
        tol: float = 1e-4,
        max_epochs: int = 1000,
        class_weight: Any = None,
    ) -> None:
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.tol = tol
        self.max_epochs = max_epochs
        self.class_weight = class_weight

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _ratios(self) -> list[float | None]:
        if self.l1_ratios is None:
            return [None]
        try:
            ratios = [float(r) for r in self.l1_ratios]
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"l1_ratios: expected a list of numbers in [0, 1], got {self.l1_ratios!r}"
            ) from None
        if not ratios:
            raise InvalidInputError("l1_ratios: give at least one value, or None")
        for r in ratios:
            penalty_of(r)  # in [0, 1], named
        return list[float | None](ratios)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SoftmaxRegressionCV:
        """Cross-validate the paths, pick the best (C, l1_ratio), refit. Returns self."""
        from joblib import Parallel, delayed

        cs = check_cs(self.Cs)
        ratios = self._ratios()
        if not isinstance(self.refit, (bool, np.bool_)):
            raise InvalidInputError(f"refit: expected True or False, got {self.refit!r}")
        X, y = check_rows(self, X, y, dtype=np.float64, reset=True)
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise InvalidInputError(
                f"y: has only {len(classes)} class; a classifier needs at least 2 classes"
            )
        # the one check of sample_weight (the class weights apply inside each fit)
        sw = None
        if sample_weight is not None:
            sw = row_weights(None, classes, y_idx.reshape(-1), sample_weight, whole=True)
        folds = list(check_cv(5 if self.cv is None else self.cv, y, classifier=True).split(X, y))
        scorer = (
            None
            if self.scoring is None
            else check_scoring(SoftmaxRegression(), scoring=self.scoring)
        )
        bases = [self._base(r) for r in ratios]
        jobs = [(k, j) for k in range(len(folds)) for j in range(len(ratios))]
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_path)(bases[j], X, y, sw, folds[k][0], folds[k][1], cs, scorer)
            for k, j in jobs
        )
        scores, n_iter, paths = _collect(
            jobs, results, classes, len(folds), len(cs), len(ratios), X.shape[1]
        )
        mean = scores.mean(axis=0)
        best_c, best_r = np.unravel_index(int(np.argmax(mean)), mean.shape)
        self.classes_, self.Cs_ = classes, cs
        self.l1_ratios_ = None if self.l1_ratios is None else np.array(ratios)
        self.C_ = np.full(len(classes), cs[best_c])
        self.l1_ratio_ = np.full(
            len(classes), ratios[best_r], dtype=object if ratios[best_r] is None else np.float64
        )
        squeeze = self.l1_ratios is None
        self.scores_ = {c: scores[..., 0] if squeeze else scores for c in classes}
        self.coefs_paths_ = {
            c: paths[q][:, :, 0] if squeeze else paths[q] for q, c in enumerate(classes)
        }
        self.n_iter_ = (n_iter[..., 0] if squeeze else n_iter)[np.newaxis]
        model = self._base(ratios[best_r])
        if self.refit:
            n = float(len(y) if sw is None else sw.sum())
            model.set_params(alpha=1.0 / (cs[best_c] * n)).fit(X, y, sw)
        else:  # the folds' models at the best setting, averaged
            model.classes_ = classes
            model.coef_ = paths[:, :, best_c, best_r, :-1].mean(axis=1)
            model.intercept_ = paths[:, :, best_c, best_r, -1].mean(axis=1)
            model.n_features_in_ = X.shape[1]
        self.estimator_ = model
        self.coef_, self.intercept_ = model.coef_, model.intercept_
        return self

    def _base(self, ratio: float | None) -> SoftmaxRegression:
        """The L-BFGS estimator every fold fits (and the refit), at L1 share ``ratio``."""
        penalty, l1_ratio = penalty_of(ratio)
        return SoftmaxRegression(
            solver="lbfgs",
            penalty=penalty,
            l1_ratio=l1_ratio,
            tol=self.tol,
            max_epochs=self.max_epochs,
            class_weight=self.class_weight,
        )

    # ------------------------------------------------------------------ prediction
    def _model(self) -> SoftmaxRegression:
        check_is_fitted(self)
        return self.estimator_

    def decision_function(self, X: Any) -> np.ndarray:
        """As ``SoftmaxRegression.decision_function`` at the chosen setting."""
        self._check_features(X)
        return self._model().decision_function(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        self._check_features(X)
        return self._model().predict_proba(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        self._check_features(X)
        return self._model().predict_log_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        self._check_features(X)
        return self._model().predict(X)

    def _check_features(self, X: Any) -> None:
        check_rows(self, X, dtype=np.float64, reset=False)


def _collect(
    jobs: list[tuple[int, int]],
    results: Any,
    classes: np.ndarray,
    n_f: int,
    n_c: int,
    n_r: int,
    n_features: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The folds' scores (n_f, n_c, n_r), iterations and coefficient paths (K, n_f, n_c,
    n_r, N + 1) from each (fold, ratio) job's path."""
    scores = np.empty((n_f, n_c, n_r))
    n_iter = np.empty((n_f, n_c, n_r), dtype=np.int64)
    paths = np.zeros((len(classes), n_f, n_c, n_r, n_features + 1))
    for (k, j), (fits, fold_scores) in zip(jobs, results, strict=True):
        scores[k, :, j] = fold_scores
        for i, f in enumerate(fits):
            n_iter[k, i, j] = f.n_iter_
            rows = np.searchsorted(classes, f.classes_)  # a fold may miss a class
            paths[rows, k, i, j, :-1] = f.coef_
            paths[rows, k, i, j, -1] = f.intercept_
    return scores, n_iter, paths
