"""Wires the stages in order. Only this module knows the order; the stages know nothing of each other."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dpt_pipeline import (
    __version__,
    block,
    border,
    cluster,
    compare,
    incremental,
    ingest,
    review,
    runs,
    score,
    standardize,
    tps,
)
from dpt_pipeline.config import Config
from dpt_pipeline.errors import DptError, InputError
from dpt_pipeline.hashing import md5_hex
from dpt_pipeline.publish import publish, read_previous, replace_tables, write_private
from dpt_pipeline.regions import RegionTable

log = logging.getLogger(__name__)

# Every stage the project has, in order. `dpt run` runs them all, `dpt ingest` the first alone.
ALL_STAGES: tuple[str, ...] = ("ingest", "link", "tps")
TPS_TABLES = ("tps_assignments", "tps_summary", "tps_quality")
MATCH_THRESHOLD = 0.5  # the contract: at or above, the pipeline claims both rows are one person


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
        progress: Progress = _quiet, full: bool = False) -> RunResult:
    """Run the given stages (every stage the project has, by default) and publish the result: the
    database, review files, maps and reports replace the previous ones only when the whole run succeeds."""
    command = "run" if "link" in stages else "ingest"
    with _unattended(config, command, wait=wait) as (record, work):
        return _run(config, stages, record, work, progress, full)


def _run(config: Config, stages: tuple[str, ...], record: runs.Run, work: Path, progress: Progress,
         full: bool) -> RunResult:
    timings: dict[str, float] = {}
    progress("ingest")
    # The coordinates file is checked before the long stages, so that a refused file stops the run at once.
    coordinates = tps.read_coordinates(config.tps.coordinates) if "tps" in stages else None
    t0 = time.perf_counter()
    result = ingest.run(config)
    timings["ingest"] = round(time.perf_counter() - t0, 3)
    record.inputs = [{"source": s.source, "path": s.path, "sha256": runs.file_hash(Path(s.path)), "rows": s.data_rows}
                     for s in result.summaries]
    record.stage("ingest", timings["ingest"], {"data_rows": sum(s.data_rows for s in result.summaries),
                                               "voters": result.voters.height, "rejects": result.rejects.height,
                                               **{f"rejects: {k}": v for k, v in _reject_counts(result).items()}})

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
        link_tables, link_info = link(config, result.voters, regions.names, work, progress, full=full)
        record.mode = str(link_info["mode"])
        tables.update(link_tables)
        timings["link"] = round(time.perf_counter() - t0, 3)
        record.stage("link", timings["link"], {k: int(link_info[k]) for k in (  # type: ignore[call-overload]
            "candidate_pairs", "listed_pairs", "claimed_pairs", "groups", "nik_conflicts")})
    tps_info: dict[str, object] = {}
    if "tps" in stages:
        t0 = time.perf_counter()
        progress("tps")
        tps_tables, tps_info = place(config, result.voters, tables.get("duplicate_groups"), regions.names, work,
                                     coordinates)
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
    from dpt_pipeline import report

    report.write_report(db, work / "report.html")
    runs.commit(config.output.dir)
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
        log.info("run %s: dpt %s on %s", record.run_id, command, out)
        try:
            yield record, runs.begin(out)
        except BaseException as e:
            runs.discard(out)
            # The record keeps the kind of error and where, not a message that could quote a cell.
            record.finish("failed", error=type(e).__name__ + (f" (exit {e.exit_code})" if isinstance(e, DptError)
                                                                 else ""))
            raise
        record.finish("ok")


def place(config: Config, voters: pl.DataFrame, groups: pl.DataFrame | None, names: dict[str, str], work: Path,
          coordinates_read: tuple[pl.DataFrame, list[tps.SkippedCoordinate]] | None = None
          ) -> tuple[dict[str, pl.DataFrame], dict[str, object]]:
    """The tps stage: every voter who stays on the roll to a TPS of their desa, starting from last night's
    TPS in the published database; the three tps tables, the maps and a summary."""
    t = time.perf_counter()
    db = config.output.database_path
    coordinates, skipped = coordinates_read if coordinates_read is not None else tps.read_coordinates(
        config.tps.coordinates)
    history = read_previous(db, "review_decisions")
    decisions = review.latest(history) if history is not None else None
    if groups is None and decisions is not None and (decisions["keputusan"] == review.SAMA).any():
        raise InputError("reviewers confirmed duplicates, but the database holds no duplicate groups (an "
                         "ingest-only run?): run `dpt run`, so that their TPS are struck", path=db)
    previous = read_previous(db, "tps_assignments")
    result = tps.assign(voters, coordinates, config.tps.max_voters, groups=groups, decisions=decisions,
                        previous=previous, names=names)
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
        "moved": int(q["moved"].sum()) if previous is not None and q.height else None,
        "churn": tps.overall_churn(q) if previous is not None else None,
        "mean_distance_m": result.assignments["distance_m"].mean(),
        "p95_distance_m": result.assignments["distance_m"].quantile(0.95, "linear"),
    }
    if config.tps.maps:
        from dpt_pipeline import maps

        t = time.perf_counter()
        maps.write_maps(result.assignments, result.summary, q, work / "tps", max_voters=config.tps.max_voters)
        info["maps"] = str(config.output.dir / "tps" / "index.html")
        seconds["maps"] = round(time.perf_counter() - t, 3)
    info["seconds"] = seconds
    log.info("tps: %s voters in %s TPS over %s desa (%s struck as confirmed duplicates), %s over the cap, "
             "%s households split, %.1fs", info["voters"], info["tps"], info["desa"], info["struck_duplicates"],
             info["over_cap"], info["split_households"], sum(seconds.values()))
    tables = {"tps_assignments": result.assignments, "tps_summary": result.summary, "tps_quality": q}
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
        tables, info = place(config, voters, read_previous(db, "duplicate_groups"),
                             RegionTable.load(config.ingest.regions).names, work)
        timings = {"tps": round(time.perf_counter() - t0, 3)}
        record.stage("tps", timings["tps"], _tps_rows(info))
        progress("publish")
        return _finish(config, record, work, tables, timings, stages=("tps",), sources=[], linkage={},
                       tps_info=info, replace=True)


def review_import(config: Config, paths: list[Path], *, wait: bool = False) -> pl.DataFrame:
    """`dpt review import`: the decisions go into a copy of the published database, moved into place when
    the whole import has been accepted."""
    db = config.output.database_path
    if not db.exists():
        raise InputError("no published database yet: run `dpt run` first", path=db)
    with _unattended(config, "review import", wait=wait) as (_, work):
        staged = work / db.name
        shutil.copyfile(db, staged)
        new = review.import_files(paths, staged)
        runs.commit(config.output.dir)
    return new


def review_export(config: Config, *, xlsx: bool, wait: bool = False) -> list[Path]:
    """`dpt review export`: the review files written again from the published database, replacing the
    previous ones in one step."""
    with _unattended(config, "review export", wait=wait) as (_, work):
        paths = review.export_from_database(config.output.database_path, work / "review",
                                            show_nik=config.review.show_nik, xlsx=xlsx or config.review.xlsx)
        runs.commit(config.output.dir)
    return [config.output.dir / p.relative_to(work) for p in paths]


def link(config: Config, voters: pl.DataFrame, names: dict[str, str], work: Path, progress: Progress = _quiet,
         *, full: bool = True) -> tuple[dict[str, pl.DataFrame], dict[str, object]]:
    """standardize -> block -> compare -> score -> cluster; the linkage tables and a summary. `names` maps
    region codes to their canonical names (for the review files)."""
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

    records = block.prepare_records(standardize.standardize(voters))
    cset = compare.dpt_comparisons()
    lap("standardize")
    candidates, reports = block.candidate_pairs(records)
    for r in reports:
        log.info("blocking pass %s: %d pairs (%d new), largest blocks %s, skipped blocks %d",
                 r.name, r.pairs, r.new_pairs, r.largest_blocks, r.skipped_blocks)
    log.info("blocking: %d candidate pairs in %.1fs", candidates.height, lap("block"))
    sig = incremental.signature(config, cset)
    cache = None if full else incremental.load(config.output.dir, sig)
    reuse: dict[str, int] = {}
    if cache is not None:
        compared, reuse = incremental.compare_with_cache(records, candidates, cset, cache[0], cache[1])
        log.info("compare: %d pairs known from the last run, %d compared, %.1fs", reuse["reused_pairs"],
                 reuse["compared_pairs"], lap("compare"))
    else:
        compared = compare.compare(records, candidates, cset, slim=True)
        log.info("compare: %.1fs", lap("compare"))
    if lc.model is not None:
        model = score.FellegiSunter.load(lc.model)
        model.check(cset, str(lc.model))
    elif cache is not None:
        model = cache[2]   # the last full run's fit: the same model, so the same scores as a full run
    else:
        model = score.fit(compared, records, cset, score.dpt_training(), random_pairs=lc.random_pairs,
                          seed=lc.seed)
    incremental.save(work, sig, compared, records, cset, model)
    history = read_previous(config.output.database_path, "review_decisions")
    history = pl.DataFrame(schema=review.DECISION_SCHEMA) if history is None else history
    decided = _decided_rids(review.latest(history), records)
    model, learning = _learn_from_decisions(model, compared, records, cset, decided, config.review.learn_min)
    model_path = config.output.dir / "model.json"
    write_private(work / model_path.name, model.to_json() + "\n")
    scored = score.score(compared, records, cset, model)
    log.info("fit and score: %.1fs", lap("score"))

    def score_fn(pairs: pl.DataFrame) -> pl.DataFrame:
        return score.score(compare.compare(records, pairs, cset), records, cset, model)

    records = records.with_columns(border.legal_side(lc.border_areas).alias("_border_legal"))
    groups = cluster.cluster(scored, records, score_fn, threshold=MATCH_THRESHOLD,
                             keep_rules=cluster.default_keep_rules("_border_legal"),
                             same=decided.filter(pl.col("keputusan") == review.SAMA),
                             different=decided.filter(pl.col("keputusan") == review.BEDA))
    groups = _note_decisions(groups, decided)
    log.info("cluster: %d groups in %.1fs", groups["group_id"].n_unique(), lap("cluster"))
    ids = ["voter_id", "source"]
    listed = compare.attach(records, scored.filter(pl.col("match_probability") >= lc.review_threshold), ids)
    pairs = _pairs_table(listed, cset)
    same_nik = scored.filter((pl.col("lvl_nik") == cset.level_index("nik", "sama"))
                             & (pl.col("match_probability") < MATCH_THRESHOLD))
    conflicts = _pairs_table(compare.attach(records, same_nik, ids), cset).select(
        "pair_id", "voter_id_l", "voter_id_r", "match_probability", "alasan", "scope")
    (work / "review").mkdir()   # even with nothing left to review: it replaces the previous files
    review_files = review.export(pairs, records, history, work / "review", names,
                                 show_nik=config.review.show_nik, xlsx=config.review.xlsx)
    review_summary = review.summary(pairs, records, history, names)
    residents = border.border_report(records, pairs, lc.border_areas, MATCH_THRESHOLD)
    border_files = [str(config.output.dir / border.write_csv(residents, records, area, work / "border")
                        .relative_to(work)) for area in lc.border_areas]
    blocking = pl.DataFrame([{**dataclasses.asdict(r), "largest_blocks": json.dumps(r.largest_blocks)}
                             for r in reports])
    info: dict[str, object] = {
        "mode": "incremental" if cache is not None else "full", **reuse,
        "candidate_pairs": scored.height, "listed_pairs": pairs.height,
        "claimed_pairs": int((pairs["match_probability"] >= MATCH_THRESHOLD).sum()),
        "groups": int(groups["group_id"].n_unique()) if groups.height else 0,
        "nik_conflicts": conflicts.height, "lambda": model.lambda_, "model": str(model_path),
        "blocking": [dataclasses.asdict(r) for r in reports],
        "border": border.border_summary(residents).to_dicts(), "border_files": border_files,
        "review_files": len(review_files), "review_summary": review_summary.to_dicts(),
        "decisions": {k: int((review.latest(history)["keputusan"] == k).sum()) for k in review.KEPUTUSAN},
        "learning_from_decisions": learning,
        "seconds": {**seconds, "tables": lap("tables")},
    }
    for row in info["border"]:  # type: ignore[attr-defined]
        log.info("border %s %s: %s = %d", row["area"], row["kode_desa"], row["status"], row["residents"])
    tables = {"duplicate_pairs": pairs, "duplicate_groups": groups, "nik_conflicts": conflicts,
              "blocking_report": blocking, "border_residents": residents, "review_summary": review_summary}
    return tables, info


def _pairs_table(scored: pl.DataFrame, cset: compare.ComparisonSet) -> pl.DataFrame:
    """The published shape of scored pairs: ids, probability, weight, one level column per comparison,
    the reason in words, and whether the pair lies within one source or across two."""
    key = pl.concat_str([pl.col("voter_id_l"), pl.col("voter_id_r")], separator="|")
    ids = md5_hex(scored.select(key.alias("k"))["k"]).str.slice(0, 16)
    levels = [pl.col(c.level_column).replace_strict(dict(enumerate(c.codes)), return_dtype=pl.String).alias(c.name)
              for c in cset.comparisons]
    return scored.with_columns(ids.alias("pair_id"), compare.explain(scored, cset)).select(
        "pair_id", "voter_id_l", "voter_id_r", "match_probability", "match_weight", *levels, "alasan",
        pl.when(pl.col("source_l") == pl.col("source_r")).then(pl.lit("dalam")).otherwise(pl.lit("lintas"))
        .alias("scope"),
        block.pass_names(pl.col("pass_mask"), block.default_passes()).alias("blocking_passes"),
    ).sort("match_probability", "pair_id", descending=[True, False])


def _decided_rids(decisions: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Reviewers' decisions on pairs whose two records are both still on the roll, by rid.

    A changed record has a new voter_id, so a decision on its old row no longer applies: the pair is
    asked again.
    """
    rid = records.select("voter_id", "rid")
    return (decisions.join(rid.rename({"voter_id": "voter_id_l", "rid": "rid_l"}), on="voter_id_l")
            .join(rid.rename({"voter_id": "voter_id_r", "rid": "rid_r"}), on="voter_id_r")
            .select("pair_id", "rid_l", "rid_r", "voter_id_l", "voter_id_r", "keputusan"))


