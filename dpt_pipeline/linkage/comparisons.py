"""The comparison engine: a comparison vector per candidate pair.

A comparison is declared, not hard-wired: an ordered list of levels, each with a code, a human label
(Indonesian, what a camat reads in `alasan`) and a polars condition over the pair frame, whose columns
are `<column>_l`, `<column>_r` and the similarity scores the comparison asks for. The first level whose
condition holds is the pair's level; level 0 is "missing on either side" and carries no evidence. A
level may carry a fixed weight (a prior from domain knowledge, not learned); the others get m and u
from the model. Another schema is linked by declaring other comparisons (see `febrl`).

String similarities are computed with rapidfuzz's batch `cpdist` on the distinct value pairs only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import distance, fuzz, process

from dpt_pipeline.core.thresholds import HELD_AT
from dpt_pipeline.linkage.blocking import pair_key, split_pair_key

NULL = 0


def L(c: str) -> pl.Expr:  # noqa: N802 - reads as the left side of a pair
    return pl.col(f"{c}_l")


def R(c: str) -> pl.Expr:  # noqa: N802
    return pl.col(f"{c}_r")


def same(c: str) -> pl.Expr:
    return L(c) == R(c)


def either_null(*cols: str) -> pl.Expr:
    return pl.any_horizontal([L(c).is_null() | R(c).is_null() for c in cols])


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) array of the decimal digits of non-negative integers, most significant first."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.astype(np.uint64)
    for i in range(width - 1, -1, -1):
        out[:, i] = (v % 10).astype(np.uint8)
        v //= np.uint64(10)
    return out


def digit_edits(left: np.ndarray, right: np.ndarray, width: int) -> np.ndarray:
    """Edits between fixed-width numbers (NIK, YYYYMMDD): digits that differ, except that one swap of two
    adjacent digits counts as one edit (as OSA counts it). Vectorised over the pairs."""
    return _digit_edits(_digits(left, width), _digits(right, width), width)


def _digit_edits(dl: np.ndarray, dr: np.ndarray, width: int) -> np.ndarray:
    """`digit_edits` on the (n, width) digit arrays of both sides."""
    diff = dl != dr
    n = diff.sum(axis=1).astype(np.float64)
    two = np.flatnonzero(n == 2)
    if two.size:
        first = diff[two].argmax(axis=1)
        nxt = np.minimum(first + 1, width - 1)
        rows = two
        swapped = (diff[rows, nxt] & (nxt == first + 1) & (dl[rows, first] == dr[rows, nxt])
                   & (dl[rows, nxt] == dr[rows, first]))
        n[rows[swapped]] = 1.0
    return n


_SCORERS: dict[str, Callable[..., float]] = {
    "jaro_winkler": distance.JaroWinkler.normalized_similarity,
    "token_set": fuzz.token_set_ratio,
    "osa": distance.OSA.distance,  # adjacent transposition counts as one edit
}


@dataclass(frozen=True)
class Similarity:
    """A rapidfuzz score of a column between the two sides, added to the pair frame as `name`."""

    column: str
    scorer: str

    @property
    def name(self) -> str:
        return f"{self.scorer}_{self.column}"


def sim(column: str, scorer: str) -> pl.Expr:
    return pl.col(Similarity(column, scorer).name)


@dataclass(frozen=True)
class Level:
    code: str
    label: str
    condition: pl.Expr
    weight: float | None = None  # fixed match weight (log2 Bayes factor); None = learned
    tf: bool = False             # term-frequency adjustment on the comparison's tf_column
    explain: bool = True         # mention in `alasan`
    # With the comparison's `u_given`: u of this level is counted on the random pairs as they are, not as
    # `u_given` aligns them (a level that alignment never reaches).
    u_plain: bool = False


@dataclass(frozen=True)
class Comparison:
    name: str
    columns: tuple[str, ...]
    null_label: str
    null_when: pl.Expr
    levels: tuple[Level, ...]
    similarities: tuple[Similarity, ...] = ()
    tf_column: str | None = None
    # May a rare value weigh more than the level's average? Yes for names; no for dates, where a value
    # seen once is chance, not rarity.
    tf_boost: bool = True
    # u is counted on random pairs as this function leaves them ((all records, left records, right records,
    # a random generator) -> right records): a comparison whose fields repeat another's (the NIK's date
    # digits repeat the birth date) is counted given that other agreement, so one fact is not counted twice.
    u_given: Callable[[pl.DataFrame, pl.DataFrame, pl.DataFrame, np.random.Generator], pl.DataFrame] | None = None

    @property
    def level_column(self) -> str:
        return f"lvl_{self.name}"

    @property
    def codes(self) -> list[str]:
        return ["null", *(lv.code for lv in self.levels)]

    @property
    def labels(self) -> list[str]:
        return [self.null_label, *(lv.label for lv in self.levels)]

    def conditions(self) -> list[str]:
        """The null level's condition and each level's, as polars prints them: what a model file records,
        so that a model fitted on other conditions is refused."""
        return [str(self.null_when), *(str(lv.condition) for lv in self.levels)]

    @property
    def u_plain_codes(self) -> list[str]:
        """The levels whose u is counted on random pairs as they are, where the comparison has `u_given`."""
        return [lv.code for lv in self.levels if lv.u_plain] if self.u_given is not None else []

    def level_expr(self) -> pl.Expr:
        expr: Any = pl.when(self.null_when.fill_null(True)).then(pl.lit(NULL, dtype=pl.Int8))
        for i, lv in enumerate(self.levels, start=1):
            expr = expr.when(lv.condition.fill_null(False)).then(pl.lit(i, dtype=pl.Int8))
        return expr.otherwise(pl.lit(len(self.levels), dtype=pl.Int8)).alias(self.level_column)


@dataclass(frozen=True)
class Hold:
    """Pairs the pipeline never claims, whatever their weight: where `condition` (over the level columns)
    holds, the match probability is kept at most at `at_most` (listed, when it reaches the review
    threshold; a person decides), and `reason` is added to `alasan`."""

    code: str
    reason: str
    condition: pl.Expr
    at_most: float = HELD_AT


@dataclass(frozen=True)
class ComparisonSet:
    comparisons: tuple[Comparison, ...]
    id_column: str = "voter_id"
    extra_columns: tuple[str, ...] = field(default_factory=tuple)  # carried to the pair frame
    # The deterministic rule (over the level columns) whose pairs, divided by its stated recall, give the
    # prior (`score.fit`); None: EM's share of matches among the candidates stands in.
    prior_rule: pl.Expr | None = None
    holds: tuple[Hold, ...] = ()
    # May `compare(slim=True)` replace string columns by integer codes for large pair sets (`_Coded`)?
    # Only when every level condition tests string columns for equality (also across columns) or null,
    # and no string method reads them.
    code_strings: bool = False

    @property
    def columns(self) -> list[str]:
        cols: list[str] = []
        for c in self.comparisons:
            for col in (*c.columns, *(s.column for s in c.similarities)):
                if col not in cols:
                    cols.append(col)
        return cols

    def level_index(self, comparison: str, code: str) -> int:
        """The level number of `code` in the comparison called `comparison`."""
        for c in self.comparisons:
            if c.name == comparison:
                return c.codes.index(code)
        raise KeyError(comparison)

    @property
    def similarities(self) -> list[Similarity]:
        out: list[Similarity] = []
        for c in self.comparisons:
            out.extend(s for s in c.similarities if s not in out)
        return out


_DIGIT_WIDTH = {"digits16": 16, "digits8": 8}


def _similarity(pairs: pl.DataFrame, s: Similarity, coded: _Coded | None = None) -> pl.Series:
    """Digit edits of integer columns in numpy; strings: rapidfuzz's batch cpdist on the distinct unequal
    (left, right) value pairs, joined back. With `coded` (see `_Coded`), string columns hold codes: the
    distinct pairs are found on the codes and only their strings are looked up; and the digits of each
    record's number are taken from those computed once per record."""
    left, right = f"{s.column}_l", f"{s.column}_r"
    if s.scorer in _DIGIT_WIDTH:
        lv, rv = pairs[left], pairs[right]
        missing = (lv.is_null() | rv.is_null()).to_numpy()
        width = _DIGIT_WIDTH[s.scorer]
        if coded is not None:
            digits = coded.digits[s.column]
            edits = _digit_edits(digits[pairs["rid_l"].to_numpy()], digits[pairs["rid_r"].to_numpy()], width)
        else:
            edits = digit_edits(lv.fill_null(0).to_numpy(), rv.fill_null(0).to_numpy(), width)
        edits[missing] = np.nan
        return pl.Series(s.name, edits).fill_nan(None)
    values = coded.values.get(s.column) if coded is not None else None
    if values is None:
        key: list[str | pl.Expr] = [pl.col(left).cast(pl.String), pl.col(right).cast(pl.String)]
        on = [left, right]
    else:  # one UInt64 per (code, code) pair: cheaper to hash and join than two strings
        key = [pair_key(left, right).alias("_pair")]
        on = ["_pair"]
    # Equal values score as equal without a call; only the distinct unequal pairs go to rapidfuzz.
    keyed = pairs.select(*key, (pl.col(left) == pl.col(right)).alias("_eq"))
    distinct = keyed.filter(~pl.col("_eq")).select(on).unique()
    if values is not None:
        by_code = values.rename({"value": "_v"})
        code_l, code_r = split_pair_key("_pair")
        distinct = distinct.with_columns(code_l.alias("code"), code_r.alias("_code_r"))
        distinct = (distinct.join(by_code, on="code", how="left").rename({"_v": left}).drop("code")
                    .join(by_code.rename({"code": "_code_r"}), on="_code_r", how="left").rename({"_v": right}))
    if distinct.height:
        scores = process.cpdist(distinct[left].to_list(), distinct[right].to_list(),
                                scorer=_SCORERS[s.scorer], workers=-1)
        if s.scorer == "token_set":
            scores = np.asarray(scores) / 100.0
        distinct = distinct.with_columns(pl.Series(s.name, np.asarray(scores, dtype=np.float64)))
    else:
        distinct = distinct.with_columns(pl.lit(None, dtype=pl.Float64).alias(s.name))
    scored = keyed.join(distinct.select(*on, s.name), on=on, how="left", maintain_order="left", nulls_equal=False)
    equal_score = 1.0 if s.scorer in ("jaro_winkler", "token_set") else 0.0
    return scored.select(pl.when(pl.col("_eq")).then(pl.lit(equal_score))
                         .otherwise(pl.col(s.name)).alias(s.name))[s.name]


