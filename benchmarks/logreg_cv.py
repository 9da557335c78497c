"""SoftmaxRegression vs scikit-learn's LogisticRegression, out of the box.

Both inside ``make_pipeline(StandardScaler(), ...)`` with default settings, scored by the
same 5-fold stratified cross-validation on scikit-learn's bundled data sets, in one run.

    python benchmarks/logreg_cv.py                       # print the table
    python benchmarks/logreg_cv.py --write docs/estimator.md   # refresh the table in the docs
"""

from __future__ import annotations

import argparse
import platform
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from _markers import replace_block
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import softmaxlab
from softmaxlab import SoftmaxRegression

SETS = ("iris", "wine", "digits", "breast_cancer")
BEGIN, END = "<!-- logreg_cv:begin -->", "<!-- logreg_cv:end -->"


def measure() -> str:
    rows = [
        "| data set | rows × features, classes | LogisticRegression accuracy | "
        "SoftmaxRegression accuracy | LogisticRegression fit time | SoftmaxRegression fit time |",
        "|---|---|---|---|---|---|",
    ]
    for name in SETS:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        cv = StratifiedKFold(5, shuffle=True, random_state=0)
        cells = []
        for est in (LogisticRegression(), SoftmaxRegression(random_state=0)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = cross_validate(make_pipeline(StandardScaler(), est), X, y, cv=cv)
            cells.append((res["test_score"], res["fit_time"]))
        (acc_lr, t_lr), (acc_sm, t_sm) = cells
        rows.append(
            f"| {name} | {X.shape[0]} × {X.shape[1]}, {len(np.unique(y))} | "
            f"{acc_lr.mean():.4f} ± {acc_lr.std():.4f} | {acc_sm.mean():.4f} ± {acc_sm.std():.4f} | "
            f"{1000 * t_lr.mean():.0f} ms | {1000 * t_sm.mean():.0f} ms |"
        )
    env = (
        f"softmaxlab {softmaxlab.__version__}, scikit-learn {sklearn.__version__}, "
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{torch.get_num_threads()} threads"
    )
    return "\n".join(rows) + f"\n\nMean ± std over the 5 folds; fit time per fold. {env}.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the table between the markers")
    args = parser.parse_args()
    table = measure()
    print(table)
    if args.write:
        replace_block(args.write, BEGIN, END, table)


if __name__ == "__main__":
    main()
