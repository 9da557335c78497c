"""``softmaxlab gradcheck`` and ``bench``."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..bench.suite import SECTIONS as BENCH_SECTIONS
from ..errors import UsageError
from ..io.atomic import atomic_write_text
from ._common import EXIT_FAIL, EXIT_OK, _check_writable, _positive_int

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
    p.add_argument(
        "--samples",
        type=_positive_int,
        default=8,
        metavar="M",
        help="rows in the batch (default: %(default)s)",
    )
    p.add_argument(
        "--features",
        type=_positive_int,
        default=5,
        metavar="N",
        help="features (default: %(default)s)",
    )
    p.add_argument(
        "--classes",
        type=_positive_int,
        default=4,
        metavar="C",
        help="classes (default: %(default)s)",
    )
    p.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="dtype of the formulations under test (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="seeds the batch (default: 0)")
    p.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write the rows as JSON"
    )
    p.set_defaults(handler=_cmd_gradcheck)


def _cmd_gradcheck(args: argparse.Namespace, console: Console) -> int:
    from .._validation import resolve_dtype
    from ..gradcheck import FD_STEP, THRESHOLDS, gradcheck

    if args.json is not None:
        _check_writable(args.json, "--json")
    rows = gradcheck(args.samples, args.features, args.classes, dtype=args.dtype, seed=args.seed)
    tol_auto, tol_fd = THRESHOLDS[resolve_dtype(args.dtype)]
    table = Table(
        title=f"gradcheck: m={args.samples}, N={args.features}, C={args.classes}, "
        f"{args.dtype}, seed {args.seed}",
        caption=f"max |ours − ref| / max |ref|; pass: < {tol_auto:g} vs autograd, "
        f"< {tol_fd:g} vs finite differences (central, step h = {FD_STEP:g} in float64: "
        "their own error, truncation ~h² plus rounding ~ε/h, puts agreement near 1e-9)",
        title_justify="left",
        caption_justify="left",
        min_width=84,
    )
    for col in ("gradient", "quantity", "vs autograd", "vs finite diff.", "result"):
        table.add_column(col, justify="right" if col.startswith("vs") else "left")
    previous = None
    for r in rows:
        mark = "[green]pass[/green]" if r.passed else "[red]FAIL[/red]"
        table.add_row(
            r.gradient if r.gradient != previous else "",
            r.quantity,
            f"{r.vs_autograd:.1e}",
            f"{r.vs_finite_diff:.1e}",
            mark,
            end_section=False,
        )
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


def _sections(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    for item in items:
        if item not in BENCH_SECTIONS:
            raise argparse.ArgumentTypeError(
                f"unknown section {item!r}; choose from {', '.join(BENCH_SECTIONS)}"
            )
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
        "entry point — classifier set-up, estimator epoch, set-up, one-rank data-parallel epoch, peak memory — "
        "against the fused epoch (fit); and the race of SoftmaxRegression against "
        "scikit-learn's LogisticRegression and SGDClassifier, each after StandardScaler, on a "
        "200 000 x 100 problem and the bundled sets (race); and the same three on a "
        "generated bag-of-words corpus, 50 000 documents x 50 000 terms x 20 classes, "
        "as sparse TF-IDF (text). Results vary with the machine; "
        "benchmarks/README.md records a run.",
    )
    p.add_argument(
        "--section",
        type=_sections,
        default=list(BENCH_SECTIONS),
        metavar="NAMES",
        help=f"comma list of {', '.join(BENCH_SECTIONS)} (default: all)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a short run: a tenth of the rows, float64 only, fewer repeats",
    )
    p.add_argument(
        "--repeats",
        type=_positive_int,
        default=3,
        help="timed samples per measurement, after a warm-up (default: %(default)s)",
    )
    p.add_argument("--no-keras", action="store_true", help="leave Keras out")
    p.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="write every measurement as JSON"
    )
    p.add_argument(
        "--plot", type=Path, default=None, metavar="FILE", help="write the growth plot (PNG)"
    )
    p.set_defaults(handler=_cmd_bench)


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:.3f}"


def _cmd_bench(args: argparse.Namespace, console: Console) -> int:
    from ..bench import bench as B
    from ..bench.growth import plot_growth
    from ..bench.suite import run_sections

    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            _check_writable(path, option)
    if args.plot is not None and "growth" not in args.section:
        raise UsageError("--plot: needs the growth section")
    bar = None
    progress = None
    if console.is_terminal:  # a bar over the measurements; nothing extra when piped
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        task = bar.add_task("benchmarking", total=None)

        def progress(text: str) -> None:
            bar.update(task, description=f"benchmarking: {text}", advance=1)

    with bar or contextlib.nullcontext():
        out = run_sections(
            args.section,
            quick=args.quick,
            repeats=args.repeats,
            keras=not args.no_keras,
            progress=progress,
        )
    if "main" in out:
        _print_main(console, B.MainResult.from_dict(out["main"]))
    if "growth" in out:
        _print_growth(console, out["growth"])
        if args.plot is not None:
            plot_growth(out["growth"], str(args.plot))
            console.print(f"wrote {args.plot}", highlight=False, markup=False)
    if "scaling" in out:
        sc = out["scaling"]
        table = Table(
            title=f"scaling with rows (fast path, N={sc['features']}, "
            f"C={sc['classes']}, batch {sc['batch']}, float64)",
            title_justify="left",
        )
        table.add_column("rows", justify="right")
        table.add_column("ms / epoch", justify="right")
        table.add_column("µs / row", justify="right")
        for r in sc["rows"]:
            table.add_row(
                f"{r['rows']:,}", _ms(r["seconds"]), f"{r['seconds'] / r['rows'] * 1e6:.3f}"
            )
        console.print(table)
        console.print(f"fitted exponent (time ∝ rows^k): k = {sc['exponent']:.3f}", highlight=False)
    if "fit" in out:
        _print_fit(console, out["fit"])
    if "race" in out:
        from ..bench.race import race_table

        console.print(
            "the race (make_pipeline(StandardScaler(), contender), defaults)", highlight=False
        )
        console.print(race_table(out["race"]), highlight=False, markup=False)
    if "text" in out:
        from ..bench.textbench import text_table

        console.print("text classification (generated corpus, TF-IDF, CSR input)", highlight=False)
        console.print(text_table(out["text"]), highlight=False, markup=False)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(out, indent=2) + "\n")
    return EXIT_OK


def _print_fit(console: Console, fit: dict[str, Any]) -> None:
    table = Table(
        title=f"what a fit costs ({fit['rows']:,} x {fit['features']}, "
        f"C={fit['classes']}, batch {fit['batch']}, float64)",
        title_justify="left",
    )
    table.add_column("measurement")
    table.add_column("value", justify="right")
    for name, seconds in fit["seconds"].items():
        table.add_row(f"{name} (ms)", _ms(seconds))
    for name, ratio in fit["ratios"].items():
        table.add_row(name, "—" if ratio is None else f"{ratio:.2f}x")
    peak = fit["estimator peak extra memory / X"]
    table.add_row(
        "estimator peak extra memory / size of X", "—" if peak is None else f"{peak:.2f}x"
    )
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
            t = next(
                (
                    t
                    for t in result.timings
                    if (t.config, t.dtype, t.contender) == (config, dtype, name)
                ),
                None,
            )
            cells.append("" if t is None else (_ms(t.seconds) if t.seconds else t.note or "—"))
        table.add_row(escape(name), *cells)
    for label, key in (
        ("pytorch nn / softmaxlab", "pytorch/ours"),
        ("softmaxlab / gemm floor", "ours/floor"),
        ("softmaxlab / blas floor", "ours/blas floor"),
    ):
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
    for what, key, fmt in (
        ("ms per gradient step", "seconds", lambda v: f"{v * 1e3:.3f}"),
        ("peak KiB per gradient step", "bytes", lambda v: f"{v / 1024:,.0f}"),
    ):
        table = Table(
            title=f"growth: {what} (N={growth['features']}, C={growth['classes']}, float64)",
            title_justify="left",
        )
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
