"""The TPS stage over all desa: `assign` takes the roll to households, joins last night's TPS, solves the
desa (in worker processes when there are many households: each desa is an independent problem) and builds
the three tables (tps_assignments, tps_summary, tps_quality)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from dpt_pipeline.io.workers import pool as workers_pool
from dpt_pipeline.tps import numbering
from dpt_pipeline.tps.desa import DesaInput, DesaOutput, solve_desa
from dpt_pipeline.tps.quality import rt_splits, tps_quality, tps_summary
from dpt_pipeline.tps.roll import eligible, households, with_regions
from dpt_pipeline.tps.sites import CANDIDATE_SCHEMA, candidates
from dpt_pipeline.tps.solver import MIN_SHARE

ASSIGNMENT_SCHEMA = {"voter_id": pl.String, "kode_desa": pl.String, "desa": pl.String, "household": pl.String,
                     "rw": pl.Int32, "rt": pl.Int32, "lat": pl.Float64, "lon": pl.Float64, "lokasi": pl.String,
                     "tps": pl.Int32, "distance_m": pl.Float64}


@dataclass
class TpsResult:
    """The stage's three tables."""

    assignments: pl.DataFrame   # tps_assignments: one row per voter with a TPS
    summary: pl.DataFrame       # tps_summary: one row per TPS
    quality: pl.DataFrame       # tps_quality: one row per desa
    rt_splits: pl.DataFrame     # tps_rt_splits: one row per TPS of each RT cut between TPS


PARALLEL_FROM = 100_000   # households; below this, starting worker processes costs more than it saves


def _solve_chunk(desa: list[DesaInput], cap: int, min_share: float) -> list[DesaOutput]:
    """A worker's share of the desa, in order."""
    return [solve_desa(d, cap, min_share) for d in desa]


def _solve_all(desa: list[DesaInput], cap: int, min_share: float) -> list[DesaOutput]:
    """Every desa, in worker processes (one per core, at most 4) when there are many households: the desa
    are independent problems, so the result does not depend on how they were shared out."""
    workers = min(4, os.cpu_count() or 1)
    # A desa as it was last night costs next to nothing (it keeps last night's TPS): only the others count.
    work = [0 if d.unchanged else len(d.voters) for d in desa]
    if workers < 2 or sum(work) < PARALLEL_FROM:
        return _solve_chunk(desa, cap, min_share)
    chunks: list[list[int]] = [[] for _ in range(workers)]
    load = [0] * workers
    for i in sorted(range(len(desa)), key=lambda i: -work[i]):   # largest first, to the lightest
        j = load.index(min(load))
        chunks[j].append(i)
        load[j] += work[i]
    with workers_pool(workers) as pool:
        done = list(pool.map(_solve_chunk, [[desa[i] for i in c] for c in chunks], [cap] * workers,
                             [min_share] * workers))
    out: dict[int, DesaOutput] = {}
    for c, results in zip(chunks, done, strict=True):
        out.update(zip(c, results, strict=True))
    return [out[i] for i in range(len(desa))]


def _attach(g: pl.DataFrame, r: DesaOutput, places: pl.DataFrame | None) -> pl.DataFrame:
    """One desa's household rows with their TPS and its site (a row of `places`, the desa's candidates)."""
    out = g.with_columns(
        pl.Series("tps", r.tps, dtype=pl.Int32), pl.Series("tps_lat", r.tps_lat).fill_nan(None),
        pl.Series("tps_lon", r.tps_lon).fill_nan(None), pl.Series("distance_m", r.distance_m).fill_nan(None),
        pl.lit(r.k, dtype=pl.Int64).alias("k"), pl.lit(r.extra_tps).alias("extra_tps"))
    chosen = (places.drop("desa_key")[np.maximum(r.site, 0)] if places is not None and (r.site >= 0).all()
              else pl.DataFrame(schema={c: t for c, t in CANDIDATE_SCHEMA.items() if c != "desa_key"},
                                ).clear(len(r.site)))
    return pl.concat([out, chosen], how="horizontal")


def assign(voters: pl.DataFrame, coordinates: pl.DataFrame, cap: int, *, struck: pl.DataFrame | None = None,
           previous: pl.DataFrame | None = None, names: dict[str, str] | None = None,
           min_share: float = MIN_SHARE, sites: pl.DataFrame | None = None) -> TpsResult:
    """TPS for every voter who stays on the roll: all but the `struck` (voter_id; see `eligible`);
    `previous` is last night's tps_assignments; `names` maps desa codes to their Kemendagri names;
    `min_share`: each TPS at least this share of its desa's voters / TPS (`[tps] min_share`); `sites`: the
    candidate sites (`read_sites`), besides the RT points, a TPS may be proposed at."""
    voters = with_regions(voters)
    kept = eligible(voters, struck)
    hh = households(kept, coordinates, cap)
    prev_assign = previous
    if prev_assign is not None:
        hh = numbering.with_last_night(hh, prev_assign)   # by its module: the tests stand in for it there
    frames = hh.partition_by("desa_key", maintain_order=True)
    places = {k: g for (k,), g in candidates(coordinates, sites).partition_by("desa_key", as_dict=True).items()}
    mine = [places.get(g["desa_key"][0]) for g in frames]
    solved = _solve_all([DesaInput.of(g, p) for g, p in zip(frames, mine, strict=True)], cap, min_share)
    parts = [_attach(g, r, p) for g, r, p in zip(frames, solved, mine, strict=True)]
    if not parts:  # no voters: the tables with their columns and no rows
        schema: dict[str, Any] = {**ASSIGNMENT_SCHEMA, "voter_id": pl.List(pl.String), "tps_lat": pl.Float64,
                                  "tps_lon": pl.Float64, "extra_tps": pl.Boolean, "kk": pl.String,
                                  "oversize": pl.Boolean,
                                  **{c: t for c, t in CANDIDATE_SCHEMA.items() if c != "desa_key"}}
        parts = [pl.DataFrame(schema=schema).rename({"kode_desa": "desa_key"})]
    done = pl.concat(parts, how="diagonal_relaxed")
    if names:
        done = done.with_columns(pl.coalesce(pl.col("desa_key").replace_strict(names, default=None,
                                                                               return_dtype=pl.String),
                                             pl.col("desa")).alias("desa"))
    per_voter = done.explode("voter_id").rename({"desa_key": "kode_desa"})
    assignments = per_voter.select(list(ASSIGNMENT_SCHEMA)).sort("kode_desa", "tps", "voter_id")
    summary = tps_summary(per_voter)
    quality = tps_quality(per_voter, summary, cap, voters, kept, prev_assign)
    return TpsResult(assignments, summary, quality, rt_splits(per_voter))
