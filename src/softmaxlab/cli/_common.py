"""What every command of the command line shares: the parser class, argument types,
output checks, the data options of files and the epoch progress display."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from ..data import Dataset, load_dataset
from ..errors import InvalidInputError, UsageError
from ..io.atomic import writable_target

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_DIVERGED = 0, 1, 2, 3


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


def _folds_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of folds, got {text}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds, got {text}")
    return value


def _cs_arg(text: str) -> int | list[float]:
    try:
        if "," not in text and "." not in text and "e" not in text.lower():
            value: int | list[float] = int(text)
        else:
            value = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a count or a comma list of Cs, got {text}"
        ) from None
    if (isinstance(value, int) and value < 1) or (
        isinstance(value, list) and not all(0 < v < float("inf") for v in value)
    ):
        raise argparse.ArgumentTypeError(f"Cs must be positive, got {text}")
    return value


def _unit_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


# ----------------------------------------------------------------------------- helpers


#: Options that name files a command reads, and files it writes.
INPUT_OPTIONS = ("data", "model", "history")
OUTPUT_OPTIONS = ("out", "json", "plot", "checkpoint", "report", "onnx")


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output option that names a file the command reads (``--out`` equal to
    ``--data``, say): writing it would replace the input; and two output options that
    name one file (``--checkpoint`` equal to ``--out``): one would overwrite the other."""
    inputs = {}
    for name in INPUT_OPTIONS:
        value = getattr(args, name, None)
        if isinstance(value, (str, Path)) and Path(value).is_file():
            inputs[os.path.realpath(value)] = name
    outputs: dict[str, str] = {}
    for name in OUTPUT_OPTIONS:
        value = getattr(args, name, None)
        if not isinstance(value, (str, Path)):
            continue
        real = os.path.realpath(value)
        if real in inputs:
            raise UsageError(
                f"--{name}: {value} is the --{inputs[real]} "
                "file this command reads; write to another file"
            )
        if real in outputs:
            raise UsageError(
                f"--{name}: {value} is also the --{outputs[real]} file; "
                "give each output its own file"
            )
        outputs[real] = name


def _check_writable(path: Path, option: str) -> None:
    if path.is_dir():
        raise UsageError(f"{option}: {path} is a directory")
    try:
        target, _ = writable_target(path)
    except InvalidInputError as exc:
        raise UsageError(f"{option}: {exc}") from None
    path = target
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{option}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{option}: directory {parent} is not writable")


def _check_figure(path: Path, option: str) -> None:
    """``path`` is writable and its suffix a format matplotlib can write (checked before
    any training, not after the model is saved)."""
    _check_writable(path, option)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise UsageError(
            f"{option}: {path.name}: unknown figure format "
            f"{'.' + suffix if suffix else '(no suffix)'}; use one of "
            f"{', '.join('.' + f for f in sorted(formats))}"
        )


def _fmt(value: float) -> str:
    return f"{value:.2e}" if value == value else "nan"


# ----------------------------------------------------------------------------- data options


def _valid_arg(text: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a row count or a fraction, got {text!r}"
        ) from None
    if not 0 <= value < float("inf"):  # NaN and inf too
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return int(value) if value >= 1 and value == int(value) else value


def _add_column_options(group: Any) -> None:
    """--target and --columns: which columns of a data file are read."""
    group.add_argument(
        "--target",
        default=None,
        metavar="COL",
        help="files: the target column, by name or 0-based index (default: the last column)",
    )
    group.add_argument(
        "--columns",
        default=None,
        metavar="COLS",
        help="files: comma list of feature columns (default: all but the target)",
    )


def _add_file_options(
    group: Any, *, shuffle_help: str = "split in file order instead of shuffling (with --seed)"
) -> None:
    _add_column_options(group)
    group.add_argument(
        "--valid",
        type=_valid_arg,
        default=None,
        metavar="V",
        help="validation rows: a count, or a fraction in (0, 1) "
        "(default: 0.2; synthetic data keeps the seed's split)",
    )
    group.add_argument("--no-shuffle", action="store_true", help=shuffle_help)
    group.add_argument(
        "--stratify",
        action="store_true",
        help="keep class proportions in train and validation rows",
    )
    group.add_argument(
        "--standardize",
        action="store_true",
        help="standardise features with the training rows' mean and std; "
        "the statistics are stored in the model file",
    )


def _load(args: argparse.Namespace, *, dtype: str, device: str | None) -> Dataset:
    synthetic = args.data == "synthetic"
    return load_dataset(
        args.data,
        target=args.target,
        features=args.columns,
        valid=args.valid,
        shuffle=None if synthetic and not args.no_shuffle else not args.no_shuffle,
        stratify=args.stratify,
        seed=args.seed,
        standardize=args.standardize,
        dtype=dtype,
        device=device,
    )


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

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("epochs", total=epochs)

        def on_epoch(record: Any) -> None:
            progress.console.print(record.line(), highlight=False, markup=False)
            progress.advance(task)

        yield on_epoch
