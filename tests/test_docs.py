"""The documentation's code and references stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example_runs(capsys):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["result"].ok
    assert "epoch: 15 - CE:" in capsys.readouterr().out


def test_math_doc_names_only_functions_and_tests_that_exist():
    import softmaxlab
    from softmaxlab import functional, gradients

    text = (ROOT / "docs" / "math.md").read_text()
    for module, name in re.findall(r"`(functional|gradients)\.(\w+)`", text):
        assert hasattr({"functional": functional, "gradients": gradients}[module], name), name
    tests = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(tests) >= 15
    for path, name in tests:
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), flags=re.M), name
    assert hasattr(softmaxlab.SoftmaxClassifier, "update")


@pytest.mark.parametrize("name", ["chain", "jacobian", "kronecker", "blockwise", "fused",
                                  "autograd"])
def test_math_doc_covers_every_formulation(name):
    assert f"`{name}`" in (ROOT / "docs" / "math.md").read_text()


def test_estimator_doc_has_the_generated_table():
    text = (ROOT / "docs" / "estimator.md").read_text()
    block = text.split("<!-- logreg_cv:begin -->")[1].split("<!-- logreg_cv:end -->")[0]
    for name in ("iris", "wine", "digits", "breast_cancer"):
        assert f"| {name} |" in block
    assert "benchmarks/logreg_cv.py" in text


def test_conventions_doc_names_only_tests_that_exist():
    text = (ROOT / "docs" / "conventions.md").read_text()
    named = re.findall(r"`(test_\w+)`", text)
    source = (ROOT / "tests" / "test_conventions.py").read_text()
    assert len(named) >= 5
    for name in named:
        assert re.search(rf"^def {name}\(", source, flags=re.M), name
    for path, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text):
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), flags=re.M), name


def test_reliability_doc_names_only_tests_that_exist():
    text = (ROOT / "docs" / "reliability.md").read_text()
    refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(refs) >= 20
    for path, name in refs:
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), flags=re.M), name


def test_distributed_doc_names_what_exists_and_has_the_measured_tables():
    from softmaxlab import distributed
    from softmaxlab.io import shards

    text = (ROOT / "docs" / "distributed.md").read_text()
    refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(refs) >= 5
    for path, name in refs:
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), flags=re.M), name
    for module, name in re.findall(r"`softmaxlab\.(distributed|io\.shards)\.(\w+)`", text):
        assert hasattr({"distributed": distributed, "io.shards": shards}[module], name), name
    scaling = text.split("<!-- distributed:begin -->")[1].split("<!-- distributed:end -->")[0]
    memory = text.split("<!-- memory:begin -->")[1].split("<!-- memory:end -->")[0]
    for procs in ("1 process", "2 processes", "4 processes"):
        assert procs in scaling
    for suffix in (".npy", ".parquet"):
        assert sum(line.startswith(f"| {suffix} | ") for line in memory.splitlines()) >= 3
