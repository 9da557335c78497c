"""The race users care about: scikit-learn's linear classifiers vs SoftmaxRegression.

Each contender is ``make_pipeline(StandardScaler(), X)`` with its defaults — scikit-learn's
``LogisticRegression()``, ``SGDClassifier(loss="log_loss")``, ``SoftmaxRegression()`` and
``SoftmaxRegression(solver="lbfgs")`` — fitted on the same training rows and scored on the
same held-out rows, side by side in one process: a 200 000 × 100, 10-class
``make_classification`` problem and scikit-learn's bundled sets (stratified 75/25 split).
Fit time is the median of ``--repeats`` fits (the pipeline's scaler included).

    python benchmarks/race.py                          # print the table
    python benchmarks/race.py --quick                  # 20 000 rows instead of 200 000
    python benchmarks/race.py --write benchmarks/README.md --json benchmarks/results/race.json

``softmaxlab bench --section race`` runs the same measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _markers import replace_block

from softmaxlab.bench.race import race, race_table

BEGIN, END = "<!-- race:begin -->", "<!-- race:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 000 rows for the big problem")
    parser.add_argument("--repeats", type=int, default=3, help="fits per contender (median)")
    parser.add_argument("--write", type=Path, help="replace the race block of this file")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args()
    result = race(
        rows=20_000 if args.quick else 200_000,
        repeats=args.repeats,
        progress=lambda text: print(text, file=sys.stderr),
    )
    table = race_table(result)
    print(table)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.write:
        replace_block(args.write, BEGIN, END, table)


if __name__ == "__main__":
    main()
