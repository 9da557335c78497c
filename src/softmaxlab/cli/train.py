"""``softmaxlab train``: the estimator on a data set or file (softmaxlab.tasks.train)."""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sklearn.exceptions import ConvergenceWarning

from .. import tasks
from ..errors import OutputError, UsageError, describe
from ..estimator import SoftmaxRegression
from ._common import (
    EXIT_OK,
    _check_figure,
    _check_writable,
    _epoch_progress,
)


def _print_cv(console: Console, cv: dict[str, Any]) -> None:
    """The table of ``train --cv``: mean fold accuracy per C, the chosen one marked."""
    table = Table(title=f"{cv['folds']}-fold CV, chosen C = {cv['C']:.4g}", title_justify="left")
    for col in ("C", "accuracy", "std", ""):
        table.add_column(col, justify="right")
    for row in cv["table"]:
        table.add_row(
            f"{row['C']:.4g}",
            f"{row['accuracy']:.4f}",
            f"{row['std']:.4f}",
            "◀" if row["C"] == cv["C"] else "",
        )
    console.print(table)


def _estimator_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "solver": args.solver,
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "class_weight": args.class_weight,
        "momentum": args.momentum,
        "nesterov": args.nesterov,
        "schedule": args.schedule,
        "early_stopping": args.early_stopping,
        "tol": args.tol,
        "gradient": args.gradient,
        "dtype": args.dtype,
        "device": args.device,
    }
    if args.epochs is not None:
        options["max_epochs"] = args.epochs
    if args.alpha is not None:
        options["alpha"] = args.alpha
    if args.C is not None:
        options["C"] = args.C
    options["penalty"] = None if args.penalty == "none" else args.penalty
    if args.l1_ratio is not None:
        options["l1_ratio"] = args.l1_ratio
    if args.cv is not None:
        options |= {"cv": args.cv, "Cs": args.Cs}
    return options


def _cmd_train(args: argparse.Namespace, console: Console) -> int:
    _check_writable(args.out, "--out")
    if args.plot is not None:
        _check_figure(args.plot, "--plot")
    if args.checkpoint is not None:
        _check_writable(args.checkpoint, "--checkpoint")
        if args.checkpoint.exists() and not args.resume:
            raise UsageError(
                f"--checkpoint: {args.checkpoint} already exists; add --resume to "
                "continue that run, or remove the file to start over"
            )
    if args.resume and args.checkpoint is None:
        raise UsageError("--resume: needs --checkpoint FILE")
    from .. import distributed

    if args.sharded and (args.text is not None or args.n_features is not None):
        raise UsageError(
            "--sharded: reads dense .npy/.parquet rows; give no --text or --n-features"
        )
    if args.sharded:
        return _train_sharded(args, console, distributed)
    parallel = args.nproc is not None or distributed.launched_by_torchrun()
    if args.verbose:
        console.print(
            f"data: {args.data}; estimator: {_estimator_options(args)}",
            highlight=False,
            markup=False,
        )
    with warnings.catch_warnings():  # reported below as "stopped after ..."
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = _run_train(args, console, parallel)
    if result is None:
        return EXIT_OK  # a torchrun rank other than 0: only rank 0 reports and writes
    model = result.model
    if args.verbose or model.stop_reason_ == "max_epochs":
        console.print(
            f"stopped after {model.n_iter_} "
            f"{'iterations' if model.solver_ == 'lbfgs' else 'epochs'}: "
            f"{model.stop_reason_}",
            highlight=False,
        )
    if "cv" in result.config:
        _print_cv(console, result.config["cv"])
    result.config["cli"] = {"gradient": args.gradient, "sharded": False}
    _finish_train(
        args,
        console,
        result.history,
        result.metrics,
        result.save,
        label=f"softmaxlab ({model.solver_})",
    )
    return EXIT_OK


