"""Frames that may be in memory or on disk: the candidate pairs of a large roll are scanned from Parquet
(`blocking.SpilledPairs`, `comparisons.compare_parts`) where a small roll's are a DataFrame."""

from __future__ import annotations

import polars as pl

Frame = pl.DataFrame | pl.LazyFrame


def height(frame: Frame) -> int:
    """Its rows (for a Parquet scan, from the files' metadata)."""
    return frame.height if isinstance(frame, pl.DataFrame) else int(frame.select(pl.len()).collect().item())


def collect(query: pl.LazyFrame, over: Frame) -> pl.DataFrame:
    """`query`, built on `over`, collected: in memory where `over` is, by polars' streaming engine where
    it is read from disk, so that a query over hundreds of millions of pairs holds a batch at a time."""
    return query.collect(engine="streaming") if isinstance(over, pl.LazyFrame) else query.collect()
