from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.ingest import SourceSummary, ingest_source
from dpt_pipeline.ingest.regions import RegionTable

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DATE = dt.date(2026, 12, 9)

IngestFn = Callable[..., tuple[pl.DataFrame, pl.DataFrame, SourceSummary]]


@pytest.fixture(scope="session")
def regions() -> RegionTable:
    return RegionTable.load(ROOT / "dpt_pipeline" / "core" / "regions.csv")


@pytest.fixture
def ingest_file(tmp_path: Path, regions: RegionTable) -> IngestFn:
    """Write `content` (str, encoded with `encoding`, or bytes) to a file and ingest it as one source."""

    def run(content: str | bytes, *, name: str = "src", file_name: str = "list.csv", encoding: str = "utf-8",
            **source_options: object) -> tuple[pl.DataFrame, pl.DataFrame, SourceSummary]:
        path = tmp_path / file_name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        cfg = SourceConfig(name=name, path=path, **source_options)  # type: ignore[arg-type]
        return ingest_source(cfg, regions, REFERENCE_DATE, 17)

    return run
