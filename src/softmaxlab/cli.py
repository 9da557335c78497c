"""Command-line interface: ``softmaxlab <command>`` (also ``python -m softmaxlab``).

The only module that prints or exits. Bad usage or input prints one line on stderr and
exits 2; a parity failure exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from . import __version__
from . import gradients as G
from .data import make_dataset
from .errors import NumericalError, SoftmaxlabError
from .parity import QUANTITIES, CompareConfig, CompareResult, compare

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

REFERENCE_TITLES = {"torch": "PyTorch nn", "keras": "Keras (TensorFlow)"}


class UsageError(SoftmaxlabError):
    """Bad command-line usage found after parsing (an unwritable --json path, say)."""


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
    data = cmp.add_argument_group("data (scikit-learn make_classification, first rows train)")
    data.add_argument("--samples", type=_positive_int, default=defaults.n_samples, metavar="M",
                      help="rows in all (default: %(default)s)")
    data.add_argument("--features", type=_positive_int, default=defaults.n_features,
                      metavar="N", help="features, N-1 informative (default: %(default)s)")
    data.add_argument("--classes", type=_positive_int, default=defaults.n_classes, metavar="C",
                      help="classes (default: %(default)s)")
    data.add_argument("--train-rows", type=_positive_int, default=defaults.train_rows,
                      metavar="ROWS", help="first ROWS rows train, the rest validate "
                      "(default: %(default)s)")
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
    what.add_argument("--reference", choices=("torch", "keras", "both", "auto"), default="auto",
                      help="reference model(s); auto = both when TensorFlow is installed, "
                      "else torch (default: %(default)s)")
    what.add_argument("--tolerance", type=_positive_float, default=None, metavar="TOL",
                      help="largest MAPE that counts as equal (default: 1e-10 in float64, "
                      "1e-5 in float32)")
    out = cmp.add_argument_group("output")
    out.add_argument("--json", type=Path, default=None, metavar="FILE",
                     help="write the configuration, every MAPE and every epoch log as JSON")
    out.add_argument("-q", "--quiet", action="store_true",
                     help="print only the parity table and the verdict")
    cmp.set_defaults(handler=_cmd_compare)
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


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers see the
    old file or the whole new one, never a partial write."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fmt(value: float) -> str:
    return f"{value:.2e}" if value == value else "nan"


# ----------------------------------------------------------------------------- compare


def _print_logs(console: Console, result: CompareResult) -> None:
    cfg = result.config
    for ref in cfg.references:
        console.print(f"[bold]{REFERENCE_TITLES[ref]}[/bold] (reference)", highlight=False)
        for rec in result.reference_logs[ref]:
            console.print(rec.line(), highlight=False, markup=False)
        groups: dict[str, list[str]] = {}
        for g, hist in result.model_logs[ref].items():
            groups.setdefault("\n".join(r.line() for r in hist), []).append(g)
        for text, names in groups.items():
            console.print(
                f"\n[bold]softmaxlab[/bold] gradient={', '.join(names)} "
                f"(parameters copied from {ref})"
                + (" — identical logs" if len(names) > 1 else ""),
                highlight=False,
            )
            console.print(text, highlight=False, markup=False)
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


def _cmd_compare(args: argparse.Namespace, console: Console) -> int:
    if args.json is not None:
        _check_writable(args.json, "--json")
    grads: list[str] = [n for group in (args.gradient or [["all"]]) for n in group]
    refs = {"both": ("torch", "keras")}.get(args.reference, (args.reference,))
    config = CompareConfig(
        n_samples=args.samples, n_features=args.features, n_classes=args.classes,
        train_rows=args.train_rows, lr=args.lr, epochs=args.epochs,
        batch_size=args.batch_size, gradients=tuple(grads), references=refs, seed=args.seed,
        device=args.device, dtype=args.dtype, tolerance=args.tolerance,
    )
    resolved = config.resolved()
    data = make_dataset(resolved.n_samples, resolved.n_features, resolved.n_classes,
                        train_rows=resolved.train_rows, seed=resolved.seed,
                        dtype=resolved.dtype, device=resolved.device)
    if not args.quiet:
        console.print(
            f"data: make_classification M={resolved.n_samples} N={resolved.n_features} "
            f"C={resolved.n_classes}, first {resolved.train_rows} rows train | lr={resolved.lr} "
            f"epochs={resolved.epochs} batch={resolved.batch_size} | {resolved.dtype} on "
            f"{resolved.device} | seed={resolved.seed}",
            highlight=False,
        )
        if args.reference == "auto" and "keras" not in resolved.references:
            console.print("note: TensorFlow is not installed, so Keras is skipped "
                          "(pip install 'softmaxlab[keras]')", highlight=False)
        console.print()
    try:
        result = compare(resolved, data=data)
    except NumericalError as exc:
        print(f"softmaxlab compare: numerical failure: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if not args.quiet:
        _print_logs(console, result)
    table = _parity_table(result, result.config.references)
    natural = Measurement.get(console, console.options.update(max_width=10_000), table)
    if natural.maximum <= console.width:
        console.print(table)
    else:  # too wide for this terminal: one table per reference
        for ref in result.config.references:
            console.print(_parity_table(result, [ref]))
    if args.json is not None:
        write_atomic(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
    n = sum(c.required for c in result.checks)
    if result.ok:
        console.print(f"[green]PASS[/green]: all {n} parity checks below {resolved.tolerance:g}")
        return EXIT_OK
    for c in result.failures:
        console.print(
            f"[red]FAIL[/red]: {c.quantity} ({c.reference}, gradient={c.gradient}): "
            f"MAPE {_fmt(c.mape)} ≥ {resolved.tolerance:g}", highlight=False,
        )
    return EXIT_FAIL


# ----------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    width = None if sys.stdout.isatty() else 200
    console = Console(width=width, highlight=False)
    try:
        return int(args.handler(args, console))
    except SoftmaxlabError as exc:
        print(f"softmaxlab {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"softmaxlab {args.command}: interrupted", file=sys.stderr)
        return 130