def pair_frame(records: pl.DataFrame, pairs: pl.DataFrame, cset: ComparisonSet) -> pl.DataFrame:
    """The pair frame: rid_l, rid_r, ids, `<col>_l`/`<col>_r` for every column the comparisons read."""
    return attach(records, pairs, list(dict.fromkeys([cset.id_column, *cset.extra_columns, *cset.columns])))


# From this many pairs on, `compare(slim=True)` codes the records' strings once (for comparison sets that
# allow it: `code_strings`): gathering and testing UInt32 codes for millions of pairs is several times
# cheaper than strings; coding costs ~0.7 s a million records.
CODE_FROM = 500_000


@dataclass(frozen=True)
class _Coded:
    """The columns the comparisons read, each String column as UInt32 codes (equal codes exactly when the
    strings are equal, in any two columns: the categories are global; null stays null), and for each
    string similarity column its (code, value) table. Level conditions see the codes, so they may test
    them for equality and null only (`ComparisonSet.code_strings`)."""

    frame: pl.DataFrame
    values: dict[str, pl.DataFrame]
    digits: dict[str, np.ndarray]   # (records, width) digits of each digit-similarity column, row = rid

    @classmethod
    def of(cls, records: pl.DataFrame, cset: ComparisonSet) -> _Coded:
        strings = [c for c in cset.columns if records.schema[c] == pl.String]
        frame = records.select(pl.col(c).cast(pl.Categorical).to_physical() if c in strings else pl.col(c)
                               for c in cset.columns)
        similar = {s.column for s in cset.similarities if s.scorer not in _DIGIT_WIDTH} & set(strings)
        values = {c: pl.DataFrame({"code": frame[c], "value": records[c]}).drop_nulls().unique("code")
                  for c in similar}
        digits = {s.column: _digits(records[s.column].fill_null(0).to_numpy(), _DIGIT_WIDTH[s.scorer])
                  for s in cset.similarities if s.scorer in _DIGIT_WIDTH}
        return cls(frame, values, digits)


