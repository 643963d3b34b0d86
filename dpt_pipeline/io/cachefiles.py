"""The files a run keeps for the next night (the ingest and linkage caches, the TPS folder's manifest): one
way of reading them back and of saying what is wrong with one, without a value from it.

A kept file is only a shortcut: whatever is wrong with it (missing, changed since its checksum was taken,
not JSON, not a table) is a `Damaged` the caller turns into a warning and a night done in full, never a
failed run. Checksums are checked before a file is parsed: a corrupt parquet file can bring the reader down
with the process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from dpt_pipeline.io.hashing import sha256_file


class Damaged(Exception):
    """What is wrong with a kept file, in words that hold no value from it."""


def read_json(path: Path) -> dict[str, Any]:
    """A kept JSON object (a manifest), or Damaged."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError as e:
        raise Damaged(f"{path.name} is missing") from e
    except OSError as e:
        raise Damaged(f"{path.name} cannot be read: {type(e).__name__}") from e
    except UnicodeDecodeError as e:
        raise Damaged(f"{path.name} is not UTF-8 text") from e
    except (ValueError, RecursionError) as e:
        raise Damaged(f"{path.name} is not valid JSON") from e
    if not isinstance(data, dict):
        raise Damaged(f"{path.name} is not a JSON object")
    return data


def check(path: Path, sha256: str) -> None:
    """Damaged unless `path` is there and its sha256 is the one recorded when it was kept."""
    try:
        digest = sha256_file(path)
    except FileNotFoundError as e:
        raise Damaged(f"{path.name} is missing") from e
    except OSError as e:
        raise Damaged(f"{path.name} cannot be read: {type(e).__name__}") from e
    if digest != sha256:
        raise Damaged(f"{path.name} does not match its checksum (changed or corrupt)")


def read_table(path: Path) -> pl.DataFrame:
    """A kept parquet table (its checksum already `check`ed), or Damaged."""
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError, pl.exceptions.PanicException) as e:
        raise Damaged(f"{path.name} cannot be read as a table: {type(e).__name__}") from e
