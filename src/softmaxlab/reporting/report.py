"""``softmaxlab compare --report DIR``: figures, ``report.md`` and a self-contained
``report.html`` for one comparison."""

from __future__ import annotations

import base64
import html
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..comparison import QUANTITIES, CompareResult
from ..io.atomic import atomic_write_text
from . import plots

FIGURES = {
    "learning_curves.png": "Learning curves of softmaxlab and each reference on the same "
    "batches: the curves coincide (hollow markers show both), and "
    "the last panel shows how far apart they are (log scale).",
    "parity.png": "Parity: the MAPE (a fraction) of each compared quantity per reference "
    "and formulation; everything after copying sits near rounding (1e-16) or "
    "at exactly 0, far below the dashed threshold.",
    "jacobian.png": "The softmax Jacobian of a small batch flattened sample by sample (one "
    "block per sample, zero elsewhere) beside I ⊗ X in the column-major "
    "layout.",
    "decision_regions.png": "Decision regions of a 2-feature, 3-class run (fast path): "
    "straight boundaries where two logits are equal, training and "
    "held-out points, and both accuracies.",
    "training.gif": "The same run as it trains: the boundaries turn into place while the "
    "loss falls (one frame every 8 epochs).",
    "gradient.png": "∂L/∂Z = (Ŷ − Y)/m of one batch of the seed data: the step raises "
    "each true class's logit (blue, ringed) and lowers the others (red) in "
    "proportion to their probability.",
    "flattenings.png": "The same ∂Ŷ/∂Z flattened sample by sample (reshape: block "
    "diagonal) and column by column (vec: not block diagonal); mixing "
    "the two gives wrong gradients without an error.",
}


def _two_feature_run(seed: int) -> tuple[Any, np.ndarray, np.ndarray, list[Any]]:
    """A 2-feature, 3-class model trained on 450 rows of 600 (the rest held out), and
    its state every 8 epochs (``(predict, loss)`` frames for the animation)."""
    import torch
    from sklearn.datasets import make_classification

    from ..data import one_hot
    from ..model import SoftmaxClassifier

    x, labels = make_classification(
        n_samples=600,
        n_features=2,
        n_informative=2,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=seed,
    )
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    model = SoftmaxClassifier(2, 3, gradient="fused", seed=seed, device="cpu")
    xt, yt = torch.from_numpy(x[:450]), one_hot(labels[:450], 3, device="cpu")

    def frame(loss: float) -> tuple[Any, float]:
        w, b = model.w.detach().clone().numpy(), model.b.detach().clone().numpy()
        return (lambda grid: (grid @ w + b).argmax(axis=1)), loss

    frames = [frame(model.evaluate(xt, yt))]
    for _ in range(12):
        model.fit(xt, yt, 8, 0.1, 32, verbose=False)
        frames.append(frame(model.evaluate(xt, yt)))
    return model, x, labels, frames  # rows 450-599 are held out


def _markdown_table(result: CompareResult) -> str:
    refs = [r for r in result.config.references if r != "sklearn"]
    cols = [(r, g) for r in refs for g in result.config.gradients]
    lines = []
    if cols:
        lines.append("| quantity | " + " | ".join(f"{r} / {g}" for r, g in cols) + " |")
        lines.append("|---|" + "---|" * len(cols))
        for quantity, required in QUANTITIES:
            cells = [f"{result.value(quantity, r, g):.2e}" for r, g in cols]
            label = quantity if required else f"{quantity} (info)"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    sk = [c for c in result.checks if c.reference == "sklearn"]
    if sk:
        lines.append("")
        lines.append("| at the optimum vs LogisticRegression | max relative difference |")
        lines.append("|---|---|")
        lines.extend(f"| {c.quantity} | {c.mape:.2e} |" for c in sk)
    return "\n".join(lines)


def _teaching_figures(seed: int, out: Path) -> None:
    """∂L/∂Z of a batch of the seed data, and ∂Ŷ/∂Z of its first rows in both layouts."""
    from .. import functional as F
    from ..data import make_dataset
    from ..model import SoftmaxClassifier

    data = make_dataset(seed=seed, device="cpu")
    model = SoftmaxClassifier(data.n_features, data.n_classes, seed=seed, device="cpu")
    x, y = data.x_train[:12], data.y_train[:12]
    y_hat = F.softmax(F.logits(x, model.w, model.b)).detach()
    plots._save(plots.gradient_figure(y, y_hat), out / "gradient.png")
    plots._save(plots.flattenings_figure(y_hat[:4]), out / "flattenings.png")


