"""The DuckDB file between two runs: read a table of the database published last, replace or merge one table.

Every table dpt writes goes through `replace_table` or `merge_table`, which record the table's digest in
`table_digests` (table_name, digest, rows). The next run's publish compares a table's new digest with the
recorded one and leaves the table as it is when they agree: knowing which tables changed costs one hash
of each new frame, never a read of the old table. The digest is sha256 over the polars version, the
frame's schema and its rows' polars hashes (seed fixed, so the same in every process; another polars
version gives another digest, which only costs a rewrite). A table whose row count is not the recorded
one has no digest (it was changed by other means).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import polars as pl

DIGESTS = "table_digests"
_SEED = 0x5EED
MERGE_AT_MOST = 0.3     # a merge inserting more than this share of the rows writes the table anew instead


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchall()[0][0])


def digest(frame: pl.DataFrame) -> str:
    """The content of `frame` (schema, rows in order) as 64 hex digits."""
    h = hashlib.sha256(f"polars {pl.__version__}\n{list(frame.schema.items())!r}\n{frame.height}\n".encode())
    if frame.width and frame.height:
        h.update(frame.hash_rows(seed=_SEED).to_numpy().tobytes())
    return h.hexdigest()


def stored_digest(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The digest recorded for table `name`, or None (no record, no table, or not the recorded rows)."""
    if not has_table(con, DIGESTS) or not has_table(con, name):
        return None
    found = con.execute(f"SELECT digest, rows FROM {DIGESTS} WHERE table_name = ?", [name]).fetchall()
    if not found:
        return None
    return found[0][0] if _count(con, name) == found[0][1] else None


def _count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {_q(name)}").fetchall()[0][0])


def _record(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame, value: str | None = None) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {DIGESTS} (table_name VARCHAR, digest VARCHAR, rows BIGINT)")
    con.execute(f"DELETE FROM {DIGESTS} WHERE table_name = ?", [name])
    con.execute(f"INSERT INTO {DIGESTS} VALUES (?, ?, ?)", [name, value or digest(frame), frame.height])


def forget(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop table `name` and its digest."""
    con.execute(f"DROP TABLE IF EXISTS {_q(name)}")
    if has_table(con, DIGESTS):
        con.execute(f"DELETE FROM {DIGESTS} WHERE table_name = ?", [name])


def replace_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame, *,
                  known: str | None = None) -> None:
    """Write `frame` as the table `name` of `con`, replacing the one there (`known`: its digest, if
    already computed)."""
    con.register("_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {_q(name)} AS SELECT * FROM _frame")
    finally:
        con.unregister("_frame")
    _record(con, name, frame, known)


def merge_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame, key: str, *,
                known: str | None = None) -> tuple[int, int] | None:
    """Make table `name` hold the rows of `frame` by deleting the rows that are gone or changed and
    inserting the new or changed ones (rows compared by `key` and a DuckDB hash of every column), rather
    than writing it all again. Returns (deleted, inserted), or None when the table was replaced instead:
    no such table, another schema, a `key` not unique, or many rows changed. The rows come out as
    `frame`'s, not in its order: the kept rows first. Call inside a transaction."""
    if not has_table(con, name) or frame[key].n_unique() != frame.height:
        replace_table(con, name, frame, known=known)
        return None
    con.register("_frame", frame.with_row_index("_dpt_i"))
    try:
        new = con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * EXCLUDE (_dpt_i) FROM _frame)"
                          ).fetchall()
        same = new == con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {_q(name)})").fetchall()
        if same:
            cols = ", ".join(_q(c) for c, _ in new)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _dpt_old AS SELECT rowid AS r, {_q(key)} AS k, "
                        f"hash({cols}) AS h FROM {_q(name)}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE _dpt_new AS SELECT _dpt_i AS i, {_q(key)} AS k, "
                        f"hash({cols}) AS h FROM _frame")
    finally:
        con.unregister("_frame")
    if not same:
        replace_table(con, name, frame, known=known)
        return None
    rows = con.sql("SELECT i FROM _dpt_new ANTI JOIN _dpt_old USING (k, h) ORDER BY i").pl()["i"]
    if len(rows) > MERGE_AT_MOST * frame.height:    # most rows changed: writing them all is quicker
        con.execute("DROP TABLE _dpt_old")
        con.execute("DROP TABLE _dpt_new")
        replace_table(con, name, frame, known=known)
        return None
    deleted = con.execute(f"DELETE FROM {_q(name)} WHERE rowid IN "
                          "(SELECT r FROM _dpt_old ANTI JOIN _dpt_new USING (k, h))").fetchall()[0][0]
    con.register("_frame", frame[rows])
    try:
        con.execute(f"INSERT INTO {_q(name)} SELECT * FROM _frame")
    finally:
        con.unregister("_frame")
    con.execute("DROP TABLE _dpt_old")
    con.execute("DROP TABLE _dpt_new")
    # Exact when the count agrees: the key is unique in `frame`, so every kept (key, hash) stood once.
    if _count(con, name) != frame.height:
        replace_table(con, name, frame, known=known)
        return None
    _record(con, name, frame, known)
    return int(deleted), len(rows)


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
