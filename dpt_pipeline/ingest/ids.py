"""Voter ids and row hashes, from the content of each row.

voter_id: `<source>-<first 16 hex digits of md5(source, the row's mapped field values)>`, with `-2`,
`-3`... appended to the second and later copies of a byte-identical row. It depends on the content of
the row only, so the same rows give the same ids whatever their order in the file, whatever the file's
separator, encoding or column order; a changed row gets a new id.

In two steps, so that a list validated in parts (`ingest.validate` reusing last night's rows) numbers its
copies over the whole list: `row_hashes` per row, `number_copies` over the list.
"""

from __future__ import annotations

import polars as pl

from dpt_pipeline.core.schema import CANONICAL_FIELDS
from dpt_pipeline.io.hashing import md5_hex


def row_hashes(v: pl.DataFrame, source: str) -> pl.DataFrame:
    """`v` with row_hash: the md5 of the source's name and the row's mapped text fields."""
    content = pl.concat_str(
        [pl.lit(source), *[pl.col(f).fill_null("") for f in CANONICAL_FIELDS]], separator="\x1f"
    ).alias("_content")
    return v.with_columns(md5_hex(v.select(content).to_series()).alias("row_hash"))


def number_copies(v: pl.DataFrame, source: str, dup: pl.Series | None = None) -> pl.DataFrame:
    """`v` (in file order, with row_hash) with voter_id: from row_hash, `-2`, `-3`... on the later copies of
    one row. `dup`: `copies(v)`, when known."""
    ids = v.select(pl.format("{}-{}", pl.lit(source), pl.col("row_hash").str.slice(0, 16)).alias("voter_id"))
    dup = copies(v) if dup is None else dup
    if dup.any():
        # Only the few identical rows are numbered (in file order), and their ids put back in place.
        at = dup.arg_true()
        few = (v.select("row_hash").with_columns(ids.to_series()).filter(dup)
               .with_columns(pl.int_range(1, pl.len() + 1).over("row_hash").alias("_occ")))
        numbered = few.select(pl.when(pl.col("_occ") > 1).then(pl.format("{}-{}", pl.col("voter_id"), pl.col("_occ")))
                              .otherwise(pl.col("voter_id"))).to_series()
        ids = ids.with_columns(ids.to_series().scatter(at, numbered))
    return v.with_columns(ids.to_series())


def copies(v: pl.DataFrame) -> pl.Series:
    """Which rows of `v` share their row_hash with another."""
    return v["row_hash"].is_duplicated()
