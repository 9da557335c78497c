"""Turn a ``softmaxlab bench --json`` file into the markdown tables of benchmarks/README.md.

softmaxlab bench --json benchmarks/results/bench.json --plot benchmarks/results/growth.png
python benchmarks/report.py benchmarks/results/bench.json --write benchmarks/README.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _markers import replace_block

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:,.3f}"


def render(data: dict) -> str:
    out = []
    main = data.get("main")
    if main:
        keys = list(dict.fromkeys((t["config"], t["dtype"]) for t in main["timings"]))
        names = list(dict.fromkeys(t["contender"] for t in main["timings"]))
        out.append("| ms per epoch | " + " | ".join(f"{c} {d}" for c, d in keys) + " |")
        out.append("|---|" + "---|" * len(keys))
        for name in names:
            cells = []
            for c, d in keys:
                t = next(
                    (
                        t
                        for t in main["timings"]
                        if (t["config"], t["dtype"], t["contender"]) == (c, d, name)
                    ),
                    None,
                )
                if t is None:
                    cells.append("")
                elif t["seconds"] is None:
                    cells.append(t["note"])
                else:
                    cells.append(_ms(t["seconds"]) + (" *" if t["note"] else ""))
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        for label, key in (
            ("**PyTorch nn / softmaxlab**", "pytorch/ours"),
            ("**softmaxlab / GEMM floor**", "ours/floor"),
            ("softmaxlab / BLAS floor", "ours/blas floor"),
        ):
            values = [main["ratios"][f"{c}/{d}"].get(key) for c, d in keys]
            if all(v is None for v in values):
                continue
            bold = "**" if label.startswith("**") else ""
            cells = ["" if v is None else f"{bold}{v:.2f}×{bold}" for v in values]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        cells = [_ms(main["validation_seconds"].get(f"{c}/{d}")) for c, d in keys]
        out.append("| validation pass (one, no autograd) | " + " | ".join(cells) + " |")
        paths = main.get("fast_path", {})
        if paths:
            out.append(
                "| fast path | " + " | ".join(paths.get(f"{c}/{d}", "") for c, d in keys) + " |"
            )
        out.append("")
        out.append(
            "\\* extrapolated from the first 20 batches of the epoch (these formulations "
            "take 20–80 s per medium epoch)."
        )
        out.append("")
    growth = data.get("growth")
    if growth:
        batches = sorted({r["batch"] for r in growth["rows"]})
        for title, key, fmt in (
            ("ms per gradient step", "seconds", lambda v: f"{v * 1e3:.3f}"),
            ("peak KiB per gradient step", "bytes", lambda v: f"{v / 1024:,.0f}"),
        ):
            out.append(
                f"**{title}** (N = {growth['features']}, C = {growth['classes']}, "
                f"float64; exponent = log-log slope from B = {growth['fit_from_batch']})"
            )
            out.append("")
            out.append("| gradient | " + " | ".join(f"B={b}" for b in batches) + " | exponent |")
            out.append("|---|" + "---|" * (len(batches) + 1))
            for name, exps in growth["exponents"].items():
                cells = []
                for b in batches:
                    r = next(r for r in growth["rows"] if r["gradient"] == name and r["batch"] == b)
                    cells.append("refused" if r[key] is None else fmt(r[key]))
                e = exps["time" if key == "seconds" else "memory"]
                out.append(f"| {name} | " + " | ".join(cells) + f" | {e:.2f} |")
            out.append("")
    scaling = data.get("scaling")
    if scaling:
        out.append(
            f"**scaling** (fast path, N = {scaling['features']}, C = "
            f"{scaling['classes']}, batch {scaling['batch']}, float64): fitted exponent "
            f"time ∝ rows^{scaling['exponent']:.3f}"
        )
        out.append("")
        out.append("| rows | ms per epoch | µs per row |")
        out.append("|---|---|---|")
        for r in scaling["rows"]:
            out.append(
                f"| {r['rows']:,} | {_ms(r['seconds'])} | {r['seconds'] / r['rows'] * 1e6:.3f} |"
            )
        out.append("")
    fit = data.get("fit")
    if fit:
        out.append(
            f"**what a fit costs** ({fit['rows']:,} × {fit['features']}, C = "
            f"{fit['classes']}, batch {fit['batch']}, float64; `softmaxlab.bench.fitcost`)"
        )
        out.append("")
        out.append("| measurement | value |")
        out.append("|---|---|")
        for name, seconds in fit["seconds"].items():
            out.append(f"| {name} | {_ms(seconds)} ms |")
        for name, ratio in fit["ratios"].items():
            out.append(f"| **{name}** | {'—' if ratio is None else f'{ratio:.2f}×'} |")
        peak = fit["estimator peak extra memory / X"]
        out.append(
            f"| **estimator peak extra memory / size of X ({fit['x_mib']} MiB)** | "
            f"{'—' if peak is None else f'{peak:.2f}×'} |"
        )
        out.append("")
    race = data.get("race")
    if race:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        from softmaxlab.bench.race import race_table

        out.append(
            "**the race** (`make_pipeline(StandardScaler(), contender)`, defaults, held-out 25 %)"
        )
        out.append("")
        out.append(race_table(race))
    out.append(f"Torch threads: {data.get('threads')}.")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file", type=Path)
    parser.add_argument("--write", type=Path, help="replace the block between the markers")
    args = parser.parse_args()
    text = render(json.loads(args.json_file.read_text()))
    print(text)
    if args.write:
        replace_block(args.write, BEGIN, END, text)


if __name__ == "__main__":
    main()
