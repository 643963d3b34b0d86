"""Stage: score. A Fellegi-Sunter model over the comparison levels.

u (the chance of each level between two different people) is counted on random record pairs (for a
comparison with `u_given`, on pairs aligned with what another comparison counts); m (the chance between two
records of one person) is estimated by EM on the candidate pairs' level patterns, without labels. Levels
with a fixed weight enter EM with that weight only and are not learned. The prior comes from the comparison
set's deterministic rule and its stated recall (`fit`). A level flagged `tf` is adjusted by the frequency of
the agreeing value: two records that share a rare name are stronger evidence than two that share SITI.
Holds keep some pairs below a claim. The fitted model is plain JSON, every level with its condition.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dpt_pipeline.errors import ConfigError, StorageError
from dpt_pipeline.io.files import read_regular
from dpt_pipeline.linkage import blocking as block
from dpt_pipeline.linkage.comparisons import NULL, Comparison, ComparisonSet, compare

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
    conditions: list[str] = field(default_factory=list)     # each level's condition, as the code had it
    # Levels whose u is P(level | U) while the others' is conditional (the comparison's `u_given`): u sums
    # to 1 over the others.
    u_plain: list[str] = field(default_factory=list)

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
    prior: dict[str, float] = field(default_factory=dict)   # how lambda was found (rule pairs, recall ...)

    @property
    def prior_weight(self) -> float:
        return math.log2(self.lambda_ / (1 - self.lambda_))

    def to_json(self) -> str:
        # allow_nan=False: a model that holds NaN is a bug, never a file for the next night.
        return json.dumps({
            "model": "fellegi-sunter", "lambda": self.lambda_, "em_iterations": self.em_iterations,
            "random_pairs": self.random_pairs, "prior": self.prior,
            "comparisons": [{"name": c.name, "levels": [
                {"code": code, "m": c.m[i], "u": c.u[i], "weight": float(c.weights()[i]),
                 **({"fixed": True} if code in c.fixed else {}),
                 **({"u_plain": True} if code in c.u_plain else {}),
                 **({"condition": c.conditions[i]} if i < len(c.conditions) else {})}
                for i, code in enumerate(c.codes)]} for c in self.comparisons],
        }, indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "model", cset: ComparisonSet | None = None
                  ) -> FellegiSunter:
        """The model a `to_json` text holds, every field checked: the keys and their types, every m and u
        finite and strictly between 0 and 1 (the null level's unused 0 aside) and summing to 1 (u over the
        levels not marked plain), lambda strictly between 0 and 1, fixed weights finite; with `cset`, also
        its comparisons, level codes, conditions, fixed weights and plain-u marks (`check`). Anything else
        is a ModelFileError naming `source` and the field."""
        try:
            model = _parse(_json_object(text))
            problem = model.problem()
            if problem is None and cset is not None:
                problem = model.mismatch(cset)
        except _Bad as e:
            problem = str(e)
        if problem is not None:
            raise ModelFileError(source, problem)
        return model

    @classmethod
    def load(cls, path: Path, cset: ComparisonSet | None = None) -> FellegiSunter:
        """`from_json` of the file at `path`; a file that cannot be read is a StorageError."""
        try:
            size = path.stat().st_size
        except OSError as e:
            raise StorageError(f"{path}: cannot read the model file ({type(e).__name__}: {e.strerror})") from e
        if size > MAX_MODEL_BYTES:
            raise ModelFileError(str(path), f"the file holds {size} bytes; a fitted model is a few kilobytes")
        data = read_regular(path, "[linkage].model")
        return cls.from_json(data, str(path), cset)

    def problem(self) -> str | None:
        """What makes this model unusable (a field and why), or None: the checks of `from_json` that need
        no comparison set."""
        if not math.isfinite(self.lambda_) or not 0 < self.lambda_ < 1:
            return f"lambda {_describe(self.lambda_)}, not strictly between 0 and 1"
        if not self.comparisons:
            return "no comparisons"
        seen: set[str] = set()
        for c in self.comparisons:
            where = f"comparison {_shown(c.name)}"
            if c.name in seen:
                return f"{where} appears twice"
            seen.add(c.name)
            if not len(c.codes) == len(c.m) == len(c.u):
                return f"{where}: {len(c.codes)} level codes but {len(c.m)} m and {len(c.u)} u values"
            if len(c.codes) < 2 or c.codes[NULL] != "null":
                return f"{where}: the levels must start with 'null' and hold at least one more"
            if len(set(c.codes)) < len(c.codes):
                return f"{where}: a level code appears twice"
            for code, w in c.fixed.items():
                if code not in c.codes[1:]:
                    return f"{where}: a fixed weight for a level it does not have"
                if not math.isfinite(w):
                    return f"{where} level {c.codes.index(code)} ({_bare(code)}): fixed weight {_describe(w)}"
            if any(code not in c.codes[1:] for code in c.u_plain):
                return f"{where}: a plain-u mark for a level it does not have"
            for key, values in (("m", c.m), ("u", c.u)):
                for i, x in enumerate(values):
                    lo_ok = x >= 0 if i == NULL else x > 0
                    if not math.isfinite(x) or not lo_ok or not x < 1:
                        bound = "between 0 and 1" if i == NULL else "strictly between 0 and 1"
                        return f"{where} level {i} ({_bare(c.codes[i])}): {key} {_describe(x)}, not {bound}"
                plain = c.u_plain if key == "u" else []
                total = math.fsum(x for i, x in enumerate(values) if i != NULL and c.codes[i] not in plain)
                if abs(total - 1) > SUM_TOLERANCE:
                    return f"{where}: {key} sums to {total:.6g} over the levels, not 1"
        return None

    def mismatch(self, cset: ComparisonSet) -> str | None:
        """How this model's comparisons differ from `cset`'s (names, level count, level codes, the fixed
        weights, the plain-u marks, the level conditions), or None. Called after `problem` (which checks m
        and u against the codes)."""
        names = [c.name for c in cset.comparisons]
        mine = [c.name for c in self.comparisons]
        if mine != names:
            return f"comparisons {_listed(mine)} do not match the engine's {names}"
        for c, p in zip(cset.comparisons, self.comparisons, strict=True):
            where = f"comparison {c.name!r}"
            if len(p.codes) != len(c.codes):
                return f"{where} has {len(p.codes)} levels, the engine's {len(c.codes)} ({c.codes})"
            if p.codes != c.codes:
                return f"{where}: levels {_listed(p.codes)} do not match the engine's {c.codes}"
            fixed = {lv.code: lv.weight for lv in c.levels if lv.weight is not None}
            if set(p.fixed) != set(fixed):
                return (f"{where}: fixed-weight levels {_listed(sorted(p.fixed))} do not match the engine's "
                        f"{sorted(fixed)}")
            for code, w in fixed.items():
                if p.fixed[code] != w:
                    return f"{where} level {c.codes.index(code)} ({code}): fixed weight {p.fixed[code]!r}, " \
                           f"the engine's {w!r} (a fixed weight is the code's, with its reason)"
            plain = set(c.u_plain_codes)
            if set(p.u_plain) != plain:
                return f"{where}: plain-u levels {_listed(sorted(p.u_plain))} do not match the engine's {sorted(plain)}"
            if not p.conditions:
                return f"{where}: the file does not record its levels' conditions (fitted by an earlier version)"
            for i, (mine_c, code_c) in enumerate(zip(p.conditions, c.conditions(), strict=False)):
                if mine_c != code_c:
                    return (f"{where} level {i} ({c.codes[i]}): its condition differs from the engine's (the "
                            f"comparison changed since the model was fitted)")
            if len(p.conditions) != len(c.codes):
                return f"{where}: {len(p.conditions)} level conditions for {len(c.codes)} levels"
        return None

    def check(self, cset: ComparisonSet, source: str = "model") -> None:
        """Refuse (ModelFileError) a model with unusable numbers or comparisons other than `cset`'s."""
        problem = self.problem() or self.mismatch(cset)
        if problem is not None:
            raise ModelFileError(source, problem)


