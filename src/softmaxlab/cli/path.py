"""``softmaxlab path``: the regularisation path of a data set and the CV accuracy of each
C (:func:`softmaxlab.selection.path`), as a table, a plot and JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..io.atomic import atomic_write_text
from ._common import (
    EXIT_OK,
    _add_column_options,
    _check_figure,
    _check_writable,
    _cs_arg,
    _folds_arg,
    _unit_arg,
    _valid_arg,
)


def _add_path(sub: Any) -> None:
    p = sub.add_parser(
        "path",
        help="fit along a sequence of penalties and cross-validate each",
        description="Fit SoftmaxRegression (L-BFGS, OWL-QN with an L1 term) along a "
        "sequence of Cs from the strongest penalty to the weakest, each fit starting "
        "from the previous one (warm starts), on the training rows of --data "
        "(standardised, so the coefficients compare). Prints per C the training "
        "cross-entropy, the number of non-zero weights and the K-fold CV accuracy; "
        "--plot draws the coefficients and the CV accuracy against log C.",
        epilog="example:\n  softmaxlab path --data wine --l1-ratio 1 --plot path.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data",
        required=True,
        metavar="NAME|FILE",
        help="a bundled set (iris, wine, digits, breast_cancer), or a file",
    )
    _add_column_options(p)
    p.add_argument(
        "--valid",
        type=_valid_arg,
        default=None,
        metavar="V",
        help="rows held out of the path: a count or a fraction (default: none)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seeds the split and the folds (default: %(default)s)"
    )
    p.add_argument(
        "--Cs",
        type=_cs_arg,
        default=10,
        metavar="CS",
        dest="Cs",
        help="how many Cs log-spaced over [1e-4, 1e4], or a comma list (default: %(default)s)",
    )
    p.add_argument(
        "--l1-ratio",
        type=_unit_arg,
        default=None,
        metavar="R",
        help="the elastic net's L1 share (1: L1); default: the L2 path",
    )
    p.add_argument(
        "--cv",
        type=_folds_arg,
        default=5,
        metavar="K",
        help="folds of the CV accuracy (default: %(default)s)",
    )
    p.add_argument(
        "--no-standardize", action="store_true", help="fit the raw features (default: standardised)"
    )
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the path and the CV accuracy against log C (PNG)",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the path (coefficients per C) and the table as JSON",
    )
    p.set_defaults(handler=_cmd_path)


def _cmd_path(args: argparse.Namespace, console: Console) -> int:
    from ..selection import path

    if args.plot is not None:
        _check_figure(args.plot, "--plot")
    if args.json is not None:
        _check_writable(args.json, "--json")
    result = path(
        args.data,
        target=args.target,
        columns=args.columns,
        valid=args.valid,
        standardize=not args.no_standardize,
        Cs=args.Cs,
        l1_ratio=args.l1_ratio,
        cv=args.cv,
        seed=args.seed,
    )
    table = Table(
        title=f"regularisation path of {args.data} ({result['seconds']:.2f} s; "
        f"best CV accuracy at C = {result['best_C']:.4g})",
        title_justify="left",
    )
    for col in ("C", "train CE", "non-zero weights", "iterations", "CV accuracy", "std", ""):
        table.add_column(col, justify="right")
    for row in result["table"]:
        table.add_row(
            f"{row['C']:.4g}",
            f"{row['loss']:.4f}",
            str(row["n_nonzero"]),
            str(row["n_iter"]),
            f"{row['cv_accuracy']:.4f}",
            f"{row['cv_std']:.4f}",
            "◀" if row["C"] == result["best_C"] else "",
        )
    console.print(table)
    if args.plot is not None:
        from ..reporting.plots import path_plot

        path_plot(result, args.plot)
        console.print(f"wrote {args.plot}", highlight=False, markup=False)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
        console.print(f"wrote {args.json}", highlight=False, markup=False)
    return EXIT_OK
