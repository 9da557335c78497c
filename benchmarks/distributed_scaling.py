"""Data-parallel training on this machine: steady-state epoch time and memory per rank.

    python benchmarks/distributed_scaling.py --write docs/distributed.md \\
        --json benchmarks/results/distributed.json

**Scaling** (start-up excluded): 200 000 x 100 rows, C = 10, float64, batch 1 024 and
4 096, 4 epochs; the median wall time of epochs 2-4 as timed inside the run (rank 0's
clock: the collectives keep the ranks in step), for the single-process fast path and for
``distributed.fit`` with 1, 2 and 4 processes. The start-up (spawning the processes,
importing PyTorch, the rendezvous, sending the data) is reported separately.

**Memory per rank**: a 400 000 x 101 float64 table (features and label, 323 MB) as .npy
and as Parquet (row groups of 16 384 rows) trained with ``distributed.fit_file`` on 1, 2
and 4 processes (1 epoch, batch 4 096): each rank's peak resident memory (``VmHWM``)
and how much of it came after start-up (reading its rows and training). For reference,
the peak of one process loading the same .npy with ``load_dataset`` and training.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _markers import replace_block

import softmaxlab as sl
from softmaxlab import distributed
from softmaxlab.bench.bench import make_data

SCALING = ("<!-- distributed:begin -->", "<!-- distributed:end -->")
MEMORY = ("<!-- memory:begin -->", "<!-- memory:end -->")
PROCS = (1, 2, 4)


def steady(seconds: list[float]) -> float:
    return statistics.median(seconds[1:])  # the first epoch warms up


def scaling(batches: tuple[int, ...]) -> tuple[list[dict], str]:
    x, y = make_data(200_000, 100, 10, torch.float64)
    results, rows = (
        [],
        [
            "| batch | run | epoch (s), steady state | vs one process | start-up (s) |",
            "|---|---|---|---|---|",
        ],
    )
    for batch in batches:
        stamps: list[float] = []
        model = sl.SoftmaxClassifier(100, 10, gradient="fused", seed=0, device="cpu")
        start = time.perf_counter()
        model.fit(
            x,
            y,
            4,
            0.05,
            batch,
            verbose=False,
            callback=lambda _, stamps=stamps: stamps.append(time.perf_counter()),
        )
        base = steady(np.diff([start, *stamps]).tolist())
        results.append({"batch": batch, "run": "one process", "epoch_s": base})
        rows.append(f"| {batch} | one process, fast path | {base:.3f} | 1.00× | – |")
        for nproc in PROCS:
            seconds: list[float] = []
            model = sl.SoftmaxClassifier(100, 10, gradient="fused", seed=0, device="cpu")
            start = time.perf_counter()
            distributed.fit(model, x, y, 4, 0.05, batch, nproc=nproc, timings=seconds)
            total = time.perf_counter() - start
            epoch = steady(seconds)
            startup = total - sum(seconds)
            results.append(
                {
                    "batch": batch,
                    "run": f"{nproc} processes",
                    "epoch_s": epoch,
                    "startup_s": startup,
                }
            )
            rows.append(
                f"| {batch} | distributed, {nproc} process"
                f"{'es' if nproc > 1 else ''} | {epoch:.3f} | {base / epoch:.2f}× | "
                f"{startup:.1f} |"
            )
    return results, "\n".join(rows) + f"\n\nMeasured on {os.cpu_count()} cores.\n"


ONE_PROCESS = """
import sys
import softmaxlab as sl
from softmaxlab.distributed import peak_rss_mib
d = sl.load_dataset(sys.argv[1], valid=0.2, shuffle=False)
m = sl.SoftmaxClassifier(d.n_features, d.n_classes, gradient="fused", device="cpu")
m.fit(d.x_train, d.y_train, 1, 0.05, 4096, d.x_valid, d.y_valid, verbose=False)
print(peak_rss_mib())
"""


def memory(rows: int) -> tuple[list[dict], str]:
    x, y = make_data(rows, 100, 10, torch.float64)
    table = np.column_stack([x.numpy(), y.argmax(1).numpy().astype(np.float64)])
    mib = table.nbytes / 2**20
    results = []
    out = [
        f"Table: {rows} rows x 101 columns, float64, {mib:.0f} MiB.",
        "",
        "| file | processes | rows per rank | peak per rank (MiB) | after start-up (MiB) |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp) / "table.npy"
        np.save(npy, table)
        import pyarrow as pa
        import pyarrow.parquet as pq

        parquet = Path(tmp) / "table.parquet"
        pq.write_table(
            pa.table({str(j): table[:, j] for j in range(table.shape[1])}),
            parquet,
            row_group_size=16_384,
        )
        del x, y, table
        one = subprocess.run(
            [sys.executable, "-c", ONE_PROCESS, str(npy)],
            check=True,
            capture_output=True,
            text=True,
        )
        peak_one = float(one.stdout.split()[-1])
        results.append({"file": ".npy", "processes": "one, load_dataset", "peak_mib": [peak_one]})
        out.append(f"| .npy | one process, `load_dataset` | {rows} | {peak_one:.0f} | – |")
        for path in (npy, parquet):
            for nproc in PROCS:
                run = distributed.fit_file(
                    path, epochs=1, lr=0.05, batch_size=4096, valid=0.2, nproc=nproc
                )
                peaks = run.peak_rss_mib
                grown = [p - s for p, s in zip(peaks, run.start_rss_mib, strict=True)]
                results.append(
                    {
                        "file": path.suffix,
                        "processes": nproc,
                        "peak_mib": peaks,
                        "after_startup_mib": grown,
                    }
                )
                out.append(
                    f"| {path.suffix} | {nproc} | {rows // nproc} | "
                    f"{max(peaks):.0f} | {max(grown):.0f} |"
                )
    return results, "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="markdown file with the marker blocks")
    parser.add_argument("--json", type=Path, help="write the measurements as JSON")
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument(
        "--section",
        choices=("scaling", "memory"),
        action="append",
        help="run only this part (repeatable; default: both)",
    )
    args = parser.parse_args()
    sections = args.section or ["scaling", "memory"]
    results, blocks = {}, []
    if "scaling" in sections:
        results["scaling"], text = scaling((1024,) if args.quick else (1024, 4096))
        blocks.append((SCALING, text))
    if "memory" in sections:
        results["memory"], text = memory(40_000 if args.quick else 400_000)
        blocks.append((MEMORY, text))
    for _, text in blocks:
        print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.write:
        for markers, text in blocks:
            replace_block(args.write, *markers, text)


if __name__ == "__main__":
    main()
