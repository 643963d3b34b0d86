"""Fitting the model without labels: u counted on random record pairs (for a comparison with `u_given`,
on pairs aligned with what another comparison counts), m by EM on the candidate pairs' level patterns, one
session per blocking pass (`TrainingSession`), the prior from the comparison set's deterministic rule and
its stated recall. Levels with a fixed weight enter EM with that weight only and are not learned."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from dpt_pipeline.core import frames
from dpt_pipeline.errors import ConfigError
from dpt_pipeline.linkage import blocking as block
from dpt_pipeline.linkage.comparisons import NULL, Comparison, ComparisonSet, compare
from dpt_pipeline.linkage.model.fellegi_sunter import _FLOOR, ComparisonParams, FellegiSunter, level_matrix

log = logging.getLogger(__name__)


def _random_pairs(n: int, n_pairs: int, rng: np.random.Generator) -> pl.DataFrame:
    if n < 2:  # a roll of one voter or none has no pairs at all
        return pl.DataFrame(schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32})
    a = rng.integers(0, n, n_pairs, dtype=np.int64)
    b = rng.integers(0, n, n_pairs, dtype=np.int64)
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    # In drawing order: the aligned levels (`u_given`) draw a random number per pair by position.
    return pl.DataFrame({"rid_l": lo.astype(np.uint32), "rid_r": hi.astype(np.uint32)}).unique(maintain_order=True)


def estimate_u(records: pl.DataFrame, cset: ComparisonSet, n_pairs: int, seed: int) -> tuple[list[np.ndarray], int]:
    """Level frequencies among random record pairs (almost all of them two different people). A comparison
    with `u_given` is counted on the same pairs as that function leaves them (its right records aligned
    with the left ones on what another comparison counts)."""
    pairs = _random_pairs(records.height, n_pairs, np.random.default_rng(seed))
    levels = level_matrix(compare(records, pairs, cset, slim=True), cset)
    out = []
    for k, c in enumerate(cset.comparisons):
        u = _shares(levels[:, k], len(c.codes))
        if c.u_given is not None:
            plain = np.isin(c.codes, c.u_plain_codes)
            # Its own random stream, apart from the one that drew the pairs.
            aligned = _shares(_aligned_levels(records, pairs, c, np.random.default_rng([seed, 1])), len(c.codes),
                              ~plain)
            u = np.where(plain, u, aligned)
        out.append(u)
    return out, pairs.height


def _shares(levels: np.ndarray, n_levels: int, over: np.ndarray | None = None) -> np.ndarray:
    """Each level's share of the pairs (the null level's 0), over the levels marked in `over` (all but
    null by default)."""
    counts = np.bincount(levels, minlength=n_levels).astype(float)
    counts[NULL] = 0
    # Half a pair where none was seen: random pairs almost never share a NIK, and log(0) is no answer.
    counts[1:] = np.maximum(counts[1:], 0.5)
    if over is not None:
        counts[~over] = 0
    return counts / counts.sum()


def _aligned_levels(records: pl.DataFrame, pairs: pl.DataFrame, c: Comparison, rng: np.random.Generator
                    ) -> np.ndarray:
    """The levels of comparison `c` on `pairs` after `c.u_given` aligned each right record with its left."""
    assert c.u_given is not None
    cols = list(dict.fromkeys([*c.columns, *(s.column for s in c.similarities)]))
    left = records.select(cols).gather(pairs["rid_l"])
    right = c.u_given(records, left, records.select(cols).gather(pairs["rid_r"]), rng)
    n = pairs.height
    stacked = pl.concat([left, right.select(cols)]).with_row_index("rid")
    one = ComparisonSet((c,), id_column=cols[0])
    aligned = pl.DataFrame({"rid_l": np.arange(n, dtype=np.uint32), "rid_r": np.arange(n, 2 * n, dtype=np.uint32)})
    return level_matrix(compare(stacked, aligned, one), one)[:, 0]


@dataclass(frozen=True)
class TrainingSession:
    """EM on the candidate pairs found by `passes`, learning m for every comparison except `frozen`.

    As in Splink, a comparison whose fields the passes blocked on is frozen in that session: among pairs
    that share a NIK, the NIK says nothing about which are matches. m of each comparison is the mean over
    the sessions that learned it.
    """

    passes: tuple[str, ...]
    frozen: tuple[str, ...]


def _pattern_counts(candidates: frames.Frame, cset: ComparisonSet, has_mask: bool) -> pl.DataFrame:
    """The candidate pairs counted per level pattern and `pass_mask` (the level columns, pass_mask, `n`);
    without a pass_mask column (`has_mask` False) every pair counts under mask 0."""
    cols = [c.level_column for c in cset.comparisons]
    mask = pl.col("pass_mask") if has_mask else pl.lit(0, pl.UInt32).alias("pass_mask")
    return frames.collect(candidates.lazy().group_by(*cols, mask).agg(pl.len().alias("n")), candidates)


def _patterns(by_mask: pl.DataFrame, cset: ComparisonSet, bits: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct level patterns of the pairs some pass in `bits` found (every pair: None) and how many
    pairs hold each, in ascending order of their level tuples."""
    cols = [c.level_column for c in cset.comparisons]
    rows = by_mask if bits is None else by_mask.filter((pl.col("pass_mask") & bits) != 0)
    grouped = rows.group_by(cols).agg(pl.col("n").sum()).sort(cols)
    return grouped.select(cols).to_numpy().astype(np.int16), grouped["n"].to_numpy().astype(np.int64)