# A fitted model is a few kilobytes; a file far bigger was pinned by mistake (a voter list, a database).
MAX_MODEL_BYTES = 10_000_000
# m and u of a comparison sum to 1 over its levels; a hand-rounded pinned model may be off a little.
SUM_TOLERANCE = 1e-3
_IDENTIFIER = re.compile(r"[a-z0-9_]{1,40}")


class ModelFileError(ConfigError):
    """A fitted model that cannot be used. `problem` names the field and why, with model numbers only: a
    model file holds no voter data, and a damaged one's strings are not repeated."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: not a usable fitted model: {problem}. Point [linkage] model at a "
                         f"model.json a run wrote, or remove it to fit the model afresh (refit)")
        self.source = source
        self.problem = problem


class _Bad(Exception):
    """A model file field of the wrong type or shape (the message is the ModelFileError's problem)."""


def _describe(x: float) -> str:
    if math.isnan(x):
        return "is NaN"
    if math.isinf(x):
        return "is Infinity" if x > 0 else "is -Infinity"
    return f"is {x!r}"


def _shown(value: object) -> str:
    """A name or code from a model file, quoted when it looks like one; anything else is not repeated."""
    return repr(value) if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else "(garbled)"


def _bare(value: object) -> str:
    """`_shown` without the quotes, for a level code in brackets."""
    return value if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else "garbled"


def _listed(values: Sequence[object]) -> str:
    return "[" + ", ".join(_shown(v) for v in values) + "]"


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "true or false", int: "a number",
               float: "a number", type(None): "null"}


