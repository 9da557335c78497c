"""The one way softmaxlab writes a file: atomically.

:func:`atomic_write` has ``write(tmp)`` fill a temporary file in the target's folder, then
fsyncs it and renames it over the target, so a reader — or the next run after a crash, a
kill or a full disk — sees the old file or the whole new one, never a part. Model files,
checkpoints, JSON results, predictions, plots, reports and the native kernel's build all
go through it; a failure removes the temporary file and changes nothing.

What is at the target decides how it is written: a symbolic link is followed (the file it
points to is replaced, the link stays); a character device such as ``/dev/stdout`` or
``/dev/null`` is written through, as a shell redirection would; a FIFO, socket, block
device or directory is refused with an :class:`~softmaxlab.errors.InvalidInputError`
(replacing it would destroy it, reading it back is impossible). A new file gets the
permissions ``open()`` would give it (0666 less the umask); a replaced file keeps its own.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import InvalidInputError

__all__ = ["atomic_write", "atomic_write_text", "writable_target"]


def _kind(mode: int) -> str | None:
    """What a non-regular, non-character-device file is (``None`` for those two)."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def writable_target(path: str | os.PathLike[str]) -> tuple[Path, os.stat_result | None]:
    """The file a write to ``path`` replaces (symbolic links followed) and its status
    (``None`` when it does not exist yet); refuses what cannot be replaced."""
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    kind = _kind(st.st_mode)
    if kind is not None:
        raise InvalidInputError(
            f"{path}: is {kind}, not a regular file; softmaxlab writes "
            "regular files (or character devices such as /dev/stdout)"
        )
    return target, st


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Replace ``path`` by what ``write(tmp)`` puts in the temporary file ``tmp`` (see the
    module docstring for links, devices and permissions)."""
    target, st = writable_target(path)
    folder = target.parent if st is None or stat.S_ISREG(st.st_mode) else tempfile.gettempdir()
    # the name first, the file inside the try: a signal (Ctrl-C, SIGTERM raised as an
    # exception) at any moment after the file exists removes it below
    tmp = os.path.join(folder, f".{target.name}.{secrets.token_hex(8)}{target.suffix}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        write(tmp)
        if st is not None and stat.S_ISCHR(st.st_mode):  # /dev/stdout, /dev/null, a tty
            with open(tmp, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            Path(tmp).unlink()
            return
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` by ``text`` (UTF-8), atomically."""

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    atomic_write(path, write)