def _em(patterns: np.ndarray, counts: np.ndarray, u_list: list[np.ndarray], m_list: list[np.ndarray],
        lam: float, fixed_w: np.ndarray, used: list[int], estimate: set[int], max_iter: int, tol: float,
        fixed_levels: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], float, int]:
    """EM over level patterns; `used` comparisons enter the E-step, `estimate` ones get new m.

    `fixed_w` holds each pattern's fixed weights (nats); `fixed_levels[k]` marks comparison k's fixed
    levels, which enter the E-step with that weight only (never log(m/u) as well): EM trains the model that
    scores. Their m is still counted, so that the learned levels' m is their share among all matches."""
    m_list = [m.copy() for m in m_list]
    fixed_levels = fixed_levels or [np.zeros(len(m), dtype=bool) for m in m_list]
    if counts.sum() == 0:  # no pairs: nothing to learn
        return m_list, lam, 0
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        logit = np.full(len(patterns), math.log(lam / (1 - lam))) + fixed_w
        for k in used:
            lv = patterns[:, k]
            mask = (lv != NULL) & ~fixed_levels[k][lv]
            logit += np.where(mask, np.log(np.maximum(m_list[k][lv], _FLOOR))
                              - np.log(np.maximum(u_list[k][lv], _FLOOR)), 0.0)
        post = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        wpost = post * counts
        new_lam = min(max(float(wpost.sum() / counts.sum()), 1e-6), 1 - 1e-6)
        delta = abs(new_lam - lam)
        for k in estimate:
            lv = patterns[:, k]
            sums = np.bincount(lv, weights=wpost, minlength=len(m_list[k]))
            sums[NULL] = 0
            new_m = (sums + 1e-6) / (sums[1:].sum() + 1e-6 * (len(sums) - 1))
            new_m[NULL] = 0
            delta = max(delta, float(np.abs(new_m - m_list[k]).max()))
            m_list[k] = new_m
        lam = new_lam
        if delta < tol:
            break
    return m_list, lam, it


# Fewer pairs than this by the deterministic rule (a roll cleaned of its exact doubles, a tiny one) say
# nothing of the prior: EM's share of matches stands in.
MIN_RULE_PAIRS = 10


