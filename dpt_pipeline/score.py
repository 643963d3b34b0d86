"""Stage: score. A Fellegi-Sunter model over the comparison levels.

u (the chance of each level between two different people) is counted on random record pairs; m (the
chance between two records of one person) and the share of matches among candidates (lambda) are
estimated by EM on the candidate pairs' level patterns, without labels. Levels with a fixed weight (the
household patterns) take part in EM's E-step but are not learned. A level flagged `tf` is adjusted by
the frequency of the agreeing value: two records that share a rare name are stronger evidence than two
that share SITI. The fitted model is plain JSON.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from dpt_pipeline import block
from dpt_pipeline.compare import NULL, ComparisonSet, compare
from dpt_pipeline.errors import ConfigError

log = logging.getLogger(__name__)

_FLOOR = 1e-9
# m is never taken below this: a level that EM saw no match at (a changed sex, say) would otherwise
# weigh -30 bits and veto every other agreement; data-entry errors do happen.
M_FLOOR = 1e-3
TF_MAX_BOOST = 8.0


@dataclass
class ComparisonParams:
    name: str
    codes: list[str]
    m: list[float]
    u: list[float]
    fixed: dict[str, float] = field(default_factory=dict)  # code -> weight (bits)

    def weights(self) -> np.ndarray:
        """Match weight (bits) by level index; the null level weighs 0."""
        w = np.zeros(len(self.codes))
        for i, code in enumerate(self.codes):
            if i == NULL:
                continue
            if code in self.fixed:
                w[i] = self.fixed[code]
            else:
                w[i] = math.log2(max(self.m[i], M_FLOOR) / max(self.u[i], _FLOOR))
        return w


@dataclass
class FellegiSunter:
    comparisons: list[ComparisonParams]
    lambda_: float
    em_iterations: int = 0
    random_pairs: int = 0

    @property
    def prior_weight(self) -> float:
        return math.log2(self.lambda_ / (1 - self.lambda_))

    def to_json(self) -> str:
        return json.dumps({
            "model": "fellegi-sunter", "lambda": self.lambda_, "em_iterations": self.em_iterations,
            "random_pairs": self.random_pairs,
            "comparisons": [{"name": c.name, "levels": [
                {"code": code, "m": c.m[i], "u": c.u[i], "weight": float(c.weights()[i]),
                 **({"fixed": True} if code in c.fixed else {})}
                for i, code in enumerate(c.codes)]} for c in self.comparisons],
        }, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> FellegiSunter:
        try:
            d = json.loads(text)
            comps = [ComparisonParams(
                c["name"], [lv["code"] for lv in c["levels"]], [lv["m"] for lv in c["levels"]],
                [lv["u"] for lv in c["levels"]],
                {lv["code"]: lv["weight"] for lv in c["levels"] if lv.get("fixed")})
                for c in d["comparisons"]]
            return cls(comps, d["lambda"], d.get("em_iterations", 0), d.get("random_pairs", 0))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{source}: not a fitted model file: {e}") from e

    @classmethod
    def load(cls, path: Path) -> FellegiSunter:
        return cls.from_json(path.read_text(encoding="utf-8"), str(path))

    def check(self, cset: ComparisonSet, source: str = "model") -> None:
        names = [c.name for c in cset.comparisons]
        if [c.name for c in self.comparisons] != names:
            raise ConfigError(f"{source}: comparisons {[c.name for c in self.comparisons]} do not match "
                              f"the engine's {names}; refit the model (remove the pinned file)")


def _levels(frame: pl.DataFrame, cset: ComparisonSet) -> np.ndarray:
    return frame.select([c.level_column for c in cset.comparisons]).to_numpy().astype(np.int16)


def _random_pairs(n: int, n_pairs: int, rng: np.random.Generator) -> pl.DataFrame:
    if n < 2:  # a roll of one voter or none has no pairs at all
        return pl.DataFrame(schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32})
    a = rng.integers(0, n, n_pairs, dtype=np.int64)
    b = rng.integers(0, n, n_pairs, dtype=np.int64)
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    return pl.DataFrame({"rid_l": lo.astype(np.uint32), "rid_r": hi.astype(np.uint32)}).unique()


def estimate_u(records: pl.DataFrame, cset: ComparisonSet, n_pairs: int, seed: int) -> tuple[list[np.ndarray], int]:
    """Level frequencies among random record pairs (almost all of them two different people)."""
    pairs = _random_pairs(records.height, n_pairs, np.random.default_rng(seed))
    levels = _levels(compare(records, pairs, cset, slim=True), cset)
    out = []
    for k, c in enumerate(cset.comparisons):
        counts = np.bincount(levels[:, k], minlength=len(c.codes)).astype(float)
        counts[NULL] = 0
        # Half a pair where none was seen: random pairs almost never share a NIK, and log(0) is no answer.
        counts[1:] = np.maximum(counts[1:], 0.5)
        out.append(counts / counts.sum())
    return out, pairs.height



@dataclass(frozen=True)
class TrainingSession:
    """EM on the candidate pairs found by `passes`, learning m for every comparison except `frozen`.

    As in Splink, a comparison whose fields the passes blocked on is frozen in that session: among pairs
    that share a NIK, the NIK says nothing about which are matches. m of each comparison is the mean over
    the sessions that learned it.
    """

    passes: tuple[str, ...]
    frozen: tuple[str, ...]


def dpt_training() -> list[TrainingSession]:
    """Pairs sharing a NIK teach everything but the NIK; pairs sharing a name sound and a birth date (pass
    `nama_tanggal`) teach everything but the name and the date. Both sets are mostly one person each, so EM
    finds the matches and not some other cluster (pairs sharing only a name are mostly namesakes at scale)."""
    return [TrainingSession(("nik",), ("nik",)),
            TrainingSession(("nama_tanggal",), ("nama", "tanggal_lahir"))]


def _unique_rows(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(levels, axis=0, return_index, return_counts), fast: each row as one mixed-radix integer,
    grouped by hash (polars) rather than sorted; patterns in ascending order of that integer."""
    if len(levels) == 0:
        return levels, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    radix = levels.max(axis=0).astype(np.int64) + 1
    code = np.zeros(len(levels), dtype=np.int64)
    for k in range(levels.shape[1]):
        code = code * radix[k] + levels[:, k]
    groups = (pl.DataFrame({"code": code}).with_row_index("i").group_by("code")
              .agg(pl.col("i").min(), pl.len().alias("n")).sort("code"))
    idx = groups["i"].to_numpy().astype(np.int64)
    return levels[idx], idx, groups["n"].to_numpy().astype(np.int64)


