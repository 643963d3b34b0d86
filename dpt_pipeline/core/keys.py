"""The keys every stage agrees on. The pair id: one id for a pair of records, the same every night. The
desa key: which desa a voter belongs to, for the TPS (one desa per TPS) and for the linkage (two
records of one desa). Its Kemendagri code, else `desa:` and its name as written, spaces, punctuation and case
folded (`Kampung-Baru`, `KAMPUNG  BARU` and `kampung baru` are one desa)."""

from __future__ import annotations

import polars as pl

from dpt_pipeline.io.hashing import md5_hex


def folded(column: str) -> pl.Expr:
    """A place name as a key: every run of characters that are neither letters nor digits one space, trimmed,
    upper case."""
    return (pl.col(column).str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars().str.to_uppercase())


def desa_key(*, within_kecamatan: bool = False) -> pl.Expr:
    """The desa key of each voter (null when neither a code nor a name was written). `within_kecamatan`:
    a voter whose desa nobody wrote down gets `desa:?` and their kecamatan instead, so that such voters vote
    together within their kecamatan rather than with the whole regency (the TPS stage's need)."""
    named = pl.when(folded("desa").str.len_chars() > 0).then(pl.concat_str([pl.lit("desa:"), folded("desa")]))
    if not within_kecamatan:
        return pl.coalesce(pl.col("kode_desa"), named)
    unknown = pl.concat_str([pl.lit("desa:? "), pl.coalesce(pl.col("kode_kecamatan"), folded("kecamatan"),
                                                             pl.lit("kecamatan:?"))])
    return pl.coalesce(pl.col("kode_desa"), named, unknown)


def pair_ids(frame: pl.DataFrame) -> pl.Series:
    """pair_id of each (voter_id_l, voter_id_r): the first 16 hex of md5 of the two ids, stable for the
    same two records."""
    key = pl.concat_str([pl.col("voter_id_l"), pl.col("voter_id_r")], separator="|")
    return md5_hex(frame.select(key.alias("k"))["k"]).str.slice(0, 16).alias("pair_id")
