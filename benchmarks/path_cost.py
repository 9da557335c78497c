"""The cost of a regularisation path: softmaxlab.regularization_path over 10 Cs (1e-4 ..
1e4) against one SoftmaxRegression(solver="lbfgs") fit at the smallest penalty (C = 1e4)
and against the 10 cold fits the path replaces, best of 3; prints the Markdown table of
docs/estimator.md#the-regularisation-path.

    python benchmarks/path_cost.py                            # the bundled sets
    python benchmarks/path_cost.py --text                     # + this machine's man pages
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


def _single(x, y, ratio, c):
    """One cold fit at C, its seconds and iterations."""
    t0 = time.perf_counter()
    model = SoftmaxRegression(solver="lbfgs", penalty="l2" if ratio is None else "elasticnet",
                              l1_ratio=ratio, alpha=1 / (c * x.shape[0])).fit(x, y)
    return time.perf_counter() - t0, model.n_iter_


def _row(name, x, y, ratio, repeats):
    best_path = best_single = np.inf
    for _ in range(repeats):
        found = regularization_path(x, y, Cs=10, l1_ratio=ratio)
        best_path = min(best_path, found.seconds)
        seconds, n_single = _single(x, y, ratio, found.Cs[-1])
        best_single = min(best_single, seconds)
    cold = [_single(x, y, ratio, c) for c in found.Cs]
    cold_s, cold_it = sum(s for s, _ in cold), sum(it for _, it in cold)
    penalty = "l2" if ratio is None else f"l1_ratio={ratio}"
    return (f"| {name} | {penalty} | {best_path * 1e3:.0f} ms | {best_single * 1e3:.0f} ms | "
            f"{best_path / best_single:.1f}× | {found.n_iter.sum()} / {n_single} | "
            f"{cold_s / best_path:.1f}× ({cold_it} iterations) |")


def measure(text: bool = False) -> str:
    rows = ["| data set | penalty | path (10 Cs) | one fit at C = 1e4 | ratio | "
            "iterations (path / one fit) | 10 cold fits vs the path |",
            "|---|---|---:|---:|---:|---:|---:|"]
    data = []
    for name in SETS:
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        data.append((name, StandardScaler().fit_transform(x), y, 3))
    if text:
        from sklearn.feature_extraction.text import TfidfVectorizer

        from softmaxlab.fast.textbench import man_corpus

        corpus = man_corpus()
        if corpus is not None:
            docs, labels = corpus
            x = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(docs)
            data.append((f"man pages ({x.shape[0]} × {x.shape[1]}, TF-IDF)", x, labels, 1))
    for name, x, y, repeats in data:
        for ratio in (None, 0.5, 1.0):
            rows.append(_row(name, x, y, ratio, repeats))
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", action="store_true",
                        help="add a TF-IDF corpus of this machine's manual pages")
    parser.add_argument("--write", type=Path, help="replace the table between the markers")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    text = measure(args.text)
    print(text)
    if args.write:
        replace_block(args.write, BEGIN, END, text)


if __name__ == "__main__":
    main()