def _note_decisions(groups: pl.DataFrame, decided: pl.DataFrame) -> pl.DataFrame:
    """Say in a group member's reason that a person confirmed it (SAMA)."""
    confirmed = pl.concat([decided.filter(pl.col("keputusan") == review.SAMA).select(pl.col(c).alias("voter_id"))
                           for c in ("voter_id_l", "voter_id_r")]).unique()
    return groups.with_columns(
        pl.when(pl.col("voter_id").is_in(confirmed["voter_id"].implode()))
        .then(pl.concat_str([pl.col("reason"), pl.lit(" (dikonfirmasi SAMA oleh petugas)")]))
        .otherwise(pl.col("reason")).alias("reason"))


def _learn_from_decisions(model: score.FellegiSunter, compared: pl.DataFrame, records: pl.DataFrame,
                          cset: compare.ComparisonSet, decided: pl.DataFrame, minimum: int
                          ) -> tuple[score.FellegiSunter, dict[str, object]]:
    """Once reviewers have decided `minimum` pairs each way, their SAMA pairs estimate m beside EM. The
    change is measured first on a fifth of the decisions held out (chosen by pair_id, so the same every
    night), then the model learns from them all."""
    labelled = decided.filter(pl.col("keputusan").is_in([review.SAMA, review.BEDA])).join(
        compared, on=["rid_l", "rid_r"], how="inner")
    n_same = int((labelled["keputusan"] == review.SAMA).sum())
    n_diff = labelled.height - n_same
    info: dict[str, object] = {"sama": n_same, "beda": n_diff, "minimum": minimum, "used": False}
    if n_same < minimum or n_diff < minimum:
        return model, info
    held = labelled["pair_id"].str.slice(0, 1).is_in(["0", "1", "2"])
    train, test = labelled.filter(~held), labelled.filter(held)

    def levels_of_same(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("keputusan") == review.SAMA)

    def measure(m: score.FellegiSunter) -> dict[str, float]:
        s = score.score(test, records, cset, m)
        claimed = s["match_probability"] >= MATCH_THRESHOLD
        same = s["keputusan"] == review.SAMA
        tp = int((claimed & same).sum())
        return {"precision": round(tp / max(int(claimed.sum()), 1), 4),
                "recall": round(tp / max(int(same.sum()), 1), 4)}

    if test.height:
        info["held_out"] = test.height
        info["before"] = measure(model)
        info["after"] = measure(score.with_decisions(model, levels_of_same(train), cset))
    info["used"] = True
    log.info("learning from %d SAMA and %d BEDA decisions: held out %s", n_same, n_diff,
             {k: info.get(k) for k in ("before", "after")})
    return score.with_decisions(model, levels_of_same(labelled), cset), info
