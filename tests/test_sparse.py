"""Sparse input end to end (softmaxlab.sparse): every scipy format and torch sparse
tensors reach the estimator, the seed's classifier and the data-parallel fits without
being densified, give the dense fit's model, and bad sparse input is refused by name
without changing a fitted estimator."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import softmaxlab as sl
from softmaxlab import SoftmaxRegression
from softmaxlab.bench.textbench import make_corpus
from softmaxlab.errors import InvalidInputError
from softmaxlab.sparse import SparseRows, column_scale, to_csr


@pytest.fixture(scope="module")
def text():
    counts, y = make_corpus(600, 400, 4, mean_length=30, topic=0.3, topic_words=40, seed=1)
    from sklearn.feature_extraction.text import TfidfTransformer

    return TfidfTransformer().fit_transform(counts).tocsr(), y


def _torch_coo(x):
    coo = x.tocoo()
    return torch.sparse_coo_tensor(np.vstack([coo.row, coo.col]), coo.data, coo.shape)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "torch_coo", "torch_csr"])
def test_every_sparse_format_fits_and_predicts_as_csr(text, fmt):
    x, y = text
    as_fmt = {
        "csr": x,
        "csc": x.tocsc(),
        "coo": x.tocoo(),
        "torch_coo": _torch_coo(x),
        "torch_csr": _torch_coo(x).to_sparse_csr(),
    }[fmt]
    ref = SoftmaxRegression(solver="sgd", max_epochs=5, tol=None, random_state=0).fit(x, y)
    got = SoftmaxRegression(solver="sgd", max_epochs=5, tol=None, random_state=0).fit(as_fmt, y)
    np.testing.assert_array_equal(got.coef_, ref.coef_)
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        np.testing.assert_allclose(
            getattr(got, method)(as_fmt), getattr(ref, method)(x), rtol=0, atol=1e-12
        )
    assert got.score(as_fmt, y) == ref.score(x, y)


@pytest.mark.parametrize("binary", [False, True])
def test_lbfgs_on_sparse_rows_reaches_the_dense_optimum(text, binary):
    x, y = text
    y = y % 2 if binary else y
    sparse = SoftmaxRegression(solver="lbfgs", alpha=1e-3, tol=1e-9).fit(x, y)
    dense = SoftmaxRegression(solver="lbfgs", alpha=1e-3, tol=1e-9).fit(x.toarray(), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-5)
    np.testing.assert_allclose(sparse.predict_proba(x), dense.predict_proba(x.toarray()), atol=1e-6)
    assert sparse.grad_norm_ < 1e-7


def test_sgd_on_sparse_rows_reaches_logistic_regressions_model(text):
    x, y = text
    n = x.shape[0]
    ours = SoftmaxRegression(
        solver="sgd", alpha=1.0 / n, max_epochs=3000, random_state=0, schedule="adaptive", tol=1e-6
    ).fit(x, y)
    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=5000).fit(x, y)
    assert (ours.predict(x) == ref.predict(x)).mean() > 0.98
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), atol=0.05)


def test_partial_fit_and_eval_set_take_sparse_rows(text):
    x, y = text
    est = SoftmaxRegression(random_state=0)
    est.partial_fit(x[:300], y[:300], classes=np.unique(y))
    est.partial_fit(x[300:], y[300:])
    assert est.n_iter_ == 1 and est.coef_.shape == (4, x.shape[1])
    fitted = SoftmaxRegression(solver="sgd", max_epochs=3, tol=None, random_state=0).fit(
        x[:500], y[:500], eval_set=(x[500:], y[500:])
    )
    assert len(fitted.history_["validation_score"]) == 3
    early = SoftmaxRegression(early_stopping=True, random_state=0, max_epochs=5).fit(x, y)
    assert early.validation_scores_


def test_pipeline_after_tfidf_vectorizer():
    docs = [
        "the cat sat",
        "a dog barked",
        "the cat purred",
        "dogs bark loudly",
        "cats sleep",
        "a dog ran",
    ] * 5
    labels = ["cat", "dog", "cat", "dog", "cat", "dog"] * 5
    pipe = make_pipeline(TfidfVectorizer(), SoftmaxRegression(random_state=0)).fit(docs, labels)
    assert list(pipe.predict(["my cat sat", "the dog barked"])) == ["cat", "dog"]


def test_seed_classifier_fits_sparse_rows_as_dense_ones(text):
    x, y = text
    onehot = np.eye(4)[y]
    for gradient in ("fused", "chain", "autograd"):
        a = sl.SoftmaxClassifier(x.shape[1], 4, gradient=gradient, seed=0)
        b = sl.SoftmaxClassifier(x.shape[1], 4, gradient=gradient, seed=0)
        b.copy_params(a)
        a.fit(x, onehot, epochs=2, lr=0.5, batch_size=50, verbose=False, x_valid=x, y_valid=onehot)
        b.fit(x.toarray(), onehot, epochs=2, lr=0.5, batch_size=50, verbose=False)
        torch.testing.assert_close(a.w, b.w, rtol=0, atol=1e-12)
        torch.testing.assert_close(a.predict(x), b.predict(x.toarray()), rtol=0, atol=1e-12)
    with pytest.raises(InvalidInputError, match="gradient: 'jacobian' materialises"):
        sl.SoftmaxClassifier(x.shape[1], 4, gradient="jacobian").fit(
            x, onehot, epochs=1, lr=0.1, batch_size=4, verbose=False
        )


@pytest.mark.slow
def test_data_parallel_fit_of_sparse_rows_equals_one_process(text):
    x, y = text
    est = SoftmaxRegression(solver="sgd", max_epochs=3, tol=None, random_state=0)
    from softmaxlab.distributed import fit_estimator

    fit_estimator(est, x, y, nproc=2)
    ref = SoftmaxRegression(solver="sgd", max_epochs=3, tol=None, random_state=0).fit(x, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=0, atol=1e-12)


def test_sparse_scaling_is_max_abs_without_centring(text):
    x, _ = text
    mu, d = column_scale(SparseRows(to_csr(x)))
    assert not mu.any()
    expected = np.abs(x).max(axis=0).toarray().ravel()
    expected[expected == 0] = 1
    np.testing.assert_array_equal(d.numpy(), expected)


# ------------------------------------------------------------------------- bad input
def _fitted(text):
    x, y = text
    return SoftmaxRegression(solver="sgd", max_epochs=2, tol=None, random_state=0).fit(x, y)


def _refused_without_change(text, bad_x, y, message):
    est = _fitted(text)
    coef = est.coef_.copy()
    with pytest.raises(InvalidInputError, match=message):
        est.fit(bad_x, y)
    np.testing.assert_array_equal(est.coef_, coef)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_stored_values_are_refused_by_row(text, value):
    x, y = text
    bad = x.copy()
    bad.data[bad.indptr[7]] = value
    _refused_without_change(text, bad, y, "X: row 8 stores a NaN or infinite value")
    with pytest.raises(InvalidInputError, match="X: row 8 stores"):
        _fitted(text).predict(bad)


def test_wrong_column_count_is_refused(text):
    x, _ = text
    with pytest.raises(ValueError, match="X has 399 features"):
        _fitted(text).predict(x[:, :399])


def test_all_zero_and_rowless_matrices_are_refused(text):
    x, y = text
    _refused_without_change(text, sp.csr_matrix(x.shape), y, "X: every value is zero")
    with pytest.raises(ValueError, match="0 sample"):
        SoftmaxRegression().fit(sp.csr_matrix((0, 5)), np.array([]))


def test_summaries_refuse_sparse_rows_by_name(text):
    x, y = text
    with pytest.raises(InvalidInputError, match="X: summaries and certificates take dense"):
        _fitted(text).certify(x, y)
