"""softmaxlab.inference.summarize against statsmodels' MNLogit: coefficients and standard
errors to 1e-6, weights equal repeated rows, a warning on separated data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification

import softmaxlab as sl
from softmaxlab.inference import SeparationWarning, information_matrix, summarize

sm = pytest.importorskip("statsmodels.api")

CASES = {
    "3 classes, 4 features": dict(n_samples=400, n_features=4, n_classes=3, seed=0),
    "2 classes, 3 features": dict(n_samples=300, n_features=3, n_classes=2, seed=1),
    "4 classes, 5 features": dict(n_samples=800, n_features=5, n_classes=4, seed=2),
}


def _data(n_samples, n_features, n_classes, seed):
    return make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_features - 1,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        flip_y=0.15,
        random_state=seed,
    )


def _fit(x, y, **kw):
    return sl.SoftmaxRegression(alpha=0, tol=1e-12, max_epochs=2000).fit(x, y, **kw)


def _relative(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(b).max())


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_coefficients_and_standard_errors_equal_mnlogit(case):
    x, y = _data(**case)
    s = summarize(_fit(x, y), x, y)
    ref = sm.MNLogit(y, sm.add_constant(x)).fit(method="newton", tol=1e-12, disp=0)
    assert _relative(s.table["coef"], ref.params.T.ravel()) < 1e-6
    assert _relative(s.table["std_err"], ref.bse.T.ravel()) < 1e-6
    assert _relative(s.table["p_value"], ref.pvalues.T.ravel()) < 1e-5
    assert s.log_likelihood == pytest.approx(ref.llf, rel=1e-10)
    assert s.pseudo_r2 == pytest.approx(ref.prsquared, rel=1e-8)
    ci = np.asarray(ref.conf_int())  # (classes - 1, terms, 2)
    assert _relative(s.table["ci_lower"], ci[..., 0].ravel()) < 1e-6
    assert _relative(s.table["ci_upper"], ci[..., 1].ravel()) < 1e-6
    assert s.converged and s.n_obs == len(y)
    text = str(s)
    assert "pseudo-R²" in text and "converged: yes" in text and "[95%" in text


def test_another_reference_class_equals_mnlogit_with_that_class_first():
    x, y = _data(**CASES["3 classes, 4 features"])
    s = summarize(_fit(x, y), x, y, reference=2)
    relabelled = np.choose(y, [1, 2, 0])  # class 2 becomes 0, MNLogit's reference
    ref = sm.MNLogit(relabelled, sm.add_constant(x)).fit(method="newton", tol=1e-12, disp=0)
    assert s.reference == 2
    assert list(s.table.index.get_level_values("class").unique()) == ["0", "1"]
    assert _relative(s.table["coef"], ref.params.T.ravel()) < 1e-6
    assert _relative(s.table["std_err"], ref.bse.T.ravel()) < 1e-6


def test_integer_weights_equal_repeated_rows():
    x, y = _data(**CASES["3 classes, 4 features"])
    w = np.random.default_rng(0).integers(0, 4, len(y))
    weighted = summarize(_fit(x, y, sample_weight=w), x, y, sample_weight=w)
    rows = np.repeat(np.arange(len(y)), w)
    repeated = summarize(_fit(x[rows], y[rows]), x[rows], y[rows])
    assert _relative(weighted.table.values, repeated.table.values) < 1e-6
    assert weighted.n_obs == repeated.n_obs == w.sum()


def test_the_information_is_the_blockwise_jacobian_sum():
    """docs/inference.md: I = Σ s_i A_i ⊗ x̃_i x̃_iᵀ with A_i the softmax Jacobian block
    without the reference class; written out for two rows."""
    x = np.array([[0.5, -1.0], [2.0, 0.3]])
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    w = np.array([1.0, 2.0])
    expected = sum(
        w[i]
        * np.kron(
            np.diag(p[i, 1:]) - np.outer(p[i, 1:], p[i, 1:]),
            np.outer(np.r_[1, x[i]], np.r_[1, x[i]]),
        )
        for i in range(2)
    )
    np.testing.assert_allclose(information_matrix(x, p, w, 0), expected, rtol=1e-14)


def test_separated_data_warn_instead_of_pretending():
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)  # setosa is linearly separable from the rest
    est = sl.SoftmaxRegression(alpha=0, max_epochs=300).fit(x, y)
    with pytest.warns(SeparationWarning, match=r"classes 0 and 1 are split by a hyperplane"):
        summarize(est, x, y)
    from softmaxlab.inference import separated_pair

    assert separated_pair(x, y, np.ones(len(y))) == (0, 1)
    overlap, labels = _data(**CASES["3 classes, 4 features"])
    assert separated_pair(overlap, labels, np.ones(len(labels))) is None


def test_a_penalised_fit_and_bad_arguments_are_refused():
    x, y = _data(**CASES["3 classes, 4 features"])
    with pytest.raises(sl.InvalidInputError, match=r"model: fitted with an L2 penalty"):
        summarize(sl.SoftmaxRegression().fit(x, y), x, y)
    est = _fit(x, y)
    for kwargs, message in [
        ({"reference": 7}, "reference: 7 is not a class"),
        ({"sample_weight": -np.ones(len(y))}, "sample_weight"),
        ({"confidence": 1.5}, "confidence"),
    ]:
        with pytest.raises(sl.InvalidInputError, match=message):
            summarize(est, x, y, **kwargs)
    with pytest.raises(sl.InvalidInputError, match="y: labels"):
        summarize(est, x, np.full(len(y), 9))
    bad = x.copy()
    bad[0, 0] = np.inf
    with pytest.raises(sl.InvalidInputError, match="X: contains NaN or infinite"):
        summarize(est, bad, y)


def test_evaluate_summary_from_the_command_line(tmp_path, capsys):
    import pandas as pd

    x, y = _data(**CASES["3 classes, 4 features"])
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(label=y)
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.safetensors"
    assert (
        sl.cli.main(
            [
                "train",
                "--data",
                str(data),
                "--target",
                "label",
                "--alpha",
                "0",
                "--valid",
                "0",
                "--solver",
                "lbfgs",
                "--tol",
                "1e-12",
                "--epochs",
                "2000",
                "-q",
                "--out",
                str(model),
            ]
        )
        == 0
    )
    assert (
        sl.cli.main(
            [
                "evaluate",
                "--model",
                str(model),
                "--data",
                str(data),
                "--target",
                "label",
                "--summary",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "reference class: 0" in out and "converged: yes" in out
    ref = sm.MNLogit(y, sm.add_constant(x)).fit(method="newton", tol=1e-12, disp=0)
    assert f"{ref.params[1, 0]:.4g}" in out  # class 1's coefficient of a
    # a penalised model: one line, exit 2
    assert (
        sl.cli.main(
            [
                "train",
                "--data",
                str(data),
                "--target",
                "label",
                "-q",
                "--out",
                str(tmp_path / "p.safetensors"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        sl.cli.main(
            [
                "evaluate",
                "--model",
                str(tmp_path / "p.safetensors"),
                "--data",
                str(data),
                "--target",
                "label",
                "--summary",
            ]
        )
        == 2
    )
    assert "refit with alpha=0" in capsys.readouterr().err
