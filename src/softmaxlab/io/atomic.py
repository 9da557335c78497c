"""Reading and writing safetensors files (written through :mod:`softmaxlab._atomic`, the
one atomic write, whose names this module also exports)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .._atomic import atomic_write, atomic_write_text, writable_target

__all__ = [
    "atomic_write",
    "atomic_write_text",
    "read_safetensors",
    "writable_target",
    "write_safetensors_atomic",
]


def write_safetensors_atomic(
    tensors: dict[str, Any], metadata: dict[str, str], path: str | os.PathLike[str]
) -> None:
    """Write a safetensors file through a temporary file in the same folder, fsync it, then
    rename it over ``path``: a crash at any moment leaves the old file or the new one."""
    from safetensors.torch import save_file

    cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}

    def write(tmp: str) -> None:
        try:
            save_file(cpu, tmp, metadata=metadata)
        except Exception as exc:  # safetensors' own error type, also for I/O failures
            found = re.search(r"\(os error (\d+)\)", str(exc))
            if found is None:
                raise
            code = int(found.group(1))
            raise OSError(code, os.strerror(code), os.fspath(path)) from None

    atomic_write(path, write)


def read_safetensors(
    path: Path, error: type[Exception], message: str
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
