"""The optimality certificate: its gap bound is never below the true gap (the optimum from
a tight full-batch solve), across data sets, penalties, weights and stopping points; a
converged fit proves a gap below 1e-6; the probability bound and unstable rows hold."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.preprocessing import scale

import softmaxlab as sl
from softmaxlab.certificate import feasible_dual

CASES = [
    ("iris", load_iris, 1e-3),
    ("iris", load_iris, 0.1),
    ("wine", load_wine, 1e-2),
    ("digits", load_digits, 1e-2),
]


def _fit(x, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sl.SoftmaxRegression(**kw).fit(x, y)


@pytest.fixture(scope="module", params=CASES, ids=[f"{n}-alpha={a:g}" for n, _, a in CASES])
def problem(request):
    _, loader, alpha = request.param
    x, y = loader(return_X_y=True)
    x = scale(x)
    best = _fit(x, y, alpha=alpha, tol=1e-13, max_epochs=5000)
    return x, y, alpha, best


def test_the_bound_is_never_below_the_true_gap(problem):
    x, y, alpha, best = problem
    p_star = best.certify(x, y).objective
    p_best = best.predict_proba(x)
    for kw in (
        {"solver": "sgd", "max_epochs": 1},
        {"solver": "sgd", "max_epochs": 5},
        {"solver": "sgd", "max_epochs": 20, "momentum": 0.5},
        {"solver": "lbfgs", "max_epochs": 3},
        {"solver": "lbfgs", "max_epochs": 15},
    ):
        est = _fit(x, y, alpha=alpha, tol=None if kw["solver"] == "sgd" else 1e-4, **kw)
        cert = est.certify(x, y)
        assert cert.gap_bound >= cert.objective - p_star - 1e-12, kw
        # what the bound implies holds too: no probability is further from the optimum's
        assert np.abs(est.predict_proba(x) - p_best).max() <= cert.max_proba_change + 1e-9
        flipped = np.flatnonzero(est.predict(x) != best.predict(x))
        assert set(flipped) <= set(cert.unstable_rows.tolist()), kw


def test_a_converged_fit_proves_a_gap_below_1e_6(problem):
    x, y, _, best = problem
    cert = best.certify(x, y)
    assert cert.gap_bound < 1e-6 and cert.grad_norm < 1e-5
    assert len(cert.unstable_rows) <= 2  # only rows on a near-tie could still flip


def test_weights_enter_the_objective_and_the_bound():
    x, y = load_wine(return_X_y=True)
    x = scale(x)
    w = np.random.default_rng(0).integers(1, 4, len(y)).astype(float)
    kw = {"alpha": 1e-2, "class_weight": {0: 1.0, 1: 2.0, 2: 0.5}}
    best = _fit(x, y, tol=1e-13, max_epochs=5000, **kw)
    best.fit(x, y, sample_weight=w)
    p_star = best.certify(x, y, sample_weight=w).objective
    early = _fit(x, y, solver="sgd", max_epochs=3, tol=None, **kw)
    early.fit(x, y, sample_weight=w)
    cert = early.certify(x, y, sample_weight=w)
    assert cert.gap_bound >= cert.objective - p_star - 1e-12
    assert best.certify(x, y, sample_weight=w).gap_bound < 1e-6
    rows = np.repeat(np.arange(len(y)), w.astype(int))  # weights = repeated rows
    assert best.certify(x[rows], y[rows]).objective == pytest.approx(p_star, rel=1e-12)


def test_the_dual_point_is_feasible():
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(4), size=50)
    y = np.eye(4)[rng.integers(0, 4, 50)]
    r = rng.random(50)
    r /= r.sum()
    q, lam = feasible_dual(proba, y, r)
    np.testing.assert_allclose(r @ (q - y), 0, atol=1e-12)  # the intercepts' constraint
    assert (q >= 0).all() and np.allclose(q.sum(axis=1), 1) and 0 <= lam <= 1


def test_without_a_penalty_nothing_is_proved_and_the_classifier_certifies_too():
    x, y = load_iris(return_X_y=True)
    x = scale(x)
    cert = _fit(x, y, alpha=0.0, max_epochs=50).certify(x, y)
    assert cert.gap_bound == float("inf") and cert.max_proba_change == 1.0
    import torch

    d = sl.make_dataset(300, 4, 3, train_rows=200, seed=0, device="cpu")
    model = sl.SoftmaxClassifier(4, 3, gradient="fused", seed=0, device="cpu")
    model.fit(d.x_train, d.y_train, 3, 0.1, 50, verbose=False)
    cert = model.certify(d.x_train, d.y_train)
    assert cert.objective == pytest.approx(model.evaluate(d.x_train, d.y_train), rel=1e-12)
    assert cert.gap_bound == float("inf")
    del torch


def test_certify_from_the_command_line_and_bad_input(tmp_path, capsys):
    import pandas as pd

    x, y = load_wine(return_X_y=True)
    data = tmp_path / "wine.csv"
    pd.DataFrame(x).assign(label=y).to_csv(data, index=False)
    model = tmp_path / "m.safetensors"
    assert (
        sl.cli.main(
            [
                "train",
                "--data",
                str(data),
                "--target",
                "label",
                "--standardize",
                "--valid",
                "0",
                "--tol",
                "1e-12",
                "--epochs",
                "3000",
                "-q",
                "--out",
                str(model),
            ]
        )
        == 0
    )
    assert (
        sl.cli.main(["certify", "--model", str(model), "--data", str(data), "--target", "label"])
        == 0
    )
    out = capsys.readouterr().out
    gap = float(out.split("gap to the optimum at most ")[1].split(";")[0])
    assert gap < 1e-6 and "0 row(s) could still change label" in out
    est = _fit(scale(x), y)
    with pytest.raises(sl.InvalidInputError, match="y: labels"):
        est.certify(scale(x), np.full(len(y), 7))
    with pytest.raises(sl.InvalidInputError, match="X, y"):
        est.certify(scale(x)[:, :3], y)
    bad = scale(x)
    bad[3, 2] = np.nan
    with pytest.raises(sl.InvalidInputError, match="X: contains NaN"):
        est.certify(bad, y)
