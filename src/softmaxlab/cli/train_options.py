"""The options of ``softmaxlab train``: its parser, one function per group of options
(data, raw text, the estimator's parameters, data-parallel runs, output), and the
argument types they share with ``softmaxlab path``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import gradients as G
from ..estimator import SCHEDULES, SOLVERS, SoftmaxRegression
from ._common import (
    _add_file_options,
    _cs_arg,
    _folds_arg,
    _positive_float,
    _positive_int,
    _unit_arg,
)

__all__ = ["add_train"]


def _batch_arg(text: str) -> int | str:
    return "auto" if text == "auto" else _positive_int(text)


def _tol_arg(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, or 'none', got {text}")
    return value


def _fraction_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _ngram_arg(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX (e.g. 1,2), got {text}") from None
    if not 1 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"expected 1 <= MIN <= MAX, got {text}")
    return lo, hi


def _df_arg(text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or a fraction, got {text}") from None
    if value >= 1 and value == int(value):
        return int(value)
    if 0 < value <= 1:
        return value
    raise argparse.ArgumentTypeError(f"expected a count >= 1 or a fraction in (0, 1], got {text}")


def _non_negative_float(text: str) -> float:
    return 0.0 if text.strip() in ("0", "0.0") else _positive_float(text)


def add_train(sub: Any, handler: Any) -> None:
    """Add ``train`` to the subcommands ``sub``, run by ``handler(args, console)``."""
    est = SoftmaxRegression()
    p = sub.add_parser(
        "train",
        help="train the estimator (SoftmaxRegression) on a data set or file and save it",
        description="Train SoftmaxRegression — the same engine, options and defaults as in "
        "Python — on a bundled data set or a CSV/Parquet/.npy file: rows shuffled each "
        "epoch, the seed's epoch line with the held-out rows' CE and accuracy, final "
        "metrics, and a safetensors model file with the class labels, feature names, "
        "standardisation statistics and this configuration. softmaxlab.tasks.train does "
        "the same from Python.",
        epilog="examples:\n  softmaxlab train --data wine --standardize --out wine.safetensors\n"
        "  softmaxlab train --data big.csv --target label --solver lbfgs --C 10 \\\n"
        "      --class-weight balanced --out big.safetensors\n"
        "  softmaxlab train --data big.csv --momentum 0.9 --nesterov --schedule adaptive \\\n"
        "      --early-stopping --nproc 2 --checkpoint big.ckpt --out big.safetensors\n"
        "(docs/estimator.md: options and defaults; docs/distributed.md: torchrun, sharded "
        "files)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _data_options(p)
    _text_options(p)
    hp = p.add_argument_group("estimator (SoftmaxRegression's parameters and defaults)")
    _solver_options(hp, est)
    _penalty_options(hp)
    _step_options(hp, est)
    _parallel_options(p)
    _output_options(p)
    p.set_defaults(handler=handler)


def _data_options(p: Any) -> None:
    data = p.add_argument_group("data")
    data.add_argument(
        "--data",
        required=True,
        metavar="NAME|FILE",
        help="synthetic, iris, wine, digits, breast_cancer, a .csv/.parquet/.npy "
        "file, or a sparse file: svmlight (.svm/.libsvm/.svmlight/.txt) or a "
        "scipy .npz matrix with --target naming its label file",
    )
    data.add_argument(
        "--n-features",
        type=_positive_int,
        default=None,
        metavar="N",
        help="sparse files: the number of columns, when the file's highest "
        "column index is lower (default: what the file holds)",
    )
    _add_file_options(
        data,
        shuffle_help="keep file order: split without shuffling and do "
        "not shuffle the rows each epoch",
    )


def _text_options(p: Any) -> None:
    text = p.add_argument_group(
        "raw text (--text COL: TF-IDF features of a text column, fitted on the training "
        "rows and stored in the model file; predict/evaluate then take the same column)"
    )
    text.add_argument(
        "--text", default=None, metavar="COL", help="the text column, by name or 0-based index"
    )
    text.add_argument(
        "--ngrams",
        type=_ngram_arg,
        default=(1, 1),
        metavar="MIN,MAX",
        help="word n-gram lengths, e.g. 1,2 for words and pairs (default: 1,1)",
    )
    text.add_argument(
        "--min-df",
        type=_df_arg,
        default=1,
        metavar="DF",
        help="drop terms in fewer documents: a count, or a fraction in (0, 1) "
        "(default: %(default)s)",
    )
    text.add_argument(
        "--max-df",
        type=_df_arg,
        default=1.0,
        metavar="DF",
        help="drop terms in more documents: a count, or a fraction in (0, 1] "
        "(default: %(default)s)",
    )
    text.add_argument(
        "--max-features",
        type=_positive_int,
        default=None,
        metavar="K",
        help="keep the K most frequent terms (default: all)",
    )
    text.add_argument(
        "--sublinear-tf", action="store_true", help="use 1 + log(tf) instead of the raw term count"
    )


def _solver_options(hp: Any, est: SoftmaxRegression) -> None:
    hp.add_argument(
        "--solver",
        choices=SOLVERS,
        default=est.solver,
        help="mini-batch SGD, full-batch L-BFGS to the optimum, or auto: "
        "L-BFGS for small data, SGD for large (default: %(default)s)",
    )
    hp.add_argument(
        "--lr",
        type=_positive_float,
        default=est.learning_rate,
        help="SGD learning rate (default: %(default)s)",
    )
    hp.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        metavar="E",
        help=f"most epochs (L-BFGS: iterations) (default: {est.max_epochs}; "
        "training stops earlier on --tol)",
    )
    hp.add_argument(
        "--batch-size",
        type=_batch_arg,
        default=est.batch_size,
        metavar="B",
        help="SGD rows per step, or 'auto' = min(200, rows) (default: %(default)s)",
    )


def _penalty_options(hp: Any) -> None:
    pen = hp.add_mutually_exclusive_group()
    pen.add_argument(
        "--alpha",
        type=_non_negative_float,
        default=None,
        help="penalty strength (alpha/2 ||W||^2 for l2; see --penalty) "
        "(default: 1 / train rows, the objective of scikit-learn's "
        "LogisticRegression())",
    )
    pen.add_argument(
        "--C",
        type=_positive_float,
        default=None,
        dest="C",
        help="inverse penalty as scikit-learn's C: alpha = 1 / (C * train rows)",
    )
    pen.add_argument(
        "--cv",
        type=_folds_arg,
        default=None,
        metavar="K",
        help="choose C by K-fold cross-validation on the training rows "
        "(SoftmaxRegressionCV over --Cs), report the table, then train at it",
    )
    hp.add_argument(
        "--Cs",
        type=_cs_arg,
        default=10,
        metavar="CS",
        dest="Cs",
        help="with --cv: how many Cs log-spaced over [1e-4, 1e4], or a comma "
        "list of them (default: %(default)s)",
    )
    hp.add_argument(
        "--penalty",
        choices=("l2", "l1", "elasticnet", "none"),
        default="l2",
        help="alpha (l1_ratio |W|_1 + (1 - l1_ratio)/2 |W|^2): l2, l1 (exact "
        "zeros), elasticnet (needs --l1-ratio), or none (default: %(default)s)",
    )
    hp.add_argument(
        "--l1-ratio",
        type=_unit_arg,
        default=None,
        metavar="R",
        help="the elastic net's L1 share, in [0, 1]",
    )
    hp.add_argument(
        "--class-weight",
        choices=("balanced",),
        default=None,
        help="weight rows inversely to their class frequency",
    )


def _step_options(hp: Any, est: SoftmaxRegression) -> None:
    hp.add_argument(
        "--momentum",
        type=_fraction_arg,
        default=est.momentum,
        help="heavy-ball momentum in [0, 1) (default: %(default)s)",
    )
    hp.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    hp.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=est.schedule,
        help="learning-rate schedule (default: %(default)s)",
    )
    hp.add_argument(
        "--early-stopping",
        action="store_true",
        help="stop on the held-out rows' accuracy and keep the best weights",
    )
    hp.add_argument(
        "--tol",
        type=_tol_arg,
        default=est.tol,
        metavar="TOL",
        help="stop when the monitored quantity improves by less than TOL for "
        f"{est.n_iter_no_change} epochs; 'none' runs every epoch "
        "(default: %(default)s)",
    )
    hp.add_argument(
        "--gradient",
        default=est.gradient,
        choices=G.names(),
        help="gradient formulation (default: %(default)s)",
    )
    hp.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the split and the shuffling (default: %(default)s)",
    )
    hp.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default=est.dtype,
        help="floating-point type (default: %(default)s)",
    )
    hp.add_argument("--device", default=None, help="default: cuda when available, else cpu")


def _parallel_options(p: Any) -> None:
    par = p.add_argument_group("data-parallel")
    par.add_argument(
        "--nproc",
        type=_positive_int,
        default=None,
        metavar="N",
        help="train data-parallel on N local processes (torch.distributed, "
        "gloo), equal to one process; under torchrun each rank runs this "
        "command without --nproc",
    )
    par.add_argument(
        "--sharded",
        action="store_true",
        help="with --nproc or torchrun: each rank reads only its own rows of a "
        ".npy/.parquet file (rows in file order: needs --no-shuffle; the last "
        "--valid rows are held out); every other option works",
    )


def _output_options(p: Any) -> None:
    out = p.add_argument_group("output")
    out.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="model file to write (.safetensors)"
    )
    out.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the learning curves of the run (PNG)",
    )
    out.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the training state to FILE, atomically, every "
        "--checkpoint-every epochs (with --nproc: rank 0 writes; resumable with "
        "any number of processes)",
    )
    out.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=1,
        metavar="N",
        help="epochs between checkpoints (default: %(default)s)",
    )
    out.add_argument(
        "--resume",
        action="store_true",
        help="continue from --checkpoint; refused if it belongs to other data or settings",
    )
    out.add_argument("-q", "--quiet", action="store_true", help="no epoch lines")
    out.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print the data summary and the configuration",
    )
