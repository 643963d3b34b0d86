"""The Fellegi-Sunter model over the comparison levels: for each comparison, m and u of every level (and
the fixed weights), and the prior; the plain JSON file, every level with its condition, that pins a fit, and
the refusal (`ModelFileError`) of a file that cannot be a usable fit for the comparisons. `em` fits the
model without labels, `scoring` applies it, `learning` adds reviewers' decisions."""

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
from dpt_pipeline.linkage.comparisons import NULL, ComparisonSet

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


def level_matrix(frame: pl.DataFrame, cset: ComparisonSet) -> np.ndarray:
    return frame.select([c.level_column for c in cset.comparisons]).to_numpy().astype(np.int16)
