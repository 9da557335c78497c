"""SoftmaxRegression: scikit-learn's own checks, composition, and the estimator's options."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris, load_wine, make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import softmaxlab as sl
from softmaxlab import SoftmaxRegression


@parametrize_with_checks([SoftmaxRegression()])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_pipeline_grid_search_and_cross_val_score(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), SoftmaxRegression(random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.9
    grid = GridSearchCV(pipe, {"softmaxregression__alpha": [0.0, 0.01]}, cv=3).fit(X, y)
    assert grid.best_params_["softmaxregression__alpha"] in (0.0, 0.01)
    assert grid.predict(X[:5]).shape == (5,)


def test_string_labels_probabilities_and_attributes(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    est = SoftmaxRegression(random_state=0).fit(X, names)
    assert list(est.classes_) == ["setosa", "versicolor", "virginica"]
    assert est.coef_.shape == (3, 4) and est.intercept_.shape == (3,)
    assert est.n_features_in_ == 4 and est.n_iter_ >= 1 and len(est.loss_curve_) == est.n_iter_
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.log(proba), est.predict_log_proba(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.decision_function(X), X @ est.coef_.T + est.intercept_)
    assert set(est.predict(X)) <= set(names)
    assert est.score(X, names) > 0.95


def test_feature_names_from_dataframe(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    est = SoftmaxRegression(max_epochs=20, tol=None).fit(frame, y)
    assert list(est.feature_names_in_) == ["sl", "sw", "pl", "pw"]


def test_binary_decision_function_is_log_odds():
    X, y = make_blobs(60, centers=2, random_state=0)
    est = SoftmaxRegression(random_state=0).fit(X, y)
    z = X @ est.coef_.T + est.intercept_
    np.testing.assert_allclose(est.decision_function(X), z[:, 1] - z[:, 0])


def test_training_is_repeatable_with_random_state(iris):
    X, y = iris
    a = SoftmaxRegression(random_state=3, batch_size=16, max_epochs=5, tol=None).fit(X, y)
    b = SoftmaxRegression(random_state=3, batch_size=16, max_epochs=5, tol=None).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_full_batch_follows_the_objective_exactly_in_original_coordinates(iris):
    # one full-batch step from zero: W = -lr ∇J(0) mapped through the preconditioner
    X, y = iris
    est = SoftmaxRegression(solver="sgd", max_epochs=1, tol=None, shuffle=False).fit(X, y)
    assert est.loss_curve_[0] == pytest.approx(np.log(3), rel=1e-12)  # J at zero parameters


def test_partial_fit_needs_classes_then_accumulates(iris):
    X, y = iris
    est = SoftmaxRegression(solver="sgd", random_state=0)
    est.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    est.partial_fit(X[50:], y[50:])
    assert list(est.classes_) == [0, 1, 2] and len(est.loss_curve_) == 2
    with pytest.raises(sl.InvalidInputError, match=r"y: labels \[7\] are not among"):
        est.partial_fit(X[:2], [0, 7])


def test_sample_weight_and_class_weight(iris):
    X, y = iris
    w = np.where(y == 2, 3.0, 1.0)
    a = SoftmaxRegression(shuffle=False, max_epochs=30, tol=None).fit(X, y, sample_weight=w)
    b = SoftmaxRegression(
        shuffle=False, max_epochs=30, tol=None, class_weight={0: 1.0, 1: 1.0, 2: 3.0}
    ).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)
    balanced = SoftmaxRegression(class_weight="balanced", max_epochs=30, tol=None).fit(X, y)
    assert balanced.coef_.shape == (3, 4)


def test_early_stopping_restores_the_best_weights():
    X, y = make_blobs(400, centers=3, cluster_std=5.0, random_state=1)
    est = SoftmaxRegression(
        early_stopping=True, n_iter_no_change=3, random_state=0, batch_size=8, learning_rate=2.0
    ).fit(X, y)
    assert est.stop_reason_ == "early_stopping"
    assert len(est.validation_scores_) == est.n_iter_
    assert est.n_iter_ < 1000


def test_tol_stopping_and_convergence_warning(iris):
    X, y = iris
    stopped = SoftmaxRegression(solver="sgd", random_state=0).fit(X, y)
    assert stopped.stop_reason_ == "tol"
    with pytest.warns(ConvergenceWarning, match="max_epochs=3 reached"):
        short = SoftmaxRegression(solver="sgd", max_epochs=3).fit(X, y)
    assert short.stop_reason_ == "max_epochs" and short.n_iter_ == 3


def test_warm_start_continues(iris):
    X, y = iris
    est = SoftmaxRegression(
        solver="sgd", max_epochs=5, tol=None, warm_start=True, shuffle=False
    ).fit(X, y)
    first = est.coef_.copy()
    est.fit(X, y)
    once = SoftmaxRegression(solver="sgd", max_epochs=10, tol=None, shuffle=False).fit(X, y)
    np.testing.assert_allclose(est.coef_, once.coef_, rtol=1e-9, atol=1e-12)
    assert not np.allclose(first, est.coef_)


def test_every_gradient_formulation_gives_the_same_model(iris):
    X, y = iris
    kw = {"max_epochs": 5, "tol": None, "shuffle": False, "batch_size": 30}
    ref = SoftmaxRegression(**kw).fit(X, y).coef_
    for name in sl.gradients.names():
        np.testing.assert_allclose(
            SoftmaxRegression(gradient=name, **kw).fit(X, y).coef_, ref, rtol=1e-9, atol=1e-12
        )


def test_float32(iris):
    X, y = iris
    est = SoftmaxRegression(dtype="float32", max_epochs=50, tol=None).fit(X, y)
    assert est.coef_.dtype == np.float32 and est.predict_proba(X).dtype == np.float32


def test_wine_matches_logistic_regression_accuracy():
    X, y = load_wine(return_X_y=True)
    ours = cross_val_score(
        make_pipeline(StandardScaler(), SoftmaxRegression(random_state=0)), X, y, cv=5
    ).mean()
    assert ours > 0.97


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rate": 0.0}, "learning_rate: must be > 0"),
        ({"learning_rate": "fast"}, "learning_rate: expected a number"),
        ({"max_epochs": 0}, "max_epochs: must be >= 1"),
        ({"batch_size": 0}, "batch_size: must be >= 1"),
        ({"alpha": -1.0}, "alpha: must be >= 0"),
        ({"validation_fraction": 1.0}, "validation_fraction: must be > 0 and < 1"),
        ({"gradient": "newton"}, "gradient: unknown formulation 'newton'"),
        ({"class_weight": "heavy"}, "class_weight: expected None, 'balanced' or a dict"),
        ({"class_weight": {9: 2.0}}, r"class_weight: labels \[9\] are not among"),
        ({"dtype": "int8"}, "dtype: expected float64 or float32"),
        ({"shuffle": "yes"}, "shuffle: expected True or False"),
    ],
)
def test_bad_parameters_are_refused_and_leave_the_fit_untouched(iris, params, message):
    X, y = iris
    est = SoftmaxRegression(max_epochs=5, tol=None).fit(X, y)
    before = {k: v for k, v in vars(est).items() if k.endswith("_")}
    est.set_params(**params)
    with pytest.raises(sl.SoftmaxlabError, match=message):
        est.fit(X, y)
    after = {k: v for k, v in vars(est).items() if k.endswith("_")}
    assert before.keys() == after.keys()
    for key in before:
        assert np.array_equal(np.asarray(before[key]), np.asarray(after[key])), key


def test_bad_data(iris):
    X, y = iris
    est = SoftmaxRegression()
    with pytest.raises(ValueError, match="NaN"):
        est.fit(np.where(X > 7, np.nan, X), y)
    with pytest.raises(sl.InvalidInputError, match="y: has only 1 class"):
        est.fit(X, np.zeros(len(y)))
    with pytest.raises(sl.InvalidInputError, match="sample_weight: expected shape"):
        est.fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(sl.InvalidInputError, match="sample_weight: fewer than 2 classes"):
        est.fit(X, y, sample_weight=(y == 0).astype(float))
    with pytest.raises(NotFittedError):
        SoftmaxRegression().predict(X)
    fitted = SoftmaxRegression(max_epochs=2, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features"):
        fitted.predict(X[:, :3])


def test_divergence_is_a_clear_error_and_changes_nothing(iris):
    X, y = iris
    est = SoftmaxRegression(solver="sgd", max_epochs=3, tol=None).fit(X, y)
    coef = est.coef_.copy()
    est.set_params(learning_rate=1e300, warm_start=True)
    with pytest.raises(
        sl.TrainingDiverged, match=r"training diverged (at epoch [01]|: the objective rose)"
    ):
        est.fit(X * 1e100, y)
    np.testing.assert_array_equal(est.coef_, coef)


def _threads_in_fit(est, X, y):
    """A scorer that reports how many threads PyTorch and the native kernel's OpenMP
    (torch's own libgomp) had while the estimator was fitted in this process."""
    from threadpoolctl import threadpool_info

    omp = [
        i["num_threads"]
        for i in threadpool_info()
        if i["user_api"] == "openmp" and "torch" in i["filepath"]
    ]
    return float(max([torch.get_num_threads(), *omp]))


def test_joblib_workers_do_not_oversubscribe_the_cores():
    """cross_val_score(n_jobs=2) runs each fit in a loky worker whose inner thread limit
    (cores // n_jobs) PyTorch and the native kernel both keep."""
    import os

    from sklearn.datasets import load_iris
    from sklearn.model_selection import cross_val_score

    x, y = load_iris(return_X_y=True)
    scores = cross_val_score(
        SoftmaxRegression(max_epochs=3, tol=None), x, y, cv=2, n_jobs=2, scoring=_threads_in_fit
    )
    assert scores.tolist() == [float(max(1, (os.cpu_count() or 1) // 2))] * 2


def test_threadpool_limits_bound_the_fit():
    from threadpoolctl import threadpool_limits

    seen = []
    x, y = np.random.default_rng(0).normal(size=(60, 3)), np.arange(60) % 3
    with threadpool_limits(1):
        SoftmaxRegression(max_epochs=2, tol=None).fit(
            x, y, callback=lambda record: seen.append(torch.get_num_threads())
        )
    assert seen == [1, 1]


@pytest.mark.parametrize("name", ["wine", "breast_cancer"])
def test_default_fits_the_model_of_default_logistic_regression(name):
    """alpha="auto" is LogisticRegression()'s C = 1 (twice 1/n for two classes): at tight
    tolerances both defaults give the same probabilities."""
    from sklearn import datasets
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours = SoftmaxRegression(tol=1e-10, max_epochs=10_000).fit(X, y)
    ref = LogisticRegression(tol=1e-10, max_iter=10_000).fit(X, y)
    assert ours.solver_ == "lbfgs"
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_a_fit_never_runs_more_threads_than_the_cpus_it_may_use(monkeypatch):
    """Under a CPU quota or an affinity mask of one CPU, PyTorch's pool (sized by the
    machine's cores) is cut to what the process may use while the engine runs."""
    import torch

    from softmaxlab.fast import threads

    if torch.get_num_threads() < 2:
        pytest.skip("PyTorch already runs one thread here")
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "usable_cpus", lambda: 1)
    with threads.budget(1e12):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    monkeypatch.undo()
    with threads.budget(1e12):  # unlimited: the caller's count stays
        assert torch.get_num_threads() == before
