"""Stage: compare. A comparison vector per candidate pair.

A comparison is declared, not hard-wired: an ordered list of levels, each with a code, a human label
(Indonesian, what a camat reads in `alasan`) and a polars condition over the pair frame, whose columns
are `<column>_l`, `<column>_r` and the similarity scores the comparison asks for. The first level whose
condition holds is the pair's level; level 0 is "missing on either side" and carries no evidence. A
level may carry a fixed weight (a prior from domain knowledge, not learned); the others get m and u
from `score`. Another schema is linked by declaring other comparisons (see `febrl_comparisons`).

String similarities are computed with rapidfuzz's batch `cpdist` on the distinct value pairs only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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


# ------------------------------------------------------------------------------------ DPT comparisons

def align_nik_dates(records: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame,
                    rng: np.random.Generator) -> pl.DataFrame:
    """The random pairs on which u of the NIK comparison is counted, given that the date digits agree:
    `right` with its NIK's date digits replaced by `left`'s (where both hold a NIK); and where the regions
    then agree too, its serial by that of another NIK of the left's office and day among `records`, since
    serials are numbered per office and day (two people of one office and day never share a serial, and
    are often one digit apart). Without another NIK of that office and day the serial stays."""
    both = (left["nik_num"].is_not_null() & right["nik_num"].is_not_null()).to_numpy()
    date_l = left["nik_tanggal6"].fill_null(0).to_numpy().astype(np.int64)
    nik_r = right["nik_num"].fill_null(0).to_numpy().astype(np.int64)
    nik_l = left["nik_num"].fill_null(0).to_numpy().astype(np.int64)
    serial_r = nik_r % 10_000
    region_r, region_l = nik_r // 10**10, nik_l // 10**10
    # Every distinct NIK, sorted by office and day: a group of rows per (region, date digits).
    niks = np.unique(records["nik_num"].drop_nulls().to_numpy().astype(np.int64))
    office_day = niks // 10_000
    starts = np.searchsorted(office_day, nik_l // 10_000, side="left")
    sizes = np.searchsorted(office_day, nik_l // 10_000, side="right") - starts
    own = np.searchsorted(niks, nik_l)                     # the left NIK's own row (it is among them)
    draw = both & (region_l == region_r) & (sizes >= 2)
    k = (rng.random(len(nik_l)) * np.maximum(sizes - 1, 1)).astype(np.int64)
    member = starts + k
    member = np.where(member >= own, member + 1, member)   # any other NIK of the group
    other = niks[np.minimum(member, len(niks) - 1)] if len(niks) else np.zeros(len(nik_l), np.int64)
    serial = np.where(draw, other % 10_000, serial_r)
    aligned = region_r * 10**10 + date_l * 10_000 + serial
    replaced = {"nik_num": aligned, "nik_tanggal6": date_l, "nik_urut": serial}
    return right.with_columns(pl.when(pl.Series(both)).then(pl.Series(v.astype(np.uint64)))
                              .otherwise(pl.col(name)).alias(name) for name, v in replaced.items())


def _same_date_parts() -> dict[str, pl.Expr]:
    tl, tr = L("tanggal_lahir"), R("tanggal_lahir")
    return {
        "swap": (tl.dt.day() == tr.dt.month()) & (tl.dt.month() == tr.dt.day()) & (tl.dt.year() == tr.dt.year()),
        "year": tl.dt.year() == tr.dt.year(),
    }


def dpt_comparisons() -> ComparisonSet:
    """Comparisons for DPT records after `standardize`."""
    d = _same_date_parts()
    # Fuzzy levels read the name without its common tokens: MUHAMMAD ARSYAD and MUHAMMAD NORDIN share
    # a prefix that makes them look alike to Jaro-Winkler and token-set alike.
    jw_nama = sim("nama_inti", "jaro_winkler")
    ts_nama = sim("nama_inti", "token_set")
    nama = Comparison(
        "nama", ("nama_std", "nama_rapat", "nama_urut", "nama_fonetik", "nama_depan_inti", "nama_inti"),
        "nama kosong", either_null("nama_std"),
        (
            Level("sama", "nama sama", same("nama_std"), tf=True),
            Level("spasi_urutan", "nama sama (spasi atau urutan kata berbeda)",
                  same("nama_rapat") | same("nama_urut")),
            Level("fonetik", "nama mirip (ejaan berbeda)", same("nama_fonetik")),
            Level("jw95", "nama sangat mirip", jw_nama >= 0.95),
            # One name inside the other (SYAMSIR, ANDI ABDUL SYAMSIR IRFAN): a dropped or added word, or a
            # namesake of a shorter name; learned apart from a near spelling, before it, since Jaro-Winkler's
            # prefix bonus makes SYAMSIR and SYAMSIR IRFAN look like a typo of each other.
            Level("di_dalam", "nama yang satu termuat dalam nama yang lain", ts_nama >= 0.95),
            Level("jw88", "nama mirip", jw_nama >= 0.88),
            Level("sebagian", "sebagian nama sama", (ts_nama >= 0.80) | (jw_nama >= 0.80)),
            # Fixed, not learned: Kemendagri never takes two records with unlike names for one person,
            # whatever else agrees (a copied NIK, a shared placeholder birth date).
            Level("beda", "nama berbeda", pl.lit(True), weight=-12.0),
        ),
        similarities=(Similarity("nama_inti", "jaro_winkler"), Similarity("nama_inti", "token_set"),
                      Similarity("nama_depan_inti", "jaro_winkler")),
        tf_column="nama_std",
    )
    nik_edits = sim("nik_num", "digits16")

    def part(col: str) -> pl.Expr:
        return L(col) == R(col)

    region_same, date_same, serial_same = part("nik_wilayah"), part("nik_tanggal6"), part("nik_urut")
    one_edit = nik_edits == 1
    head_differs = ~(region_same & date_same)
    # Each NIK agrees with its own record's birth date and sex: a difference in the date digits is then two
    # birth dates Dukcapil holds, not a slip.
    each_fits = (L("nik_tanggal_cocok") & R("nik_tanggal_cocok") & L("nik_jenis_kelamin_cocok")
                 & R("nik_jenis_kelamin_cocok")).fill_null(False)
    # The NIK by its parts: region (kecamatan of first registration), date digits (the birth date, +40 for a
    # woman) and serial. Where the date digits agree they repeat the birth date and sex, which the date and
    # sex comparisons count; so u of those levels is P(level | date digits agree, non-match), counted on
    # random pairs whose date digits were made equal (`align_nik_dates`): what the region and serial add.
    # Every level is learned.
    nik = Comparison(
        "nik", ("nik_num", "nik_wilayah", "nik_tanggal6", "nik_urut", "nik_tanggal_cocok", "nik_jenis_kelamin_cocok"),
        "NIK kosong/rusak", either_null("nik_num"),
        (
            Level("sama", "NIK sama", same("nik_num")),
            # A slip outside the serial that the records' own dates do not explain: a typo.
            Level("salah_ketik", "NIK beda satu digit atau dua digit bertukar",
                  one_edit & head_differs & ~(~date_same & each_fits)),
            # Serials are small numbers an office numbers per day: between two people born on one day in one
            # kecamatan (twins, namesakes) a serial one digit off is common, which u counts (`align_nik_dates`).
            Level("salah_urut", "NIK beda satu digit (nomor urut)", one_edit & ~head_differs),
            Level("wilayah_lain", "NIK sama kecuali kode wilayah",
                  date_same & serial_same),
            Level("nomor_urut", "NIK lain dengan wilayah dan tanggal lahir sama (beda nomor urut)",
                  region_same & date_same),
            Level("dua_nik", "NIK lain dengan tanggal lahir sama", date_same),
            # The date digits differ: Dukcapil holds two birth dates (or sexes). Random pairs with aligned
            # date digits never land here, so u is counted on random pairs as they are (P(beda | U)); a
            # record's birth date may be a typo or a placeholder, the NIK's rarely is, so this is evidence
            # beyond the date comparison's.
            Level("beda", "NIK berbeda", pl.lit(True), u_plain=True),
        ),
        similarities=(Similarity("nik_num", "digits16"),),
        u_given=align_nik_dates,
    )
    lev_tgl = sim("tanggal_num", "digits8")
    tl, tr = L("tanggal_lahir"), R("tanggal_lahir")
    ph_l, ph_r = L("tanggal_placeholder"), R("tanggal_placeholder")
    # The NIK is a second witness of the birth date: a record written with a placeholder date (01-07-YYYY,
    # 31-12-YYYY) whose NIK holds the other record's date. Not when both hold one NIK: a NIK copied from a
    # relative (K2) holds the relative's date, which says nothing of the carrier's.
    nik_witness = (((ph_l & (L("nik_tanggal_lahir") == tr)) | (ph_r & (R("nik_tanggal_lahir") == tl)))
                   & ~same("tanggal_lahir") & ~same("nik_num").fill_null(False)).fill_null(False)
    tanggal = Comparison(
        "tanggal_lahir", ("tanggal_lahir", "tanggal_placeholder", "tanggal_num", "tanggal_text", "nik_tanggal_lahir"),
        "tanggal lahir kosong",
        either_null("tanggal_lahir"),
        (
            Level("sama", "tanggal lahir sama", same("tanggal_lahir") & ~ph_l, tf=True),
            Level("sama_placeholder", "tanggal lahir sama (tanggal umum 1 Juli/31 Desember)",
                  same("tanggal_lahir"), tf=True),
            Level("sesuai_nik", "tanggal umum di satu data, tanggal dalam NIK-nya sama dengan tanggal lahir data lain",
                  nik_witness),
            Level("tertukar", "tanggal lahir: hari dan bulan tertukar", d["swap"]),
            Level("satu_digit", "tanggal lahir beda satu angka", lev_tgl == 1),
            Level("placeholder_tahun", "tanggal umum di satu data, tahun lahir sama", (ph_l | ph_r) & d["year"]),
            Level("tahun", "tahun lahir sama", d["year"]),
            Level("beda", "tanggal lahir berbeda", pl.lit(True)),
        ),
        similarities=(Similarity("tanggal_num", "digits8"),),
        tf_column="tanggal_num", tf_boost=False,
    )
    jw_tempat = sim("tempat_lahir_key", "jaro_winkler")
    tempat = Comparison(
        "tempat_lahir", ("tempat_lahir_key",), "tempat lahir kosong", either_null("tempat_lahir_key"),
        (
            Level("sama", "tempat lahir sama", same("tempat_lahir_key")),
            Level("mirip", "tempat lahir mirip", jw_tempat >= 0.88),
            Level("beda", "tempat lahir berbeda", pl.lit(True)),
        ),
        similarities=(Similarity("tempat_lahir_key", "jaro_winkler"),),
    )
    jk = Comparison(
        "jenis_kelamin", ("jenis_kelamin",), "jenis kelamin kosong", either_null("jenis_kelamin"),
        (
            Level("sama", "jenis kelamin sama", same("jenis_kelamin"), explain=False),
            Level("beda", "jenis kelamin berbeda", pl.lit(True)),
        ),
    )
    # NKK and address in one comparison: members of one KK share the address, so counting both would
    # count one fact twice.
    keluarga = Comparison(
        "keluarga", ("nkk_std", "alamat_std", "kode_kecamatan", "rt", "desa_key"), "NKK dan alamat kosong",
        either_null("nkk_std") & either_null("desa_key"),
        (
            Level("satu_kk", "satu KK (NKK sama)", same("nkk_std")),
            Level("alamat_rt", "alamat dan RT sama", same("alamat_std") & same("rt") & same("desa_key")),
            Level("rt", "satu desa dan RT", same("desa_key") & same("rt")),
            Level("desa", "satu desa", same("desa_key")),
            Level("kecamatan", "satu kecamatan", same("kode_kecamatan")),
            Level("beda", "alamat di kecamatan lain", pl.lit(True)),
        ),
    )
    # Household patterns: fixed weights, because EM cannot learn from a handful of twins that agreeing
    # on everything but the first name means two people. Values in bits (log2 Bayes factor).
    year_gap = (L("tanggal_lahir").dt.year() - R("tanggal_lahir").dt.year()).abs()
    # Twins hold two valid NIKs that differ only in the serial (or in the day too, +40, for a boy and a
    # girl); a duplicate keeps its NIK. Two names of one KK and one birth date that are not the same name
    # (FITRI and FITRIA, ILHAM and ILHAN) without both NIKs to tell twins from a slip are held for a person
    # (`kembar_mungkin`): striking a twin is the worse error.
    serial_only = region_same & date_same & ~serial_same
    no_nik = L("nik_num").is_null() | R("nik_num").is_null()
    # The same name but for spaces or word order. Not the phonetic key: it merges FITRI and FITRIA, two
    # twins' names.
    name_equivalent = same("nama_std") | same("nama_rapat") | same("nama_urut")
    # Both sexes written and different (a missing sex is no difference).
    sex_differs = ~same("jenis_kelamin").fill_null(True)
    two_people_nik = serial_only.fill_null(False) | sex_differs
    # Twins live in one household: one KK, one address. The same KK and birth date with twins' NIKs at
    # another address, or in one household without both NIKs to tell twins' serials from a slip, is a twin
    # or a double registration with a misspelt name: a person decides (held). Without both NIKs and at
    # another address it is no twins' pattern: the comparisons weigh it.
    one_household = same("alamat_std").fill_null(False) & same("desa_key").fill_null(False)
    twins_unsure = ~name_equivalent & (two_people_nik | (no_nik & one_household))
    # Close: the same date, a slip of it, or a placeholder that the NIK's date or the year does not contradict.
    date_close = (same("tanggal_lahir") | d["swap"] | (lev_tgl <= 1) | nik_witness
                  | ((ph_l | ph_r) & d["year"]))
    nik_close = same("nik_num") | (one_edit & head_differs)
    first_name_differs = (sim("nama_depan_inti", "jaro_winkler") < 0.85) & (jw_nama < 0.88)
    pola = Comparison(
        "pola", ("nkk_std", "nama_depan", "nama_fonetik", "nama_rapat", "nama_urut", "tanggal_lahir", "nik_num",
                 "jenis_kelamin", "alamat_std", "desa_key"),
        "", pl.lit(False),
        (
            Level("kembar", "satu KK, tanggal lahir sama, nama depan berbeda (pola anak kembar)",
                  same("nkk_std") & same("tanggal_lahir") & ~name_equivalent & two_people_nik & one_household,
                  weight=-40.0),
            # Fixed at 0: the other comparisons weigh the pair; the hold `kembar_atau_ganda` keeps it for
            # a person.
            Level("kembar_mungkin", "satu KK, tanggal lahir sama, nama berbeda: anak kembar atau satu orang",
                  same("nkk_std") & same("tanggal_lahir") & twins_unsure, weight=0.0),
            Level("ayah_anak", "satu KK, nama sama, tahun lahir jauh berbeda (pola ayah/ibu dan anak bernama sama)",
                  same("nkk_std") & (same("nama_fonetik") | (jw_nama >= 0.95)) & (year_gap >= 12), weight=-40.0),
            # A relative's NIK on another person's row: the birth date is not the NIK holder's (nor a typo of
            # it) and the sex or the first name differs. A duplicate keeps its date or its name.
            Level("nik_salinan", "NIK sama tetapi nama dan tanggal lahir/jenis kelamin berbeda (NIK keluarga "
                  "tersalin, K2)",
                  same("nik_num") & ~name_equivalent.fill_null(False)
                  & ((~date_close.fill_null(False)
                      & (sex_differs | (year_gap >= 12).fill_null(False) | first_name_differs))
                     | (sex_differs & first_name_differs)),
                  weight=-40.0),
            # One KK, and neither the NIK nor the birth date is the same or a typo of the other: another
            # member of the family, whatever the names share (a father's name, BIN ...).
            Level("anggota_lain", "satu KK, NIK dan tanggal lahir berbeda (anggota keluarga lain)",
                  same("nkk_std") & ~date_close.fill_null(False) & ~nik_close.fill_null(False), weight=-15.0),
            # Kemendagri's rule of several elements: a name alone is no proof. Neither the NIK nor the birth
            # date agrees (nor is a typo of the other): at most a case for review.
            Level("hanya_nama", "hanya nama yang cocok; NIK dan tanggal lahir tidak",
                  ~date_close.fill_null(False) & ~nik_close.fill_null(False), weight=-10.0),
            Level("biasa", "", pl.lit(True), weight=0.0, explain=False),
        ),
    )
    # The prior's deterministic rule: Bawaslu's method (one NIK, one name, one birth date), whose recall
    # is stated in [linkage] prior_recall.
    bawaslu = (at(nik, "sama") & at(nama, "sama", "spasi_urutan") & at(tanggal, "sama", "sama_placeholder"))
    twins_or_double = Hold("kembar_atau_ganda", "mungkin anak kembar: diperiksa petugas, tidak diklaim otomatis",
                           at(pola, "kembar_mungkin"))
    # Two valid NIKs that are not a slip of each other: Dukcapil holds two people, or one person registered
    # twice. Name, birth date, place and sex are four elements, and four alone are no proof (Kemendagri):
    # a person decides, unless the family card or the address and RT agree as well.
    two_niks = Hold("dua_nik", "kemungkinan satu orang dengan dua NIK: diperiksa petugas, tidak diklaim otomatis",
                    at(nik, "wilayah_lain", "nomor_urut", "dua_nik") & ~at(keluarga, "satu_kk", "alamat_rt"))
    # Every condition above tests strings for equality or null only: they may be coded (`_Coded`).
    return ComparisonSet((nama, nik, tanggal, tempat, jk, keluarga, pola),
                         extra_columns=("source", "kode_kabupaten", "kode_kecamatan", "kode_desa"),
                         code_strings=True, prior_rule=bawaslu, holds=(two_niks, twins_or_double))


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
