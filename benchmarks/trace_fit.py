"""Which softmaxlab modules run Python code during ``SoftmaxRegression().fit(X, y)`` on
dense X, and the distinct module-to-module steps between them (docs/architecture.md).

    python benchmarks/trace_fit.py [--rows 2000] [--features 20] [--classes 5] [--steps]
                                   [--units]

A ``sys.setprofile`` hook records every Python call and return; a step is a call from a
function of one softmaxlab module into a function of another (returns are the same steps
walked back). Calls into other packages are followed through: a softmaxlab function
called back from scikit-learn counts as a step from the softmaxlab module that called
out. The hook is installed after the first fit, so imports and the one-off kernel build
do not count. ``--units`` counts top-level units instead (``softmaxlab.fast.engine`` is
``fast``: the subpackages and top-level modules of docs/architecture.md's layers).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from types import FrameType
from typing import Any

UNITS = False  # set by --units: name a module by its top-level unit


def _module(frame: FrameType) -> str | None:
    name = frame.f_globals.get("__name__", "")
    if not (name == "softmaxlab" or name.startswith("softmaxlab.")):
        return None
    return ".".join(name.split(".")[:2]) if UNITS else name


def trace(fn: Any) -> tuple[list[str], Counter[tuple[str, str]]]:
    """Run ``fn()`` under the hook: the modules in order of first use, and the steps."""
    seen: dict[str, None] = {}
    steps: Counter[tuple[str, str]] = Counter()

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        here = _module(frame)
        if here is None:
            return
        seen.setdefault(here)
        caller = frame.f_back
        while caller is not None and _module(caller) is None:
            caller = caller.f_back  # through scikit-learn, numpy, torch
        there = _module(caller) if caller is not None else None
        if there is not None and there != here:
            steps[(there, here)] += 1

    sys.setprofile(hook)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return list(seen), steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--steps", action="store_true", help="list every step with its count")
    ap.add_argument("--units", action="store_true", help="count top-level units, not modules")
    args = ap.parse_args(argv)
    global UNITS
    UNITS = args.units

    from sklearn.datasets import make_classification

    from softmaxlab import SoftmaxRegression

    x, y = make_classification(
        n_samples=args.rows,
        n_features=args.features,
        n_informative=min(args.features, 10),
        n_classes=args.classes,
        random_state=0,
    )
    SoftmaxRegression().fit(x, y)  # imports and the kernel build happen here, untraced
    modules, steps = trace(lambda: SoftmaxRegression().fit(x, y))
    what = "units" if args.units else "modules"
    print(f"{what} with Python code run: {len(modules)}")
    for m in modules:
        print(f"  {m}")
    print(f"distinct {what[:-1]}-to-{what[:-1]} steps: {len(steps)}")
    if args.steps:
        for (a, b), n in sorted(steps.items()):
            print(f"  {a} -> {b}  ({n} calls)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
