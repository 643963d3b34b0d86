"""One exception family. Every message names the file, the row or key, and what to do next.

Messages never contain a NIK, an NKK or a name: they may end up in cron mail and logs.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path


class DptError(Exception):
    """Base of every error the pipeline raises on purpose; `exit_code` is what the CLI returns."""

    exit_code = 1


class ConfigError(DptError):
    """The configuration file is wrong: unknown key, wrong type, missing file."""

    exit_code = 2


class InputError(DptError):
    """An input file cannot be read as a voter list at all (single bad rows become rejects instead)."""

    exit_code = 3

    def __init__(self, message: str, *, path: Path | str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        parts = []
        if path is not None:
            parts.append(f"file {path}")
        if row is not None:
            parts.append(f"row {row}")
        if field is not None:
            parts.append(f"field {field!r}")
        where = ", ".join(parts)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.row = row
        self.field = field


class PublishStopped(DptError):
    """The run's result looks like a lost list (a source shrank or is mostly rejected): nothing was
    published, the previous outputs stay; `--accept-shrink SOURCE` publishes it anyway."""

    exit_code = 6


class StorageError(DptError):
    """The machine's storage refused a write or a read: disk full, a read-only folder, no permission, a file
    that is not a regular file. The user's environment, not a bug; the previous outputs are kept."""

    exit_code = 7


class DatabaseError(DptError):
    """The published DuckDB file is held open for writing by another program, or is damaged."""

    exit_code = 8


class Interrupted(KeyboardInterrupt):
    """The run was told to stop (SIGTERM from a scheduler, or Ctrl-C): recorded as `interrupted`."""

    def __init__(self, signal_name: str = "SIGINT", exit_code: int = 130) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code


# -- the user's environment ---------------------------------------------------------------------------------
# An OSError's errno, or the same cause as the text DuckDB and Polars put in their own exceptions.
_OS_CAUSES = {
    errno.ENOSPC: "the disk is full: free some space and run again",
    errno.EDQUOT: "the disk quota of this user is used up: free some space and run again",
    errno.EROFS: "the folder is on a read-only file system: choose a writable folder or remount it",
    errno.EACCES: "permission denied: this user may not read or write there (check the owner and mode)",
    errno.EPERM: "operation not permitted: this user may not change it (check the owner and mode)",
    errno.EIO: "the disk reported an input/output error: check the disk",
}
_TEXT_CAUSES = (
    (re.compile(r"No space left on device|os error 28\b"), errno.ENOSPC),
    (re.compile(r"Disk quota exceeded|os error 122\b"), errno.EDQUOT),
    (re.compile(r"Read-only file system|os error 30\b"), errno.EROFS),
    (re.compile(r"Permission denied|os error 13\b"), errno.EACCES),
)
_QUOTED_PATH = re.compile(r'file "([^"]+)"')
_LOCK_HELD = re.compile(r"Could not set lock on file|Conflicting lock", re.I)
_PID = re.compile(r"\(PID (\d+)\)")
# What DuckDB says of a damaged file: on opening it, or later, on reading a damaged block.
_DAMAGED = re.compile(r"not a valid DuckDB database|Could not read enough bytes|Corrupt database|checksum|"
                      r"database has been invalidated|Serialization Error|Failed to read database header", re.I)


def environment_error(exc: BaseException, where: Path | str | None = None) -> DptError | None:
    """The DptError that names the cause when `exc` comes from the user's environment (disk full, read-only
    folder, no permission, a database held open by another program or damaged), else None (a bug).

    The message is written here, never copied from `exc`, which may quote a cell; only a file path taken
    from it is kept. `where` names the folder being written when the exception does not say."""
    if isinstance(exc, DptError):
        return None
    text = str(exc)
    path = getattr(exc, "filename", None) if isinstance(exc, OSError) else None
    if path is None and (m := _QUOTED_PATH.search(text)):
        path = m.group(1)
    place = f"file {path}" if path else (f"folder {where}" if where else "the output")
    module = type(exc).__module__
    if "duckdb" in module:
        if _LOCK_HELD.search(text):
            pid = _PID.search(text)
            who = f"another program (process {pid.group(1)})" if pid else "another program"
            return DatabaseError(f"{place}: the database is open in {who}, which holds it for writing; close "
                                 "that program's connection and try again. The previous outputs are unchanged")
        if _DAMAGED.search(text):
            return DatabaseError(f"{place}: the database file is damaged. It holds the review decisions: restore "
                                 "it from a backup, or move it aside and run `dpt run` to publish it anew "
                                 "(decisions stored only in it are then lost). Nothing was changed")
    code = exc.errno if isinstance(exc, OSError) else None
    if code not in _OS_CAUSES and (isinstance(exc, OSError) or "duckdb" in module or "polars" in module):
        code = next((c for pattern, c in _TEXT_CAUSES if pattern.search(text)), None)
    if code in _OS_CAUSES:
        return StorageError(f"{place}: {_OS_CAUSES[code]}. The previous outputs are unchanged")
    return None
