"""Command-line interface: ``softmaxlab <command>`` (also ``python -m softmaxlab``).

The only module that prints or exits. Bad usage or input prints one line on stderr and
exits 2; a parity failure exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from sklearn.exceptions import ConvergenceWarning

from . import gradients as G
from . import tasks
from ._version import __version__
from .atomic import atomic_write_text
from .data import Dataset, feature_matrix, load_dataset, read_table, resolve_column
from .errors import InvalidInputError, SoftmaxlabError, UsageError, exit_status
from .estimator import SCHEDULES, SOLVERS, SoftmaxRegression
from .parity import QUANTITIES, CompareConfig, CompareResult, compare, resolve_for
from .persistence import SavedModel, load_model, save_model

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_DIVERGED = 0, 1, 2, 3

REFERENCE_TITLES = {"torch": "PyTorch nn", "keras": "Keras (TensorFlow)"}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


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
                f"unknown reference {item!r}; choose from {', '.join(allowed)}")
    if not items:
        raise argparse.ArgumentTypeError("expected one or more references")
    if "auto" in items and len(items) > 1:
        raise argparse.ArgumentTypeError("auto cannot be combined with other references")
    return items


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="softmaxlab",
        description="Multiclass softmax classification from scratch, proved equal to "
        "PyTorch, Keras and autograd.",
    )
    parser.add_argument("--version", action="version", version=f"softmaxlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    defaults = CompareConfig()
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
    data = cmp.add_argument_group(
        "data (default: scikit-learn make_classification, the first rows train)")
    data.add_argument("--data", default=None, metavar="NAME|FILE",
                      help="use a bundled set (iris, wine, digits, breast_cancer) or a "
                      ".csv/.parquet file instead of the synthetic data")
    _add_file_options(data)
    data.add_argument("--samples", type=_positive_int, default=None, metavar="M",
                      help=f"synthetic: rows in all (default: {defaults.n_samples})")
    data.add_argument("--features", type=_positive_int, default=None, metavar="N",
                      help=f"synthetic: features, N-1 informative (default: {defaults.n_features})")
    data.add_argument("--classes", type=_positive_int, default=None, metavar="C",
                      help=f"synthetic: classes (default: {defaults.n_classes})")
    data.add_argument("--train-rows", type=_positive_int, default=None, metavar="ROWS",
                      help="synthetic: the first ROWS rows train, the rest validate "
                      f"(default: {defaults.train_rows})")
    train = cmp.add_argument_group("training")
    train.add_argument("--lr", type=_positive_float, default=defaults.lr,
                       help="learning rate (default: %(default)s)")
    train.add_argument("--epochs", type=_positive_int, default=defaults.epochs,
                       help="epochs (default: %(default)s)")
    train.add_argument("--batch-size", type=_positive_int, default=None, metavar="B",
                       help="mini-batch size (default: train rows // 3 = 33)")
    train.add_argument("--seed", type=int, default=defaults.seed,
                       help="seeds the data and every model's initial parameters "
                       "(default: %(default)s)")
    train.add_argument("--device", default=None,
                       help="cpu, cuda, cuda:1, ... (default: cuda when available, else cpu)")
    train.add_argument("--dtype", choices=("float64", "float32"), default=defaults.dtype,
                       help="floating-point type (default: %(default)s)")
    what = cmp.add_argument_group("what to compare")
    what.add_argument("--gradient", type=_names, action="append", metavar="NAMES",
                      help="formulation(s) of softmaxlab's gradient: a name, a comma list, or "
                      "all; repeatable (default: all)")
    what.add_argument("--reference", type=_references, default=["auto"], metavar="NAMES",
                      help="reference(s), a comma list of torch, keras, sklearn, or both "
                      "(torch and keras), all, auto (both when TensorFlow is installed, else "
                      "torch). sklearn compares softmaxlab's L-BFGS solver with "
                      "LogisticRegression at the optimum (default: auto)")
    what.add_argument("--C", type=_positive_float, default=1.0, dest="sklearn_C",
                      help="LogisticRegression's C for --reference sklearn; softmaxlab uses "
                      "alpha = 1/(C·n) (default: %(default)s)")
    what.add_argument("--tolerance", type=_positive_float, default=None, metavar="TOL",
                      help="largest MAPE that counts as equal (default: 1e-10 in float64, "
                      "1e-5 in float32)")
    out = cmp.add_argument_group("output")
    out.add_argument("--json", type=Path, default=None, metavar="FILE",
                     help="write the configuration, every MAPE and every epoch log as JSON")
    out.add_argument("--report", type=Path, default=None, metavar="DIR",
                     help="write figures (learning curves, parity chart, Jacobian heatmap, "
                     "decision regions), report.md and a self-contained report.html to DIR")
    out.add_argument("-q", "--quiet", action="store_true",
                     help="print only the parity table and the verdict")
    out.add_argument("-v", "--verbose", action="store_true",
                     help="print every formulation's log, even when logs are identical")
    cmp.set_defaults(handler=_cmd_compare)
    _add_train(sub)
    _add_predict(sub)
    _add_evaluate(sub)
    _add_bench(sub)
    _add_gradcheck(sub)
    _add_plot(sub)
    return parser


# ----------------------------------------------------------------------------- helpers


def _check_writable(path: Path, option: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"{option}: {path} is a directory")
    if not parent.is_dir():
        raise UsageError(f"{option}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{option}: directory {parent} is not writable")


def _fmt(value: float) -> str:
    return f"{value:.2e}" if value == value else "nan"


# ----------------------------------------------------------------------------- compare


def _print_logs(console: Console, result: CompareResult, *, group: bool = True) -> None:
    cfg = result.config
    for ref in cfg.references:
        console.print(f"[bold]{REFERENCE_TITLES[ref]}[/bold] (reference)", highlight=False)
        for rec in result.reference_logs[ref]:
            console.print(rec.line(), highlight=False, markup=False)
        groups: dict[str, list[str]] = {}
        for g, hist in result.model_logs[ref].items():
            text = "\n".join(r.line() for r in hist)
            groups.setdefault(text if group else f"{g}\n{text}", []).append(g)
        for text, names in groups.items():
            console.print(
                f"\n[bold]softmaxlab[/bold] gradient={', '.join(names)} "
                f"(parameters copied from {ref})"
                + (" — identical logs" if len(names) > 1 else ""),
                highlight=False,
            )
            console.print(text if group else text.split("\n", 1)[1], highlight=False,
                          markup=False)
        console.print()


def _parity_table(result: CompareResult, references: Sequence[str]) -> Table:
    cfg = result.config
    table = Table(title=f"MAPE softmaxlab vs reference (pass: < {cfg.tolerance:g})",
                  title_justify="left")
    table.add_column("quantity")
    for ref in references:
        for g in cfg.gradients:
            table.add_column(f"{ref}\n{g}", justify="right")
    for quantity, required in QUANTITIES:
        cells = []
        for ref in references:
            for g in cfg.gradients:
                check = next(c for c in result.checks
                             if (c.quantity, c.reference, c.gradient) == (quantity, ref, g))
                text = _fmt(check.mape)
                if required:
                    text = f"[green]{text}[/green]" if check.passed else f"[red]{text} ✗[/red]"
                cells.append(text)
        table.add_row(quantity if required else f"{quantity} (info)", *cells)
    return table


def _optimum_table(result: CompareResult) -> Table:
    cfg = result.config
    rows = [c for c in result.checks if c.reference == "sklearn"]
    table = Table(
        title="at the optimum: softmaxlab L-BFGS vs LogisticRegression",
        caption=f"alpha = 1/(C·n); max |ours − sklearn| / max |sklearn|, "
        f"pass: < {rows[0].threshold:g}",
        title_justify="left", caption_justify="left", min_width=72,
    )
    table.add_column("quantity")
    table.add_column(f"sklearn\nC={cfg.sklearn_C:g}", justify="right")
    for c in rows:
        text = _fmt(c.mape)
        table.add_row(c.quantity, f"[green]{text}[/green]" if c.passed else f"[red]{text} ✗[/red]")
    return table


def _cmd_compare(args: argparse.Namespace, console: Console) -> int:
    if args.json is not None:
        _check_writable(args.json, "--json")
    if args.report is not None:
        if args.report.exists() and not args.report.is_dir():
            raise UsageError(f"--report: {args.report} exists and is not a directory")
        if not args.report.parent.is_dir():
            raise UsageError(f"--report: directory {args.report.parent} does not exist")
    grads: list[str] = [n for group in (args.gradient or [["all"]]) for n in group]
    refs = tuple(args.reference)
    sizes = {"n_samples": args.samples, "n_features": args.features,
             "n_classes": args.classes, "train_rows": args.train_rows}
    given = [k for k, v in sizes.items() if v is not None]
    if args.data is not None and given:
        flags = ", ".join("--" + k.removeprefix("n_").replace("_", "-") for k in given)
        raise UsageError(f"{flags}: apply to the synthetic data only, not with --data")
    config = CompareConfig(
        **{k: v for k, v in sizes.items() if v is not None}, lr=args.lr, epochs=args.epochs,
        batch_size=args.batch_size, gradients=tuple(grads), references=refs, seed=args.seed,
        device=args.device, dtype=args.dtype, tolerance=args.tolerance,
        sklearn_C=args.sklearn_C,
    )
    if args.data is None:
        cfg0 = config.resolved()
        data = load_dataset("synthetic", n_samples=cfg0.n_samples, n_features=cfg0.n_features,
                            n_classes=cfg0.n_classes, train_rows=cfg0.train_rows,
                            seed=cfg0.seed, standardize=args.standardize, dtype=cfg0.dtype,
                            device=cfg0.device)
        source = (f"make_classification M={cfg0.n_samples} N={cfg0.n_features} "
                  f"C={cfg0.n_classes}, first {cfg0.train_rows} rows train")
    else:
        data = _load(args, dtype=args.dtype, device=args.device)
        if data.x_valid is None:
            raise UsageError("--valid: compare needs validation rows, give --valid > 0")
        source = (f"{args.data}: {data.x_train.shape[0]} train / {data.x_valid.shape[0]} "
                  f"valid rows, N={data.n_features} C={data.n_classes}")
    resolved = resolve_for(config, data)
    if not args.quiet:
        console.print(
            f"data: {source} | lr={resolved.lr} epochs={resolved.epochs} "
            f"batch={resolved.batch_size} | {resolved.dtype} on {resolved.device} | "
            f"seed={resolved.seed}",
            highlight=False,
        )
        if refs == ("auto",) and "keras" not in resolved.references:
            console.print("note: TensorFlow is not installed, so Keras is skipped "
                          "(pip install 'softmaxlab[keras]')", highlight=False)
        console.print()
    result = compare(config, data=data)
    if not args.quiet:
        _print_logs(console, result, group=not args.verbose)
    trained = [r for r in result.config.references if r != "sklearn"]
    if trained:
        table = _parity_table(result, trained)
        natural = Measurement.get(console, console.options.update(max_width=10_000), table)
        if natural.maximum <= console.width:
            console.print(table)
        else:  # too wide for this terminal: one table per reference
            for ref in trained:
                console.print(_parity_table(result, [ref]))
    if "sklearn" in result.config.references:
        console.print(_optimum_table(result))
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
    if args.report is not None:
        from .report import write_report

        write_report(result, args.report)
        console.print(f"report: {args.report / 'report.html'}", highlight=False)
    n = sum(c.required for c in result.checks)
    if result.ok:
        console.print(f"[green]PASS[/green]: all {n} parity checks within tolerance")
        return EXIT_OK
    for c in result.failures:
        console.print(
            f"[red]FAIL[/red]: {c.quantity} ({c.reference}, gradient={c.gradient}): "
            f"{_fmt(c.mape)} ≥ {c.threshold:g}", highlight=False,
        )
    return EXIT_FAIL


# ----------------------------------------------------------------------------- data options


def _valid_arg(text: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a row count or a fraction, got {text!r}") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return int(value) if value >= 1 and value == int(value) else value


def _add_file_options(group: Any, *, shuffle_help: str = "split in file order instead of "
                     "shuffling (with --seed)") -> None:
    group.add_argument("--target", default=None, metavar="COL",
                       help="files: the target column, by name or 0-based index "
                       "(default: the last column)")
    group.add_argument("--columns", default=None, metavar="COLS",
                       help="files: comma list of feature columns (default: all but the target)")
    group.add_argument("--valid", type=_valid_arg, default=None, metavar="V",
                       help="validation rows: a count, or a fraction in (0, 1) "
                       "(default: 0.2; synthetic data keeps the seed's split)")
    group.add_argument("--no-shuffle", action="store_true", help=shuffle_help)
    group.add_argument("--stratify", action="store_true",
                       help="keep class proportions in train and validation rows")
    group.add_argument("--standardize", action="store_true",
                       help="standardise features with the training rows' mean and std; "
                       "the statistics are stored in the model file")


def _load(args: argparse.Namespace, *, dtype: str, device: str | None) -> Dataset:
    synthetic = args.data == "synthetic"
    return load_dataset(
        args.data, target=args.target, features=args.columns, valid=args.valid,
        shuffle=None if synthetic and not args.no_shuffle else not args.no_shuffle,
        stratify=args.stratify, seed=args.seed, standardize=args.standardize, dtype=dtype,
        device=device,
    )


def _feature_columns(saved: SavedModel, frame: Any, exclude: str | None) -> list[str]:
    """The columns of ``frame`` that hold the model's features."""
    names = saved.feature_names
    cols = [c for c in frame.columns if c != exclude]
    if names is not None and all(n in frame.columns for n in names):
        return list(names)
    if len(cols) == saved.n_features:
        return cols
    if names is not None:
        missing = [n for n in names if n not in frame.columns]
        raise InvalidInputError(
            f"data: the model expects {saved.n_features} features; the file has "
            f"{len(cols)} columns and lacks {missing[:5]}{' ...' if len(missing) > 5 else ''}"
        )
    raise InvalidInputError(
        f"data: has {len(cols)} feature columns, the model expects {saved.n_features}"
    )


