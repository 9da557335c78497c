"""Every convention that differs between softmaxlab, PyTorch, Keras and scikit-learn, and
the mapping that makes them agree. docs/conventions.md points at each test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import softmaxlab as sl
from softmaxlab import SoftmaxRegression
from softmaxlab import functional as F
from softmaxlab import gradients as G
from softmaxlab.comparison import SKLEARN_TOLERANCE, sklearn_optimum_checks
from tests.helpers import random_problem


def _standardised(name):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _relative(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


# ----------------------------------------------------------------- C versus alpha


@pytest.mark.parametrize("name", ["iris", "wine", "digits"])
@pytest.mark.parametrize("weighted", [False, True])
def test_alpha_is_one_over_C_n_at_the_optimum(name, weighted):
    X, y = _standardised(name)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    C = 0.5
    n = len(y) if sw is None else sw.sum()  # weighted: n is the sum of the weights
    ref = LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(X, y, sample_weight=sw)
    ours = SoftmaxRegression(solver="lbfgs", alpha=1 / (C * n), tol=1e-12, max_epochs=100_000).fit(
        X, y, sample_weight=sw
    )
    centred = lambda a, axis=0: a - a.mean(axis)  # noqa: E731 - shared-shift invariance
    assert _relative(centred(ours.coef_), centred(ref.coef_)) < 1e-4
    assert _relative(centred(ours.intercept_), centred(ref.intercept_)) < 1e-4
    assert _relative(ours.predict_proba(X), ref.predict_proba(X)) < 1e-4


def test_two_classes_need_twice_the_alpha():
    X, y = _standardised("breast_cancer")
    C, n = 1.0, len(y)
    ref = LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(X, y)
    right = SoftmaxRegression(solver="lbfgs", alpha=2 / (C * n), tol=1e-12, max_epochs=100_000).fit(
        X, y
    )
    wrong = SoftmaxRegression(solver="lbfgs", alpha=1 / (C * n), tol=1e-12, max_epochs=100_000).fit(
        X, y
    )
    log_odds = right.coef_[1] - right.coef_[0]  # one weight vector per class vs one in all
    assert _relative(log_odds, ref.coef_[0]) < 1e-4
    assert _relative(wrong.coef_[1] - wrong.coef_[0], ref.coef_[0]) > 1e-2


def test_compare_reports_the_sklearn_check():
    data = sl.load_dataset("wine", standardize=True, device="cpu")
    checks = sklearn_optimum_checks(data, C=1.0)
    assert [c.quantity for c in checks] == [
        "coef_ (centred)",
        "intercept_ (centred)",
        "predict_proba",
    ]
    assert all(c.passed and c.mape < SKLEARN_TOLERANCE for c in checks)


# ----------------------------------------------------------------- mean versus sum


def test_mean_versus_sum_reduction():
    x, y, w, b = random_problem(12, 4, 3, seed=1)
    ours = G.fused(x, y, w, b)
    with torch.enable_grad():
        wg = w.clone().requires_grad_()
        total = torch.nn.functional.cross_entropy(F.logits(x, wg, b), y, reduction="sum")
        total.backward()
    torch.testing.assert_close(wg.grad, 12 * ours.d_w)  # sum = m × mean
    mean = torch.nn.functional.cross_entropy(F.logits(x, w, b), y)  # torch's default
    assert float(mean) == pytest.approx(float(F.cross_entropy(y, F.logits(x, w, b))), rel=1e-14)


def test_sklearn_objective_is_C_n_times_ours():
    X, y = _standardised("iris")
    est = SoftmaxRegression(max_epochs=3, tol=None, alpha=0.0).fit(X, y)
    z = X @ est.coef_.T + est.intercept_
    log_p = torch.log_softmax(torch.from_numpy(z), 1).numpy()
    sum_ce = -log_p[np.arange(len(y)), y].sum()
    C, n = 2.0, len(y)
    alpha = 1 / (C * n)
    ours = sum_ce / n + 0.5 * alpha * np.sum(est.coef_**2)
    sklearn_form = C * sum_ce + 0.5 * np.sum(est.coef_**2)
    assert sklearn_form == pytest.approx(C * n * ours, rel=1e-12)


# ----------------------------------------------------------------- penalised bias


def test_torch_weight_decay_penalises_the_bias_unless_told_not_to():
    x, y, w, b = random_problem(20, 3, 4, seed=2)
    alpha, lr = 0.1, 0.5

    def torch_step(bias_decay):
        layer = torch.nn.Linear(3, 4, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(w.T)
            layer.bias.copy_(b)
        groups = [
            {"params": [layer.weight], "weight_decay": alpha},
            {"params": [layer.bias], "weight_decay": alpha if bias_decay else 0.0},
        ]
        opt = torch.optim.SGD(groups, lr=lr)
        torch.nn.functional.cross_entropy(layer(x), y).backward()
        opt.step()
        return layer.bias.detach()

    g = G.fused(x, y, w, b, alpha=alpha)
    ours_b = b - lr * g.d_b  # softmaxlab never penalises b
    torch.testing.assert_close(torch_step(bias_decay=False), ours_b)
    assert not torch.allclose(torch_step(bias_decay=True), ours_b)


# ----------------------------------------------------------------- shared shift


def test_a_shift_shared_by_all_classes_changes_nothing():
    x, _, w, b = random_problem(10, 5, 4, seed=3)
    v = torch.randn(5, 1, dtype=torch.float64)  # added to every class's weight vector
    p = F.softmax(F.logits(x, w, b))
    shifted = F.softmax(F.logits(x, w + v, b + 7.0))
    torch.testing.assert_close(shifted, p)


def test_keras_mean_reduction_is_ours():
    pytest.importorskip("keras")
    import keras

    x, y, w, b = random_problem(9, 3, 3, seed=4)
    z = F.logits(x, w, b)
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64")
    assert float(loss(y.numpy(), z.numpy())) == pytest.approx(
        float(F.cross_entropy(y, z)), rel=1e-12
    )
