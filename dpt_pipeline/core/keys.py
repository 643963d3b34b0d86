"""The keys every stage agrees on, each defined here once.

- The pair id: one id for a pair of records, the same every night.
- The desa keys. Both are the desa's Kemendagri code where the region table gave one; they differ only for
  a desa written by name alone, because they serve two purposes:
  - `desa_key()` (the linkage: are two records of one desa?) compares names as the region table matches them,
    upper case, letters and digits only (`Suka Maju` and `SUKAMAJU` are one desa);
  - `tps_desa_key()` (the TPS: which voters vote together) is published in the TPS tables and read by a PPS,
    and last night's TPS are found again by it: the desa within its kabupaten and kecamatan (their codes, else
    their names as written, spaces and case folded), so that a TPS never holds voters of two regencies.
"""

from __future__ import annotations

import polars as pl

from dpt_pipeline.io.hashing import md5_hex


def desa_key() -> pl.Expr:
    """The linkage's desa key: the code, else the name in upper case with everything but A-Z and 0-9 removed
    (null when neither was written)."""
    return pl.coalesce(pl.col("kode_desa"), pl.col("desa").str.to_uppercase().str.replace_all(r"[^0-9A-Z]", ""))


def _spaces_folded(column: str) -> pl.Expr:
    return pl.col(column).str.replace_all(r"\s+", " ").str.strip_chars().str.to_uppercase()


def _part(code: str, name: str) -> pl.Expr:
    """One part of an unknown desa's key: the code, else the name folded (`|` written `/`, so that the
    parts stay apart), else `?`."""
    folded = _spaces_folded(name).str.replace_all("|", "/", literal=True)
    return pl.coalesce(pl.col(code), pl.when(folded.str.len_chars() > 0).then(folded), pl.lit("?"))


def tps_desa_key() -> pl.Expr:
    """The TPS stage's desa key: the code, else `desa:KAB|KEC|DESA`, each part its code where the region table
    gave one, else its name as written (spaces and case folded), else `?`: a desa the table does not know
    is still one desa of one kecamatan of one kabupaten (a `SUMBER SARI` in two kecamatan is two desa), and
    voters whose desa nobody wrote down vote within their kecamatan (`desa:KAB|KEC|?`)."""
    unknown = pl.concat_str([pl.lit("desa:"), _part("kode_kabupaten", "kabupaten"), pl.lit("|"),
                             _part("kode_kecamatan", "kecamatan"), pl.lit("|"), _part("kode_desa", "desa")])
    return pl.coalesce(pl.col("kode_desa"), unknown)


def pair_ids(frame: pl.DataFrame) -> pl.Series:
    """pair_id of each (voter_id_l, voter_id_r): the first 16 hex of md5 of the two ids, stable for the
    same two records."""
    key = pl.concat_str([pl.col("voter_id_l"), pl.col("voter_id_r")], separator="|")
    return md5_hex(frame.select(key.alias("k"))["k"]).str.slice(0, 16).alias("pair_id")
