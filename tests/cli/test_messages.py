"""Every command-line flag that an error message or help text names exists: a message
that says "use --features" when the flag is --columns sends the user nowhere."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import softmaxlab
from softmaxlab.cli import build_parser

PACKAGE = Path(softmaxlab.__file__).parent


def _defined_flags() -> set[str]:
    flags: set[str] = set()
    stack = [build_parser()]
    while stack:
        parser = stack.pop()
        for action in parser._actions:
            flags.update(s for s in action.option_strings if s.startswith("--"))
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
    return flags


def _named_flags() -> dict[str, list[str]]:
    """Flags named in the package's string literals, with where (file:line)."""
    found: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]", node.value):
                    found.setdefault(flag, []).append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_every_flag_a_message_names_is_defined():
    defined = _defined_flags()
    named = _named_flags()
    assert len(named) >= 20  # the scan sees the messages
    # flags of other programs that messages legitimately name
    foreign = {"--nproc-per-node", "--master-port"}
    unknown = {f: where for f, where in named.items() if f not in defined | foreign}
    assert not unknown, unknown
