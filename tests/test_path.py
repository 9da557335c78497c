"""The regularisation path (softmaxlab.path) and SoftmaxRegressionCV (softmaxlab.cv):
warm-started fits equal cold fits at every C, the attributes have LogisticRegressionCV's
shapes, the chosen setting is the best mean fold score, scikit-learn's estimator checks
pass, and bad Cs / l1_ratios are refused by name."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from softmaxlab import SoftmaxRegression, SoftmaxRegressionCV, regularization_path
from softmaxlab.errors import InvalidInputError


@pytest.fixture(scope="module")
def wine():
    x, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(x), y


@pytest.mark.parametrize("l1_ratio", [None, 0.5, 1.0])
def test_warm_started_path_equals_cold_fits(wine, l1_ratio):
    x, y = wine
    cs = [0.01, 0.1, 1.0, 10.0]
    path = regularization_path(x, y, Cs=cs, l1_ratio=l1_ratio, tol=1e-9, max_epochs=5000)
    assert path.coefs.shape == (4, 3, 13) and path.intercepts.shape == (4, 3)
    np.testing.assert_array_equal(path.Cs, cs)
    penalty = "l2" if l1_ratio is None else "elasticnet"
    for i, c in enumerate(cs):
        cold = SoftmaxRegression(
            solver="lbfgs",
            penalty=penalty,
            l1_ratio=l1_ratio,
            alpha=1 / (c * len(y)),
            tol=1e-9,
            max_epochs=5000,
        ).fit(x, y)
        np.testing.assert_allclose(path.coefs[i], cold.coef_, rtol=0, atol=1e-4)
    assert np.all(np.diff(path.losses) < 0)  # a weaker penalty fits the rows better
    if l1_ratio:
        assert path.n_nonzero[0] < path.n_nonzero[-1] <= 39
        assert path.n_nonzero[0] == (path.coefs[0] != 0).sum()


def test_warm_starts_and_carried_curvature_save_iterations(wine):
    x, y = wine
    cs = np.logspace(-2, 2, 8)
    path = regularization_path(x, y, Cs=cs)
    cold = [SoftmaxRegression(solver="lbfgs", alpha=1 / (c * len(y))).fit(x, y).n_iter_ for c in cs]
    assert path.n_iter.sum() < 0.7 * sum(cold)


def test_path_takes_sparse_rows_and_int_cs(wine):
    x, y = wine
    assert np.allclose(regularization_path(x, y, Cs=3).Cs, np.logspace(-4, 4, 3))
    dense = regularization_path(x, y, Cs=[0.01, 0.1, 1.0], l1_ratio=1.0, tol=1e-9)
    sparse = regularization_path(sp.csr_matrix(x), y, Cs=[0.01, 0.1, 1.0], l1_ratio=1.0, tol=1e-9)
    np.testing.assert_allclose(sparse.coefs, dense.coefs, rtol=0, atol=1e-4)
    assert [row["C"] for row in dense.table()] == dense.Cs.tolist()


@pytest.mark.parametrize(
    "cs,message",
    [
        (0, "Cs: an int must be >= 1"),
        ([1.0, -1.0], "Cs: every C must be a positive"),
        ([np.inf], "Cs: every C must be a positive"),
        ("many", "Cs: expected an int or a list"),
    ],
)
def test_bad_cs_are_refused_by_name(wine, cs, message):
    x, y = wine
    with pytest.raises(InvalidInputError, match=message):
        regularization_path(x, y, Cs=cs)
    with pytest.raises(InvalidInputError, match=message):
        SoftmaxRegressionCV(Cs=cs).fit(x, y)


def test_bad_l1_ratios_are_refused_by_name(wine):
    x, y = wine
    with pytest.raises(InvalidInputError, match="l1_ratio: must be in \\[0, 1\\], got 2"):
        regularization_path(x, y, l1_ratio=2)
    with pytest.raises(InvalidInputError, match=r"l1_ratio: must be in \[0, 1\], got 1\.5"):
        SoftmaxRegressionCV(l1_ratios=[0.5, 1.5]).fit(x, y)
    est = SoftmaxRegressionCV(l1_ratios=[])
    with pytest.raises(InvalidInputError, match="l1_ratios: give at least one value"):
        est.fit(x, y)
    assert not hasattr(est, "coef_")


def test_cv_attributes_have_logistic_regression_cvs_shapes():
    x, y = load_iris(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LogisticRegressionCV(Cs=4, cv=3).fit(x, y)
    ours = SoftmaxRegressionCV(Cs=4, cv=3).fit(x, y)
    assert set(ours.scores_) == set(ref.scores_)
    for c in ref.classes_:
        assert ours.scores_[c].shape == ref.scores_[c].shape == (3, 4)
        assert ours.coefs_paths_[c].shape == ref.coefs_paths_[c].shape == (3, 4, 5)
    assert ours.C_.shape == ref.C_.shape and ours.Cs_.shape == ref.Cs_.shape
    np.testing.assert_allclose(ours.Cs_, ref.Cs_)
    assert ours.n_iter_.shape == ref.n_iter_.shape == (1, 3, 4)
    assert ours.coef_.shape == ref.coef_.shape and ours.intercept_.shape == (3,)
    best = np.argmax(ours.scores_[0].mean(axis=0))
    assert ours.C_[0] == ours.Cs_[best]
    assert ours.score(x, y) > 0.9


def test_cv_over_l1_ratios_picks_the_best_pair_and_refits(wine):
    x, y = wine
    cv = SoftmaxRegressionCV(Cs=[0.01, 0.1, 1.0], l1_ratios=[0.2, 1.0], cv=3).fit(x, y)
    for c in cv.classes_:
        assert cv.scores_[c].shape == (3, 3, 2)
        assert cv.coefs_paths_[c].shape == (3, 3, 2, 14)
    mean = cv.scores_[cv.classes_[0]].mean(axis=0)
    i, j = np.unravel_index(np.argmax(mean), mean.shape)
    assert cv.C_[0] == cv.Cs_[i] and cv.l1_ratio_[0] == cv.l1_ratios_[j]
    refit = SoftmaxRegression(
        solver="lbfgs",
        penalty="elasticnet",
        l1_ratio=cv.l1_ratios_[j],
        alpha=1 / (cv.Cs_[i] * len(y)),
    ).fit(x, y)
    np.testing.assert_allclose(cv.coef_, refit.coef_, rtol=0, atol=1e-12)
    averaged = SoftmaxRegressionCV(
        Cs=[0.01, 0.1, 1.0], l1_ratios=[0.2, 1.0], cv=3, refit=False
    ).fit(x, y)
    k = list(averaged.classes_)
    expected = np.stack([averaged.coefs_paths_[c][:, i, j, :-1].mean(axis=0) for c in k])
    np.testing.assert_allclose(averaged.coef_, expected)


@pytest.mark.slow  # joblib's worker processes take 2 s to start
def test_cv_scoring_and_parallel_folds(wine):
    x, y = wine
    a = SoftmaxRegressionCV(Cs=3, cv=3, scoring="neg_log_loss", n_jobs=2).fit(x, y)
    b = SoftmaxRegressionCV(Cs=3, cv=3, scoring="neg_log_loss").fit(x, y)
    np.testing.assert_allclose(a.scores_[0], b.scores_[0])
    assert np.all(a.scores_[0] < 0)


@parametrize_with_checks([SoftmaxRegressionCV(Cs=3, cv=3)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