def _em(patterns: np.ndarray, counts: np.ndarray, u_list: list[np.ndarray], m_list: list[np.ndarray],
        lam: float, fixed_w: np.ndarray, used: list[int], estimate: set[int], max_iter: int, tol: float
        ) -> tuple[list[np.ndarray], float, int]:
    """EM over level patterns; `used` comparisons enter the E-step, `estimate` ones get new m."""
    m_list = [m.copy() for m in m_list]
    if counts.sum() == 0:  # no pairs: nothing to learn
        return m_list, lam, 0
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        logit = np.full(len(patterns), math.log(lam / (1 - lam))) + fixed_w
        for k in used:
            lv = patterns[:, k]
            mask = lv != NULL
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


def fit(candidates: pl.DataFrame, records: pl.DataFrame, cset: ComparisonSet,
        sessions: list[TrainingSession] | None = None, *, passes: Sequence[block.BlockingPass | block.NikEditPass]
        | None = None, random_pairs: int = 300_000, seed: int = 0, max_iter: int = 200, tol: float = 1e-6,
        possible_pairs: float | None = None) -> FellegiSunter:
    """Estimate u on random pairs, then m by EM sessions on the compared candidate pairs (no labels), then
    the share of matches among the candidates with m and u held.

    The model's lambda is that share spread over every pair the records could form (`possible_pairs`,
    n(n-1)/2 by default), as in Splink: u is counted on random pairs, not on candidates, so a prior taken
    over candidates would count the fields the passes blocked on twice. It also grows stricter with the
    roll's size, as it should: among a million voters a shared name and birth date happen by chance more
    often than among twenty thousand.
    """
    u_list, n_random = estimate_u(records, cset, random_pairs, seed)
    passes = block.default_passes() if passes is None else passes
    names = [c.name for c in cset.comparisons]
    levels = _levels(candidates, cset)
    fixed_cols: np.ndarray = np.zeros((len(levels),))
    learned = []
    for k, c in enumerate(cset.comparisons):
        fixed_at = {i + 1: lv.weight for i, lv in enumerate(c.levels) if lv.weight is not None}
        for idx, w in fixed_at.items():
            fixed_cols += np.where(levels[:, k] == idx, w * math.log(2), 0.0)
        if len(fixed_at) < len(c.levels):
            learned.append(k)
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
        if sess.passes:
            bits = block.pass_bits(sess.passes, passes)
            mask: np.ndarray = ((candidates["pass_mask"] & bits) != 0).to_numpy()
        else:
            mask = np.ones(len(levels), dtype=bool)
        if mask.sum() == 0:
            log.warning("training session on %s has no pairs; skipped", sess.passes)
            continue
        # A frozen comparison is left out of the session altogether: the pairs were chosen by its fields.
        estimate = {k for k in learned if names[k] not in sess.frozen}
        pats, rows, cnt = _unique_rows(levels[mask])
        fw = fixed_cols[mask][rows]
        m_s, _, it = _em(pats, cnt.astype(float), u_list, m_list, 0.5, fw, sorted(estimate), estimate,
                         max_iter, tol)
        iterations += it
        for k in estimate:
            learned_m[k].append(m_s[k])
        log.info("EM session on %s: %d pairs, %d iterations", sess.passes or "all", int(mask.sum()), it)
    for k, ms in learned_m.items():
        if ms:
            m_list[k] = np.mean(ms, axis=0)
    pats, rows, cnt = _unique_rows(levels)
    _, lam, it = _em(pats, cnt.astype(float), u_list, m_list, 0.1, fixed_cols[rows], learned, set(), max_iter, tol)
    params = []
    for k, c in enumerate(cset.comparisons):
        fixed = {lv.code: lv.weight for lv in c.levels if lv.weight is not None}
        params.append(ComparisonParams(c.name, c.codes, [float(x) for x in m_list[k]],
                                       [float(x) for x in u_list[k]], fixed))
    n = records.height
    possible = possible_pairs if possible_pairs is not None else n * (n - 1) / 2
    lam_all = min(max(lam * len(levels) / max(possible, 1.0), 1e-15), 1 - 1e-9)
    log.info("Fellegi-Sunter fitted: %.5f of %d candidate pairs match; prior over all pairs %.3g", lam,
             len(levels), lam_all)
    return FellegiSunter(params, lam_all, iterations + it, n_random)


