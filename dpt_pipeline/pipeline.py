"""Wires the stages in order. Only this module knows the order; the stages know nothing of each other."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dpt_pipeline import __version__, ingest, review, tps
from dpt_pipeline.config import Config
from dpt_pipeline.core import decisions
from dpt_pipeline.core.thresholds import CLAIM
from dpt_pipeline.errors import DptError, InputError, PublishStopped, environment_error
from dpt_pipeline.ingest.regions import RegionTable
from dpt_pipeline.io import runs
from dpt_pipeline.io.database import read_previous, replace_table, source_counts
from dpt_pipeline.io.files import write_private
from dpt_pipeline.io.hashing import sha256_file
from dpt_pipeline.linkage import comparisons as compare
from dpt_pipeline.linkage import night
from dpt_pipeline.outputs import border
from dpt_pipeline.outputs.publish import publish, replace_tables

log = logging.getLogger(__name__)

# Every stage the project has, in order. `dpt run` runs them all, `dpt ingest` the first alone.
ALL_STAGES: tuple[str, ...] = ("ingest", "link", "tps")
TPS_TABLES = ("tps_assignments", "tps_summary", "tps_quality", "tps_rt_splits", "struck_voters")
SHRINK_MIN_VOTERS = 10   # a list of a handful of voters may lose a few without stopping the run


@dataclass
class RunResult:
    database: Path
    summary_file: Path
    sources: list[ingest.SourceSummary]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    linkage: dict[str, object] = field(default_factory=dict)
    tps: dict[str, object] = field(default_factory=dict)
    run_id: str = ""

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


Progress = Callable[[str], None]   # told the name of each step as it starts


def _quiet(step: str) -> None:
    """No progress display."""


def steps(stages: tuple[str, ...]) -> list[str]:
    """The steps a run goes through, in order, for a progress display."""
    out = ["ingest"]
    if "link" in stages:
        out += ["standardize", "block", "compare", "score", "cluster", "tables"]
    if "tps" in stages:
        out += ["tps"]
    return [*out, "publish"]


def run(config: Config, *, stages: tuple[str, ...] = ALL_STAGES, wait: bool = False,
        progress: Progress = _quiet, full: bool = False, accept_shrink: tuple[str, ...] = ()) -> RunResult:
    """Run the given stages (every stage the project has, by default) and publish the result: the
    database, review files, maps and reports replace the previous ones only when the whole run succeeds.
    A list that lost many of its voters since the last published run, or whose rows are mostly rejected,
    stops the run before anything is published, unless its name is in `accept_shrink` ("all": every list)."""
    command = "run" if "link" in stages else "ingest"
    with _unattended(config, command, wait=wait) as (record, work):
        return _run(config, stages, record, work, progress, full, accept_shrink)


def _run(config: Config, stages: tuple[str, ...], record: runs.Run, work: Path, progress: Progress,
         full: bool, accept_shrink: tuple[str, ...] = ()) -> RunResult:
    timings: dict[str, float] = {}
    progress("ingest")
    # The coordinates file is checked before the long stages, so that a refused file stops the run at once.
    coordinates = tps.read_coordinates(config.tps.coordinates) if "tps" in stages else None
    t0 = time.perf_counter()
    # Last night's validated rows are reused (unless --full) and tonight's kept through the staging folder.
    result = ingest.run(config, last=None if full else config.output.dir, keep=work)
    timings["ingest"] = round(time.perf_counter() - t0, 3)
    record.inputs = [{"source": s.source, "path": s.path, "sha256": sha256_file(Path(s.path)), "rows": s.data_rows}
                     for s in result.summaries]
    record.stage("ingest", timings["ingest"], {"data_rows": sum(s.data_rows for s in result.summaries),
                                               "voters": result.voters.height, "rejects": result.rejects.height,
                                               "reused_rows": sum(result.reused.values()),
                                               **{f"rejects: {k}": v for k, v in _reject_counts(result).items()}})
    guard_lost_lists(config, result.summaries, accept_shrink)

    regions = RegionTable.load(config.ingest.regions)
    tables = {
        "voters": result.voters,
        "rejects": result.rejects,
        "ingest_summary": _summary_table(result.summaries),
        "regions": regions.frame,
    }
    link_info: dict[str, object] = {}
    if "link" in stages:
        t0 = time.perf_counter()
        link_tables, link_info = link(config, result.voters, regions.names, work, progress, full=full,
                                      run_id=record.run_id)
        record.mode = str(link_info["mode"])
        tables.update(link_tables)
        # The linkage records hold every voter's columns: the voters table is taken from them, so that one
        # copy of the roll stays in memory rather than two (2.4 GB at ten million voters).
        result = dataclasses.replace(result, voters=tables["voters"])
        timings["link"] = round(time.perf_counter() - t0, 3)
        record.stage("link", timings["link"], {k: int(link_info[k]) for k in (  # type: ignore[call-overload]
            "candidate_pairs", "listed_pairs", "claimed_pairs", "groups", "nik_conflicts", "border_areas")})
    tps_info: dict[str, object] = {}
    if "tps" in stages:
        t0 = time.perf_counter()
        progress("tps")
        tps_tables, tps_info = place(config, result.voters, regions.names, work, coordinates)
        tables.update(tps_tables)
        timings["tps"] = round(time.perf_counter() - t0, 3)
        record.stage("tps", timings["tps"], _tps_rows(tps_info))
    progress("publish")
    return _finish(config, record, work, tables, timings, stages=stages, sources=result.summaries,
                   linkage=link_info, tps_info=tps_info)


def _finish(config: Config, record: runs.Run, work: Path, tables: dict[str, pl.DataFrame],
            timings: dict[str, float], *, stages: tuple[str, ...], sources: list[ingest.SourceSummary],
            linkage: dict[str, object], tps_info: dict[str, object], replace: bool = False) -> RunResult:
    """Publish into the staging folder (database, run summary, report), then move it all into place."""
    t0 = time.perf_counter()
    db = work / config.output.database
    record.stage("publish", 0.0, {})
    tables["runs"] = _runs_table(config, record)
    if replace:
        replace_tables(tables, config.output.database_path, db)
    else:
        # A run without the tps stage keeps the last TPS map, so that the next night starts from it.
        carry = () if "tps" in stages else TPS_TABLES
        publish(tables, db, previous=config.output.database_path, carry=carry)
    timings["publish"] = round(time.perf_counter() - t0, 3)
    record.stage("publish", timings["publish"], {"tables": len(tables)})
    payload = {
        "run_id": record.run_id,
        "version": __version__,
        "config": str(config.path),
        "database": str(config.output.database_path),
        "stages": list(stages),
        "stage_seconds": timings,
        "stage_peak_mb": {k: v.get("peak_mb") for k, v in record.stages.items()},
        "sources": [dataclasses.asdict(s) for s in sources],
        "linkage": linkage,
        "tps": tps_info,
    }
    summary_name = "tps_summary.json" if replace else "run_summary.json"
    write_private(work / summary_name, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    from dpt_pipeline.outputs import report

    report.write_report(db, work / "report.html")
    _commit(config, work, record.run_id)
    return RunResult(database=config.output.database_path, summary_file=config.output.dir / summary_name,
                     sources=sources, stage_seconds=timings, linkage=linkage, tps=tps_info, run_id=record.run_id)


def _reject_counts(result: ingest.IngestResult) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in result.summaries:
        for k, v in s.rejects_by_reason.items():
            counts[k] = counts.get(k, 0) + int(v)
    return dict(sorted(counts.items()))


def _tps_rows(info: dict[str, object]) -> dict[str, int]:
    return {k: int(info[k]) for k in ("voters", "desa", "tps", "struck_duplicates", "over_cap",  # type: ignore[call-overload]
                                      "split_households", "rts_fallback")}


def _runs_table(config: Config, record: runs.Run) -> pl.DataFrame:
    """Every run recorded for the output folder, this one included as it ends."""
    before = runs.history(config.output.dir).filter(pl.col("run_id") != record.run_id)
    now = dataclasses.replace(record, status="ok", finished_at=runs.now())
    return pl.concat([before, pl.DataFrame([now.row()], schema=runs.RUNS_SCHEMA)])


@contextmanager
def _unattended(config: Config, command: str, *, wait: bool) -> Iterator[tuple[runs.Run, Path]]:
    """The lock, the staging folder and the run record around one run."""
    out = config.output.dir
    with runs.lock(out, command, wait=wait):
        refs = [p for p in (config.path, config.ingest.regions, config.tps.coordinates, config.linkage.model)
                if p is not None]
        record = runs.Run(out, command, config_hash=runs.config_hash(refs), version=__version__)
        record.start()
        log.info("dpt %s started (run %s); outputs go to %s", command, record.run_id, out)
        if runs.committed(out):   # a crashed run's outputs are about to be moved into place
            review.keep_aside(out / "review", out, f"{record.run_id}-pemulihan")
        try:
            yield record, runs.begin(out)
        except BaseException as e:
            runs.discard(out)
            cause = environment_error(e, out) if isinstance(e, Exception) else None
            err = cause or e
            # The record keeps the kind of error and where, not a message that could quote a cell.
            # GeneratorExit: stopped between the staging folder and the run proper (Ctrl-C at that moment)
            record.finish("interrupted" if isinstance(e, KeyboardInterrupt | GeneratorExit) else "failed",
                          error=type(err).__name__ + (f" (exit {err.exit_code})" if isinstance(err, DptError)
                                                      else ""))
            if cause is not None:
                raise cause from e
            raise
        record.finish("ok")


def guard_lost_lists(config: Config, summaries: list[ingest.SourceSummary], accept: tuple[str, ...]) -> None:
    """Stop the run (PublishStopped) when a list looks lost: its voters fell by more than
    `[ingest] max_shrink` of the last published run's, it is no longer configured, or more than
    `[ingest] max_reject_share` of its rows were rejected. Each list named in `accept` passes."""
    previous = source_counts(config.output.database_path) or {}
    now = {s.source: s for s in summaries}
    problems: list[tuple[str, str]] = []
    for name in sorted(set(previous) | set(now)):
        if name in accept or "all" in accept:
            continue
        s = now.get(name)
        before, tonight = previous.get(name, 0), (s.voters if s else 0)
        lost = before - tonight
        if before and lost >= SHRINK_MIN_VOTERS and lost / before > config.ingest.max_shrink:
            where = f"({s.path})" if s else "(no longer in the configuration)"
            problems.append((name, f"list {name!r} {where} has {tonight:,} voters tonight against {before:,} at "
                                   f"the last published run ({-lost / before:+.0%})"))
        if s and s.data_rows and s.rejects / s.data_rows > config.ingest.max_reject_share:
            reason, n = max(s.rejects_by_reason.items(), key=lambda kv: kv[1], default=("", 0))
            problems.append((name, f"list {name!r} ({s.path}): {s.rejects:,} of its {s.data_rows:,} rows were "
                                   f"rejected ({s.rejects / s.data_rows:.0%}; most of them {reason!r}: {n:,})"))
    if problems:
        names = sorted({n for n, _ in problems})
        raise PublishStopped(
            "this run was stopped before publishing, because a voter list looks lost or damaged:\n  - "
            + "\n  - ".join(text for _, text in problems)
            + "\nHas a file been cut short, exported with the wrong columns, or replaced? Nothing was published; "
            "the previous outputs are kept. If the change is real, run again with "
            + " ".join(f"--accept-shrink {n}" for n in names))


def place(config: Config, voters: pl.DataFrame, names: dict[str, str], work: Path,
          coordinates_read: tuple[pl.DataFrame, list[tps.SkippedCoordinate]] | None = None
          ) -> tuple[dict[str, pl.DataFrame], dict[str, object]]:
    """The tps stage: every voter who stays on the roll to a TPS of their desa, starting from last night's
    TPS in the published database; the tps tables (with `struck_voters`, who a person's SAMA took off),
    the maps and a summary."""
    t = time.perf_counter()
    db = config.output.database_path
    coordinates, skipped = coordinates_read if coordinates_read is not None else tps.read_coordinates(
        config.tps.coordinates)
    standing = decisions.standing(read_previous(db, "review_decisions"))
    # Only the voters a decision names can be struck; keep_rank is one total order, so ranking them alone
    # orders them as ranking the whole roll would.
    named = pl.concat([standing["voter_id_l"], standing["voter_id_r"]]).unique().to_frame("voter_id")
    ranks, _ = keep_ranks(config, voters.join(named, on="voter_id", how="semi"))
    struck = decisions.resolve(standing, ranks).struck
    previous = read_previous(db, "tps_assignments")
    sites, sites_skipped = tps.read_sites(config.tps.sites)
    result = tps.assign(voters, coordinates, config.tps.max_voters, struck=struck, previous=previous, names=names,
                        min_share=config.tps.min_share, sites=sites)
    seconds = {"assign": round(time.perf_counter() - t, 3)}
    q = result.quality
    info: dict[str, object] = {
        "voters": result.assignments.height, "desa": q.height, "tps": int(q["tps"].sum()) if q.height else 0,
        "struck_duplicates": int(q["struck_duplicates"].sum()) if q.height else 0,
        "over_cap": int(q["over_cap"].sum()) if q.height else 0,
        "oversize_households": int(q["oversize_households"].sum()) if q.height else 0,
        "split_households": int(q["split_households"].sum()) if q.height else 0,
        "desa_with_extra_tps": q.filter(pl.col("extra_tps"))["kode_desa"].to_list(),
        "max_deviation": float(q["max_deviation"].max() or 0.0) if q.height else 0.0,  # type: ignore[arg-type]
        "rts_fallback": int(q["rts_fallback"].sum()) if q.height else 0,
        "coordinate_rows_skipped": [dataclasses.asdict(sk) for sk in skipped],
        "site_rows_skipped": [dataclasses.asdict(sk) for sk in sites_skipped],
        "rts_split": result.rt_splits.select("kode_desa", "rw", "rt").n_unique() if result.rt_splits.height else 0,
        "moved": int(q["moved"].sum()) if previous is not None and q.height else None,
        "churn": tps.overall_churn(q) if previous is not None else None,
        "mean_distance_m": result.assignments["distance_m"].mean(),
        "p95_distance_m": result.assignments["distance_m"].quantile(0.95, "linear"),
    }
    from dpt_pipeline.outputs.reuse import Published

    # Last night's maps and lists where tonight's would be the same (outputs.reuse), the rest drawn.
    reuse = Published(config.output.dir / "tps", work / "tps")
    if config.tps.maps:
        from dpt_pipeline.outputs import gis, maps

        t = time.perf_counter()
        maps.write_maps(result.assignments, result.summary, q, work / "tps", max_voters=config.tps.max_voters,
                        names=names, reuse=reuse, gpkg=True)
        info["maps"] = str(config.output.dir / "tps" / "index.html")
        info["gpkg"] = str(config.output.dir / "tps" / gis.GPKG_NAME)
        seconds["maps"] = round(time.perf_counter() - t, 3)
    if config.tps.lists:
        from dpt_pipeline.outputs import lists

        t = time.perf_counter()
        rows = lists.list_rows(result.assignments, voters, names, config.ingest.reference_date or dt.date.today())
        written = lists.write_lists(rows, work / "tps" / lists.FOLDER, dt.date.today(), reuse=reuse)
        info["lists"] = {"folder": str(config.output.dir / "tps" / lists.FOLDER), "files": len(written)}
        seconds["lists"] = round(time.perf_counter() - t, 3)
    if config.tps.maps or config.tps.lists:
        reuse.write()
        info["reused"] = {"as_last_night": reuse.taken, "drawn": reuse.drawn}
    info["seconds"] = seconds
    log.info("placed %s voters in %s TPS over %s desa (%s confirmed duplicates left without a TPS); %s TPS over "
             "the cap, %s households split (%.1f s)", f"{info['voters']:,}", f"{info['tps']:,}", f"{info['desa']:,}",
             f"{info['struck_duplicates']:,}", f"{info['over_cap']:,}", f"{info['split_households']:,}",
             sum(seconds.values()))
    tables = {"tps_assignments": result.assignments, "tps_summary": result.summary, "tps_quality": q,
              "tps_rt_splits": result.rt_splits,
              "struck_voters": struck.with_columns(pl.lit("SAMA dikonfirmasi petugas").alias("alasan"))}
    return tables, info


def run_tps(config: Config, *, wait: bool = False, progress: Progress = _quiet) -> RunResult:
    """`dpt tps`: the tps stage alone, on the voters and duplicate groups of the last published run; the
    database gets the new TPS tables (the other tables are kept as they are)."""
    db = config.output.database_path
    with _unattended(config, "tps", wait=wait) as (record, work):
        voters = read_previous(db, "voters")
        if voters is None:
            raise InputError("no published voters yet: run `dpt run` first", path=db)
        t0 = time.perf_counter()
        progress("tps")
        tables, info = place(config, voters, RegionTable.load(config.ingest.regions).names, work)
        timings = {"tps": round(time.perf_counter() - t0, 3)}
        record.stage("tps", timings["tps"], _tps_rows(info))
        progress("publish")
        return _finish(config, record, work, tables, timings, stages=("tps",), sources=[], linkage={},
                       tps_info=info, replace=True)


def review_import(config: Config, paths: list[Path], *, wait: bool = False) -> review.ImportReport:
    """`dpt review import`: the good decisions go into a copy of the published database, the review files
    are written again from it (decided pairs leave them, conflicts and reopened pairs come in), and both are
    moved into place together."""
    db = config.output.database_path
    if not db.exists():
        raise InputError("no published database yet: run `dpt run` first", path=db)
    with _unattended(config, "review import", wait=wait) as (record, work):
        staged = work / db.name
        shutil.copyfile(db, staged)
        when = dt.datetime.now().replace(microsecond=0)
        report, state = review.import_files(paths, staged, imported_at=when)
        keep = keep_ranks(config, state.named_voters())
        _refresh_review(config, staged, work, record.run_id, state, keep)
        _report_import(config, staged, work, record, report, state, when, paths, keep[0])
        # A file imported from the review folder itself is replaced by the new files, unless rows of it were
        # refused (kept aside, so the camat can fix them) or it changed since it was read.
        _commit(config, work, record.run_id, spare=report.hashes, refused=[Path(n.file) for n in report.refused])
    return report


def _report_import(config: Config, database: Path, work: Path, record: runs.Run, report: review.ImportReport,
                   state: review.ReviewState, when: dt.datetime, paths: list[Path], ranks: pl.DataFrame) -> None:
    """What the import changed (outputs.review_changes) into the staged `database`, and the run report again
    (`ranks`: keep_ranks of ReviewState.named_voters)."""
    import duckdb

    from dpt_pipeline.outputs import report as run_report
    from dpt_pipeline.outputs import review_changes

    before = {n: read_previous(database, n) for n in ("review_imports", "review_import_changes")}
    tables = review_changes.import_tables(
        state.history, ranks, read_previous(database, "duplicate_groups"), report.counts(), import_id=record.run_id,
        imported_at=when, started_at=record.started_at, files=paths, before=before)
    with duckdb.connect(str(database)) as con:
        con.execute("BEGIN TRANSACTION")
        for name, frame in tables.items():
            replace_table(con, name, frame)
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    run_report.write_report(database, work / "report.html")


def review_export(config: Config, *, xlsx: bool | None = None, wait: bool = False) -> list[Path]:
    """`dpt review export`: the review files written again from the published database, replacing the
    previous ones in one step (an edited file is kept aside first)."""
    db = config.output.database_path
    if not db.exists():
        raise InputError("no published database yet: run `dpt run` first", path=db)
    if xlsx is not None and xlsx != config.review.xlsx:
        config = dataclasses.replace(config, review=dataclasses.replace(config.review, xlsx=xlsx))
    with _unattended(config, "review export", wait=wait) as (record, work):
        staged = work / db.name
        shutil.copyfile(db, staged)
        exported = _refresh_review(config, staged, work, record.run_id)
        _commit(config, work, record.run_id)
    return [config.output.dir / p.relative_to(work) for p in exported.paths]


def _refresh_review(config: Config, database: Path, work: Path, run_id: str,
                    state: review.ReviewState | None = None,
                    keep: tuple[pl.DataFrame, list[decisions.KeepRule]] | None = None) -> review.Exported:
    """The review files from the database at `database` (a staged copy; `state`, its review tables if
    already read) and its decisions, and the tables remembering them written back into it (`keep`:
    keep_ranks of ReviewState.named_voters, if already made)."""
    import duckdb

    if state is None:
        with duckdb.connect(str(database), read_only=True) as con:
            state = review.read_state(con, config.output.database_path)
    ranks, rules = keep or keep_ranks(config, state.named_voters())
    standing = decisions.standing(state.history)
    attention = pl.concat([decisions.resolve(standing, ranks).attention,
                           review.reopened_rows(state.reopened, standing)])
    # A pair the run did not score (it came back after the run): its figures from its last export.
    last = state.exports.sort("diekspor").group_by("pair_id", maintain_order=True).last()
    missing = attention.join(state.listed.select("pair_id"), on="pair_id", how="anti").join(
        last.select("pair_id", "match_probability", "alasan"), on="pair_id", how="left")
    listed = pl.concat([state.listed, missing.select(state.listed.columns)], how="diagonal_relaxed")
    exported, tables = review.export_remembered(
        work / "review", state.voters, listed, state.history, attention, state.names, ranks, rules,
        export_id=run_id, exported_at=runs.now(), show_nik=config.review.show_nik, xlsx=config.review.xlsx,
        exports_before=state.exports, shown_before=state.shown)
    tables.pop("review_pairs")
    with duckdb.connect(str(database)) as con:   # a staged copy: written in place, moved into place on commit
        con.execute("BEGIN TRANSACTION")
        for name, frame in tables.items():
            replace_table(con, name, frame)
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    return exported


def _commit(config: Config, work: Path, run_id: str, spare: dict[Path, str] | None = None,
            refused: list[Path] | None = None) -> list[Path]:
    """Move the staged outputs into place; review files a reviewer edited in place (and that this command
    did not import as they are now) are first kept aside under review-diubah/, with a warning."""
    kept: list[Path] = []
    if (work / "review").is_dir():
        kept = review.keep_aside(config.output.dir / "review", config.output.dir, run_id, spare, refused or [])
    runs.commit(config.output.dir)
    return kept


def link(config: Config, voters: pl.DataFrame, names: dict[str, str], work: Path, progress: Progress = _quiet,
         *, full: bool = True, run_id: str = "") -> tuple[dict[str, pl.DataFrame], dict[str, object]]:
    """The linkage stage (`linkage.night`: standardize -> block -> compare -> fit, then, with tonight's standing
    decisions, learn -> score -> cluster), then the review files (`review`) and the border files
    (`outputs.border`) from its pairs; the tables and a summary. `names` maps region codes to their canonical
    names (for the review files)."""
    lc = config.linkage
    seconds: dict[str, float] = {}
    t = time.perf_counter()

    order = steps(("link",))
    progress("standardize")

    def lap(name: str) -> float:
        nonlocal t
        now = time.perf_counter()
        seconds[name] = round(now - t, 3)
        t = now
        if name in order and order.index(name) + 1 < len(order) - 1:
            progress(order[order.index(name) + 1])
        return seconds[name]

    tonight = night.compare_tonight(config, voters, work, lap, full=full)
    cset = tonight.comparisons
    db = config.output.database_path
    history = decisions.history_frame(read_previous(db, "review_decisions"))
    standing = decisions.standing(history)
    records = tonight.records = tonight.records.with_columns(
        border.legal_side(lc.border_areas).alias("_border_legal"))
    ranks, rules = keep_ranks(config, records)
    resolution = decisions.resolve(standing, ranks)
    decided = _with_rids(standing.filter(pl.col("keputusan").is_in([decisions.SAMA, decisions.BEDA])), records)
    linked = night.score_tonight(tonight, lap, decided=decided, same=_with_rids(resolution.same, records),
                                 different=_with_rids(resolution.different, records), struck=resolution.struck,
                                 keep_rules=rules, learn_min=config.review.learn_min,
                                 listed_from=lc.review_threshold)
    model, scored, groups, learning = linked.model, linked.scored, linked.groups, linked.learning
    model_path = config.output.dir / "model.json"
    write_private(work / model_path.name, model.to_json() + "\n")
    ids = ["voter_id", "source"]
    listed = compare.attach(records, linked.weighed(tonight, scored.filter(pl.col("match_probability")
                                                                          >= lc.review_threshold)), ids)
    pairs = night.pairs_table(listed, cset)
    same_nik = scored.filter((pl.col("lvl_nik") == cset.level_index("nik", "sama"))
                             & (pl.col("match_probability") < CLAIM))
    conflicts = night.pairs_table(compare.attach(records, linked.weighed(tonight, same_nik), ids), cset).select(
        "pair_id", "voter_id_l", "voter_id_r", "match_probability", "alasan", "scope")
    # Decided pairs that go back to a reviewer, scored tonight wherever they are not listed anyway.
    reopened = review.reopened_rows(read_previous(db, "review_reopened"), standing)
    attention = pl.concat([resolution.attention, reopened])
    extra = _with_rids(attention.join(pairs.select("pair_id"), on="pair_id", how="anti"), records)
    again = pairs.head(0)
    if extra.height:
        keep = [c for c in scored.columns if c != "pass_mask"] + [f"w_{c.name}" for c in cset.comparisons]
        rescored = linked.rescore(tonight, extra.select("rid_l", "rid_r")).select(keep).with_columns(
            pl.lit(0, scored.schema["pass_mask"]).alias("pass_mask"))     # no blocking pass found them tonight
        again = night.pairs_table(compare.attach(records, rescored, ids), cset)
    review_pairs = pl.concat([pairs, again])
    exported, review_tables = review.export_remembered(
        work / "review", records, review_pairs, history, attention, names, ranks, rules, export_id=run_id,
        exported_at=runs.now(), show_nik=config.review.show_nik, xlsx=config.review.xlsx,
        exports_before=read_previous(db, "review_exports"), shown_before=read_previous(db, "review_exported_voters"))
    review_summary = review.summary(pairs, records, history, names)
    residents = border.border_report(records, pairs, lc.border_areas, CLAIM)
    border_files = [str(config.output.dir / border.write_csv(residents, records, area, work / "border")
                        .relative_to(work)) for area in lc.border_areas]
    blocking = pl.DataFrame([{**dataclasses.asdict(r), "largest_blocks": json.dumps(r.largest_blocks)}
                             for r in tonight.blocking])
    info: dict[str, object] = {
        "mode": tonight.mode, **tonight.reuse,
        "candidate_pairs": linked.candidates, "listed_pairs": pairs.height,
        "claimed_pairs": int((pairs["match_probability"] >= CLAIM).sum()),
        "groups": int(groups["group_id"].n_unique()) if groups.height else 0,
        "nik_conflicts": conflicts.height, "lambda": model.lambda_, "model": str(model_path),
        "blocking": [dataclasses.asdict(r) for r in tonight.blocking],
        "border_areas": len(lc.border_areas),
        "border": border.border_summary(residents).to_dicts(), "border_files": border_files,
        "review_files": len(exported.paths), "review_summary": review_summary.to_dicts(),
        "decisions": {k: int((standing["keputusan"] == k).sum()) for k in (*decisions.KEPUTUSAN, decisions.KONFLIK)},
        "struck": resolution.struck.height, "review_attention": attention.height,
        "learning_from_decisions": learning,
        "seconds": {**seconds, "tables": lap("tables")},
    }
    if not lc.border_areas:
        log.info("no border area configured ([linkage] border_areas = []): no border report")
    for row in info["border"]:  # type: ignore[attr-defined]
        log.debug("border area %s, desa %s: %s residents %s", row["area"], row["kode_desa"], f"{row['residents']:,}",
                  row["status"])
    tables = {"voters": records.select(voters.columns),
              "duplicate_pairs": pairs, "duplicate_groups": groups, "nik_conflicts": conflicts,
              "model_levels": night.model_table(model, cset),
              "blocking_report": blocking, "border_residents": residents, "review_summary": review_summary,
              **review_tables}
    return tables, info


def _with_rids(frame: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """`frame` (pairs by voter_id_l, voter_id_r) with rid_l, rid_r, for the pairs whose two records are both
    still on the roll. A changed record has a new voter_id, so a decision on its old row no longer applies."""
    rid = records.select("voter_id", "rid")
    return (frame.join(rid.rename({"voter_id": "voter_id_l", "rid": "rid_l"}), on="voter_id_l")
            .join(rid.rename({"voter_id": "voter_id_r", "rid": "rid_r"}), on="voter_id_r"))


def keep_ranks(config: Config, voters: pl.DataFrame) -> tuple[pl.DataFrame, list[decisions.KeepRule]]:
    """The keep order of every voter (decisions.rule_columns) and its rules, border areas included."""
    records = voters.with_columns(border.legal_side(config.linkage.border_areas).alias("_border_legal"))
    rules = decisions.default_keep_rules("_border_legal")
    return decisions.rule_columns(records, rules), rules
