"""Command-line interface: ``softmaxlab <command>`` (also ``python -m softmaxlab``).

The only code that prints or exits: each command parses its arguments, calls the library
(``softmaxlab.tasks`` and friends) and prints. Bad usage or input prints one line on
stderr and exits 2 (``softmaxlab.errors.EXIT_CODES``); a parity failure exits 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from .._version import __version__
from ..errors import SoftmaxlabError, describe, exit_status
from ._common import EXIT_USAGE, _Parser, check_outputs
from .compare import _cmd_compare
from .compare_options import add_compare
from .files import _add_certify, _add_evaluate, _add_export, _add_plot, _add_predict
from .path import _add_path
from .tools import _add_bench, _add_gradcheck
from .train import _cmd_train
from .train_options import add_train

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="softmaxlab",
        description="Multiclass softmax classification from scratch, proved equal to "
        "PyTorch, Keras and autograd.",
    )
    parser.add_argument("--version", action="version", version=f"softmaxlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    add_compare(sub, _cmd_compare)
    add_train(sub, _cmd_train)
    _add_predict(sub)
    _add_evaluate(sub)
    _add_certify(sub)
    _add_export(sub)
    _add_bench(sub)
    _add_gradcheck(sub)
    _add_plot(sub)
    _add_path(sub)
    return parser


# ----------------------------------------------------------------------------- entry point


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that it unwinds like Ctrl-C: temporary files
    are removed, the last checkpoint stays as it was."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (:data:`softmaxlab.errors.EXIT_CODES`).
    Every error is one line on stderr, never a traceback; SIGINT exits 130 and SIGTERM 143,
    each with one line, after removing any temporary file."""
    parser = build_parser()
    args = parser.parse_args(argv)
    width = None if sys.stdout.isatty() else 200
    console = Console(width=width, highlight=False)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        check_outputs(args)
        return int(args.handler(args, console))
    except (SoftmaxlabError, OSError, MemoryError, RecursionError) as exc:
        code, prefix = exit_status(exc) or (EXIT_USAGE, "error: ")
        print(f"softmaxlab {args.command}: {prefix}{describe(exc)}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print(f"softmaxlab {args.command}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"softmaxlab {args.command}: terminated", file=sys.stderr)
        return 143
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
