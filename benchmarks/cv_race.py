"""SoftmaxRegressionCV vs scikit-learn's LogisticRegressionCV, in one run.

Both inside ``make_pipeline(StandardScaler(), ...)`` with the same ``Cs`` (10 values over
[1e-4, 1e4]) and 5 stratified folds, on scikit-learn's bundled data sets: fitted on 75 %
of each set (stratified split), held-out accuracy on the other 25 %, fit time (best of
3), the chosen C. With ``--l1-ratios`` both cross-validate elastic nets too (scikit-learn
with saga).

    python benchmarks/cv_race.py                            # print the tables
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
    rows = [f"Cs=10, cv=5{ratio_txt}", "",
            "| data set | LogisticRegressionCV accuracy | SoftmaxRegressionCV accuracy | "
            "LogisticRegressionCV fit | SoftmaxRegressionCV fit | C chosen (sklearn / ours) |",
            "|---|---:|---:|---:|---:|---|"]
    for name in sets:
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0,
                                                  stratify=y)
        kw = {} if l1_ratios is None else {"l1_ratios": l1_ratios}
        sk_kw = {"solver": "saga", "max_iter": 5000, **kw} if l1_ratios else {
            "max_iter": 1000}
        ref, t_ref = _best_time(lambda sk_kw=sk_kw: LogisticRegressionCV(Cs=10, cv=5, **sk_kw),
                                x_tr, y_tr)
        ours, t_ours = _best_time(lambda kw=kw: SoftmaxRegressionCV(Cs=10, cv=5, **kw),
                                  x_tr, y_tr)
        acc_ref, acc_ours = ref.score(x_te, y_te), ours.score(x_te, y_te)
        c_ref, c_ours = ref[-1].C_[0], ours[-1].C_[0]
        rows.append(f"| {name} | {acc_ref:.4f} | {acc_ours:.4f} | {t_ref:.2f} s | "
                    f"{t_ours:.2f} s | {c_ref:.3g} / {c_ours:.3g} |")
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the tables between the markers")
    parser.add_argument("--l1-ratios", default="0.2,0.5,1.0",
                        help="elastic-net mixes of the second table ('' to skip it)")
    args = parser.parse_args()
    tables = [measure()]
    if args.l1_ratios:
        ratios = [float(v) for v in args.l1_ratios.split(",")]
        tables.append(measure(ratios, sets=("iris", "wine", "breast_cancer")))
    text = "\n".join(tables)
    print(text)
    if args.write:
        replace_block(args.write, BEGIN, END, text)


if __name__ == "__main__":
    main()