def _model_and_rows(args: argparse.Namespace, target: Any = None
                    ) -> tuple[SavedModel, Any, Any, str | None]:
    """The model file, the data file, its feature matrix and the resolved target column."""
    saved = load_model(args.model)
    frame = read_table(args.data)
    column = None if target is None else resolve_column(frame, target, "target")
    x = feature_matrix(frame, _feature_columns(saved, frame, exclude=column))
    return saved, frame, x, column


# ----------------------------------------------------------------------------- train


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
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _fraction_arg(text: str) -> float:
    value = _positive_float(text) if text != "0" else 0.0
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _add_train(sub: Any) -> None:
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
    data = p.add_argument_group("data")
    data.add_argument("--data", required=True, metavar="NAME|FILE",
                      help="synthetic, iris, wine, digits, breast_cancer, or a .csv/.parquet/.npy file")
    _add_file_options(data, shuffle_help="keep file order: split without shuffling and do "
                      "not shuffle the rows each epoch")
    hp = p.add_argument_group("estimator (SoftmaxRegression's parameters and defaults)")
    hp.add_argument("--solver", choices=SOLVERS, default=est.solver,
                    help="mini-batch SGD, full-batch L-BFGS to the optimum, or auto: "
                    "L-BFGS for small data, SGD for large (default: %(default)s)")
    hp.add_argument("--lr", type=_positive_float, default=est.learning_rate,
                    help="SGD learning rate (default: %(default)s)")
    hp.add_argument("--epochs", type=_positive_int, default=None, metavar="E",
                    help=f"most epochs (L-BFGS: iterations) (default: {est.max_epochs}; "
                    "training stops earlier on --tol)")
    hp.add_argument("--batch-size", type=_batch_arg, default=est.batch_size, metavar="B",
                    help="SGD rows per step, or 'auto' = min(200, rows) (default: %(default)s)")
    pen = hp.add_mutually_exclusive_group()
    pen.add_argument("--alpha", type=_non_negative_float, default=None,
                     help="L2 penalty alpha/2 ||W||^2 (default: 1 / train rows, the "
                     "objective of scikit-learn's LogisticRegression())")
    pen.add_argument("--C", type=_positive_float, default=None, dest="C",
                     help="inverse penalty as scikit-learn's C: alpha = 1 / (C * train rows)")
    hp.add_argument("--class-weight", choices=("balanced",), default=None,
                    help="weight rows inversely to their class frequency")
    hp.add_argument("--momentum", type=_fraction_arg, default=est.momentum,
                    help="heavy-ball momentum in [0, 1) (default: %(default)s)")
    hp.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    hp.add_argument("--schedule", choices=SCHEDULES, default=est.schedule,
                    help="learning-rate schedule (default: %(default)s)")
    hp.add_argument("--early-stopping", action="store_true",
                    help="stop on the held-out rows' accuracy and keep the best weights")
    hp.add_argument("--tol", type=_tol_arg, default=est.tol, metavar="TOL",
                    help="stop when the monitored quantity improves by less than TOL for "
                    f"{est.n_iter_no_change} epochs; 'none' runs every epoch "
                    "(default: %(default)s)")
    hp.add_argument("--gradient", default=est.gradient, choices=G.names(),
                    help="gradient formulation (default: %(default)s)")
    hp.add_argument("--seed", type=int, default=0,
                    help="seeds the split and the shuffling (default: %(default)s)")
    hp.add_argument("--dtype", choices=("float64", "float32"), default=est.dtype,
                    help="floating-point type (default: %(default)s)")
    hp.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    par = p.add_argument_group("data-parallel")
    par.add_argument("--nproc", type=_positive_int, default=None, metavar="N",
                     help="train data-parallel on N local processes (torch.distributed, "
                     "gloo), equal to one process; under torchrun each rank runs this "
                     "command without --nproc")
    par.add_argument("--sharded", action="store_true",
                     help="with --nproc or torchrun: each rank reads only its own rows of a "
                     ".npy/.parquet file (rows in file order: needs --no-shuffle; the last "
                     "--valid rows are held out); every other option works")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, metavar="FILE",
                     help="model file to write (.safetensors)")
    out.add_argument("--plot", type=Path, default=None, metavar="FILE",
                     help="write the learning curves of the run (PNG)")
    out.add_argument("--checkpoint", type=Path, default=None, metavar="FILE",
                     help="write the training state to FILE, atomically, every "
                     "--checkpoint-every epochs (with --nproc: rank 0 writes; resumable with "
                     "any number of processes)")
    out.add_argument("--checkpoint-every", type=_positive_int, default=1, metavar="N",
                     help="epochs between checkpoints (default: %(default)s)")
    out.add_argument("--resume", action="store_true",
                     help="continue from --checkpoint; refused if it belongs to other data "
                     "or settings")
    out.add_argument("-q", "--quiet", action="store_true", help="no epoch lines")
    out.add_argument("-v", "--verbose", action="store_true",
                     help="also print the data summary and the configuration")
    p.set_defaults(handler=_cmd_train)