def compare(records: pl.DataFrame, pairs: pl.DataFrame, cset: ComparisonSet, *, slim: bool = False,
            chunk_size: int = 1_000_000) -> pl.DataFrame:
    """Comparison levels (`lvl_<name>`, Int8) for every candidate pair.

    By default on top of the whole pair frame. With `slim`, only the pairs' own columns and the levels are
    kept, and the pairs are compared a chunk at a time, so that a million records' candidates do not hold
    every compared string in memory at once; from CODE_FROM pairs on, and when the comparison set allows
    it (`code_strings`), on the records' strings coded as integers (`_Coded`).
    """
    if not slim:
        frame = pair_frame(records, pairs, cset)
        frame = frame.with_columns([_similarity(frame, s).alias(s.name) for s in cset.similarities])
        return frame.lazy().with_columns([c.level_expr() for c in cset.comparisons]).collect()
    coded = _Coded.of(records, cset) if cset.code_strings and pairs.height >= CODE_FROM else None
    return _compare_slim(records, pairs, cset, coded, chunk_size)


def compare_parts(records: pl.DataFrame, parts: Sequence[Path], cset: ComparisonSet, folder: Path,
                  chunk_size: int = 1_000_000) -> list[Path]:
    """`compare(records, pairs, cset, slim=True)` of the pairs in each Parquet file of `parts`, written to
    a Parquet file each in `folder` (made here): the pairs of ten million records compared a part at a
    time, never all in memory. The records' strings are coded once for every part."""
    folder.mkdir(parents=True)
    coded = _Coded.of(records, cset) if cset.code_strings else None
    out = []
    for i, part in enumerate(parts):
        path = folder / f"{i:04d}.parquet"
        _compare_slim(records, pl.read_parquet(part), cset, coded, chunk_size).write_parquet(path, compression="lz4")
        out.append(path)
    return out


