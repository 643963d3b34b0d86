"""Reading the files a staffer points dpt at (voter lists, the region table, RT coordinates, a pinned
model, review files): one place that refuses what is not a regular file before it is opened.

A FIFO waits for a writer forever and /dev/zero never ends, both while the run holds its lock; a
directory or a socket cannot be a list. They are StorageError (exit 7, the machine's files, not a bad
list), as is a file the system will not let this user read. A missing file is an InputError (exit 3): the
configured input is not there. Messages name the file and the setting to fix, never its content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dpt_pipeline.errors import InputError, StorageError


def check_regular(path: Path, setting: str) -> None:
    """Refuse `path` unless it is a regular file (without opening it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise InputError(f"does not exist; check {setting}", path=path) from e
    except OSError as e:
        raise StorageError(f"file {path}: cannot be read: {e.strerror}") from e
    if not stat.S_ISREG(st.st_mode):
        raise StorageError(f"file {path}: is {file_kind(st.st_mode)}, not a regular file; point {setting} at "
                           "the file itself")


def read_regular(path: Path, setting: str) -> bytes:
    """The bytes of `path`, a regular file; `setting` names what points at it (e.g. "[sources].path")."""
    check_regular(path, setting)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, the open does not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise StorageError(f"file {path}: cannot be read: {e.strerror}") from e
    with os.fdopen(fd, "rb") as f:
        try:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise StorageError(f"file {path}: is {file_kind(mode)}, not a regular file; point {setting} "
                                   "at the file itself")
            return f.read()
        except OSError as e:
            raise StorageError(f"file {path}: cannot be read: {e.strerror}") from e


def file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


# Read-only to everyone outside the owner's group: the tables hold NIK and birth dates.
FILE_MODE = 0o640


def write_private(path: Path, text: str) -> None:
    """Write a text output readable by owner and group only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, FILE_MODE)