def _run_train(
    args: argparse.Namespace, console: Console, parallel: bool
) -> tasks.TrainResult | None:
    """``tasks.train`` with the command's options; ``None`` on a torchrun rank other
    than 0 (only rank 0 reports and writes)."""
    from .. import distributed

    common = {
        "target": args.target,
        "columns": args.columns,
        "valid": args.valid,
        "shuffle": not args.no_shuffle,
        "stratify": args.stratify,
        "standardize": args.standardize,
        "seed": args.seed,
        "checkpoint": args.checkpoint,
        "n_features": args.n_features,
        "text": args.text,
        "text_options": {
            "ngram_range": args.ngrams,
            "min_df": args.min_df,
            "max_df": args.max_df,
            "max_features": args.max_features,
            "sublinear_tf": args.sublinear_tf,
        }
        if args.text
        else None,
        "checkpoint_every": args.checkpoint_every,
        "resume": args.resume,
        **_estimator_options(args),
    }
    if parallel:  # epoch lines come from rank 0's process
        result = tasks.train(
            args.data,
            nproc=args.nproc,
            callback=None if args.quiet else tasks.print_epoch,
            **common,
        )
        if distributed.launched_by_torchrun() and os.environ.get("RANK") != "0":
            return None
        return result
    total = args.epochs or SoftmaxRegression().max_epochs
    with _epoch_progress(console, total, args.quiet) as on_epoch:
        return tasks.train(args.data, callback=on_epoch, **common)


def _train_sharded(args: argparse.Namespace, console: Console, distributed: Any) -> int:
    """``train --sharded``: ``tasks.train(sharded=True)``, every rank reading its rows."""
    options = _estimator_options(args)  # the rules of a sharded run: tasks.check_sharded
    result = tasks.train(
        args.data,
        target=args.target,
        columns=args.columns,
        valid=args.valid,
        shuffle=not args.no_shuffle,
        stratify=args.stratify,
        standardize=args.standardize,
        seed=args.seed,
        nproc=args.nproc,
        sharded=True,
        callback=None if args.quiet else tasks.print_epoch,
        checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        **options,
    )
    if distributed.launched_by_torchrun() and os.environ.get("RANK") != "0":
        return EXIT_OK  # only rank 0 reports and writes
    if args.verbose:
        console.print(
            "peak memory per rank (MiB): " + ", ".join(f"{p:.0f}" for p in result.peak_rss_mib),
            highlight=False,
        )
    model = result.model
    if args.verbose or model.stop_reason_ == "max_epochs":
        console.print(
            f"stopped after {model.n_iter_} "
            f"{'iterations' if model.solver_ == 'lbfgs' else 'epochs'}: "
            f"{model.stop_reason_}",
            highlight=False,
        )
    _finish_train(
        args,
        console,
        result.history,
        result.metrics,
        result.save,
        label=f"softmaxlab ({model.solver_}, sharded)",
    )
    return EXIT_OK


def _finish_train(
    args: argparse.Namespace,
    console: Console,
    history: list[Any],
    metrics: dict[str, dict[str, float]],
    save: Any,
    *,
    label: str,
) -> None:
    """The final-metrics table, the model file (``save(path)``) and the optional plot of
    ``train``. When ``--out`` cannot be written (a full disk, a deleted folder), the
    trained model is written to a file in the temporary folder instead and the error
    names it: hours of training are never lost to a failed save."""
    table = Table(title="final metrics", title_justify="left")
    for col in ("split", "rows", "accuracy", "cross-entropy"):
        table.add_column(col, justify="right" if col != "split" else "left")
    for name, row in metrics.items():
        table.add_row(
            name, str(row["rows"]), f"{row['accuracy']:.4f}", f"{row['cross_entropy']:.4f}"
        )
    console.print(table)
    try:
        save(args.out)
    except OSError as exc:
        raise OutputError(
            f"--out: could not write {args.out} ({describe(exc)}); {_rescue(save, args)}"
        ) from None
    console.print(f"saved {args.out}", highlight=False, markup=False)
    if args.plot is not None:
        from ..reporting.plots import learning_curves

        learning_curves({label: history}, args.plot, title=f"softmaxlab train --data {args.data}")
        console.print(f"wrote {args.plot}", highlight=False, markup=False)


def _rescue(save: Any, args: argparse.Namespace) -> str:
    """Save the trained model where it can go; says where (or what is left)."""
    fallback = (
        Path(tempfile.gettempdir()) / f"softmaxlab-{Path(args.out).stem}-{os.getpid()}.safetensors"
    )
    try:
        save(fallback)
    except OSError as exc:
        left = f"; the last checkpoint is {args.checkpoint}" if args.checkpoint is not None else ""
        return f"the trained model could not be saved elsewhere either ({describe(exc)}){left}"
    return f"the trained model was saved to {fallback} instead"
