"""SoftmaxRegression's training: the logged objective, schedules, momentum, stopping, L-BFGS."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

import softmaxlab as sl
from softmaxlab import SoftmaxRegression
from softmaxlab.objective import L2, MultinomialLoss, Rows
from softmaxlab.solvers import grad_norm


@pytest.fixture(scope="module")
def iris_std():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def objective(est, X, y, s=None, class_weight=None):
    """Σ sᵢℓᵢ/Σ s + α/2‖W‖², computed independently of the estimator."""
    s = np.ones(len(y)) if s is None else np.asarray(s, dtype=float)
    if class_weight is not None:
        s = s * np.array([class_weight[k] for k in y])
    z = X @ est.coef_.T + est.intercept_
    log_p = torch.log_softmax(torch.from_numpy(z), 1).numpy()
    ce = -np.sum(s * log_p[np.arange(len(y)), y]) / s.sum()
    return ce + 0.5 * est.alpha * np.sum(est.coef_**2)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_logged_loss_is_the_objective_with_weights_and_penalty(iris_std, solver):
    X, y = iris_std
    s = np.linspace(0.5, 2.0, len(y))
    cw = {0: 1.0, 1: 2.0, 2: 0.5}
    kw = {"alpha": 0.05, "class_weight": cw, "shuffle": False, "tol": None}
    est = SoftmaxRegression(max_epochs=3, **kw, solver=solver).fit(X, y, sample_weight=s)
    if solver == "sgd":  # full batch: the epoch's loss is J before its step
        est.set_params(warm_start=True, max_epochs=1)
        before = objective(est, X, y, s, cw)
        est.fit(X, y, sample_weight=s)
        assert est.loss_curve_[-1] == pytest.approx(before, rel=1e-12)
    else:  # L-BFGS logs J after each iteration
        assert est.loss_curve_[-1] == pytest.approx(objective(est, X, y, s, cw), rel=1e-10)


def test_schedules_follow_their_formulas(iris_std):
    X, y = iris_std
    inv = SoftmaxRegression(
        schedule="invscaling", power_t=0.5, learning_rate=0.4, max_epochs=4, tol=None
    ).fit(X, y)
    np.testing.assert_allclose(
        inv.history_["learning_rate"], [0.4 / (e + 1) ** 0.5 for e in range(4)]
    )
    exp = SoftmaxRegression(
        schedule="exponential", decay_rate=0.5, learning_rate=0.4, max_epochs=4, tol=None
    ).fit(X, y)
    np.testing.assert_allclose(exp.history_["learning_rate"], [0.4 * 0.5**e for e in range(4)])
    const = SoftmaxRegression(solver="sgd", max_epochs=3, tol=None).fit(X, y)
    assert const.history_["learning_rate"] == [0.3, 0.3, 0.3]


def test_adaptive_divides_by_five_on_each_stall_then_stops(iris_std):
    X, y = iris_std
    # tol=10 can never be met, so every n_iter_no_change epochs the rate drops by 5
    est = SoftmaxRegression(
        schedule="adaptive", learning_rate=1.0, tol=10.0, n_iter_no_change=2, max_epochs=1000
    ).fit(X, y)
    rates = est.history_["learning_rate"]
    drops = [b / a for a, b in itertools.pairwise(rates) if b != a]
    assert drops and all(d == pytest.approx(0.2) for d in drops)
    assert rates[-1] / 5 < 1e-6 and est.stop_reason_ == "tol"
    assert est.history_["stop_reason"] == "tol"


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_torch_sgd(iris_std, nesterov):
    X, y = iris_std  # standardised: the estimator's coordinates are the original ones
    est = SoftmaxRegression(
        alpha=0.0,
        momentum=0.9,
        nesterov=nesterov,
        learning_rate=0.05,
        batch_size=30,
        shuffle=False,
        max_epochs=5,
        tol=None,
    ).fit(X, y)
    layer = torch.nn.Linear(4, 3, dtype=torch.float64)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(layer.parameters(), lr=0.05, momentum=0.9, nesterov=nesterov)
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(5):
        for start in range(0, 150, 30):
            loss = torch.nn.functional.cross_entropy(
                layer(xt[start : start + 30]), yt[start : start + 30]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    np.testing.assert_allclose(est.coef_, layer.weight.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.intercept_, layer.bias.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_early_stopping_restores_the_best_validation_weights():
    X, y = make_blobs(600, centers=3, cluster_std=6.0, random_state=2)
    est = SoftmaxRegression(
        early_stopping=True, n_iter_no_change=4, random_state=0, batch_size=4, learning_rate=3.0
    ).fit(X, y)
    assert est.stop_reason_ == "early_stopping"
    # rebuild the same validation split from the same random_state
    _, valid = train_test_split(
        np.arange(len(y)), test_size=0.1, stratify=y, random_state=check_random_state(0)
    )
    assert est.score(X[valid], y[valid]) == pytest.approx(max(est.validation_scores_))


def test_lbfgs_reaches_the_optimum_and_reports_the_gradient_norm(iris_std):
    X, y = iris_std
    est = SoftmaxRegression(solver="lbfgs", alpha=0.01, tol=1e-10).fit(X, y)
    assert est.stop_reason_ == "converged" and est.grad_norm_ < 1e-6
    sgd = SoftmaxRegression(solver="sgd", alpha=0.01, max_epochs=5, tol=None).fit(X, y)
    assert sgd.grad_norm_ > 100 * est.grad_norm_
    with pytest.warns(ConvergenceWarning, match="L-BFGS"):
        short = SoftmaxRegression(solver="lbfgs", max_epochs=2).fit(X, y)
    assert short.stop_reason_ == "max_epochs"


def test_lbfgs_with_every_formulation_agrees(iris_std):
    X, y = iris_std
    ref = SoftmaxRegression(solver="lbfgs", alpha=0.01, tol=1e-10).fit(X, y).coef_
    for name in ("chain", "blockwise", "jacobian", "autograd"):
        got = SoftmaxRegression(solver="lbfgs", alpha=0.01, tol=1e-10, gradient=name)
        np.testing.assert_allclose(got.fit(X, y).coef_, ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"solver": "newton"}, "solver: expected one of auto, sgd, lbfgs"),
        ({"schedule": "cosine"}, "schedule: expected one of constant, invscaling"),
        ({"momentum": 1.0}, "momentum: must be >= 0 and < 1"),
        ({"nesterov": True}, "nesterov: needs momentum > 0"),
        ({"decay_rate": 0.0}, "decay_rate: must be > 0"),
        ({"solver": "lbfgs", "early_stopping": True}, "early_stopping: works with solver='sgd'"),
    ],
)
def test_bad_training_options(iris_std, params, message):
    X, y = iris_std
    with pytest.raises(sl.InvalidInputError, match=message):
        SoftmaxRegression(**params).fit(X, y)


def test_partial_fit_needs_sgd(iris_std):
    X, y = iris_std
    with pytest.raises(sl.InvalidInputError, match="partial_fit needs solver='sgd'"):
        SoftmaxRegression(solver="lbfgs").partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("name", ["wine", "breast_cancer"])
def test_lbfgs_grad_norm_from_its_last_gradient_equals_a_full_pass(name):
    """L-BFGS reports ‖∇J‖ from its last evaluation, mapped from the standardised
    coordinates (and, for two classes, the log-odds parameters) it works in; on raw
    features it must equal a full pass of the engine."""
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    est = SoftmaxRegression(solver="lbfgs", alpha=0.01, tol=1e-2).fit(X, y)
    labels = torch.as_tensor(np.searchsorted(est.classes_, y))
    f64 = {"dtype": torch.float64}
    raw = Rows(
        torch.from_numpy(X),
        labels,
        torch.ones(len(y), **f64),
        None,
        torch.zeros(X.shape[1], **f64),
        torch.ones(X.shape[1], **f64),
    )
    loss = MultinomialLoss(raw, len(est.classes_))  # raw features: no standardisation
    ref = grad_norm(loss, L2(est.alpha_), loss.from_original(est.coef_, est.intercept_))
    assert est.grad_norm_ > 1e-4  # a loose tolerance: far from zero, so the map matters
    assert est.grad_norm_ == pytest.approx(ref, rel=1e-9)