def term_frequencies(records: pl.DataFrame, column: str) -> pl.DataFrame:
    """Share of records holding each value of `column` (value, tf)."""
    n = records.height
    return (records.group_by(column).len().drop_nulls(column)
            .select(pl.col(column).alias("value"), (pl.col("len") / n).alias("tf")))


def score(candidates: pl.DataFrame, records: pl.DataFrame, cset: ComparisonSet, model: FellegiSunter
          ) -> pl.DataFrame:
    """Add `w_<comparison>` (bits), match_weight and match_probability to the compared pairs (rid_l,
    rid_r and the level columns)."""
    model.check(cset)
    levels = _levels(candidates, cset)
    total = np.full(len(candidates), model.prior_weight)
    cols = []
    for k, (c, p) in enumerate(zip(cset.comparisons, model.comparisons, strict=True)):
        w = p.weights()[levels[:, k]]
        tf_levels = [i + 1 for i, lv in enumerate(c.levels) if lv.tf]
        if c.tf_column and tf_levels:
            # Each record's value frequency once, then gathered by the pair's left record.
            tf = records.select(pl.col(c.tf_column).alias("value")).join(
                term_frequencies(records, c.tf_column), on="value", how="left", maintain_order="left")["tf"]
            values = tf.gather(candidates["rid_l"]).to_numpy()
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
        cols.append(pl.Series(f"w_{c.name}", w.astype(np.float32)))
    prob = 1.0 / (1.0 + np.exp2(-total))
    return candidates.with_columns(*cols, pl.Series("match_weight", total), pl.Series("match_probability", prob))


def with_decisions(model: FellegiSunter, same_pairs: pl.DataFrame, cset: ComparisonSet,
                   prior_pairs: float = 50.0) -> FellegiSunter:
    """m counted on pairs reviewers decided are one person (their level columns), blended with EM's m as
    if EM's estimate were `prior_pairs` such pairs. Fixed-weight levels stay fixed; u and lambda stay."""
    levels = _levels(same_pairs, cset)
    params = []
    for k, (c, p) in enumerate(zip(cset.comparisons, model.comparisons, strict=True)):
        counts = np.bincount(levels[:, k], minlength=len(c.codes)).astype(float) if len(levels) else \
            np.zeros(len(c.codes))
        counts[NULL] = 0
        m_em = np.asarray(p.m, dtype=float)
        m = (counts + prior_pairs * m_em) / (counts[1:].sum() + prior_pairs)
        m[NULL] = 0.0
        params.append(ComparisonParams(p.name, list(p.codes), [float(x) for x in m], list(p.u), dict(p.fixed)))
    return FellegiSunter(params, model.lambda_, model.em_iterations, model.random_pairs)
