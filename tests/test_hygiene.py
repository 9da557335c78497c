"""Sizes the maintainers keep (CONTRIBUTING.md): no module over 400 lines, and at most 3
functions whose body (after the docstring) runs over 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import softmaxlab

PACKAGE = Path(softmaxlab.__file__).parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
LONG_FUNCTIONS_ALLOWED = 3


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        and len(body) > 1
    ):
        first = body[1]
    return int(node.end_lineno or node.lineno) - first.lineno + 1


def test_no_module_is_over_400_lines():
    big = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not big, f"split these modules: {big}"


def test_at_most_three_functions_are_over_80_lines():
    long = sorted(
        (f"{p.relative_to(PACKAGE)}:{node.name}", _body_lines(node))
        for p in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and _body_lines(node) > MAX_FUNCTION_LINES
    )
    assert len(long) <= LONG_FUNCTIONS_ALLOWED, long
