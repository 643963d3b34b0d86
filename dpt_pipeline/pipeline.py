"""Wires the stages in order. Only this module knows the order; the stages know nothing of each other."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dpt_pipeline import __version__, ingest
from dpt_pipeline.config import Config
from dpt_pipeline.publish import publish, write_private
from dpt_pipeline.regions import RegionTable

log = logging.getLogger(__name__)

# Every stage the project has, in order. `dpt run` runs them all, `dpt ingest` the first alone.
ALL_STAGES: tuple[str, ...] = ("ingest",)


@dataclass
class RunResult:
    database: Path
    summary_file: Path
    sources: list[ingest.SourceSummary]
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def voters(self) -> int:
        return sum(s.voters for s in self.sources)

    @property
    def rejects(self) -> int:
        return sum(s.rejects for s in self.sources)


def _summary_table(summaries: list[ingest.SourceSummary]) -> pl.DataFrame:
    rows = []
    for s in summaries:
        d = dataclasses.asdict(s)
        for k in ("rejects_by_reason", "nik_invalid_by_problem", "wilayah_by_status", "flags"):
            d[k] = json.dumps(d[k], ensure_ascii=False, sort_keys=True)
        d["ignored_headers"] = json.dumps(d["ignored_headers"], ensure_ascii=False)
        rows.append(d)
    return pl.DataFrame(rows)


def run(config: Config, *, stages: tuple[str, ...] = ALL_STAGES) -> RunResult:
    """Run the given stages (every stage the project has, by default) and publish the result."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    result = ingest.run(config)
    timings["ingest"] = round(time.perf_counter() - t0, 3)

    regions = RegionTable.load(config.ingest.regions)
    tables = {
        "voters": result.voters,
        "rejects": result.rejects,
        "ingest_summary": _summary_table(result.summaries),
        "regions": regions.frame,
    }
    t0 = time.perf_counter()
    db = publish(tables, config.output.database_path)
    timings["publish"] = round(time.perf_counter() - t0, 3)

    summary_file = config.output.dir / "run_summary.json"
    payload = {
        "version": __version__,
        "config": str(config.path),
        "database": str(db),
        "stages": list(stages),
        "stage_seconds": timings,
        "sources": [dataclasses.asdict(s) for s in result.summaries],
    }
    write_private(summary_file, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return RunResult(database=db, summary_file=summary_file, sources=result.summaries, stage_seconds=timings)
