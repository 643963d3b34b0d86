"""Voter ids and row hashes, from the content of each row.

voter_id: `<source>-<first 16 hex digits of md5(source, the row's mapped field values)>`, with `-2`,
`-3`... appended to the second and later copies of a byte-identical row. It depends on the content of
the row only, so the same rows give the same ids whatever their order in the file, whatever the file's
separator, encoding or column order; a changed row gets a new id.
"""

from __future__ import annotations

import polars as pl

from dpt_pipeline.core.schema import CANONICAL_FIELDS
from dpt_pipeline.io.hashing import md5_hex


def with_ids(v: pl.DataFrame, source: str) -> pl.DataFrame:
    """row_hash = md5 of the mapped text fields; voter_id from it (see the module docstring)."""
    content = pl.concat_str(
        [pl.lit(source), *[pl.col(f).fill_null("") for f in CANONICAL_FIELDS]], separator="\x1f"
    ).alias("_content")
    hashes = md5_hex(v.select(content).to_series())
    v = v.with_columns(
        hashes.alias("row_hash"),
        pl.format("{}-{}", pl.lit(source), hashes.str.slice(0, 16)).alias("voter_id"),
    )
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
