"""The walk of ``SoftmaxRegression().fit`` on dense X (docs/architecture.md): the
top-level units whose Python code runs, and the steps between them, as
``benchmarks/trace_fit.py --units`` counts them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sklearn.datasets import make_classification

from softmaxlab import SoftmaxRegression

TRACE = Path(__file__).parents[1] / "benchmarks" / "trace_fit.py"


def _trace_module():
    spec = importlib.util.spec_from_file_location("trace_fit", TRACE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_dense_fit_crosses_at_most_10_units_in_at_most_24_steps(monkeypatch):
    trace = _trace_module()
    x, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, n_classes=4, random_state=0
    )
    SoftmaxRegression().fit(x, y)  # imports and the kernel build, untraced
    monkeypatch.setattr(trace, "UNITS", True)
    units, steps = trace.trace(lambda: SoftmaxRegression().fit(x, y))
    assert len(units) <= 10, units
    assert len(steps) <= 24, sorted(steps)
    # the walk reaches the loss, the solvers and the engine, and nothing above the models
    assert {"softmaxlab.objective", "softmaxlab.solvers", "softmaxlab.fast"} <= set(units)
    assert not {"softmaxlab.tasks", "softmaxlab.cli", "softmaxlab.distributed"} & set(units)
