"""The one way softmaxlab writes a file: atomically.

:func:`atomic_write` has ``write(tmp)`` fill a temporary file in the target's folder, then
fsyncs it and renames it over the target, so a reader — or the next run after a crash, a
kill or a full disk — sees the old file or the whole new one, never a part. Model files,
checkpoints, JSON results, predictions, plots and reports all go through it; a failure
removes the temporary file and changes nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Replace ``path`` by what ``write(tmp)`` puts in the temporary file ``tmp``."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix,
                               dir=target.parent if str(target.parent) else Path("."))
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` by ``text`` (UTF-8), atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
