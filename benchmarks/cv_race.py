"""SoftmaxRegressionCV vs scikit-learn's LogisticRegressionCV, in one run.

Both inside ``make_pipeline(StandardScaler(), ...)`` with the same ``Cs`` (10 values over
[1e-4, 1e4]) and 5 stratified folds, on scikit-learn's bundled data sets: fitted on 75 %
of each set (stratified split), held-out accuracy on the other 25 %, fit time (best of
3), the chosen C. With ``--l1-ratios`` both cross-validate elastic nets too (scikit-learn
with saga).

    python benchmarks/cv_race.py                            # print the tables
    python benchmarks/cv_race.py --text                     # + sparse TF-IDF man pages
    python benchmarks/cv_race.py --write docs/estimator.md  # refresh them in the docs
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from _markers import replace_block
from sklearn import datasets
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from softmaxlab import SoftmaxRegressionCV

SETS = ("iris", "wine", "digits", "breast_cancer")
BEGIN, END = "<!-- cv_race:begin -->", "<!-- cv_race:end -->"


def _best_time(make, x, y, repeats=3):
    best, model = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make_pipeline(StandardScaler(), make()).fit(x, y)
        best = min(best, time.perf_counter() - t0)
    return model, best


def measure(l1_ratios=None, sets=SETS) -> str:
    ratio_txt = "" if l1_ratios is None else f", l1_ratios={list(l1_ratios)}"
    rows = [
        f"Cs=10, cv=5{ratio_txt}",
        "",
        "| data set | LogisticRegressionCV accuracy | SoftmaxRegressionCV accuracy | "
        "LogisticRegressionCV fit | SoftmaxRegressionCV fit | C chosen (sklearn / ours) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name in sets:
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
        kw = {} if l1_ratios is None else {"l1_ratios": l1_ratios}
        sk_kw = {"solver": "saga", "max_iter": 5000, **kw} if l1_ratios else {"max_iter": 1000}
        ref, t_ref = _best_time(
            lambda sk_kw=sk_kw: LogisticRegressionCV(Cs=10, cv=5, **sk_kw), x_tr, y_tr
        )
        ours, t_ours = _best_time(lambda kw=kw: SoftmaxRegressionCV(Cs=10, cv=5, **kw), x_tr, y_tr)
        acc_ref, acc_ours = ref.score(x_te, y_te), ours.score(x_te, y_te)
        c_ref, c_ours = ref[-1].C_[0], ours[-1].C_[0]
        rows.append(
            f"| {name} | {acc_ref:.4f} | {acc_ours:.4f} | {t_ref:.2f} s | "
            f"{t_ours:.2f} s | {c_ref:.3g} / {c_ours:.3g} |"
        )
    return "\n".join(rows) + "\n"


def measure_text() -> str:
    """The same race on sparse TF-IDF rows of this machine's manual pages (L2, no scaler:
    TF-IDF rows are already normalised), one fit each."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from softmaxlab.bench.textbench import man_corpus

    corpus = man_corpus()
    if corpus is None:
        return "(no manual pages on this machine)\n"
    docs, y = corpus
    d_tr, d_te, y_tr, y_te = train_test_split(docs, y, test_size=0.25, random_state=0, stratify=y)
    vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
    x_tr, x_te = vec.fit_transform(d_tr), vec.transform(d_te)
    rows = [
        f"man pages by section, TF-IDF {x_tr.shape[0]} × {x_tr.shape[1]}, Cs=10, cv=5, "
        "one fit each",
        "",
        "| data set | LogisticRegressionCV accuracy | SoftmaxRegressionCV accuracy | "
        "LogisticRegressionCV fit | SoftmaxRegressionCV fit | C chosen (sklearn / ours) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    results = []
    for make in (
        lambda: LogisticRegressionCV(Cs=10, cv=5, max_iter=1000),
        lambda: SoftmaxRegressionCV(Cs=10, cv=5),
    ):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make().fit(x_tr, y_tr)
        results.append((model.score(x_te, y_te), time.perf_counter() - t0, model.C_[0]))
    (a_ref, t_ref, c_ref), (a_ours, t_ours, c_ours) = results
    rows.append(
        f"| man pages | {a_ref:.4f} | {a_ours:.4f} | {t_ref:.1f} s | {t_ours:.1f} s | "
        f"{c_ref:.3g} / {c_ours:.3g} |"
    )
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the tables between the markers")
    parser.add_argument(
        "--l1-ratios",
        default="0.2,0.5,1.0",
        help="elastic-net mixes of the second table ('' to skip it)",
    )
    parser.add_argument(
        "--text",
        action="store_true",
        help="add a sparse TF-IDF race on this machine's manual pages",
    )
    args = parser.parse_args()
    tables = [measure()]
    if args.l1_ratios:
        ratios = [float(v) for v in args.l1_ratios.split(",")]
        tables.append(measure(ratios, sets=("iris", "wine", "breast_cancer")))
    if args.text:
        tables.append(measure_text())
    text = "\n".join(tables)
    print(text)
    if args.write:
        replace_block(args.write, BEGIN, END, text)


if __name__ == "__main__":
    main()
