"""The DuckDB file between two runs: read a table of the database published last, replace one table."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchall()[0][0])


def replace_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Write `frame` as the table `name` of `con`, replacing the one there."""
    con.register("_frame", frame)
    con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _frame')
    con.unregister("_frame")


def read_previous(path: Path, table: str) -> pl.DataFrame | None:
    """A table of the database published last (None when there is no database or no such table)."""
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(f'SELECT * FROM "{table}"').pl() if has_table(con, table) else None
    finally:
        con.close()


def source_counts(path: Path) -> dict[str, int] | None:
    """Voters per source in the database published last (None when there is none yet)."""
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        if not has_table(con, "voters"):
            return None
        return dict(con.execute("SELECT source, count(*) FROM voters GROUP BY source").fetchall())
    finally:
        con.close()