def _non_negative_float(text: str) -> float:
    return 0.0 if text.strip() in ("0", "0.0") else _positive_float(text)


def _estimator_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "solver": args.solver, "learning_rate": args.lr, "batch_size": args.batch_size,
        "class_weight": args.class_weight, "momentum": args.momentum,
        "nesterov": args.nesterov, "schedule": args.schedule,
        "early_stopping": args.early_stopping, "tol": args.tol, "gradient": args.gradient,
        "dtype": args.dtype, "device": args.device,
    }
    if args.epochs is not None:
        options["max_epochs"] = args.epochs
    if args.alpha is not None:
        options["alpha"] = args.alpha
    if args.C is not None:
        options["C"] = args.C
    return options


def _cmd_train(args: argparse.Namespace, console: Console) -> int:
    _check_writable(args.out, "--out")
    if args.plot is not None:
        _check_writable(args.plot, "--plot")
    if args.checkpoint is not None:
        _check_writable(args.checkpoint, "--checkpoint")
    if args.resume and args.checkpoint is None:
        raise UsageError("--resume: needs --checkpoint FILE")
    from . import distributed

    if args.sharded:
        return _train_sharded(args, console, distributed)
    parallel = args.nproc is not None or distributed.launched_by_torchrun()
    if args.verbose:
        console.print(f"data: {args.data}; estimator: {_estimator_options(args)}",
                      highlight=False, markup=False)
    with warnings.catch_warnings():  # reported below as "stopped after ..."
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = _run_train(args, console, parallel)
    if result is None:
        return EXIT_OK  # a torchrun rank other than 0: only rank 0 reports and writes
    model = result.model
    if args.verbose or model.stop_reason_ == "max_epochs":
        console.print(f"stopped after {model.n_iter_} "
                      f"{'iterations' if model.solver_ == 'lbfgs' else 'epochs'}: "
                      f"{model.stop_reason_}", highlight=False)
    result.config["cli"] = {"gradient": args.gradient, "sharded": False}
    _finish_train(args, console, result.history, result.metrics,
                  lambda: result.save(args.out), label=f"softmaxlab ({model.solver_})")
    return EXIT_OK


