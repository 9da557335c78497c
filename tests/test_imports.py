"""The package's import graph, counting imports inside functions too: no cycle between
modules or between top-level units, and every import flows down the layers of
docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

import softmaxlab

PACKAGE = Path(softmaxlab.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """softmaxlab modules that ``path`` imports, anywhere in the file."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("softmaxlab")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.startswith("softmaxlab"):
                target = node.module
            else:
                continue
            named = set()
            for alias in node.names:  # "from . import engine" names a module
                candidate = f"{target}.{alias.name}"
                where = PACKAGE.parent / candidate.replace(".", "/")
                if where.with_suffix(".py").is_file() or (where / "__init__.py").is_file():
                    named.add(candidate)
            # a module is imported from itself; a name (__version__) from the package
            out |= named if named and len(named) == len(node.names) else {target, *named}
    return out


def graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in _imports(p) if m in modules and m != name} for name, p in modules.items()
    }


def _cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(g[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(g):
        if node not in state and (found := visit(node)):
            return found
    return None


#: The layers of docs/architecture.md, lowest first: each top-level module or subpackage of
#: softmaxlab ("unit") sits in one, and imports only from its own layer or lower ones.
LAYERS: dict[str, tuple[str, ...]] = {
    "core": (
        "errors",
        "_version",
        "_validation",
        "_atomic",
        "functional",
        "derivatives",
        "gradients",
        "gradcheck",
        "metrics",
        "inference",
        "sparse",
    ),
    "engine": ("fast",),
    "io": ("io",),
    "data": ("scaling", "data", "text", "training"),
    "objective": ("objective",),
    "solvers": ("solvers", "certificate"),
    "models": (
        "_inputs",
        "fitting",
        "model",
        "references",
        "export",
        "estimator",
        "path",
        "cv",
        "persistence",
        "comparison",
    ),
    "api": ("softmaxlab",),  # the package's __init__: the public names
    "distributed": ("distributed",),
    "app": ("tasks", "selection", "reporting", "bench"),
    "cli": ("cli", "__main__"),
}
LEVEL = {unit: i for i, units in enumerate(LAYERS.values()) for unit in units}


def unit(module: str) -> str:
    """``softmaxlab.fast.engine`` -> ``fast``; the package itself -> ``softmaxlab``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def unit_graph() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a, targets in graph().items():
        out.setdefault(unit(a), set()).update(unit(b) for b in targets if unit(b) != unit(a))
    return out


def test_every_unit_has_a_layer():
    missing = sorted(set(unit_graph()) - set(LEVEL))
    assert not missing, f"place these in LAYERS and docs/architecture.md: {missing}"


def test_imports_flow_down_the_layers():
    names = list(LAYERS)
    upward = [
        f"{a} ({names[LEVEL[a]]}) imports {b} ({names[LEVEL[b]]})"
        for a, targets in sorted(unit_graph().items())
        for b in sorted(targets)
        if LEVEL[b] > LEVEL[a]
    ]
    assert not upward, "\n".join(upward)


def test_no_cycle_between_top_level_units():
    cycle = _cycle(unit_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_layer_check_would_catch_an_upward_import(tmp_path, monkeypatch):
    # the walker, fed a module of the engine that imports the estimator inside a function
    fake = PACKAGE / "fast" / "engine.py"
    text = fake.read_text() + "\n\ndef _late():\n    from ..estimator import SoftmaxRegression\n"
    monkeypatch.setattr(
        Path, "read_text", lambda self, *a, **k: text if self == fake else _read(self)
    )
    g = unit_graph()
    assert "estimator" in g["fast"] and LEVEL["estimator"] > LEVEL["fast"]


_read = Path.read_text


def test_the_walker_sees_imports_inside_functions():
    g = graph()
    assert "softmaxlab.fast.native" in g["softmaxlab.fast.engine"]
    assert "softmaxlab.estimator" in g["softmaxlab.distributed.estimator_files"]
    assert "softmaxlab.model" in g["softmaxlab.distributed.memory"]  # inside fit()


def test_no_import_cycle_inside_the_package():
    # the package's __init__ imports its public modules; a module importing the package
    # itself (for __version__, say) would close a cycle through it
    cycle = _cycle(graph())
    assert cycle is None, " -> ".join(cycle or [])
