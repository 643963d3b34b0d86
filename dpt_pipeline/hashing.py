"""Stable content hashes (md5, computed by DuckDB, vectorised): the same text gives the same id on every
machine and every version, which polars' own hash does not promise."""

from __future__ import annotations

import duckdb
import polars as pl


def md5_hex(text: pl.Series) -> pl.Series:
    """md5 of each string as 32 hex digits (null stays null)."""
    con = duckdb.connect()
    try:
        con.register("t", pl.DataFrame({"s": text}))
        return con.sql("SELECT md5(s) AS h FROM t").pl()["h"].alias(text.name)
    finally:
        con.close()