def _run_train(args: argparse.Namespace, console: Console, parallel: bool
               ) -> tasks.TrainResult | None:
    """``tasks.train`` with the command's options; ``None`` on a torchrun rank other
    than 0 (only rank 0 reports and writes)."""
    from . import distributed

    common = {
        "target": args.target, "columns": args.columns, "valid": args.valid,
        "shuffle": not args.no_shuffle, "stratify": args.stratify,
        "standardize": args.standardize, "seed": args.seed, "checkpoint": args.checkpoint,
        "checkpoint_every": args.checkpoint_every, "resume": args.resume,
        **_estimator_options(args),
    }
    if parallel:  # epoch lines come from rank 0's process
        result = tasks.train(args.data, nproc=args.nproc,
                             callback=None if args.quiet else tasks.print_epoch, **common)
        if distributed.launched_by_torchrun() and os.environ.get("RANK") != "0":
            return None
        return result
    total = args.epochs or SoftmaxRegression().max_epochs
    with _epoch_progress(console, total, args.quiet) as on_epoch:
        return tasks.train(args.data, callback=on_epoch, **common)


def _train_sharded(args: argparse.Namespace, console: Console, distributed: Any) -> int:
    """``train --sharded``: every rank reads only its rows (sharded.fit_file_estimator)."""
    from .sharded import fit_file_estimator

    if args.nproc is None and not distributed.launched_by_torchrun():
        raise UsageError("--sharded: needs --nproc N or a torchrun launch")
    if not args.no_shuffle or args.stratify:
        raise UsageError("--sharded: rows are used in file order; add --no-shuffle (and no "
                         "--stratify), shuffling the file beforehand if it is sorted")
    options = _estimator_options(args)
    C = options.pop("C", None)
    if C is not None:
        raise UsageError("--C: give --alpha with --sharded (C needs the training rows' count "
                         "before the file is read)")
    estimator = SoftmaxRegression(shuffle=False, random_state=args.seed, **options)
    with warnings.catch_warnings():  # reported below as "stopped after ..."
        warnings.simplefilter("ignore", ConvergenceWarning)
        run = fit_file_estimator(
            args.data, estimator, target=args.target, features=args.columns,
            valid=0.2 if args.valid is None else args.valid,
            standardize=args.standardize, nproc=args.nproc,
            callback=None if args.quiet else tasks.print_epoch,
            checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
            resume=args.resume)
    if distributed.launched_by_torchrun() and os.environ.get("RANK") != "0":
        return EXIT_OK  # only rank 0 reports and writes
    if args.verbose:
        console.print("peak memory per rank (MiB): "
                      + ", ".join(f"{p:.0f}" for p in run.peak_rss_mib), highlight=False)
    model = run.model
    if args.verbose or model.stop_reason_ == "max_epochs":
        console.print(f"stopped after {model.n_iter_} "
                      f"{'iterations' if model.solver_ == 'lbfgs' else 'epochs'}: "
                      f"{model.stop_reason_}", highlight=False)
    config = {
        "data": args.data, "target": args.target, "valid": args.valid, "shuffle": False,
        "standardize": args.standardize, "seed": args.seed, "nproc": args.nproc,
        "sharded": True, "estimator": {k: v for k, v in model.get_params().items()
                                       if isinstance(v, (str, int, float, bool, type(None)))},
        "metrics": run.metrics, "history": [r.as_dict() for r in run.history],
        "stop_reason": model.stop_reason_, "solver": model.solver_, "alpha": model.alpha_,
    }
    _finish_train(args, console, run.history, run.metrics, lambda: save_model(
        model, args.out, feature_names=run.feature_names, mean=run.mean, scale=run.scale,
        config=config), label=f"softmaxlab ({model.solver_}, sharded)")
    return EXIT_OK


