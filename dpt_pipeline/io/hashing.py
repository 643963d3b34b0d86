"""Stable content hashes: md5 of text (computed by DuckDB, vectorised; the same text gives the same id on
every machine and every version, which polars' own hash does not promise) and sha256 of files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import polars as pl


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes as 64 hex digits, read in chunks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def md5_hex(text: pl.Series) -> pl.Series:
    """md5 of each string as 32 hex digits (null stays null)."""
    if text.len() == 0:
        return pl.Series(text.name, [], dtype=pl.String)
    con = duckdb.connect()
    try:
        con.register("t", pl.DataFrame({"s": text}))
        return con.sql("SELECT md5(s) AS h FROM t").pl()["h"].alias(text.name)
    finally:
        con.close()
