"""The example notebook runs top to bottom (so it cannot rot)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "multiclass_classification.ipynb"

pytestmark = pytest.mark.slow  # real processes: make test-fast leaves them out


def test_example_notebook_executes():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "epoch: 15 - CE:" in text and "all parity checks pass: True" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # ∂L/∂Z of its batch, its learning curves, its Jacobian
    # it teaches the loop: the ten lines equal fit and PyTorch, the start is checked
    # against ln C, and the learning rate it trains with learns
    equal = next(
        c
        for c in nb.cells
        if c.cell_type == "code" and c.source.startswith("torch_ref = sl.TorchSoftmax")
    )
    mapes = eval(equal.outputs[0]["data"]["text/plain"])  # a tuple of three floats
    assert len(mapes) == 3 and max(mapes) < 1e-12
    assert "ln 3 = 1.0986; loss at W = 0: 1.0986" in text
    lr_line = next(line for line in text.splitlines() if line.startswith("lr 0.01: acc_v"))
    slow, fast = (float(part.split("acc_v ")[1].split(",")[0]) for part in lr_line.split(";"))
    assert slow < 1 / 3 < fast
    # the exercises' solutions are collapsed, and they ran without error
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert len(solutions) == 3 and all(c.metadata["jupyter"]["source_hidden"] for c in solutions)
    assert all(c.outputs for c in solutions)