def _finish_train(args: argparse.Namespace, console: Console, history: list[Any],
                  metrics: dict[str, dict[str, float]], save: Any, *, label: str) -> None:
    """The final-metrics table, the model file and the optional plot of ``train``."""
    table = Table(title="final metrics", title_justify="left")
    for col in ("split", "rows", "accuracy", "cross-entropy"):
        table.add_column(col, justify="right" if col != "split" else "left")
    for name, row in metrics.items():
        table.add_row(name, str(row["rows"]), f"{row['accuracy']:.4f}",
                      f"{row['cross_entropy']:.4f}")
    console.print(table)
    save()
    console.print(f"saved {args.out}", highlight=False)
    if args.plot is not None:
        from .plots import learning_curves

        learning_curves({label: history}, args.plot,
                        title=f"softmaxlab train --data {args.data}")
        console.print(f"wrote {args.plot}", highlight=False)


@contextlib.contextmanager
def _epoch_progress(console: Console, epochs: int, quiet: bool) -> Any:
    """Yields a per-epoch callback: a rich progress bar above which the seed's epoch lines
    scroll when stdout is a terminal; plain epoch lines when piped; nothing when quiet."""
    if quiet:
        yield None
        return
    if not console.is_terminal:
        yield lambda record: console.print(record.line(), highlight=False, markup=False)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("epochs", total=epochs)

        def on_epoch(record: Any) -> None:
            progress.console.print(record.line(), highlight=False, markup=False)
            progress.advance(task)

        yield on_epoch


# ----------------------------------------------------------------------------- predict


def _add_predict(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="predict labels (or probabilities) for the rows of a file",
        description="Read a model file and a CSV/Parquet file of features and write one "
        "prediction per input row, as the original class labels, to --out or stdout. "
        "Feature columns are matched by the names stored in the model; a file with exactly "
        "as many columns as the model has features is used as it is.",
    )
    p.add_argument("--model", type=Path, required=True, metavar="FILE")
    p.add_argument("--data", type=Path, required=True, metavar="FILE")
    p.add_argument("--proba", action="store_true",
                   help="add one probability column per class")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="CSV file to write (default: stdout)")
    p.set_defaults(handler=_cmd_predict)


