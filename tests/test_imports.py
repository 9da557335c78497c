"""The package's import graph has no cycle, counting imports inside functions too."""

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
                if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").is_file():
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
