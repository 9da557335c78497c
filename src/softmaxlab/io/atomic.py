"""The one way softmaxlab writes a file: atomically (and how it reads safetensors files).

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
from typing import Any

__all__ = ["atomic_write", "atomic_write_text", "read_safetensors", "write_safetensors_atomic"]


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


def write_safetensors_atomic(tensors: dict[str, Any], metadata: dict[str, str],
                             path: str | os.PathLike[str]) -> None:
    """Write a safetensors file through a temporary file in the same folder, fsync it, then
    rename it over ``path``: a crash at any moment leaves the old file or the new one."""
    from safetensors.torch import save_file

    cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(cpu, tmp, metadata=metadata))


def read_safetensors(path: Path, error: type[Exception], message: str
                     ) -> tuple[dict[str, Any], dict[str, str]]:
    """All tensors and the metadata of a safetensors file; any failure to parse it (a
    pickle, a truncated file, ...) raises ``error(f"{message} (reason)")``. Parsing never
    executes anything from the file."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise error(f"{message} ({first})") from None
    return tensors, meta