def _compare_slim(records: pl.DataFrame, pairs: pl.DataFrame, cset: ComparisonSet, coded: _Coded | None,
                  chunk_size: int) -> pl.DataFrame:
    def one(chunk: pl.DataFrame) -> pl.DataFrame:
        frame = attach(records if coded is None else coded.frame, chunk, cset.columns)
        frame = frame.with_columns([_similarity(frame, s, coded).alias(s.name) for s in cset.similarities])
        # Lazy, so that polars evaluates the conditions the levels share (same name, close dates ...) once.
        return frame.lazy().select(*chunk.columns, *[c.level_expr() for c in cset.comparisons]).collect()

    if pairs.height <= chunk_size:
        return one(pairs)
    return pl.concat([one(pairs.slice(i, chunk_size)) for i in range(0, pairs.height, chunk_size)])


def attach(records: pl.DataFrame, pairs: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Add `<column>_l` and `<column>_r` from the records to pairs holding rid_l and rid_r."""
    sub = records.select(columns)
    left = sub.select(pl.all().gather(pairs["rid_l"])).rename({c: f"{c}_l" for c in columns})
    right = sub.select(pl.all().gather(pairs["rid_r"])).rename({c: f"{c}_r" for c in columns})
    return pl.concat([pairs, left, right], how="horizontal")


def edit_comparison(name: str, column: str, noun: str, max_edits: int = 1) -> Comparison:
    """The common shape: exact / one edit off / ... / `max_edits` edits off (OSA) / differs."""
    edits = sim(column, "osa")
    steps = {1: ("one_edit", "one edit off"), 2: ("two_edits", "two edits off"), 3: ("three_edits", "three edits off")}
    return Comparison(
        name, (column,), f"{noun} missing", either_null(column),
        (
            Level("exact", f"{noun} same", same(column)),
            *(Level(steps[k][0], f"{noun} {steps[k][1]}", edits == k) for k in range(1, max_edits + 1)),
            Level("else", f"{noun} differs", pl.lit(True)),
        ),
        similarities=(Similarity(column, "osa"),),
    )


def at(c: Comparison, *codes: str) -> pl.Expr:
    """True where comparison `c`'s level is one of `codes` (over the level columns)."""
    return pl.col(c.level_column).is_in([c.codes.index(code) for code in codes])


def explain(frame: pl.DataFrame, cset: ComparisonSet) -> pl.Series:
    """`alasan`: the labels of each pair's levels, joined with '; ', generated from the declarations.

    Levels flagged `explain=False` and the null level are left out.
    """
    parts = []
    for c in cset.comparisons:
        labels: dict[int, str | None] = {0: None}
        for i, lv in enumerate(c.levels, start=1):
            labels[i] = lv.label if (lv.explain and lv.label) else None
        parts.append(pl.col(c.level_column).replace_strict(labels, default=None, return_dtype=pl.String))
    parts += [pl.when(h.condition.fill_null(False)).then(pl.lit(h.reason)) for h in cset.holds]
    return frame.select(pl.concat_str(parts, separator="; ", ignore_nulls=True).alias("alasan"))["alasan"]