def _cmd_predict(args: argparse.Namespace, console: Console) -> int:
    import pandas as pd

    if args.out is not None:
        _check_writable(args.out, "--out")
    saved, _, x, _ = _model_and_rows(args)
    proba = saved.predict_proba(x)
    out = pd.DataFrame({"prediction": saved.classes[proba.argmax(axis=1)]})
    if args.proba:
        for k, label in enumerate(saved.classes):
            out[f"p_{label}"] = proba[:, k]
    text = out.to_csv(index=False)
    if args.out is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(args.out, text)
    return EXIT_OK


# ----------------------------------------------------------------------------- evaluate


def _add_evaluate(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="accuracy, cross-entropy, per-class precision/recall and confusion matrix",
        description="Evaluate a model file on a labelled CSV/Parquet file.",
    )
    p.add_argument("--model", type=Path, required=True, metavar="FILE")
    p.add_argument("--data", type=Path, required=True, metavar="FILE")
    p.add_argument("--target", required=True, metavar="COL",
                   help="the target column, by name or 0-based index")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="also write every metric as JSON")
    p.add_argument("--plot", type=Path, default=None, metavar="DIR",
                   help="write confusion_matrix.png and reliability.png to DIR")
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace, console: Console) -> int:
    from .evaluation import evaluate_labels

    if args.json is not None:
        _check_writable(args.json, "--json")
    if args.plot is not None and not args.plot.is_dir():
        raise UsageError(f"--plot: {args.plot} is not a directory")
    saved, frame, x, target = _model_and_rows(args, args.target)
    report = evaluate_labels(saved.classes, frame[target].to_numpy(),
                             saved.predict_log_proba(x))
    console.print(f"rows: {report['rows']}  accuracy: {report['accuracy']:.4f}  "
                  f"cross-entropy: {report['cross_entropy']:.4f}  Brier: {report['brier']:.4f}  "
                  f"ECE: {report['ece']:.4f}", highlight=False)
    per = Table(title="per class", title_justify="left")
    for col in ("class", "precision", "recall", "support"):
        per.add_column(col, justify="left" if col == "class" else "right")
    for row in report["per_class"]:
        per.add_row(str(row["class"]), f"{row['precision']:.4f}", f"{row['recall']:.4f}",
                    str(row["support"]))
    console.print(per)
    cm = Table(title="confusion matrix (true × predicted)", title_justify="left")
    cm.add_column("")
    labels = [str(c) for c in saved.classes]
    for label in labels:
        cm.add_column(label, justify="right")
    for label, counts in zip(labels, report["confusion_matrix"], strict=True):
        cm.add_row(label, *(str(v) for v in counts))
    console.print(cm)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report, indent=2, default=str) + "\n")
    if args.plot is not None:
        from .plots import confusion_matrix_figure, reliability_diagram

        confusion_matrix_figure(report["confusion_matrix"], labels,
                                args.plot / "confusion_matrix.png")
        reliability_diagram(report["reliability"], args.plot / "reliability.png",
                            ece=report["ece"])
        console.print(f"wrote {args.plot / 'confusion_matrix.png'} and "
                      f"{args.plot / 'reliability.png'}", highlight=False)
    return EXIT_OK


# ----------------------------------------------------------------------------- plot


def _add_plot(sub: Any) -> None:
    p = sub.add_parser(
        "plot",
        help="learning curves from a saved history (JSON or model file)",
        description="Plot the learning curves stored in a `compare --json` file, a JSON list "
        "of epoch records, or a model file written by `train` (its history).",
    )
    p.add_argument("history", type=Path, metavar="HISTORY",
                   help="a .json file or a .safetensors model file")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="PNG to write")
    p.set_defaults(handler=_cmd_plot)


def _cmd_plot(args: argparse.Namespace, console: Console) -> int:
    from .plots import learning_curves

    _check_writable(args.out, "--out")
    path = args.history
    if not path.is_file():
        raise UsageError(f"history: no such file: {path}")
    if path.suffix == ".safetensors":
        histories = {"softmaxlab": load_model(path).config.get("history")}
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"history: {path.name} is not JSON ({exc})") from None
        if isinstance(data, list):
            histories = {"softmaxlab": data}
        elif isinstance(data, dict) and "reference_logs" in data:
            histories = dict(data["reference_logs"])
            for ref, per in data.get("model_logs", {}).items():
                for g, log in per.items():
                    histories[f"softmaxlab ({g}) from {ref}"] = log
        else:
            histories = {}
    valid = {k: v for k, v in histories.items()
             if isinstance(v, list) and v and all(isinstance(r, dict) and "epoch" in r
                                                   and "ce" in r for r in v)}
    if not valid:
        raise UsageError(f"history: {path.name} holds no epoch records")
    learning_curves(valid, args.out, title=f"learning curves: {path.name}")
    console.print(f"wrote {args.out}", highlight=False)
    return EXIT_OK


# ----------------------------------------------------------------------------- gradcheck


