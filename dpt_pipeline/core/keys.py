"""The keys every stage agrees on, each defined here once.

- The pair id: one id for a pair of records, the same every night.
- The desa keys. Both are the desa's Kemendagri code where the region table gave one; they differ only for
  a desa written by name alone, because they serve two purposes:
  - `desa_key()` (the linkage: are two records of one desa?) compares names as the region table matches them,
    upper case, letters and digits only (`Suka Maju` and `SUKAMAJU` are one desa);
  - `tps_desa_key()` (the TPS: which voters vote together) is published in the TPS tables and read by a PPS,
    and last night's TPS are found again by it: the name as written, spaces and case folded, and voters whose
    desa nobody wrote down grouped within their kecamatan (`desa:? ...`) rather than with the whole regency.
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


def tps_desa_key() -> pl.Expr:
    """The TPS stage's desa key: the code, else `desa:` and the name as written (spaces and case folded), else
    `desa:?` and the kecamatan (its code, else its name, else `kecamatan:?`)."""
    unknown = pl.concat_str([pl.lit("desa:? "), pl.coalesce(pl.col("kode_kecamatan"), _spaces_folded("kecamatan"),
                                                             pl.lit("kecamatan:?"))])
    named = pl.when(_spaces_folded("desa").str.len_chars() > 0).then(
        pl.concat_str([pl.lit("desa:"), _spaces_folded("desa")]))
    return pl.coalesce(pl.col("kode_desa"), named, unknown)


def pair_ids(frame: pl.DataFrame) -> pl.Series:
    """pair_id of each (voter_id_l, voter_id_r): the first 16 hex of md5 of the two ids, stable for the
    same two records."""
    key = pl.concat_str([pl.col("voter_id_l"), pl.col("voter_id_r")], separator="|")
    return md5_hex(frame.select(key.alias("k"))["k"]).str.slice(0, 16).alias("pair_id")
