"""The engine in one call: link a polars frame, with the DPT comparisons or with your own.

    from dpt_pipeline.linkage import link
    linked = link(voters)            # a voter table as ingest writes it: DPT standardisation, passes, comparisons
    linked.pairs()                   # the claimed pairs, each with its reason (`alasan`)

    from dpt_pipeline.linkage import BlockingPass, Comparison, ComparisonSet, Level, TrainingSession, link
    linked = link(records, ComparisonSet((...), id_column="id"), passes=[BlockingPass(...)],
                  training=[TrainingSession(...)])

Blocking, comparing, fitting (EM, no labels) and scoring are the same functions the nightly run uses; FEBRL is
linked through this face too (`febrl.run_febrl`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from dpt_pipeline.core.thresholds import CLAIM, PRIOR_RECALL
from dpt_pipeline.linkage import blocking, dpt, standardize
from dpt_pipeline.linkage.comparisons import ComparisonSet, attach, compare, explain
from dpt_pipeline.linkage.model import FellegiSunter, TrainingSession, fit, score

Pass = blocking.BlockingPass | blocking.NikEditPass


@dataclass
class Linked:
    """What `link` found. `scored` holds every candidate pair (rid_l, rid_r, pass_mask, a level column per
    comparison, match_weight, match_probability); `records` the records as compared (row i is rid i)."""

    records: pl.DataFrame
    comparisons: ComparisonSet
    passes: list[Pass]
    model: FellegiSunter
    scored: pl.DataFrame
    blocking: list[blocking.PassReport]
    seconds: dict[str, float] = field(default_factory=dict)

    def pairs(self, threshold: float = CLAIM, columns: Sequence[str] = ()) -> pl.DataFrame:
        """The pairs at or above `threshold` (the claim, by default), most likely first: both records' ids
        (`<id>_l`, `<id>_r`) and `columns`, match_probability, match_weight, each comparison's level code and
        `alasan`, the reason in words."""
        cset = self.comparisons
        ids = [cset.id_column, *[c for c in columns if c != cset.id_column]]
        chosen = attach(self.records, self.scored.filter(pl.col("match_probability") >= threshold), ids)
        levels = [pl.col(c.level_column).replace_strict(dict(enumerate(c.codes)), return_dtype=pl.String).alias(c.name)
                  for c in cset.comparisons]
        return chosen.with_columns(explain(chosen, cset)).select(
            *[f"{c}_{side}" for c in ids for side in ("l", "r")], "match_probability", "match_weight", *levels,
            "alasan").sort("match_probability", f"{ids[0]}_l", f"{ids[0]}_r", descending=[True, False, False])


def link(frame: pl.DataFrame, comparisons: ComparisonSet | None = None, *, passes: Sequence[Pass] | None = None,
         training: Sequence[TrainingSession] | None = None, model: FellegiSunter | None = None,
         across: str | None = None, possible_pairs: float | None = None, prior_recall: float | None = None,
         random_pairs: int = 300_000, seed: int = 0) -> Linked:
    """Link the records of `frame`: candidate pairs by the blocking `passes`, comparison levels, a
    Fellegi-Sunter model fitted by EM on the candidates (`training` sessions; or the given `model`), scores.

    Without `comparisons`, `frame` is a voter table (ingest's columns) and is standardised, blocked and
    compared as the nightly run does (its passes, comparisons, training and prior recall 0.5 unless given).
    With `comparisons`, `frame` is used as it is, numbered by row (`rid`, replacing a column of that name), and
    `passes` are required; without `training`, EM runs one session on every candidate pair. `across`: keep
    only pairs whose records differ in that column, a record with no value in it paired with none (two files
    held in one frame). `possible_pairs`: how many pairs the data could form, for the prior (n(n-1)/2 by
    default)."""
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        seconds[name] = round(now - t0, 3)
        t0 = now

    if comparisons is None:
        records = standardize.prepare_records(standardize.standardize(frame))
        cset = dpt.dpt_comparisons()
        passes = blocking.default_passes() if passes is None else passes
        training = dpt.dpt_training() if training is None else training
        prior_recall = PRIOR_RECALL if prior_recall is None else prior_recall
    else:
        if passes is None:
            raise ValueError("link(): own comparisons need their blocking passes (passes=[...])")
        # Blocking, comparing and the `across` filter read a record by its row: rid i is row i.
        records = frame.drop("rid", strict=False).with_row_index("rid")
        cset = comparisons
    lap("prepare")
    candidates, reports = blocking.candidate_pairs(records, list(passes))
    if across is not None:
        side = records[across]
        candidates = candidates.filter(pl.Series(side.gather(candidates["rid_l"]) != side.gather(candidates["rid_r"])))
    lap("block")
    compared = compare(records, candidates, cset, slim=True)
    lap("compare")
    if model is None:
        model = fit(compared, records, cset, None if training is None else list(training), passes=passes,
                    random_pairs=random_pairs, seed=seed, possible_pairs=possible_pairs, prior_recall=prior_recall)
    lap("fit")
    scored = score(compared, records, cset, model)
    lap("score")
    return Linked(records, cset, list(passes), model, scored, reports, seconds)