def _add_gradcheck(sub: Any) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="every gradient formulation against autograd and finite differences",
        description="On one small random batch, compute ∂L/∂Ŷ, ∂L/∂Z, ∂L/∂W and ∂L/∂b with "
        "every formulation (where it forms them) and print the max relative error of each "
        "against torch.autograd (float64) and against central finite differences. Exits 1 "
        "if any row fails.",
    )
    p.add_argument("--samples", type=_positive_int, default=8, metavar="M",
                   help="rows in the batch (default: %(default)s)")
    p.add_argument("--features", type=_positive_int, default=5, metavar="N",
                   help="features (default: %(default)s)")
    p.add_argument("--classes", type=_positive_int, default=4, metavar="C",
                   help="classes (default: %(default)s)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="dtype of the formulations under test (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seeds the batch (default: 0)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="also write the rows as JSON")
    p.set_defaults(handler=_cmd_gradcheck)


def _cmd_gradcheck(args: argparse.Namespace, console: Console) -> int:
    from ._validation import resolve_dtype
    from .gradcheck import THRESHOLDS, gradcheck

    if args.json is not None:
        _check_writable(args.json, "--json")
    rows = gradcheck(args.samples, args.features, args.classes, dtype=args.dtype,
                     seed=args.seed)
    tol_auto, tol_fd = THRESHOLDS[resolve_dtype(args.dtype)]
    table = Table(
        title=f"gradcheck: m={args.samples}, N={args.features}, C={args.classes}, "
        f"{args.dtype}, seed {args.seed}",
        caption=f"max |ours − ref| / max |ref|; pass: < {tol_auto:g} vs autograd, "
        f"< {tol_fd:g} vs finite differences",
        title_justify="left", caption_justify="left", min_width=84,
    )
    for col in ("gradient", "quantity", "vs autograd", "vs finite diff.", ""):
        table.add_column(col, justify="right" if col.startswith("vs") else "left")
    previous = None
    for r in rows:
        mark = "[green]pass[/green]" if r.passed else "[red]FAIL[/red]"
        table.add_row(r.gradient if r.gradient != previous else "", r.quantity,
                      f"{r.vs_autograd:.1e}", f"{r.vs_finite_diff:.1e}", mark,
                      end_section=False)
        previous = r.gradient
    console.print(table)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps([r.__dict__ for r in rows], indent=2) + "\n")
    failed = [r for r in rows if not r.passed]
    if failed:
        for r in failed:
            console.print(f"[red]FAIL[/red]: {r.gradient} {r.quantity}", highlight=False)
        return EXIT_FAIL
    console.print(f"[green]PASS[/green]: {len(rows)} checks", highlight=False)
    return EXIT_OK


# ----------------------------------------------------------------------------- bench


#: sections of ``softmaxlab bench``
BENCH_SECTIONS = ("main", "growth", "scaling", "fit", "race")


def _sections(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    for item in items:
        if item not in BENCH_SECTIONS:
            raise argparse.ArgumentTypeError(
                f"unknown section {item!r}; choose from {', '.join(BENCH_SECTIONS)}")
    return items


def _add_bench(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="time softmaxlab against the PyTorch nn loop, Keras and a GEMM floor",
        description="Benchmarks in one process: median time per training epoch for the seed, "
        "medium (200 000 x 100, C=10, batch 256) and large-batch (batch 4096) configurations "
        "in float64 and float32, with the ratios PyTorch/ours and ours/floor (the GEMM floor: "
        "only the two torch.mm calls of each batch; where the native epoch runs, also a BLAS "
        "floor: the same two GEMMs called from C), softmaxlab, the floors and PyTorch timed "
        "in alternation; the time and "
        "peak memory of one gradient step per formulation as the batch grows (growth); and "
        "epoch time against the number of rows (scaling); what a fit costs through each "
        "entry point — estimator epoch, set-up, one-rank data-parallel epoch, peak memory — "
        "against the fused epoch (fit); and the race of SoftmaxRegression against "
        "scikit-learn's LogisticRegression and SGDClassifier, each after StandardScaler, on a "
        "200 000 x 100 problem and the bundled sets (race). Results vary with the machine; "
        "benchmarks/README.md records a run.",
    )
    p.add_argument("--section", type=_sections, default=list(BENCH_SECTIONS),
                   metavar="NAMES",
                   help=f"comma list of {', '.join(BENCH_SECTIONS)} (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="a short run: a tenth of the rows, float64 only, fewer repeats")
    p.add_argument("--repeats", type=_positive_int, default=3,
                   help="timed samples per measurement, after a warm-up (default: %(default)s)")
    p.add_argument("--no-keras", action="store_true", help="leave Keras out")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="write every measurement as JSON")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE",
                   help="write the growth plot (PNG)")
    p.set_defaults(handler=_cmd_bench)


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:.3f}"


