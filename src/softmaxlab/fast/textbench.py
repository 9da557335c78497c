"""The text-classification benchmark: a generated bag-of-words corpus, TF-IDF, and
``SoftmaxRegression`` side by side with scikit-learn's ``LogisticRegression`` and
``SGDClassifier(loss="log_loss")`` in one process (``softmaxlab bench --section text``,
``benchmarks/text.py``; published in docs/text.md).

The corpus (:func:`make_corpus`): a vocabulary whose word frequencies follow Zipf's law
(the k-th most common word has probability ∝ 1/k^1.1), and per class a set of topic
words (drawn from the whole vocabulary) that make up a fraction ``topic`` of each
document's words; document lengths are Poisson. A word may be a topic word of several
classes, and most of every document is class-independent common words, so the classes
overlap as real ones do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from .fitcost import peak_extra_bytes

__all__ = ["make_corpus", "run_text", "text_table"]


def make_corpus(n_docs: int = 50_000, n_terms: int = 50_000, n_classes: int = 20, *,
                mean_length: int = 80, topic: float = 0.04, topic_words: int = 500,
                seed: int = 0) -> tuple[Any, np.ndarray]:
    """``(counts, y)``: a CSR matrix (n_docs, n_terms) of word counts and the class of
    each document (module docstring)."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, n_terms + 1, dtype=np.float64)
    common = ranks**-1.1
    common /= common.sum()
    topics = np.stack([rng.choice(n_terms, size=topic_words, replace=False)
                       for _ in range(n_classes)])
    topic_p = ranks[:topic_words] ** -0.8
    topic_p /= topic_p.sum()
    y = rng.integers(0, n_classes, size=n_docs)
    lengths = np.maximum(rng.poisson(mean_length, size=n_docs), 1)
    total = int(lengths.sum())
    doc = np.repeat(np.arange(n_docs), lengths)
    is_topic = rng.random(total) < topic
    words = rng.choice(n_terms, size=total, p=common)
    k = int(is_topic.sum())
    words[is_topic] = topics[y[doc[is_topic]], rng.choice(topic_words, size=k, p=topic_p)]
    counts = sp.csr_matrix((np.ones(total), (doc, words)), shape=(n_docs, n_terms))
    counts.sum_duplicates()
    return counts, y


def _timed(fit: Callable[[], Any]) -> tuple[Any, float, int | None]:
    out: dict[str, Any] = {}

    def run() -> None:
        t0 = time.perf_counter()
        out["model"] = fit()
        out["seconds"] = time.perf_counter() - t0

    peak = peak_extra_bytes(run)
    return out["model"], out["seconds"], peak


def run_text(n_docs: int = 50_000, n_terms: int = 50_000, n_classes: int = 20, *,
             seed: int = 0, progress: Any = None) -> dict[str, Any]:
    """Fit each contender on 80 % of a generated corpus (TF-IDF, l2-normalised rows)
    and score the other 20 %: seconds, held-out accuracy and peak extra resident memory
    during the fit. ``SoftmaxRegression(solver="lbfgs")`` and ``LogisticRegression`` get
    the same penalty (C = 1, i.e. alpha = 1/n); the default ``SoftmaxRegression()`` is
    L-BFGS at that penalty too (``solver="auto"``)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.model_selection import train_test_split

    from ..estimator import SoftmaxRegression

    counts, y = make_corpus(n_docs, n_terms, n_classes, seed=seed)
    x = TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed,
                                              stratify=y)
    n = x_tr.shape[0]
    contenders: dict[str, Callable[[], Any]] = {
        "SoftmaxRegression()": lambda: SoftmaxRegression(random_state=seed),
        "SoftmaxRegression(solver='sgd')": lambda: SoftmaxRegression(
            solver="sgd", alpha=1.0 / n, random_state=seed),
        "SoftmaxRegression(solver='lbfgs')": lambda: SoftmaxRegression(
            solver="lbfgs", alpha=1.0 / n),
        "LogisticRegression()": lambda: LogisticRegression(C=1.0, max_iter=1000),
        "SGDClassifier(log_loss)": lambda: SGDClassifier(loss="log_loss",
                                                         random_state=seed),
    }
    csr_bytes = x_tr.data.nbytes + x_tr.indices.nbytes + x_tr.indptr.nbytes
    rows = []
    for name, make in contenders.items():
        if progress is not None:
            progress(f"text: {name}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model, seconds, peak = _timed(lambda make=make: make().fit(x_tr, y_tr))
        rows.append({"model": name, "seconds": seconds,
                     "accuracy": float((model.predict(x_te) == y_te).mean()),
                     "peak_extra_mb": None if peak is None else peak / 2**20,
                     "iterations": int(np.max(getattr(model, "n_iter_", 0)))})
    return {"n_docs": n_docs, "n_terms": n_terms, "n_classes": n_classes,
            "nnz": int(x_tr.nnz), "csr_mb": csr_bytes / 2**20,
            "params_mb": n_terms * n_classes * 8 / 2**20,
            "dense_mb": x_tr.shape[0] * n_terms * 8 / 2**20, "rows": rows}


def text_table(result: dict[str, Any]) -> str:
    """The result of :func:`run_text` as a Markdown table (docs/text.md)."""
    lines = [f"{result['n_docs']:,} documents × {result['n_terms']:,} terms × "
             f"{result['n_classes']} classes; training CSR {result['csr_mb']:.1f} MB, "
             f"W {result['params_mb']:.1f} MB (dense X would be {result['dense_mb']:,.0f} MB)",
             "", "| model | fit (s) | held-out accuracy | peak extra memory (MB) | iterations |",
             "|---|---:|---:|---:|---:|"]
    for r in result["rows"]:
        peak = "n/a" if r["peak_extra_mb"] is None else f"{r['peak_extra_mb']:.0f}"
        lines.append(f"| {r['model']} | {r['seconds']:.2f} | {r['accuracy']:.4f} | {peak} "
                     f"| {r['iterations']} |")
    return "\n".join(lines)