def write_report(result: CompareResult, directory: str | Path) -> list[Path]:
    """Write the figures, ``report.md`` and ``report.html`` into ``directory`` (created if
    needed); returns the paths written."""
    out = Path(directory)
    out.mkdir(parents=False, exist_ok=True)
    cfg = result.config
    histories: dict[str, Any] = {}
    for ref in cfg.references:
        if ref in result.reference_logs:
            first = cfg.gradients[0]
            histories[f"softmaxlab ({first}), from {ref}"] = result.model_logs[ref][first]
            histories[f"{ref} reference"] = result.reference_logs[ref]
    names = list(histories)
    plots.learning_curves(
        histories,
        out / "learning_curves.png",
        title="learning curves (each softmaxlab run lies on its reference's)",
        pairs=list(zip(names[::2], names[1::2], strict=True)),
    )
    plots.parity_chart(result.checks, out / "parity.png")
    plots.jacobian_figure(out / "jacobian.png", seed=cfg.seed)
    model, x, labels, frames = _two_feature_run(cfg.seed)
    plots.decision_regions(
        model,
        x[:450],
        labels[:450],
        out / "decision_regions.png",
        title="decision regions, 2 features, 3 classes",
        x_valid=x[450:],
        labels_valid=labels[450:],
    )
    plots.training_animation(frames, x[:450], labels[:450], out / "training.gif", n_classes=3)
    _teaching_figures(cfg.seed, out)
    verdict = (
        "PASS"
        if result.ok
        else "FAIL: "
        + "; ".join(f"{c.quantity} ({c.reference}, {c.gradient})" for c in result.failures)
    )
    config_rows = "\n".join(f"| {k} | {v} |" for k, v in asdict(cfg).items())
    md = [
        "# softmaxlab compare report",
        "",
        f"**{verdict}**",
        "",
        "## Configuration",
        "",
        "| setting | value |",
        "|---|---|",
        config_rows,
        "",
        "## Parity (MAPE, softmaxlab vs reference)",
        "",
        "MAPE is a fraction (1e-16 is 1e-14 %). Rows marked (info) are not checks: before "
        "copying, the models start from different random parameters on purpose.",
        "",
        _markdown_table(result),
        "",
        "## Figures",
        "",
    ]
    for name, caption in FIGURES.items():
        md += [f"### {caption}", "", f"![{caption}]({name})", ""]
    md += ["## Final epochs", ""]
    for name, history in histories.items():
        md.append(f"- {name}: `{history[-1].line()}`")
    atomic_write_text(out / "report.md", "\n".join(md) + "\n")
    atomic_write_text(out / "report.html", _html(result, verdict, histories, out))
    return [out / n for n in (*FIGURES, "report.md", "report.html")]


def _html(result: CompareResult, verdict: str, histories: dict[str, Any], out: Path) -> str:
    def table(md: str) -> str:
        rows = [
            r.strip().strip("|").split("|")
            for r in md.splitlines()
            if r.startswith("|") and not r.startswith("|---")
        ]
        body = []
        for i, cells in enumerate(rows):
            tag = "th" if i == 0 or (cells and "at the optimum" in cells[0]) else "td"
            body.append(
                "<tr>"
                + "".join(f"<{tag}>{html.escape(c.strip())}</{tag}>" for c in cells)
                + "</tr>"
            )
        return "<table>" + "".join(body) + "</table>"

    cfg_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in asdict(result.config).items()
    )
    figures = []
    for name, caption in FIGURES.items():
        data = base64.b64encode((out / name).read_bytes()).decode("ascii")
        kind = "gif" if name.endswith(".gif") else "png"
        figures.append(
            f"<figure><img alt='{html.escape(caption)}' "
            f"src='data:image/{kind};base64,{data}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    finals = "".join(
        f"<li>{html.escape(n)}: <code>{html.escape(h[-1].line())}</code></li>"
        for n, h in histories.items()
    )
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;font-size:90%}img{max-width:100%}"
        ".pass{color:#070}.fail{color:#b00}"
    )
    klass = "pass" if result.ok else "fail"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>softmaxlab compare"
        f"</title><style>{style}</style></head><body><h1>softmaxlab compare report</h1>"
        f"<p class='{klass}'><b>{html.escape(verdict)}</b></p><h2>Configuration</h2>"
        f"<table>{cfg_rows}</table><h2>Parity</h2>{table(_markdown_table(result))}"
        f"<h2>Figures</h2>{''.join(figures)}<h2>Final epochs</h2><ul>{finals}</ul>"
        "</body></html>\n"
    )
