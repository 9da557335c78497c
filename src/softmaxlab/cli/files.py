"""``softmaxlab predict``, ``evaluate`` and ``plot``: a saved model and a file of rows."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import tasks
from ..errors import UsageError
from ..io.atomic import atomic_write_text
from ..persistence import load_model
from ._common import EXIT_OK, _check_figure, _check_writable

# ----------------------------------------------------------------------------- predict


def _add_predict(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="predict labels (or probabilities) for the rows of a file",
        description="Read a model file and a CSV/Parquet file of features and write one "
        "prediction per input row, as the original class labels, to --out or stdout. "
        "Feature columns are matched by the names stored in the model; a file with exactly "
        "as many columns as the model has features is used as it is. Sparse files "
        "(svmlight, .npz) are read at the model's width, and a model trained with --text "
        "reads its text column.",
    )
    p.add_argument(
        "--model",
        type=Path,
        required=True,
        metavar="FILE",
        help="a model file written by `softmaxlab train` (.safetensors)",
    )
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="FILE",
        help="CSV, Parquet, svmlight or .npz rows (the model's columns)",
    )
    p.add_argument("--proba", action="store_true", help="add one probability column per class")
    p.add_argument(
        "--out", type=Path, default=None, metavar="FILE", help="CSV file to write (default: stdout)"
    )
    p.set_defaults(handler=_cmd_predict)


def _cmd_predict(args: argparse.Namespace, console: Console) -> int:
    if args.out is not None:
        _check_writable(args.out, "--out")
    text = tasks.predict(args.model, args.data, proba=args.proba).to_csv(index=False)
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
        description="Evaluate a model file on a labelled CSV, Parquet, svmlight or .npz file.",
    )
    p.add_argument(
        "--model",
        type=Path,
        required=True,
        metavar="FILE",
        help="a model file written by `softmaxlab train` (.safetensors)",
    )
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="FILE",
        help="CSV, Parquet, svmlight or .npz rows (the model's columns)",
    )
    p.add_argument(
        "--target",
        default=None,
        metavar="COL",
        help="the target column, by name or 0-based index (svmlight files "
        "carry their labels; for a .npz matrix, the file of its labels)",
    )
    p.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write every metric as JSON"
    )
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="DIR",
        help="write confusion_matrix.png and reliability.png to DIR",
    )
    p.add_argument(
        "--summary",
        action="store_true",
        help="also print coefficients against the first class with standard "
        "errors, z, p-values and 95%% intervals (a model trained with --alpha 0; "
        "softmaxlab.inference.summarize)",
    )
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace, console: Console) -> int:
    if args.json is not None:
        _check_writable(args.json, "--json")
    if args.plot is not None and not args.plot.is_dir():
        raise UsageError(f"--plot: {args.plot} is not a directory")
    saved = load_model(args.model)
    report = tasks.evaluate(saved, args.data, args.target)
    console.print(
        f"rows: {report['rows']}  accuracy: {report['accuracy']:.4f}  "
        f"cross-entropy: {report['cross_entropy']:.4f}  Brier: {report['brier']:.4f}  "
        f"ECE: {report['ece']:.4f}",
        highlight=False,
    )
    per = Table(title="per class", title_justify="left")
    for col in ("class", "precision", "recall", "support"):
        per.add_column(col, justify="left" if col == "class" else "right")
    for row in report["per_class"]:
        per.add_row(
            escape(str(row["class"])),
            f"{row['precision']:.4f}",
            f"{row['recall']:.4f}",
            str(row["support"]),
        )
    console.print(per)
    cm = Table(title="confusion matrix (true × predicted)", title_justify="left")
    cm.add_column("")
    labels = [str(c) for c in saved.classes]
    for label in labels:
        cm.add_column(escape(label), justify="right")
    for label, counts in zip(labels, report["confusion_matrix"], strict=True):
        cm.add_row(escape(label), *(str(v) for v in counts))
    console.print(cm)
    if args.summary:
        console.print(
            str(tasks.summary(saved, args.data, args.target)), highlight=False, markup=False
        )
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report, indent=2, default=str) + "\n")
    if args.plot is not None:
        from ..reporting.plots import confusion_matrix_figure, reliability_diagram

        confusion_matrix_figure(
            report["confusion_matrix"], labels, args.plot / "confusion_matrix.png"
        )
        reliability_diagram(report["reliability"], args.plot / "reliability.png", ece=report["ece"])
        console.print(
            f"wrote {args.plot / 'confusion_matrix.png'} and {args.plot / 'reliability.png'}",
            highlight=False,
            markup=False,
        )
    return EXIT_OK


# ----------------------------------------------------------------------------- certify


def _add_certify(sub: Any) -> None:
    p = sub.add_parser(
        "certify",
        help="prove how close a trained model is to the optimum of its training objective",
        description="Compute a duality-gap certificate of a model file on the rows it was "
        "trained on (--data, --target): the objective, the gradient norm, a proven upper "
        "bound on the gap to the optimum, how much any predicted probability can still "
        "change, and how many rows could still change label. See docs/certificate.md.",
    )
    p.add_argument(
        "--model",
        type=Path,
        required=True,
        metavar="FILE",
        help="a model file written by `softmaxlab train` (.safetensors)",
    )
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="FILE",
        help="the training rows (the objective is theirs)",
    )
    p.add_argument(
        "--target", required=True, metavar="COL", help="the target column, by name or 0-based index"
    )
    p.set_defaults(handler=_cmd_certify)


def _cmd_certify(args: argparse.Namespace, console: Console) -> int:
    cert = tasks.certify(args.model, args.data, args.target)
    console.print(str(cert), highlight=False, markup=False)
    return EXIT_OK


# ----------------------------------------------------------------------------- export


def _add_export(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="write a model file as an ONNX graph",
        description="Write a model file trained by `softmaxlab train` as an ONNX graph: input "
        "`x` (float32 raw features, the stored standardisation folded into the weights), "
        "outputs `label` (the original class labels) and `probabilities`. Needs the onnx "
        "package (pip install 'softmaxlab[export]'). From Python, "
        "SoftmaxRegression.to_onnx(path) and .to_sklearn() (a fitted LogisticRegression).",
    )
    p.add_argument(
        "--model",
        type=Path,
        required=True,
        metavar="FILE",
        help="a model file written by `softmaxlab train` (.safetensors)",
    )
    p.add_argument("--onnx", type=Path, required=True, metavar="OUT", help="ONNX file to write")
    p.set_defaults(handler=_cmd_export)


def _cmd_export(args: argparse.Namespace, console: Console) -> int:
    _check_writable(args.onnx, "--onnx")
    saved = tasks.export_onnx(args.model, args.onnx)
    console.print(
        f"wrote {args.onnx} ({saved.n_features} features, {len(saved.classes)} classes)",
        highlight=False,
        markup=False,
    )
    if saved.text is not None:
        console.print(
            f"note: this model reads the text column {saved.text.column!r}; the "
            f"graph takes its {saved.n_features} TF-IDF features, not raw text",
            highlight=False,
            markup=False,
        )
    return EXIT_OK


# ----------------------------------------------------------------------------- plot


def _add_plot(sub: Any) -> None:
    p = sub.add_parser(
        "plot",
        help="learning curves from a saved history (JSON or model file)",
        description="Plot the learning curves stored in a `compare --json` file, a JSON list "
        "of epoch records, or a model file written by `train` (its history).",
    )
    p.add_argument(
        "history", type=Path, metavar="HISTORY", help="a .json file or a .safetensors model file"
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="PNG to write")
    p.set_defaults(handler=_cmd_plot)


def _cmd_plot(args: argparse.Namespace, console: Console) -> int:
    from ..reporting.plots import learning_curves

    _check_figure(args.out, "--out")
    path = args.history
    valid = tasks.read_histories(path)
    learning_curves(valid, args.out, title=f"learning curves: {path.name}")
    console.print(f"wrote {args.out}", highlight=False, markup=False)
    return EXIT_OK
