"""The nightly run's linkage, in two calls the pipeline makes around the reviewers' decisions:

- `compare_tonight`: standardise, block, compare (reusing last night's comparisons where the cache allows)
  and fit (or reuse last night's fit, or a pinned model);
- `score_tonight`: learn from the decisions where that proves better, score every candidate pair and group
  the claimed ones into duplicate groups, the decisions' SAMA and BEDA binding.

What a decision means, and who is struck, is `core.decisions`; the pipeline reads the decisions and hands
them in, so this stage reads nothing but its cache.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dpt_pipeline.config import Config
from dpt_pipeline.core import decisions, frames
from dpt_pipeline.core.keys import pair_ids
from dpt_pipeline.core.schema import MODEL_HOLD, MODEL_PRIOR
from dpt_pipeline.core.thresholds import CLAIM
from dpt_pipeline.linkage import blocking, clustering, dpt, incremental, reblock
from dpt_pipeline.linkage.comparisons import ComparisonSet, compare, compare_parts, explain
from dpt_pipeline.linkage.model import FellegiSunter, fit, score
from dpt_pipeline.linkage.model.learning import learn_from_decisions

log = logging.getLogger(__name__)

SPILL = "linkage_spill"   # in the staging folder: a large roll's pairs on disk until they are scored

Lap = Callable[[str], float]   # told that a step ended; returns its seconds


@dataclass
class Tonight:
    """Tonight's records (row i is rid i), their compared candidate pairs and the model that scores them."""

    records: pl.DataFrame
    comparisons: ComparisonSet
    compared: frames.Frame                     # a LazyFrame over `spill` for a large roll
    model: FellegiSunter
    blocking: list[blocking.PassReport]
    mode: str                                  # "full" or "incremental"
    reuse: dict[str, int] = field(default_factory=dict)
    spill: Path | None = None                  # the compared pairs on disk, removed once scored


def compare_tonight(config: Config, voters: pl.DataFrame, work: Path, lap: Lap, *, full: bool) -> Tonight:
    """Standardise and block `voters`, compare the candidate pairs (last night's comparisons reused unless
    `full`), and take the model: the pinned one (`[linkage] model`), else the last full run's fit when the
    comparisons were reused, else a fit tonight. The comparisons and the model are saved for the next night
    into the staging folder `work`."""
    lc = config.linkage
    cset = dpt.dpt_comparisons()
    # A pinned model is read (and refused, if it is not a usable fit) before minutes of blocking.
    pinned = None if lc.model is None else FellegiSunter.load(lc.model, cset)
    sig = incremental.signature(config, cset)
    cache = None if full else incremental.load(config.output.dir, sig, cset)
    known = None if cache is None else incremental.load_records(config.output.dir, sig, voters.schema)
    records, content, reused_records = incremental.prepared_records(voters, known)
    log.info("standardised %s voters; %s unchanged since the last run were taken from the cache (%.1f s)",
             f"{records.height - reused_records:,}", f"{reused_records:,}", lap("standardize"))
    passes = blocking.default_passes()
    candidates: pl.DataFrame | blocking.SpilledPairs
    if cache is not None:
        mapped = incremental.mapped_rids(cache.ids, records, content)
        candidates, reports, keys = reblock.candidate_pairs_since(
            records, passes, mapped=mapped, last_pairs=cache.pairs.select("rid_l", "rid_r", "pass_mask"),
            last_keys=cache.keys)
    elif records.height >= blocking.SPILL_FROM:
        # A large roll's pairs are blocked, compared and scored a part at a time on disk.
        candidates, reports = blocking.candidate_pairs_spilled(records, passes, work / SPILL)
    else:
        candidates, reports = blocking.candidate_pairs(records, passes)
    if cache is None:
        keys = reblock.keys_frame(records, passes)
    for r in reports:
        log.debug("blocking pass %s: %s pairs (%s new), largest blocks %s, skipped blocks %s",
                  r.name, f"{r.pairs:,}", f"{r.new_pairs:,}", r.largest_blocks, f"{r.skipped_blocks:,}")
    log.info("found %s candidate pairs to compare (%.1f s)", f"{candidates.height:,}", lap("block"))
    reuse: dict[str, int] = {"reused_records": reused_records}
    compared: frames.Frame
    if cache is not None:
        assert isinstance(candidates, pl.DataFrame)
        compared, counts = incremental.compare_with_cache(records, candidates, cset, cache.pairs, mapped)
        reuse |= counts
        log.info("compared %s new or changed pairs; %s pairs unchanged since the last run were reused (%.1f s)",
                 f"{reuse['compared_pairs']:,}", f"{reuse['reused_pairs']:,}", lap("compare"))
    elif isinstance(candidates, blocking.SpilledPairs):
        parts = compare_parts(records, candidates.parts, cset, work / SPILL / "compared")
        for part in candidates.parts:
            part.unlink()
        compared = pl.scan_parquet(parts) if parts else compare(records, candidates.lazy().collect(), cset, slim=True)
        log.info("compared %s pairs, %s parts on disk (%.1f s)", f"{candidates.height:,}", len(parts), lap("compare"))
    else:
        compared = compare(records, candidates, cset, slim=True)
        log.info("compared %s pairs (%.1f s)", f"{candidates.height:,}", lap("compare"))
    if pinned is not None:
        model = pinned
    elif cache is not None:
        model = cache.model   # the last full run's fit: the same model, so the same scores as a full run
    else:
        model = fit(compared, records, cset, dpt.dpt_training(), random_pairs=lc.random_pairs, seed=lc.seed,
                    prior_recall=lc.prior_recall)
    incremental.save(work, sig, compared, records, content, keys, cset, model)
    return Tonight(records, cset, compared, model, reports, "incremental" if cache is not None else "full", reuse,
                   work / SPILL if isinstance(candidates, blocking.SpilledPairs) else None)


