"""The cost of a regularisation path: softmaxlab.regularization_path over 10 Cs (1e-4 ..
1e4) against one SoftmaxRegression(solver="lbfgs") fit at the smallest penalty (C = 1e4)
and against the 10 cold fits the path replaces, best of 3; on the L2 rows, the same ratio
for scikit-learn's LogisticRegression (lbfgs, warm_start=True). Prints the Markdown
table of docs/estimator.md#the-regularisation-path.

    python benchmarks/path_cost.py                            # the bundled sets
    python benchmarks/path_cost.py --text                     # + this machine's man pages
    python benchmarks/path_cost.py --tol 1e-6                 # every fit to a tighter tol
    python benchmarks/path_cost.py --write docs/estimator.md  # refresh the docs' table
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from _markers import replace_block
from sklearn import datasets
from sklearn.preprocessing import StandardScaler

from softmaxlab import SoftmaxRegression, regularization_path

SETS = ("iris", "wine", "digits", "breast_cancer")
BEGIN, END = "<!-- path_cost:begin -->", "<!-- path_cost:end -->"


def _single(x, y, ratio, c, tol):
    """One cold fit at C, its seconds and iterations."""
    t0 = time.perf_counter()
    model = SoftmaxRegression(
        solver="lbfgs",
        penalty="l2" if ratio is None else "elasticnet",
        l1_ratio=ratio,
        alpha=1 / (c * x.shape[0]),
        tol=tol,
        max_epochs=20_000,
    ).fit(x, y)
    return time.perf_counter() - t0, model.n_iter_


def _sklearn_ratio(x, y, cs, repeats, tol):
    """The same measure for scikit-learn's LogisticRegression(lbfgs): its warm-started
    path over ``cs`` (``warm_start=True``, C raised in place) against one fit at the
    largest C, best of ``repeats``."""
    from sklearn.linear_model import LogisticRegression

    best_path = best_single = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        model = LogisticRegression(warm_start=True, max_iter=20_000, tol=tol)
        for c in cs:
            model.set_params(C=c).fit(x, y)
        best_path = min(best_path, time.perf_counter() - t0)
        t0 = time.perf_counter()
        LogisticRegression(C=cs[-1], max_iter=20_000, tol=tol).fit(x, y)
        best_single = min(best_single, time.perf_counter() - t0)
    return best_path / best_single


def _row(name, x, y, ratio, repeats, tol):
    best_path = best_single = np.inf
    for _ in range(repeats):
        found = regularization_path(x, y, Cs=10, l1_ratio=ratio, tol=tol, max_epochs=20_000)
        best_path = min(best_path, found.seconds)
        seconds, n_single = _single(x, y, ratio, found.Cs[-1], tol)
        best_single = min(best_single, seconds)
    cold = [_single(x, y, ratio, c, tol) for c in found.Cs]
    cold_s, cold_it = sum(s for s, _ in cold), sum(it for _, it in cold)
    penalty = "l2" if ratio is None else f"l1_ratio={ratio}"
    sk = "—" if ratio is not None else f"{_sklearn_ratio(x, y, found.Cs, repeats, tol):.1f}×"
    return (
        f"| {name} | {penalty} | {best_path * 1e3:.0f} ms | {best_single * 1e3:.0f} ms | "
        f"{best_path / best_single:.1f}× | {found.n_iter.sum()} / {n_single} | "
        f"{cold_s / best_path:.1f}× ({cold_it} iterations) | {sk} |"
    )


def measure(text: bool = False, tol: float = 1e-4) -> str:
    rows = [
        "| data set | penalty | path (10 Cs) | one fit at C = 1e4 | ratio | "
        "iterations (path / one fit) | 10 cold fits vs the path | "
        "scikit-learn's ratio (lbfgs, warm_start) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    data = []
    for name in SETS:
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        data.append((name, StandardScaler().fit_transform(x), y, 3))
    if text:
        from sklearn.feature_extraction.text import TfidfVectorizer

        from softmaxlab.bench.textbench import man_corpus

        corpus = man_corpus()
        if corpus is not None:
            docs, labels = corpus
            x = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(docs)
            data.append((f"man pages ({x.shape[0]} × {x.shape[1]}, TF-IDF)", x, labels, 1))
    for name, x, y, repeats in data:
        for ratio in (None, 0.5, 1.0):
            rows.append(_row(name, x, y, ratio, repeats, tol))
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--text", action="store_true", help="add a TF-IDF corpus of this machine's manual pages"
    )
    parser.add_argument(
        "--tol",
        type=float,
        default=1e-4,
        help="every fit's tol (default: %(default)s, the estimators')",
    )
    parser.add_argument("--write", type=Path, help="replace the table between the markers")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    text = measure(args.text, args.tol)
    print(text)
    if args.write:
        replace_block(args.write, BEGIN, END, text)


if __name__ == "__main__":
    main()