def _cmd_bench(args: argparse.Namespace, console: Console) -> int:
    from . import bench as B

    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            _check_writable(path, option)
    if args.plot is not None and "growth" not in args.section:
        raise UsageError("--plot: needs the growth section")
    bar = None
    progress = None
    if console.is_terminal:  # a bar over the measurements; nothing extra when piped
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(),
                       TimeElapsedColumn(), console=console, transient=True)
        task = bar.add_task("benchmarking", total=None)

        def progress(text: str) -> None:
            bar.update(task, description=f"benchmarking: {text}", advance=1)

    out: dict[str, Any] = {"threads": B.torch_threads()}
    with bar or contextlib.nullcontext():
        if "main" in args.section:
            configs = tuple(c.quick() for c in B.CONFIGS) if args.quick else B.CONFIGS
            dtypes = ("float64",) if args.quick else ("float64", "float32")
            main_result = B.run_main(configs, dtypes, repeats=args.repeats,
                                     keras=not args.no_keras, progress=progress)
            out["main"] = main_result.to_dict()
        if "growth" in args.section:
            batches = B.GROWTH_BATCHES[:6] if args.quick else B.GROWTH_BATCHES
            out["growth"] = B.run_growth(batches, repeats=max(args.repeats, 3),
                                         progress=progress)
        if "scaling" in args.section:
            rows = (5_000, 10_000, 20_000, 40_000) if args.quick else (
                50_000, 100_000, 200_000, 400_000)
            out["scaling"] = B.run_scaling(rows, repeats=args.repeats, progress=progress)
        if "fit" in args.section:
            from .fitcost import fit_costs

            out["fit"] = fit_costs(rows=20_000 if args.quick else 200_000,
                                   repeats=args.repeats, progress=progress)
        if "race" in args.section:
            from .race import race

            out["race"] = race(rows=20_000 if args.quick else 200_000,
                               repeats=args.repeats, progress=progress)
    if "main" in out:
        _print_main(console, main_result)
    if "growth" in out:
        _print_growth(console, out["growth"])
        if args.plot is not None:
            B.plot_growth(out["growth"], str(args.plot))
            console.print(f"wrote {args.plot}", highlight=False)
    if "scaling" in out:
        sc = out["scaling"]
        table = Table(title=f"scaling with rows (fast path, N={sc['features']}, "
                      f"C={sc['classes']}, batch {sc['batch']}, float64)", title_justify="left")
        table.add_column("rows", justify="right")
        table.add_column("ms / epoch", justify="right")
        table.add_column("µs / row", justify="right")
        for r in sc["rows"]:
            table.add_row(f"{r['rows']:,}", _ms(r["seconds"]), f"{r['seconds'] / r['rows'] * 1e6:.3f}")
        console.print(table)
        console.print(f"fitted exponent (time ∝ rows^k): k = {sc['exponent']:.3f}",
                      highlight=False)
    if "fit" in out:
        _print_fit(console, out["fit"])
    if "race" in out:
        from .race import race_table

        console.print("the race (make_pipeline(StandardScaler(), contender), defaults)",
                      highlight=False)
        console.print(race_table(out["race"]), highlight=False, markup=False)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(out, indent=2) + "\n")
    return EXIT_OK


def _print_fit(console: Console, fit: dict[str, Any]) -> None:
    table = Table(title=f"what a fit costs ({fit['rows']:,} x {fit['features']}, "
                  f"C={fit['classes']}, batch {fit['batch']}, float64)", title_justify="left")
    table.add_column("measurement")
    table.add_column("value", justify="right")
    for name, seconds in fit["seconds"].items():
        table.add_row(f"{name} (ms)", _ms(seconds))
    for name, ratio in fit["ratios"].items():
        table.add_row(name, "—" if ratio is None else f"{ratio:.2f}x")
    peak = fit["estimator peak extra memory / X"]
    table.add_row("estimator peak extra memory / size of X",
                  "—" if peak is None else f"{peak:.2f}x")
    console.print(table)


def _print_main(console: Console, result: Any) -> None:
    keys = list(dict.fromkeys((t.config, t.dtype) for t in result.timings))
    contenders = list(dict.fromkeys(t.contender for t in result.timings))
    table = Table(title="median ms per training epoch (lower is better)", title_justify="left")
    table.add_column("contender")
    for config, dtype in keys:
        table.add_column(f"{config}\n{dtype}", justify="right")
    for name in contenders:
        cells = []
        for config, dtype in keys:
            t = next((t for t in result.timings
                      if (t.config, t.dtype, t.contender) == (config, dtype, name)), None)
            cells.append("" if t is None else (_ms(t.seconds) if t.seconds else t.note or "—"))
        table.add_row(escape(name), *cells)
    for label, key in (("pytorch nn / softmaxlab", "pytorch/ours"),
                       ("softmaxlab / gemm floor", "ours/floor"),
                       ("softmaxlab / blas floor", "ours/blas floor")):
        if all(result.ratios(c, d)[key] is None for c, d in keys):
            continue
        cells = []
        for config, dtype in keys:
            value = result.ratios(config, dtype)[key]
            cells.append("—" if value is None else f"{value:.2f}x")
        table.add_row(f"[bold]{label}[/bold]", *cells)
    cells = [_ms(result.validation.get(f"{c}/{d}")) for c, d in keys]
    table.add_row("validation pass (one)", *cells)
    table.add_row("fast path", *[result.fast_path.get(f"{c}/{d}", "") for c, d in keys])
    console.print(table)


def _print_growth(console: Console, growth: dict[str, Any]) -> None:
    batches = sorted({r["batch"] for r in growth["rows"]})
    for what, key, fmt in (("ms per gradient step", "seconds", lambda v: f"{v * 1e3:.3f}"),
                           ("peak KiB per gradient step", "bytes", lambda v: f"{v / 1024:,.0f}")):
        table = Table(title=f"growth: {what} (N={growth['features']}, C={growth['classes']}, "
                      "float64)", title_justify="left")
        table.add_column("gradient")
        for b in batches:
            table.add_column(f"B={b}", justify="right")
        table.add_column(f"exponent (B ≥ {growth['fit_from_batch']})", justify="right")
        for name, exps in growth["exponents"].items():
            cells = []
            for b in batches:
                r = next(r for r in growth["rows"] if r["gradient"] == name and r["batch"] == b)
                cells.append("refused" if r[key] is None else fmt(r[key]))
            e = exps["time" if key == "seconds" else "memory"]
            table.add_row(name, *cells, "—" if e is None else f"{e:.2f}")
        console.print(table)


# ----------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    width = None if sys.stdout.isatty() else 200
    console = Console(width=width, highlight=False)
    try:
        return int(args.handler(args, console))
    except SoftmaxlabError as exc:  # one line, the code of errors.EXIT_CODES
        code, prefix = exit_status(exc) or (EXIT_USAGE, "error: ")
        print(f"softmaxlab {args.command}: {prefix}{exc}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print(f"softmaxlab {args.command}: interrupted", file=sys.stderr)
        return 130