@dataclass
class Scored:
    """The scored candidate pairs that can matter tonight (`kept_pairs`: listed for review, claimed, or a
    NIK shared below a claim), how many candidate pairs were scored, the duplicate groups, the model that
    scored them and what learning from the decisions did (`learning`)."""

    scored: pl.DataFrame
    candidates: int
    groups: pl.DataFrame
    model: FellegiSunter
    learning: dict[str, object]

    def rescore(self, tonight: Tonight, pairs: pl.DataFrame) -> pl.DataFrame:
        """Compare and score `pairs` (rid_l, rid_r) that blocking did not find tonight, with this model."""
        return rescore(tonight, self.model, pairs)

    def weighed(self, tonight: Tonight, pairs: pl.DataFrame) -> pl.DataFrame:
        """Rows of `scored` with each comparison's weight (`w_<comparison>`) beside their scores: `scored`
        holds the kept pairs without them (a float per comparison and pair is the largest part of the
        stage's memory), so the few pairs published get them here, from the same model and records."""
        return score(pairs.drop("match_weight", "match_probability"), tonight.records, tonight.comparisons,
                     self.model)


def kept_pairs(cset: ComparisonSet, listed_from: float) -> pl.Expr:
    """The scored pairs the night uses: those listed for review (`listed_from` up), claimed, or sharing a
    NIK (a NIK conflict when below a claim). The clustering reads the claimed ones only."""
    return ((pl.col("match_probability") >= min(listed_from, CLAIM))
            | (pl.col("lvl_nik") == cset.level_index("nik", "sama")))


def score_tonight(tonight: Tonight, lap: Lap, *, decided: pl.DataFrame, same: pl.DataFrame, different: pl.DataFrame,
                  struck: pl.DataFrame, keep_rules: list[decisions.KeepRule], learn_min: int,
                  listed_from: float) -> Scored:
    """Learn from the `decided` pairs (SAMA/BEDA, with rid_l, rid_r) once there are `learn_min` each way and
    a held-out share says the claims get no worse; score every compared pair, keeping those `kept_pairs`
    names; group the pairs at or above the claim, `same` pairs (a person's SAMA) joined and `different` ones
    (BEDA) kept apart, each group's record to keep chosen by `keep_rules`; a `struck` record's reason says
    which record its SAMA kept."""
    records, cset = tonight.records, tonight.comparisons
    model, learning = learn_from_decisions(tonight.model, tonight.compared, records, cset, decided, learn_min)
    scored = score(tonight.compared, records, cset, model, weights=False, keep=kept_pairs(cset, listed_from))
    candidates = frames.height(tonight.compared)
    if tonight.spill is not None:   # scored: the pairs on disk are done with (and must not be published)
        shutil.rmtree(tonight.spill, ignore_errors=True)
    log.info("scored %s pairs: how likely each is one person (%.1f s)", f"{candidates:,}", lap("score"))
    groups = clustering.cluster(scored, records, lambda pairs: rescore(tonight, model, pairs), threshold=CLAIM,
                                keep_rules=keep_rules, same=same, different=different)
    log.info("found %s people registered more than once (%.1f s)", f"{groups['group_id'].n_unique():,}",
             lap("cluster"))
    return Scored(scored, candidates, _note_decisions(groups, struck), model, learning)


