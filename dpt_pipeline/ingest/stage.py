"""The ingest stage: every source read (`read`) and validated (`validate`), counted into its summary.

Output: `voters` (VOTER_SCHEMA) and `rejects` (REJECT_SCHEMA). Every data row of every file ends in
exactly one of them. A row is rejected only when it cannot be a voter: no name, too few or too many
columns, unreadable, the header line again. Everything else (a broken NIK, an impossible date, an unknown
desa) is a voter with a flag. A file that cannot be read as a voter list at all is refused (InputError, or
StorageError when it is not a regular file or the system cannot read it) before any row is counted.

Every file is read in full every night; given the last run's output folder, the rows validated then and
unchanged since are taken from its ingest cache (`cache`) and only the others validated.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dpt_pipeline.config import Config, SourceConfig
from dpt_pipeline.core.schema import REJECT_SCHEMA, VOTER_SCHEMA
from dpt_pipeline.errors import InputError
from dpt_pipeline.ingest import cache
from dpt_pipeline.ingest.read import read_source
from dpt_pipeline.ingest.regions import RegionTable
from dpt_pipeline.ingest.validate import Kept, Validated, validate

log = logging.getLogger(__name__)


@dataclass
class SourceSummary:
    """What ingest did with one source: how it was read, its counts of voters, rejects (by reason) and
    flags, the headers it did not use and the seconds it took (the `ingest_summary` table)."""

    source: str
    path: str
    format: str
    encoding: str | None
    delimiter: str | None
    data_rows: int
    voters: int
    rejects: int
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    nik_invalid_by_problem: dict[str, int] = field(default_factory=dict)
    wilayah_by_status: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    ignored_headers: list[str] = field(default_factory=list)
    seconds: float = 0.0
    header_row: int = 1          # the header's line (row) in the file; the lines above it are title rows


@dataclass
class IngestResult:
    """The stage's output: every source's voters and rejects, a summary per source and how many of each
    source's voters were taken from the last run's kept rows (`cache`)."""

    voters: pl.DataFrame
    rejects: pl.DataFrame
    summaries: list[SourceSummary]
    reused: dict[str, int] = field(default_factory=dict)   # per source, the voters taken from the last run's


def _summary(name: str, path: Path, fmt: str, enc: str | None, delim: str | None, voters: pl.DataFrame,
             rejects: pl.DataFrame, ignored: list[str], seconds: float, header_row: int) -> SourceSummary:
    def counts(df: pl.DataFrame, col: str) -> dict[str, int]:
        if df.height == 0:
            return {}
        g = df.filter(pl.col(col).is_not_null()).group_by(col).len().sort(col)
        return {str(k): int(n) for k, n in g.iter_rows()}

    flags = {
        "nik_tidak_valid": int((~voters["nik_valid"]).sum()),
        "nkk_tidak_valid": int((~voters["nkk_valid"]).sum()),
        "tanggal_lahir_tidak_valid": int((~voters["tanggal_lahir_valid"]).sum()),
        "nik_tanggal_tidak_cocok": int((voters["nik_tanggal_cocok"] == False).sum()),  # noqa: E712
        "nik_jenis_kelamin_tidak_cocok": int((voters["nik_jenis_kelamin_cocok"] == False).sum()),  # noqa: E712
        "jenis_kelamin_tidak_valid": int((~voters["jenis_kelamin_valid"]).sum()),
        "di_bawah_umur": int(voters["di_bawah_umur"].sum()),
        "wilayah_tidak_dikenal": int(voters["kode_desa"].is_null().sum()),
    }
    return SourceSummary(
        source=name, path=str(path), format=fmt, encoding=enc, delimiter=delim,
        data_rows=voters.height + rejects.height, voters=voters.height, rejects=rejects.height,
        rejects_by_reason=counts(rejects, "reason"), nik_invalid_by_problem=counts(voters, "nik_masalah"),
        wilayah_by_status=counts(voters, "wilayah_status"), flags=flags, ignored_headers=ignored,
        seconds=round(seconds, 3), header_row=header_row,
    )


def ingest_source(cfg: SourceConfig, regions: RegionTable, reference: dt.date, min_age: int,
                  last: Kept | None = None) -> tuple[pl.DataFrame, pl.DataFrame, SourceSummary]:
    """Read and validate one source into (voters, rejects, its summary); every data row ends in one of them.
    With `last` (its rows kept by the last run, `cache`), only the rows not among them are validated."""
    voters, rejects, summary, _ = _ingest_source(cfg, regions, reference, min_age, last)
    return voters, rejects, summary


def _ingest_source(cfg: SourceConfig, regions: RegionTable, reference: dt.date, min_age: int, last: Kept | None
                   ) -> tuple[pl.DataFrame, pl.DataFrame, SourceSummary, Validated]:
    t0 = time.perf_counter()
    raw, fmt, enc, delim = read_source(cfg, regions)
    done = validate(raw, cfg, regions, reference, min_age, last)
    voters, rejects = done.voters, done.rejects
    if voters.height + rejects.height != raw.rows.height:  # pragma: no cover - the stage's invariant
        raise InputError(f"{raw.rows.height} data rows became {voters.height} voters and {rejects.height} "
                         "rejects; please report this file to the maintainers", path=cfg.path)
    s = _summary(cfg.name, cfg.path, fmt, enc, delim, voters, rejects, raw.ignored_headers,
                 time.perf_counter() - t0, raw.header_row)
    reused = f", {done.reused:,} unchanged since the last run" if last is not None else ""
    log.info("read list %s: %s rows, %s voters%s, %s rejected (%.1f s)", cfg.name, f"{s.data_rows:,}",
             f"{s.voters:,}", reused, f"{s.rejects:,}", s.seconds)
    return voters, rejects, s, done


def _in_voter_id_order(lists: list[pl.DataFrame]) -> pl.DataFrame:
    """The lists' voters (each sorted by voter_id) as one frame sorted by voter_id: one after another in
    the order of their first voter_id, or, where ids interleave (a list named as another plus "-..."),
    merged."""
    if not lists:
        return pl.DataFrame(schema=VOTER_SCHEMA)
    lists = sorted(lists, key=lambda f: f["voter_id"].min() or "")   # type: ignore[arg-type,return-value]
    out = pl.concat(lists)
    if out["voter_id"].is_sorted():
        return out
    del out
    merged = lists[0]
    for more in lists[1:]:
        merged = merged.merge_sorted(more, key="voter_id")
    return merged


def run(config: Config, *, last: Path | None = None, keep: Path | None = None) -> IngestResult:
    """Ingest every configured source. `last`: the output folder whose ingest cache (`cache`) holds the rows
    the last run kept, reused where they still are; `keep`: the (staging) folder to keep tonight's rows in."""
    regions = RegionTable.load(config.ingest.regions)
    reference = config.ingest.reference_date or dt.date.today()
    writer = cache.Writer(keep) if keep is not None else None
    voters, rejects, summaries, reused = [], [], [], {}
    try:
        for s in config.sources:
            sig = cache.signature(config, s, reference) if last is not None or writer is not None else ""
            kept = cache.load(last, s.name, sig) if last is not None else None
            v, r, summary, done = _ingest_source(s, regions, reference, config.ingest.min_age, kept)
            del kept
            if writer is not None:
                writer.add(s.name, sig, done.kept)
            # Sorted by voter_id, list by list, as linkage numbers its records: sorting here, where one
            # list is the largest frame in memory, spares linkage a sorted copy of a million records.
            voters.append(v.sort("voter_id"))
            del v
            rejects.append(r)
            summaries.append(summary)
            reused[s.name] = done.reused
    except BaseException:
        if writer is not None:
            writer.abandon()
        raise
    if writer is not None:
        writer.close()
    return IngestResult(voters=_in_voter_id_order(voters),
                        rejects=pl.concat(rejects) if rejects else pl.DataFrame(schema=REJECT_SCHEMA),
                        summaries=summaries, reused=reused)
