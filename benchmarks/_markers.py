"""Replace the generated block between two HTML comment markers in a markdown file."""

from __future__ import annotations

import re
from pathlib import Path


def replace_block(path: Path, begin: str, end: str, text: str) -> None:
    """Put ``text`` between ``begin`` and ``end`` in ``path``; exactly one pair must exist."""
    doc = path.read_text()
    new, n = re.subn(
        re.escape(begin) + ".*?" + re.escape(end),
        lambda _: f"{begin}\n{text}{end}",
        doc,
        flags=re.S,
    )
    if n != 1:
        raise SystemExit(f"{path}: markers {begin} ... {end} not found")
    path.write_text(new)
