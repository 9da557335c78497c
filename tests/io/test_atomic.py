"""softmaxlab.io.atomic: what is at the target decides how a file is written."""

from __future__ import annotations

import os
import stat

import pytest

from softmaxlab.errors import InvalidInputError
from softmaxlab.io.atomic import atomic_write, atomic_write_text
from tests.helpers import files_in


def test_a_new_file_gets_the_umask_mode_and_a_replaced_file_keeps_its_own(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "new.txt", "a")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o640
    os.chmod(tmp_path / "new.txt", 0o604)
    atomic_write_text(tmp_path / "new.txt", "b")
    assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o604
    assert (tmp_path / "new.txt").read_text() == "b"


def test_a_symlink_is_followed_and_kept(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    atomic_write_text(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text() == "new"
    assert files_in(tmp_path) == {"real.txt", "link.txt"}


def test_a_character_device_is_written_through_not_replaced():
    before = os.stat("/dev/null")
    atomic_write_text("/dev/null", "discarded")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_fifo_or_directory_is_refused_and_left_alone(tmp_path, kind):
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    with pytest.raises(InvalidInputError, match=r"is a (FIFO|directory).*not a regular file"):
        atomic_write_text(target, "x")
    assert (stat.S_ISFIFO if kind == "fifo" else stat.S_ISDIR)(os.stat(target).st_mode)
    assert files_in(tmp_path) == {"target"}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    (tmp_path / "m.bin").write_text("old")

    def broken(tmp: str) -> None:
        with open(tmp, "w") as fh:
            fh.write("half")
        raise OSError(28, "No space left on device", tmp)

    with pytest.raises(OSError, match="No space left"):
        atomic_write(tmp_path / "m.bin", broken)
    assert (tmp_path / "m.bin").read_text() == "old"
    assert files_in(tmp_path) == {"m.bin"}
