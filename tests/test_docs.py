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
    assert "derivatives.softmax_jacobian" in text
    tests = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(tests) >= 15
    for path, name in tests:
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), flags=re.M), name
    assert hasattr(softmaxlab.SoftmaxClassifier, "update")


@pytest.mark.parametrize(
    "name", ["chain", "jacobian", "kronecker", "blockwise", "fused", "autograd"]
)
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


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to
    hyphens."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"\s", "-", text)


def _anchors(doc: Path) -> set[str]:
    return {_anchor(h) for h in re.findall(r"^#+ (.+)$", doc.read_text(), flags=re.M)}


def _sections(doc: Path) -> set[int]:
    return {int(n) for n in re.findall(r"^## (\d+)\.", doc.read_text(), flags=re.M)}


def test_code_points_at_docs_sections_that_exist_and_has_no_spec_tags():
    """Docstrings link code to its derivation: ``docs/X.md#anchor`` and ``docs/X.md §N``
    name a heading that exists; no spec-style tag, S and a number in parentheses (they
    named a specification that is not in the repository)."""
    sources = [
        p
        for p in [*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
        if p.resolve() != Path(__file__).resolve()
    ]
    links = sections = 0
    for path in sources:
        text = path.read_text()
        assert not re.search(r"\(S\d+[,)–]", text), path
        for doc, anchor in re.findall(r"docs/(\w+)\.md#([\w-]+)", text):
            assert anchor in _anchors(ROOT / "docs" / f"{doc}.md"), (path, doc, anchor)
            links += 1
        for doc, refs in re.findall(r"docs/(\w+)\.md (§\d+(?:(?:–| and |, )§\d+)*)", text):
            for n in re.findall(r"§(\d+)", refs):
                assert int(n) in _sections(ROOT / "docs" / f"{doc}.md"), (path, doc, n)
                sections += 1
    assert links >= 20 and sections >= 10


def test_links_between_docs_resolve():
    """Every relative Markdown link of the docs and the README names a file that exists,
    and its ``#anchor`` a heading of that file."""
    checked = 0
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            assert path.exists(), (doc.name, target)
            if anchor:
                assert anchor in _anchors(path), (doc.name, target)
            checked += 1
    assert checked >= 10


def test_code_links_in_the_docs_name_what_the_linked_module_defines():
    """[`module.name`](../src/softmaxlab/module.py): the module file exists (the links
    test) and defines ``name``; the other direction, code to docs, is
    test_code_points_at_docs_sections_that_exist_and_has_no_spec_tags."""
    import importlib

    found = 0
    for doc in (ROOT / "docs").glob("*.md"):
        for module, name, path in re.findall(
            r"\[`(\w+)\.(\w+)`\]\(\.\./src/softmaxlab/([\w/]+)\.py\)", doc.read_text()
        ):
            package = path.removesuffix("/__init__")  # a package's names: its __init__
            assert package.split("/")[-1] == module, (doc.name, module, path)
            mod = importlib.import_module("softmaxlab." + package.replace("/", "."))
            assert hasattr(mod, name), (doc.name, module, name)
            found += 1
    assert found >= 15
