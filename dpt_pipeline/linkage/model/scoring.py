"""Scoring pairs with a fitted model: the match weight of each level pattern, adjusted by term frequency
(two records that share a rare name are stronger evidence than two that share SITI), the holds that keep
some pairs below a claim, and the match probability."""

from __future__ import annotations

import numpy as np
import polars as pl

from dpt_pipeline.core import frames
from dpt_pipeline.linkage.comparisons import ComparisonSet
from dpt_pipeline.linkage.model.fellegi_sunter import M_FLOOR, TF_MAX_BOOST, FellegiSunter, level_matrix


def term_frequencies(records: pl.DataFrame, column: str) -> pl.DataFrame:
    """Share of records holding each value of `column` (value, tf)."""
    n = records.height
    return (records.group_by(column).len().drop_nulls(column)
            .select(pl.col(column).alias("value"), (pl.col("len") / n).alias("tf")))


# Pairs scored at a time: a float per comparison and pair is the largest transient of scoring (at 200 million
# pairs one array is 1.6 GB), so millions of pairs are scored a slice at a time.
SCORE_CHUNK = 4_000_000


def score(candidates: frames.Frame, records: pl.DataFrame, cset: ComparisonSet, model: FellegiSunter, *,
          weights: bool = True, keep: pl.Expr | None = None, chunk: int = SCORE_CHUNK) -> pl.DataFrame:
    """Add `w_<comparison>` (bits; without them when not `weights`: scoring the same pairs again with them
    gives the same numbers), match_weight and match_probability to the compared pairs (rid_l, rid_r and the
    level columns; a LazyFrame is read a slice at a time). With `keep`, only the scored rows where it holds
    are returned (filtered slice by slice, so that the scores of every candidate pair are never held at
    once)."""
    model.check(cset)
    tf = {c.tf_column: _record_tf(records, c.tf_column) for c in cset.comparisons
          if c.tf_column and any(lv.tf for lv in c.levels)}
    parts = []
    for start in range(0, max(frames.height(candidates), 1), chunk):
        rows = candidates.slice(start, chunk)
        part = _score(rows if isinstance(rows, pl.DataFrame) else rows.collect(), cset, model, tf, weights)
        parts.append(part if keep is None else part.filter(keep))
    return parts[0] if len(parts) == 1 else pl.concat(parts)


def _record_tf(records: pl.DataFrame, column: str) -> pl.Series:
    """Each record's (row = rid) share of records holding its value of `column`; null where it has none."""
    return records.select(pl.col(column).alias("value")).join(
        term_frequencies(records, column), on="value", how="left", maintain_order="left")["tf"]


def _score(candidates: pl.DataFrame, cset: ComparisonSet, model: FellegiSunter, tfs: dict[str, pl.Series],
           weights: bool) -> pl.DataFrame:
    levels = level_matrix(candidates, cset)
    total = np.full(len(candidates), model.prior_weight)
    cols = []
    for k, (c, p) in enumerate(zip(cset.comparisons, model.comparisons, strict=True)):
        w = p.weights()[levels[:, k]]
        tf_levels = [i + 1 for i, lv in enumerate(c.levels) if lv.tf]
        if c.tf_column and tf_levels:
            # Each record's value frequency once, then the larger of the pair's two (symmetric: a pair scores
            # the same whichever record is on the left, also where the level accepts unequal values).
            tf = tfs[c.tf_column]
            values = np.fmax(tf.gather(candidates["rid_l"]).to_numpy(), tf.gather(candidates["rid_r"]).to_numpy())
            for idx in tf_levels:
                at = (levels[:, k] == idx) & ~np.isnan(values)
                # u for agreeing on this value is its frequency (Splink's term-frequency adjustment); without
                # tf_boost never below the level's average, so a common value (01-07-1970) weighs less and a
                # value seen once no more than an average agreement.
                # A rare value may count up to 8 times (3 bits) more than the average agreement: beyond
                # that, "seen once among a million" is chance, not identity.
                floor = p.u[idx] / TF_MAX_BOOST if c.tf_boost else p.u[idx]
                u_v = np.maximum(values[at], floor)
                w[at] = np.log2(max(p.m[idx], M_FLOOR) / u_v)
        total += w
        # float64: the published pair's weights, added to the prior, give its probability exactly (pair_evidence).
        if weights:
            cols.append(pl.Series(f"w_{c.name}", w))
    prob = 1.0 / (1.0 + np.exp2(-total))
    # A hold keeps a pair below a claim, whatever its weight: a case for a person (`Hold`).
    for hold in cset.holds:
        held = candidates.select(hold.condition.fill_null(False))[:, 0].to_numpy()
        prob = np.where(held, np.minimum(prob, hold.at_most), prob)
    return candidates.with_columns(*cols, pl.Series("match_weight", total), pl.Series("match_probability", prob))
