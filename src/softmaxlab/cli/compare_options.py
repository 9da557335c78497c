"""The options of ``softmaxlab compare``: its parser, one function per group of options
(data, training, what to compare, output)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import gradients as G
from ..comparison import CompareConfig
from ._common import _add_file_options, _positive_float, _positive_int

__all__ = ["add_compare"]


def _names(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected one or more names")
    for item in items:
        if item != "all" and item not in G.REGISTRY:
            raise argparse.ArgumentTypeError(
                f"unknown formulation {item!r}; choose from {', '.join(G.names())} or all"
            )
    return items


def _references(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    allowed = ("torch", "keras", "sklearn", "both", "all", "auto")
    for item in items:
        if item not in allowed:
            raise argparse.ArgumentTypeError(
                f"unknown reference {item!r}; choose from {', '.join(allowed)}"
            )
    if not items:
        raise argparse.ArgumentTypeError("expected one or more references")
    if "auto" in items and len(items) > 1:
        raise argparse.ArgumentTypeError("auto cannot be combined with other references")
    return items


def add_compare(sub: Any, handler: Any) -> None:
    """Add ``compare`` to the subcommands ``sub``, run by ``handler(args, console)``."""
    formulations = "\n".join(f"  {f.name:<10} {f.summary}" for f in G.REGISTRY.values())
    cmp = sub.add_parser(
        "compare",
        help="the seed experiment: softmaxlab vs PyTorch nn and Keras, with a parity table",
        description=(
            "Train softmaxlab's from-scratch model and the reference models from the same "
            "starting parameters on the same batches, print each training log, then a table "
            "of MAPE between them: predictions before copying parameters (far apart), after "
            "copying (0), CE, and predictions, W and b after training (about 1e-14 in "
            "float64). With no options this is the seed notebook's run. Exits 0 only when "
            "every check after copying and after training is below the tolerance."
        ),
        epilog=f"gradient formulations:\n{formulations}\n\nexample:\n"
        "  softmaxlab compare --gradient chain,fused --reference torch --json out.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = CompareConfig()
    _data_options(cmp, defaults)
    _training_options(cmp, defaults)
    _comparison_options(cmp)
    _output_options(cmp)
    cmp.set_defaults(handler=handler)


def _data_options(cmp: Any, defaults: CompareConfig) -> None:
    data = cmp.add_argument_group(
        "data (default: scikit-learn make_classification, the first rows train)"
    )
    data.add_argument(
        "--data",
        default=None,
        metavar="NAME|FILE",
        help="use a bundled set (iris, wine, digits, breast_cancer) or a "
        ".csv/.parquet file instead of the synthetic data",
    )
    _add_file_options(data)
    data.add_argument(
        "--samples",
        type=_positive_int,
        default=None,
        metavar="M",
        help=f"synthetic: rows in all (default: {defaults.n_samples})",
    )
    data.add_argument(
        "--features",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"synthetic: features, N-1 informative (default: {defaults.n_features})",
    )
    data.add_argument(
        "--classes",
        type=_positive_int,
        default=None,
        metavar="C",
        help=f"synthetic: classes (default: {defaults.n_classes})",
    )
    data.add_argument(
        "--train-rows",
        type=_positive_int,
        default=None,
        metavar="ROWS",
        help="synthetic: the first ROWS rows train, the rest validate "
        f"(default: {defaults.train_rows})",
    )


def _training_options(cmp: Any, defaults: CompareConfig) -> None:
    train = cmp.add_argument_group("training")
    train.add_argument(
        "--lr",
        type=_positive_float,
        default=defaults.lr,
        help="learning rate (default: %(default)s)",
    )
    train.add_argument(
        "--epochs",
        type=_positive_int,
        default=defaults.epochs,
        help="epochs (default: %(default)s)",
    )
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        metavar="B",
        help="mini-batch size (default: train rows // 3 = 33)",
    )
    train.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help="seeds the data and every model's initial parameters (default: %(default)s)",
    )
    train.add_argument(
        "--device",
        default=None,
        help="cpu, cuda, cuda:1, ... (default: cuda when available, else cpu)",
    )
    train.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default=defaults.dtype,
        help="floating-point type (default: %(default)s)",
    )


def _comparison_options(cmp: Any) -> None:
    what = cmp.add_argument_group("what to compare")
    what.add_argument(
        "--gradient",
        type=_names,
        action="append",
        metavar="NAMES",
        help="formulation(s) of softmaxlab's gradient: a name, a comma list, or "
        "all; repeatable (default: all)",
    )
    what.add_argument(
        "--reference",
        type=_references,
        default=["auto"],
        metavar="NAMES",
        help="reference(s), a comma list of torch, keras, sklearn, or both "
        "(torch and keras), all, auto (both when TensorFlow is installed, else "
        "torch). sklearn compares softmaxlab's L-BFGS solver with "
        "LogisticRegression at the optimum (default: auto)",
    )
    what.add_argument(
        "--C",
        type=_positive_float,
        default=1.0,
        dest="sklearn_C",
        help="LogisticRegression's C for --reference sklearn; softmaxlab uses "
        "alpha = 1/(C·n) (default: %(default)s)",
    )
    what.add_argument(
        "--tolerance",
        type=_positive_float,
        default=None,
        metavar="TOL",
        help="largest MAPE that counts as equal (default: 1e-10 in float64, 1e-5 in float32)",
    )


def _output_options(cmp: Any) -> None:
    out = cmp.add_argument_group("output")
    out.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the configuration, every MAPE and every epoch log as JSON",
    )
    out.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="DIR",
        help="write figures (learning curves, parity chart, Jacobian heatmap, "
        "decision regions), report.md and a self-contained report.html to DIR",
    )
    out.add_argument(
        "-q", "--quiet", action="store_true", help="print only the parity table and the verdict"
    )
    out.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print every formulation's log, even when logs are identical",
    )
