"""The check that ingest reusing last night's rows (`ingest.cache`) equals a full ingest, for the ingest tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import polars as pl
from polars.testing import assert_frame_equal

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.ingest import SourceSummary, ingest_source
from dpt_pipeline.ingest.regions import RegionTable
from dpt_pipeline.ingest.stage import _ingest_source
from dpt_pipeline.ingest.validate import KEY, Kept

# The reference date of the shared `ingest_file` (tests/conftest.py).
REFERENCE_DATE = dt.date(2026, 12, 9)


def assert_reuse_is_exact(cfg: SourceConfig, regions: RegionTable,
                          full: tuple[pl.DataFrame, pl.DataFrame, SourceSummary]) -> None:
    """Ingesting `cfg` with its own kept rows (all of them, then every other one) gives `full`."""
    logging.disable(logging.CRITICAL)   # the test's own log assertions see the first ingest alone
    try:
        kept = _ingest_source(cfg, regions, REFERENCE_DATE, 17, None)[3].kept
        frame = kept.frame.sort(list(KEY))
        for part in (frame, frame.gather_every(2)):
            again = ingest_source(cfg, regions, REFERENCE_DATE, 17, Kept(part, kept.context))
            assert_frame_equal(again[0], full[0])
            assert_frame_equal(again[1], full[1])
            assert summary_counts(again[2]) == summary_counts(full[2])
    finally:
        logging.disable(logging.NOTSET)


def summary_counts(s: SourceSummary) -> dict[str, object]:
    """A summary but its seconds."""
    return {k: v for k, v in dataclasses.asdict(s).items() if k != "seconds"}