def fit(candidates: frames.Frame, records: pl.DataFrame, cset: ComparisonSet,
        sessions: list[TrainingSession] | None = None, *, passes: Sequence[block.BlockingPass | block.NikEditPass]
        | None = None, random_pairs: int = 300_000, seed: int = 0, max_iter: int = 200, tol: float = 1e-6,
        possible_pairs: float | None = None, prior_recall: float | None = None) -> FellegiSunter:
    """Estimate u on random pairs, then m by EM sessions on the compared candidate pairs (no labels), then
    the prior.

    The prior (lambda, the chance that two records drawn at random are one person) comes from the
    comparison set's deterministic rule, as Splink estimates it: the candidate pairs the rule accepts,
    divided by the share of true pairs it is stated to find (`prior_recall`), over every pair the records
    could form (`possible_pairs`, n(n-1)/2 by default). It grows stricter with the roll's size, as it
    should: among a million voters a shared name and birth date happen by chance more often than among
    twenty thousand. Without a rule (or a recall), the share of matches EM finds among the candidates,
    spread over every possible pair, stands in.
    """
    u_list, n_random = estimate_u(records, cset, random_pairs, seed)
    passes = block.default_passes() if passes is None else passes
    names = [c.name for c in cset.comparisons]
    # EM reads level patterns and their counts only: the pairs are counted once per (pattern, pass_mask),
    # a few thousand rows however many millions of pairs (a level matrix of 200 million pairs is 4 GB).
    has_mask = "pass_mask" in candidates.lazy().collect_schema().names()
    by_mask = _pattern_counts(candidates, cset, has_mask)
    n_pairs = int(by_mask["n"].sum())
    fixed_levels = []
    learned = []
    for k, c in enumerate(cset.comparisons):
        is_fixed = np.array([False, *(lv.weight is not None for lv in c.levels)])
        fixed_levels.append(is_fixed)
        if not is_fixed[1:].all():
            learned.append(k)

    def fixed_weights(patterns: np.ndarray) -> np.ndarray:
        """Each pattern's fixed weights (nats)."""
        out: np.ndarray = np.zeros((len(patterns),))
        for k, c in enumerate(cset.comparisons):
            for idx in np.flatnonzero(fixed_levels[k]):
                weight = c.levels[idx - 1].weight
                assert weight is not None
                out += np.where(patterns[:, k] == idx, weight * math.log(2), 0.0)
        return out

    # Start: m falls with the level order (level 1 is the strongest agreement).
    m_list = []
    for c in cset.comparisons:
        m = np.array([0.0] + [2.0 ** -(i * 2) for i in range(len(c.codes) - 1)])
        m_list.append(m / m.sum())
    if sessions is None:
        sessions = [TrainingSession(passes=(), frozen=())]
    learned_m: dict[int, list[np.ndarray]] = {k: [] for k in learned}
    iterations = 0
    for sess in sessions:
        unknown = [f for f in sess.frozen if f not in names]
        if unknown:
            raise ConfigError(f"training session freezes unknown comparisons {unknown}; known: {names}")
        if sess.passes and not has_mask:
            raise ValueError(f"training session on passes {list(sess.passes)}: the pairs have no pass_mask")
        bits = block.pass_bits(sess.passes, passes) if sess.passes else None
        pats, cnt = _patterns(by_mask, cset, bits)
        if cnt.sum() == 0:
            log.debug("model training on the pairs of blocking pass %s: no pairs; skipped", ", ".join(sess.passes))
            continue
        # A frozen comparison is left out of the session altogether: the pairs were chosen by its fields.
        estimate = {k for k in learned if names[k] not in sess.frozen}
        m_s, _, it = _em(pats, cnt.astype(float), u_list, m_list, 0.5, fixed_weights(pats), sorted(estimate),
                         estimate, max_iter, tol, fixed_levels)
        iterations += it
        for k in estimate:
            learned_m[k].append(m_s[k])
        log.debug("model training (EM) on the pairs of blocking pass %s: %s pairs, %d iterations",
                  ", ".join(sess.passes) or "(all)", f"{int(cnt.sum()):,}", it)
    for k, ms in learned_m.items():
        if ms:
            m_list[k] = np.mean(ms, axis=0)
    pats, cnt = _patterns(by_mask, cset, None)
    _, lam, it = _em(pats, cnt.astype(float), u_list, m_list, 0.1, fixed_weights(pats), learned, set(), max_iter,
                     tol, fixed_levels)
    params = []
    for k, c in enumerate(cset.comparisons):
        fixed = {lv.code: lv.weight for lv in c.levels if lv.weight is not None}
        params.append(ComparisonParams(c.name, c.codes, [float(x) for x in m_list[k]],
                                       [float(x) for x in u_list[k]], fixed, c.conditions(), c.u_plain_codes))
    n = records.height
    possible = max(possible_pairs if possible_pairs is not None else n * (n - 1) / 2, 1.0)
    em_share = lam * n_pairs / possible
    prior: dict[str, float] = {"em_matches": round(lam * n_pairs, 1)}
    ruled = 0
    if cset.prior_rule is not None and prior_recall is not None:
        ruled = (frames.collect(candidates.lazy().select(cset.prior_rule.fill_null(False).sum()), candidates).item()
                 if n_pairs else 0)
        prior |= {"rule_pairs": float(ruled), "rule_recall": prior_recall}
        if ruled < MIN_RULE_PAIRS:
            log.warning("only %s candidate pairs meet the rule for a sure duplicate (fewer than %s), so how many "
                        "voters are registered twice is estimated from the model alone; the probabilities may be "
                        "less sure than usual", f"{ruled:,}", f"{MIN_RULE_PAIRS:,}")
    if prior_recall is not None and ruled >= MIN_RULE_PAIRS:
        share = ruled / prior_recall / possible
    else:
        prior["from_em"] = 1.0
        share = em_share
    lam_all = min(max(share, 1e-15), 1 - 1e-9)
    log.debug("Fellegi-Sunter fitted: prior over all pairs %.3g (%s); EM counts %.0f matches among %d candidates",
              lam_all, f"{prior.get('rule_pairs', 0):.0f} pairs by the deterministic rule / recall {prior_recall}"
              if "from_em" not in prior else "EM's share", lam * n_pairs, n_pairs)
    log.info("learned the model from %s candidate pairs (about %s of them look like one person)",
             f"{n_pairs:,}", f"{round(lam * n_pairs):,}")
    return FellegiSunter(params, lam_all, iterations + it, n_random, prior)
