"""Last stage, publish: every table of the run into one DuckDB file that analysts query ad hoc.

The database is written beside the old one and moved into place at the end, so a reader never sees a
half-written run and a failed run leaves the previous night's database untouched.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import duckdb
import polars as pl

log = logging.getLogger(__name__)

# Read-only to everyone outside the owner's group: the tables hold NIK and birth dates.
FILE_MODE = 0o640


# Tables a run does not make but carries from the previous database into the new one: people's work.
PERSISTENT_TABLES: tuple[str, ...] = ("review_decisions",)


def read_previous(path: Path, table: str) -> pl.DataFrame | None:
    """A table of the database published last (None when there is no database or no such table)."""
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [table]).fetchall()
        if not found[0][0]:
            return None
        return con.sql(f'SELECT * FROM "{table}"').pl()
    finally:
        con.close()


def publish(tables: dict[str, pl.DataFrame], path: Path, *, carry: tuple[str, ...] = ()) -> Path:
    """Write `tables` (name -> frame) as DuckDB tables in a new database file at `path`; the persistent
    tables and those named in `carry` come from the previous database unless the run made them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    carried = {}
    for name in (*PERSISTENT_TABLES, *carry):
        if name not in tables and (prev := read_previous(path, name)) is not None:
            carried[name] = prev
    con = duckdb.connect(str(tmp))
    try:
        for name, frame in {**tables, **carried}.items():
            con.register("_frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _frame')
            con.unregister("_frame")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)
    log.info("published %d tables to %s", len(tables), path)
    return path


def replace_tables(tables: dict[str, pl.DataFrame], path: Path) -> Path:
    """Replace (or add) `tables` in the published database, keeping every other table: a copy is written
    beside it and moved into place, so a reader never sees half of the change."""
    tmp = path.with_name(path.name + ".tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.copyfile(path, tmp)
    con = duckdb.connect(str(tmp))
    try:
        for name, frame in tables.items():
            con.register("_frame", frame)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _frame')
            con.unregister("_frame")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)
    log.info("replaced %d tables in %s", len(tables), path)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a text output readable by owner and group only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, FILE_MODE)


def write_csv_for_excel(frame: pl.DataFrame, path: Path) -> Path:
    """A CSV that Excel in Indonesian regional settings opens as it is: ';' separated, UTF-8 with BOM;
    readable by owner and group only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf")
        frame.write_csv(f, separator=";")
    os.chmod(path, FILE_MODE)
    return path
