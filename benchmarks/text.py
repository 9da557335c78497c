"""The text-classification benchmark (softmaxlab.bench.textbench): a generated 50 000 ×
50 000 bag-of-words corpus in 20 classes as sparse TF-IDF, SoftmaxRegression beside
LogisticRegression and SGDClassifier(loss="log_loss") in one process.

    python benchmarks/text.py --json benchmarks/results/text.json

prints the Markdown table published in docs/text.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from softmaxlab.bench.textbench import run_text, text_table

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--terms", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = run_text(args.docs, args.terms, args.classes)
    print(text_table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
