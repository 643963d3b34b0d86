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


def with_ids(v: pl.DataFrame, source: str) -> pl.DataFrame:
    """row_hash = md5 of the mapped text fields; voter_id from it (see the module docstring)."""
    return number_copies(row_hashes(v, source), source)


def row_hashes(v: pl.DataFrame, source: str) -> pl.DataFrame:
    """`v` with row_hash: the md5 of the source's name and the row's mapped text fields."""
    content = pl.concat_str(
        [pl.lit(source), *[pl.col(f).fill_null("") for f in CANONICAL_FIELDS]], separator="\x1f"
    ).alias("_content")
    return v.with_columns(md5_hex(v.select(content).to_series()).alias("row_hash"))


def number_copies(v: pl.DataFrame, source: str) -> pl.DataFrame:
    """`v` (in file order, with row_hash and source_row) with voter_id: from row_hash, `-2`, `-3`... on the
    later copies of one row."""
    v = v.with_columns(pl.format("{}-{}", pl.lit(source), pl.col("row_hash").str.slice(0, 16)).alias("voter_id"))
    dup = v["row_hash"].is_duplicated()
    if not dup.any():
        return v
    # Only the few identical rows are ranked; a window over a million hashes would cost seconds.
    copies = (v.filter(dup).select("source_row", "row_hash")
              .with_columns(pl.col("source_row").rank("ordinal").over("row_hash").alias("_occ")))
    v = v.join(copies.select("source_row", "_occ"), on="source_row", how="left", maintain_order="left")
    return v.with_columns(
        pl.when(pl.col("_occ") > 1).then(pl.format("{}-{}", pl.col("voter_id"), pl.col("_occ")))
        .otherwise(pl.col("voter_id")).alias("voter_id")
    ).drop("_occ")
