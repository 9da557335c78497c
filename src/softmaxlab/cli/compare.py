"""``softmaxlab compare``: the seed experiment with a parity table."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from ..comparison import QUANTITIES, CompareConfig, CompareResult, compare, resolve_for
from ..data import load_dataset
from ..errors import UsageError
from ..io.atomic import atomic_write_text
from ._common import (
    EXIT_FAIL,
    EXIT_OK,
    _check_writable,
    _fmt,
    _load,
)

REFERENCE_TITLES = {"torch": "PyTorch nn", "keras": "Keras (TensorFlow)"}


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
    _check_compare_outputs(args)
    config = _config(args)
    data, source = _compare_data(args, config)
    resolved = resolve_for(config, data)
    if not args.quiet:
        console.print(
            f"data: {source} | lr={resolved.lr} epochs={resolved.epochs} "
            f"batch={resolved.batch_size} | {resolved.dtype} on {resolved.device} | "
            f"seed={resolved.seed}",
            highlight=False,
        )
        if config.references == ("auto",) and "keras" not in resolved.references:
            console.print(
                "note: TensorFlow is not installed, so Keras is skipped "
                "(pip install 'softmaxlab[keras]')",
                highlight=False,
            )
        console.print()
    result = compare(config, data=data)
    if not args.quiet:
        _print_logs(console, result, group=not args.verbose)
    _print_tables(console, result)
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


def _check_compare_outputs(args: argparse.Namespace) -> None:
    if args.json is not None:
        _check_writable(args.json, "--json")
    if args.report is not None:
        if args.report.exists() and not args.report.is_dir():
            raise UsageError(f"--report: {args.report} exists and is not a directory")
        if not args.report.parent.is_dir():
            raise UsageError(f"--report: directory {args.report.parent} does not exist")


def _config(args: argparse.Namespace) -> CompareConfig:
    """The run the options ask for (sizes only for the synthetic data)."""
    grads: list[str] = [n for group in (args.gradient or [["all"]]) for n in group]
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
    return CompareConfig(
        **{k: v for k, v in sizes.items() if v is not None},
        lr=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        gradients=tuple(grads),
        references=tuple(args.reference),
        seed=args.seed,
        device=args.device,
        dtype=args.dtype,
        tolerance=args.tolerance,
        sklearn_C=args.sklearn_C,
    )


def _compare_data(args: argparse.Namespace, config: CompareConfig) -> tuple[Any, str]:
    """The data set of the run and a line describing it."""
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
        return data, (
            f"make_classification M={cfg0.n_samples} N={cfg0.n_features} "
            f"C={cfg0.n_classes}, first {cfg0.train_rows} rows train"
        )
    data = _load(args, dtype=args.dtype, device=args.device)
    if data.x_valid is None:
        raise UsageError("--valid: compare needs validation rows, give --valid > 0")
    return data, (
        f"{args.data}: {data.x_train.shape[0]} train / {data.x_valid.shape[0]} "
        f"valid rows, N={data.n_features} C={data.n_classes}"
    )


def _print_tables(console: Console, result: CompareResult) -> None:
    """The parity table (one per reference when too wide), and the optimum table."""
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
