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

__all__ = ["make_corpus", "man_corpus", "run_text", "text_table"]

#: Sections of the real corpus (man pages): commands, system calls, library functions,
#: file formats, overviews, administration.
MAN_SECTIONS = ("1", "2", "3", "5", "7", "8")


def make_corpus(
    n_docs: int = 50_000,
    n_terms: int = 50_000,
    n_classes: int = 20,
    *,
    mean_length: int = 80,
    topic: float = 0.04,
    topic_words: int = 500,
    seed: int = 0,
) -> tuple[Any, np.ndarray]:
    """``(counts, y)``: a CSR matrix (n_docs, n_terms) of word counts and the class of
    each document (module docstring)."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, n_terms + 1, dtype=np.float64)
    common = ranks**-1.1
    common /= common.sum()
    topics = np.stack(
        [rng.choice(n_terms, size=topic_words, replace=False) for _ in range(n_classes)]
    )
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


def man_corpus(
    root: str = "/usr/share/man", *, per_section: int = 1500, seed: int = 0
) -> tuple[list[str], np.ndarray] | None:
    """A real corpus found on this machine: the text of its manual pages, labelled by
    section (:data:`MAN_SECTIONS`), at most ``per_section`` pages each (drawn at random),
    troff escapes and the title line (which names the section) stripped. ``None`` when fewer than two sections have 50
    pages (a machine without manuals)."""
    import gzip
    import re
    from pathlib import Path

    rng = np.random.default_rng(seed)
    escape = re.compile(r"\\(\(..|\[[^]]*\]|f.|s[+-]?\d|.)")
    docs, labels = [], []
    for section in MAN_SECTIONS:
        pages = sorted(
            p
            for p in Path(root, f"man{section}").glob("*.gz")
            if p.is_file() and not p.is_symlink()
        )
        if len(pages) < 50:
            continue
        for i in rng.permutation(len(pages))[:per_section]:
            try:
                raw = gzip.decompress(pages[i].read_bytes()).decode("utf-8", "replace")
            except (OSError, EOFError):
                continue
            lines = [
                escape.sub(" ", ln)
                for ln in raw.splitlines()
                if not ln.startswith(("'", '.\\"', ".TH", ".Dt", ".so "))
            ]
            text = " ".join(ln.lstrip(".") for ln in lines)
            if len(text) >= 200 and not raw.startswith(".so "):
                docs.append(text)
                labels.append(f"man{section}")
    if len(set(labels)) < 2:
        return None
    return docs, np.array(labels)


def _timed(fit: Callable[[], Any]) -> tuple[Any, float, int | None]:
    out: dict[str, Any] = {}

    def run() -> None:
        t0 = time.perf_counter()
        out["model"] = fit()
        out["seconds"] = time.perf_counter() - t0

    peak = peak_extra_bytes(run)
    return out["model"], out["seconds"], peak


def _contest(
    x_tr: Any, y_tr: np.ndarray, x_te: Any, y_te: np.ndarray, *, seed: int, progress: Any, what: str
) -> list[dict[str, Any]]:
    """Each contender fitted on (x_tr, y_tr) and scored on (x_te, y_te)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from ..estimator import SoftmaxRegression

    n = x_tr.shape[0]
    contenders: dict[str, Callable[[], Any]] = {
        "SoftmaxRegression()": lambda: SoftmaxRegression(random_state=seed),
        "SoftmaxRegression(solver='sgd')": lambda: SoftmaxRegression(
            solver="sgd", alpha=1.0 / n, random_state=seed
        ),
        "SoftmaxRegression(solver='lbfgs')": lambda: SoftmaxRegression(
            solver="lbfgs", alpha=1.0 / n
        ),
        "LogisticRegression()": lambda: LogisticRegression(C=1.0, max_iter=1000),
        "SGDClassifier(log_loss)": lambda: SGDClassifier(loss="log_loss", random_state=seed),
    }
    rows = []
    for name, make in contenders.items():
        if progress is not None:
            progress(f"text ({what}): {name}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            make().fit(x_tr[:2000], y_tr[:2000])  # warm-up: imports, kernels, thread pools

            def fit(make: Any = make) -> Any:
                return make().fit(x_tr, y_tr)

            model, seconds, peak = _timed(fit)
        rows.append(
            {
                "model": name,
                "seconds": seconds,
                "accuracy": float((model.predict(x_te) == y_te).mean()),
                "peak_extra_mb": None if peak is None else peak / 2**20,
                "iterations": int(np.max(getattr(model, "n_iter_", 0))),
            }
        )
    return rows


def _sizes(x_tr: Any, n_classes: int) -> dict[str, Any]:
    csr_bytes = x_tr.data.nbytes + x_tr.indices.nbytes + x_tr.indptr.nbytes
    return {
        "n_docs": x_tr.shape[0],
        "n_terms": x_tr.shape[1],
        "n_classes": n_classes,
        "nnz": int(x_tr.nnz),
        "csr_mb": csr_bytes / 2**20,
        "params_mb": x_tr.shape[1] * n_classes * 8 / 2**20,
        "dense_mb": x_tr.shape[0] * x_tr.shape[1] * 8 / 2**20,
    }


def run_text(
    n_docs: int = 50_000,
    n_terms: int = 50_000,
    n_classes: int = 20,
    *,
    seed: int = 0,
    real: bool = True,
    progress: Any = None,
) -> dict[str, Any]:
    """Fit each contender on 80 % of a generated corpus (TF-IDF, l2-normalised rows)
    and score the other 20 %: seconds, held-out accuracy and peak extra resident memory
    during the fit, each after a warm-up fit on 2 000 rows (so that one-time costs —
    imports, the native kernel, thread pools — count for no one).
    ``SoftmaxRegression(solver="lbfgs")`` and ``LogisticRegression`` get the same penalty
    (C = 1, i.e. alpha = 1/n); the default ``SoftmaxRegression()`` is L-BFGS at that
    penalty too (``solver="auto"``). With ``real``, the same on this machine's manual
    pages (:func:`man_corpus`) under ``"real"``, when it has them."""
    from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
    from sklearn.model_selection import train_test_split

    counts, y = make_corpus(n_docs, n_terms, n_classes, seed=seed)
    x = TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    out = {
        **_sizes(x_tr, n_classes),
        "rows": _contest(x_tr, y_tr, x_te, y_te, seed=seed, progress=progress, what="generated"),
    }
    found = man_corpus(seed=seed) if real else None
    if found is not None:
        docs, labels = found
        d_tr, d_te, l_tr, l_te = train_test_split(
            docs, labels, test_size=0.2, random_state=seed, stratify=labels
        )
        vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
        r_tr, r_te = vec.fit_transform(d_tr).tocsr(), vec.transform(d_te).tocsr()
        out["real"] = {
            **_sizes(r_tr, len(set(labels))),
            "corpus": "manual pages by section",
            "rows": _contest(
                r_tr, l_tr, r_te, l_te, seed=seed, progress=progress, what="man pages"
            ),
        }
    return out


def text_table(result: dict[str, Any]) -> str:
    """The result of :func:`run_text` as Markdown tables (docs/text.md)."""
    parts = [_table(result, "generated corpus")]
    if "real" in result:
        parts.append(_table(result["real"], result["real"]["corpus"]))
    return "\n\n".join(parts)


def _table(result: dict[str, Any], title: str) -> str:
    lines = [
        f"{title}: {result['n_docs']:,} training documents × {result['n_terms']:,} "
        f"terms × {result['n_classes']} classes; training CSR {result['csr_mb']:.1f} MB, "
        f"W {result['params_mb']:.1f} MB (dense X would be {result['dense_mb']:,.0f} MB)",
        "",
        "| model | fit (s) | held-out accuracy | peak extra memory (MB) | iterations |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        peak = "n/a" if r["peak_extra_mb"] is None else f"{r['peak_extra_mb']:.0f}"
        lines.append(
            f"| {r['model']} | {r['seconds']:.2f} | {r['accuracy']:.4f} | {peak} "
            f"| {r['iterations']} |"
        )
    return "\n".join(lines)