def _json_object(text: str | bytes) -> dict[str, Any]:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _Bad(f"not UTF-8 text (byte {e.start})") from e
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise _Bad(f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from e
    except (ValueError, RecursionError) as e:   # a number of thousands of digits, arrays nested too deep
        raise _Bad(f"not valid JSON ({type(e).__name__})") from e
    if not isinstance(d, dict):
        raise _Bad(f"the file holds {_kind(d)}, not a JSON object")
    return d


def _kind(v: object) -> str:
    return _JSON_TYPES.get(type(v), "a value")


def _get(d: dict[str, Any], key: str, tp: type, where: str, optional: bool = False) -> Any:
    """d[key], of JSON type `tp` (int and float both "a number"; true and false are no number)."""
    if key not in d:
        if optional:
            return None
        raise _Bad(f"{where}: key {key!r} is missing")
    v = d[key]
    number = tp in (int, float)
    ok = (isinstance(v, int | float) if tp is float else isinstance(v, tp)) and not (number and isinstance(v, bool))
    if not ok:
        raise _Bad(f"{where}: {key!r} is {_kind(v)}, not {_JSON_TYPES[tp]}")
    return v


def _to_float(v: int | float, key: str, where: str) -> float:
    try:
        return float(v)
    except OverflowError as e:   # an integer beyond any float
        raise _Bad(f"{where}: {key!r} is a number too large") from e


def _number(d: dict[str, Any], key: str, where: str) -> float:
    return _to_float(_get(d, key, float, where), key, where)


def _parse(d: dict[str, Any]) -> FellegiSunter:
    if _get(d, "model", str, "the file") != "fellegi-sunter":
        raise _Bad("'model' is not \"fellegi-sunter\"")
    lam = _number(d, "lambda", "the file")
    extra = {}
    for key in ("em_iterations", "random_pairs"):
        v = _get(d, key, int, "the file", optional=True)
        if v is not None and v < 0:
            raise _Bad(f"{key!r} is negative")
        extra[key] = v or 0
    prior: dict[str, float] = {}
    for key, v in (_get(d, "prior", dict, "the file", optional=True) or {}).items():
        if not isinstance(key, str) or not _IDENTIFIER.fullmatch(key):
            raise _Bad("'prior' holds a key that is no identifier")
        x = _to_float(_get({key: v}, key, float, "'prior'"), key, "'prior'")
        if not math.isfinite(x):
            raise _Bad(f"'prior' {key!r} {_describe(x)}")
        prior[key] = x
    comps = []
    for k, c in enumerate(_get(d, "comparisons", list, "the file")):
        where = f"comparison {k}"
        if not isinstance(c, dict):
            raise _Bad(f"{where} is {_kind(c)}, not an object")
        name = _get(c, "name", str, where)
        where = f"comparison {_shown(name)}"
        codes: list[str] = []
        m: list[float] = []
        u: list[float] = []
        fixed: dict[str, float] = {}
        conditions: list[str] = []
        u_plain: list[str] = []
        for i, lv in enumerate(_get(c, "levels", list, where)):
            at = f"{where} level {i}"
            if not isinstance(lv, dict):
                raise _Bad(f"{at} is {_kind(lv)}, not an object")
            code = _get(lv, "code", str, at)
            m.append(_number(lv, "m", at))
            u.append(_number(lv, "u", at))
            w = _get(lv, "weight", float, at, optional=True)
            weight = None if w is None else _to_float(w, "weight", at)
            if _get(lv, "fixed", bool, at, optional=True):
                if weight is None:
                    raise _Bad(f"{at}: a fixed level without 'weight'")
                fixed[code] = weight
            elif weight is not None and not math.isfinite(weight):
                raise _Bad(f"{at}: weight {_describe(weight)}")
            if _get(lv, "u_plain", bool, at, optional=True):
                u_plain.append(code)
            condition = _get(lv, "condition", str, at, optional=True)
            if condition is not None:
                conditions.append(condition)
            codes.append(code)
        if conditions and len(conditions) != len(codes):
            raise _Bad(f"{where}: some levels record a condition and others do not")
        comps.append(ComparisonParams(name, codes, m, u, fixed, conditions, u_plain))
    return FellegiSunter(comps, lam, extra["em_iterations"], extra["random_pairs"], prior)


def _levels(frame: pl.DataFrame, cset: ComparisonSet) -> np.ndarray:
    return frame.select([c.level_column for c in cset.comparisons]).to_numpy().astype(np.int16)


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
    levels = _levels(compare(records, pairs, cset, slim=True), cset)
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
    return _levels(compare(stacked, aligned, one), one)[:, 0]


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


def fit(candidates: pl.DataFrame, records: pl.DataFrame, cset: ComparisonSet,
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
    levels = _levels(candidates, cset)
    fixed_cols: np.ndarray = np.zeros((len(levels),))
    fixed_levels = []
    learned = []
    for k, c in enumerate(cset.comparisons):
        is_fixed = np.array([False, *(lv.weight is not None for lv in c.levels)])
        fixed_levels.append(is_fixed)
        for idx in np.flatnonzero(is_fixed):
            weight = c.levels[idx - 1].weight
            assert weight is not None
            fixed_cols += np.where(levels[:, k] == idx, weight * math.log(2), 0.0)
        if not is_fixed[1:].all():
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
                         max_iter, tol, fixed_levels)
        iterations += it
        for k in estimate:
            learned_m[k].append(m_s[k])
        log.info("EM session on %s: %d pairs, %d iterations", sess.passes or "all", int(mask.sum()), it)
    for k, ms in learned_m.items():
        if ms:
            m_list[k] = np.mean(ms, axis=0)
    pats, rows, cnt = _unique_rows(levels)
    _, lam, it = _em(pats, cnt.astype(float), u_list, m_list, 0.1, fixed_cols[rows], learned, set(), max_iter, tol,
                     fixed_levels)
    params = []
    for k, c in enumerate(cset.comparisons):
        fixed = {lv.code: lv.weight for lv in c.levels if lv.weight is not None}
        params.append(ComparisonParams(c.name, c.codes, [float(x) for x in m_list[k]],
                                       [float(x) for x in u_list[k]], fixed, c.conditions(), c.u_plain_codes))
    n = records.height
    possible = max(possible_pairs if possible_pairs is not None else n * (n - 1) / 2, 1.0)
    em_share = lam * len(levels) / possible
    prior: dict[str, float] = {"em_matches": round(lam * len(levels), 1)}
    ruled = 0
    if cset.prior_rule is not None and prior_recall is not None:
        ruled = candidates.select(cset.prior_rule.fill_null(False).sum()).item() if len(levels) else 0
        prior |= {"rule_pairs": float(ruled), "rule_recall": prior_recall}
        if ruled < MIN_RULE_PAIRS:
            log.warning("the prior's rule found %d pairs (fewer than %d): the prior is EM's share of matches "
                        "among the candidates instead", ruled, MIN_RULE_PAIRS)
    if prior_recall is not None and ruled >= MIN_RULE_PAIRS:
        share = ruled / prior_recall / possible
    else:
        prior["from_em"] = 1.0
        share = em_share
    lam_all = min(max(share, 1e-15), 1 - 1e-9)
    log.info("Fellegi-Sunter fitted: prior over all pairs %.3g (%s); EM counts %.0f matches among %d candidates",
             lam_all, f"{prior.get('rule_pairs', 0):.0f} pairs by the deterministic rule / recall {prior_recall}"
             if "from_em" not in prior else "EM's share", lam * len(levels), len(levels))
    return FellegiSunter(params, lam_all, iterations + it, n_random, prior)


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
            # Each record's value frequency once, then the larger of the pair's two (symmetric: a pair scores
            # the same whichever record is on the left, also where the level accepts unequal values).
            tf = records.select(pl.col(c.tf_column).alias("value")).join(
                term_frequencies(records, c.tf_column), on="value", how="left", maintain_order="left")["tf"]
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
        cols.append(pl.Series(f"w_{c.name}", w.astype(np.float32)))
    prob = 1.0 / (1.0 + np.exp2(-total))
    # A hold keeps a pair below a claim, whatever its weight: a case for a person (`Hold`).
    for hold in cset.holds:
        held = candidates.select(hold.condition.fill_null(False))[:, 0].to_numpy()
        prob = np.where(held, np.minimum(prob, hold.at_most), prob)
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
        params.append(ComparisonParams(p.name, list(p.codes), [float(x) for x in m], list(p.u), dict(p.fixed),
                                       list(p.conditions), list(p.u_plain)))
    return FellegiSunter(params, model.lambda_, model.em_iterations, model.random_pairs, dict(model.prior))
