"""Newton-CG (softmaxlab.solvers.newton): it reaches the optimum that scikit-learn's
newton-cg and softmaxlab's own L-BFGS reach, dense and sparse, weighted, two classes and
many, on one rank or two, and refuses what it cannot fit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import softmaxlab as sl
from tests.fast.test_comm import ThreadGroup

SETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}


def _data(name):
    x, y = SETS[name](return_X_y=True)
    return StandardScaler().fit_transform(x), y


@pytest.mark.parametrize("name", SETS)
def test_newton_cg_reaches_scikit_learns_optimum_in_a_few_iterations(name):
    x, y = _data(name)
    ours = sl.SoftmaxRegression(solver="newton-cg", tol=1e-10).fit(x, y)
    ref = LogisticRegression(solver="newton-cg", tol=1e-12, max_iter=1000).fit(x, y)
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), atol=1e-7)
    assert ours.stop_reason_ == "converged" and ours.solver_ == "newton-cg"
    assert ours.n_iter_ <= 15 and ours.grad_norm_ <= 1e-8


def test_newton_cg_is_at_least_as_close_to_the_optimum_as_lbfgs_at_the_same_tol():
    x, y = _data("wine")
    newton = sl.SoftmaxRegression(solver="newton-cg", tol=1e-8).fit(x, y)
    lbfgs = sl.SoftmaxRegression(solver="lbfgs", tol=1e-8, max_epochs=5000).fit(x, y)
    assert newton.grad_norm_ <= lbfgs.grad_norm_
    np.testing.assert_allclose(newton.predict_proba(x), lbfgs.predict_proba(x), atol=1e-6)


@pytest.mark.parametrize("penalty", ["l2", None])
def test_sparse_weighted_rows_give_the_dense_optimum(penalty):
    x, y = _data("iris")
    x = np.where(np.abs(x) < 0.5, 0.0, x)  # a sparse-looking matrix
    w = np.linspace(0.5, 2.0, len(y))
    opts = dict(solver="newton-cg", tol=1e-10, penalty=penalty, class_weight="balanced")
    if penalty is None:
        opts["max_epochs"] = 200
    dense = sl.SoftmaxRegression(**opts).fit(x, y, w)
    sparse = sl.SoftmaxRegression(**opts).fit(sp.csr_matrix(x), y, w)
    lbfgs = sl.SoftmaxRegression(**{**opts, "solver": "lbfgs", "max_epochs": 5000}).fit(x, y, w)
    np.testing.assert_allclose(sparse.predict_proba(x), dense.predict_proba(x), atol=1e-7)
    np.testing.assert_allclose(dense.predict_proba(x), lbfgs.predict_proba(x), atol=1e-5)


def test_two_ranks_equal_one_process():
    x, y = _data("wine")
    single = sl.SoftmaxRegression(solver="newton-cg", tol=1e-9).fit(x, y)
    for est in ThreadGroup(2).run(
        lambda r: sl.SoftmaxRegression(solver="newton-cg", tol=1e-9).fit(x, y)
    ):
        np.testing.assert_allclose(est.coef_, single.coef_, rtol=1e-9, atol=1e-11)
        assert est.n_iter_ == single.n_iter_


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"penalty": "l1"}, "solver: 'newton-cg' takes penalty='l2' or None"),
        ({"penalty": "elasticnet", "l1_ratio": 0.5}, "takes penalty='l2' or None"),
        ({"early_stopping": True}, "early_stopping: works with solver='sgd' only"),
    ],
)
def test_what_newton_cg_cannot_fit_is_refused_by_name(options, message):
    x, y = _data("iris")
    est = sl.SoftmaxRegression(solver="newton-cg", **options)
    with pytest.raises(sl.InvalidInputError, match=message):
        est.fit(x, y)
    assert not hasattr(est, "coef_")
    with pytest.raises(sl.InvalidInputError, match="partial_fit needs solver='sgd'"):
        sl.SoftmaxRegression(solver="newton-cg").partial_fit(x, y)


def test_the_history_and_the_callback_see_every_iteration(capsys):
    x, y = _data("iris")
    seen = []
    est = sl.SoftmaxRegression(solver="newton-cg", tol=1e-10, verbose=1).fit(
        x, y, callback=seen.append
    )
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("iteration:")]
    assert len(lines) == len(seen) == est.n_iter_ == len(est.history_["loss"])
    assert np.all(np.diff(est.history_["loss"]) <= 0)  # every step lowers the objective


def test_the_command_line_trains_with_newton_cg(tmp_path, capsys):
    from softmaxlab.cli import main
    from softmaxlab.persistence import load_model

    out = tmp_path / "m.safetensors"
    assert main(["train", "--data", "wine", "--solver", "newton-cg", "--out", str(out)]) == 0
    saved = load_model(out)
    assert saved.config["solver"] == "newton-cg" and saved.config["stop_reason"] == "converged"
