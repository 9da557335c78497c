"""``softmaxlab compare``: the seed experiment with a parity table."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from .. import gradients as G
from ..comparison import QUANTITIES, CompareConfig, CompareResult, compare, resolve_for
from ..data import load_dataset
from ..errors import UsageError
from ..io.atomic import atomic_write_text
from ._common import (
    EXIT_FAIL,
    EXIT_OK,
    _add_file_options,
    _check_writable,
    _fmt,
    _load,
    _positive_float,
    _positive_int,
)

REFERENCE_TITLES = {"torch": "PyTorch nn", "keras": "Keras (TensorFlow)"}


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


def add_compare(sub: Any) -> None:
    """The ``compare`` command's parser."""
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
    cmp.set_defaults(handler=_cmd_compare)


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
                f"(parameters copied from {ref})" + (" — identical logs" if len(names) > 1 else ""),
                highlight=False,
            )
            console.print(text if group else text.split("\n", 1)[1], highlight=False, markup=False)
        console.print()


def _parity_table(result: CompareResult, references: Sequence[str]) -> Table:
    cfg = result.config
    table = Table(
        title=f"MAPE softmaxlab vs reference (pass: < {cfg.tolerance:g})", title_justify="left"
    )
    table.add_column("quantity")
    for ref in references:
        for g in cfg.gradients:
            table.add_column(f"{ref}\n{g}", justify="right")
    for quantity, required in QUANTITIES:
        cells = []
        for ref in references:
            for g in cfg.gradients:
                check = next(
                    c
                    for c in result.checks
                    if (c.quantity, c.reference, c.gradient) == (quantity, ref, g)
                )
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
        title_justify="left",
        caption_justify="left",
        min_width=72,
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
    sizes = {
        "n_samples": args.samples,
        "n_features": args.features,
        "n_classes": args.classes,
        "train_rows": args.train_rows,
    }
    given = [k for k, v in sizes.items() if v is not None]
    if args.data is not None and given:
        flags = ", ".join("--" + k.removeprefix("n_").replace("_", "-") for k in given)
        raise UsageError(f"{flags}: apply to the synthetic data only, not with --data")
    config = CompareConfig(
        **{k: v for k, v in sizes.items() if v is not None},
        lr=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        gradients=tuple(grads),
        references=refs,
        seed=args.seed,
        device=args.device,
        dtype=args.dtype,
        tolerance=args.tolerance,
        sklearn_C=args.sklearn_C,
    )
    if args.data is None:
        cfg0 = config.resolved()
        data = load_dataset(
            "synthetic",
            n_samples=cfg0.n_samples,
            n_features=cfg0.n_features,
            n_classes=cfg0.n_classes,
            train_rows=cfg0.train_rows,
            seed=cfg0.seed,
            standardize=args.standardize,
            dtype=cfg0.dtype,
            device=cfg0.device,
        )
        source = (
            f"make_classification M={cfg0.n_samples} N={cfg0.n_features} "
            f"C={cfg0.n_classes}, first {cfg0.train_rows} rows train"
        )
    else:
        data = _load(args, dtype=args.dtype, device=args.device)
        if data.x_valid is None:
            raise UsageError("--valid: compare needs validation rows, give --valid > 0")
        source = (
            f"{args.data}: {data.x_train.shape[0]} train / {data.x_valid.shape[0]} "
            f"valid rows, N={data.n_features} C={data.n_classes}"
        )
    resolved = resolve_for(config, data)
    if not args.quiet:
        console.print(
            f"data: {source} | lr={resolved.lr} epochs={resolved.epochs} "
            f"batch={resolved.batch_size} | {resolved.dtype} on {resolved.device} | "
            f"seed={resolved.seed}",
            highlight=False,
        )
        if refs == ("auto",) and "keras" not in resolved.references:
            console.print(
                "note: TensorFlow is not installed, so Keras is skipped "
                "(pip install 'softmaxlab[keras]')",
                highlight=False,
            )
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
        from ..reporting.report import write_report

        write_report(result, args.report)
        console.print(f"report: {args.report / 'report.html'}", highlight=False)
    n = sum(c.required for c in result.checks)
    if result.ok:
        console.print(f"[green]PASS[/green]: all {n} parity checks within tolerance")
        return EXIT_OK
    for c in result.failures:
        console.print(
            f"[red]FAIL[/red]: {c.quantity} ({c.reference}, gradient={c.gradient}): "
            f"{_fmt(c.mape)} ≥ {c.threshold:g}",
            highlight=False,
        )
    return EXIT_FAIL
