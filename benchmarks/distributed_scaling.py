"""Wall time of data-parallel training on this machine (gloo over loopback).

    python benchmarks/distributed_scaling.py --write docs/distributed.md

Times 3 epochs of 100 000 x 100 rows, C = 10, batch 1 024, float64: the single-process fast
path, then softmaxlab.distributed.fit with 1, 2 and 4 processes (process start-up included,
as a user would see it).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from _markers import replace_block

import softmaxlab as sl
from softmaxlab import distributed
from softmaxlab.bench import make_data

BEGIN, END = "<!-- distributed:begin -->", "<!-- distributed:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    x, y = make_data(100_000, 100, 10, torch.float64)
    rows = ["| run | seconds (3 epochs) | vs one process |", "|---|---|---|"]
    model = sl.SoftmaxClassifier(100, 10, gradient="fused", seed=0, device="cpu")
    start = time.perf_counter()
    model.fit(x, y, 3, 0.05, 1024, verbose=False)
    base = time.perf_counter() - start
    rows.append(f"| one process, fast path | {base:.2f} | 1.00× |")
    for nproc in (1, 2, 4):
        model = sl.SoftmaxClassifier(100, 10, gradient="fused", seed=0, device="cpu")
        start = time.perf_counter()
        distributed.fit(model, x, y, 3, 0.05, 1024, nproc=nproc)
        seconds = time.perf_counter() - start
        rows.append(f"| distributed, {nproc} process{'es' if nproc > 1 else ''} | "
                    f"{seconds:.2f} | {base / seconds:.2f}× |")
    text = "\n".join(rows) + f"\n\nMeasured on {os.cpu_count()} cores.\n"
    print(text)
    if args.write:
        replace_block(args.write, BEGIN, END, text)


if __name__ == "__main__":
    main()
