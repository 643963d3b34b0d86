"""TPS numbers that keep their meaning night to night: each household's TPS of last night and whether a
desa is as it was (`with_last_night`, on the tables), last night's TPS of a desa in tonight's terms
(`last_night`, for the solver) and tonight's numbers (`tps_numbers`: last night's where a TPS was kept,
the lowest free for a new one; a desa seen for the first time is numbered as it reads on a map)."""

from __future__ import annotations

import numpy as np
import polars as pl

from dpt_pipeline.tps.geometry import centres_of
from dpt_pipeline.tps.solver import DesaResult, Previous

_SAME_COLUMNS = ("household", "rw", "rt", "lat", "lon")


def with_last_night(hh: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """The households with their TPS of last night (`prev_tps`, the most common among their voters) and,
    per desa, whether it is as it was last night (`unchanged`): the same voters in the same households at
    the same RTs and points, each household at one TPS. In the order of `households`."""
    compare = all(c in previous.columns for c in _SAME_COLUMNS)
    last = previous.select("voter_id", pl.col("kode_desa").cast(pl.String).alias("desa_key"), "tps",
                           *([pl.col(c).cast(hh.schema[c]).alias(f"{c}_last") for c in _SAME_COLUMNS]
                             if compare else []))
    per_voter = (hh.select("desa_key", *_SAME_COLUMNS, "voter_id").explode("voter_id")
                 .join(last, on=["voter_id", "desa_key"], how="left"))
    same = pl.col("tps").is_not_null()
    if compare:
        for c in _SAME_COLUMNS:
            same = same & pl.col(c).eq_missing(pl.col(f"{c}_last"))
    was = per_voter.group_by("desa_key", "household").agg(
        pl.col("tps").drop_nulls().mode().min().alias("prev_tps"),
        (same.all() & (pl.col("tps").n_unique() == 1)).alias("_same"), pl.len().alias("_voters"))
    before = last.group_by("desa_key").agg(pl.len().alias("_before"))
    desa = (was.group_by("desa_key").agg(pl.col("_same").all(), pl.col("_voters").sum())
            .join(before, on="desa_key", how="left")
            .select("desa_key", (pl.col("_same") & (pl.col("_voters") == pl.col("_before")) & pl.lit(compare))
                    .fill_null(False).alias("unchanged")))
    return (hh.join(was.select("desa_key", "household", "prev_tps"), on=["desa_key", "household"], how="left")
            .join(desa, on="desa_key", how="left")
            .sort("desa_key", "household"))   # each night the same order, whatever the joins did


def last_night(prev: np.ndarray, xy: np.ndarray, w: np.ndarray) -> tuple[Previous | None, list[int]]:
    """Last night's TPS of the desa in tonight's terms: each number in use (its households' mean point
    tonight), the households' indices into those numbers, and the numbers. If the desa now needs fewer
    TPS, `assign_desa` drops the ones with fewest voters tonight (the fewest voters move)."""
    used = np.unique(prev[prev > 0])
    if len(used) == 0:
        return None, []
    idx = np.where(np.isin(prev, used), np.searchsorted(used, prev), -1)
    had = idx >= 0
    centres = centres_of(idx[had], w[had], xy[had], np.zeros((len(used), 2)))
    return Previous(centres, idx), [int(t) for t in used]


def tps_numbers(res: DesaResult, previous: Previous | None, numbers: list[int]) -> np.ndarray:
    """The TPS number of each of `res`'s TPS indices: `numbers` (last night's, from `last_night`) for the
    TPS kept, then the lowest numbers free."""
    if previous is None:  # a new desa: number its TPS from north-west to south-east, as they read on a map
        return np.argsort(np.lexsort((res.centres[:, 0], -np.round(res.centres[:, 1], -2)))) + 1
    kept = [numbers[i] for i in res.kept]   # last night's numbers, then the lowest numbers free
    free = [t for t in range(1, res.k + len(numbers) + 1) if t not in set(numbers)]
    return np.array(kept + free[:res.k - len(kept)])
