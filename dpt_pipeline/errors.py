"""One exception family. Every message names the file, the row or key, and what to do next.

Messages never contain a NIK, an NKK or a name: they may end up in cron mail and logs.
"""

from __future__ import annotations

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