def rescore(tonight: Tonight, model: FellegiSunter, pairs: pl.DataFrame) -> pl.DataFrame:
    """Compare and score `pairs` (rid_l, rid_r) that blocking did not find tonight."""
    return score(compare(tonight.records, pairs, tonight.comparisons), tonight.records, tonight.comparisons, model)


def _note_decisions(groups: pl.DataFrame, struck: pl.DataFrame) -> pl.DataFrame:
    """Say in a group member's reason that a person's SAMA takes its TPS, and for which record."""
    why = struck.select("voter_id", pl.concat_str([pl.lit("; dicoret dari TPS: SAMA dengan "), pl.col("kept_voter_id"),
                                                   pl.lit(" (dikonfirmasi petugas)")]).alias("_struck"))
    return groups.join(why, on="voter_id", how="left").with_columns(
        pl.concat_str([pl.col("reason"), pl.col("_struck").fill_null("")]).alias("reason")).drop("_struck")


def pairs_table(scored: pl.DataFrame, cset: ComparisonSet) -> pl.DataFrame:
    """The published shape of scored pairs: ids, probability, weight, one level column per comparison and
    its weight (`w_<comparison>`, bits: the prior and these sum to match_weight), the reason in words, the
    hold that keeps it below a claim (`tahan`, its code, or null), and whether the pair lies within one
    source or across two."""
    ids = pair_ids(scored)
    levels = [pl.col(c.level_column).replace_strict(dict(enumerate(c.codes)), return_dtype=pl.String).alias(c.name)
              for c in cset.comparisons]
    weights = [f"w_{c.name}" for c in cset.comparisons]
    holds: list[pl.Expr] = [pl.when(h.condition.fill_null(False)).then(pl.lit(h.code)) for h in cset.holds]
    held = pl.coalesce(holds or [pl.lit(None, pl.String)]).cast(pl.String).alias("tahan")
    return scored.with_columns(ids.alias("pair_id"), explain(scored, cset), held).select(
        "pair_id", "voter_id_l", "voter_id_r", "match_probability", "match_weight", *levels, *weights, "alasan",
        "tahan",
        pl.when(pl.col("source_l") == pl.col("source_r")).then(pl.lit("dalam")).otherwise(pl.lit("lintas"))
        .alias("scope"),
        blocking.pass_names(pl.col("pass_mask"), blocking.default_passes()).alias("blocking_passes"),
    ).sort("match_probability", "pair_id", descending=[True, False])


def model_table(model: FellegiSunter, cset: ComparisonSet) -> pl.DataFrame:
    """The fitted model as the published `model_levels` table: the prior (MODEL_PRIOR, its weight
    log2(λ/(1-λ))), every level of every comparison in order (code, label, m, u, weight, fixed, tf: its weight
    is adjusted per pair by term frequency) and the holds (MODEL_HOLD: code, reason, the probability a held
    pair stays at)."""
    rows: list[dict[str, object]] = [{"urutan": 0, "comparison": MODEL_PRIOR, "level_index": 0, "level": "lambda",
                                      "label": "peluang awal (prior)", "m": None, "u": None,
                                      "weight": model.prior_weight, "fixed": False, "tf": False, "at_most": None}]
    for k, (c, p) in enumerate(zip(cset.comparisons, model.comparisons, strict=True), start=1):
        weights = p.weights()
        tf = {i + 1 for i, lv in enumerate(c.levels) if lv.tf} if c.tf_column else set()
        rows += [{"urutan": k, "comparison": c.name, "level_index": i, "level": code, "label": label,
                  "m": p.m[i], "u": p.u[i], "weight": float(weights[i]), "fixed": code in p.fixed, "tf": i in tf,
                  "at_most": None} for i, (code, label) in enumerate(zip(c.codes, c.labels, strict=True))]
    rows += [{"urutan": len(cset.comparisons) + 1, "comparison": MODEL_HOLD, "level_index": i, "level": h.code,
              "label": h.reason, "m": None, "u": None, "weight": None, "fixed": None, "tf": None,
              "at_most": h.at_most} for i, h in enumerate(cset.holds)]
    return pl.DataFrame(rows, schema={"urutan": pl.Int32, "comparison": pl.String, "level_index": pl.Int32,
                                      "level": pl.String, "label": pl.String, "m": pl.Float64, "u": pl.Float64,
                                      "weight": pl.Float64, "fixed": pl.Boolean, "tf": pl.Boolean,
                                      "at_most": pl.Float64})
