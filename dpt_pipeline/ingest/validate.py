"""A read source's text values into voters and rejects: a row without a name is a reject; every other row is
a voter whose dates, sex, marital status, RT/RW/TPS, NIK and NKK (through `nik`) and region (through
`regions`) are parsed, with a flag where a value is broken, never a lost row.

A voter's values follow from its row alone but for a few decided over the whole list (`Context`: the date
format that leads, the Excel check of the NIKs; the copy number of identical rows; the under-age flag, from
the reference day). So the rows are checked and valued per row (`_row_checks`, `_row_values`) and the list-wide
decisions taken over all of them: a row kept from last night (`Kept`, by the key `row_key`) needs only those.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import polars as pl

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.core.schema import CANONICAL_FIELDS, REJECT_NO_NAME, REJECT_SCHEMA, VOTER_SCHEMA
from dpt_pipeline.ingest import nik as nikmod
from dpt_pipeline.ingest.ids import copies, number_copies, row_hashes
from dpt_pipeline.ingest.read import NUMBER_CELL, NUMBER_FIELDS, RawSource
from dpt_pipeline.ingest.regions import RegionTable

log = logging.getLogger(__name__)

# Tried in order; the first that parses wins. DD-MM before MM-DD: Indonesian offices write day first.
DATE_FORMATS: tuple[str, ...] = (
    "%d|%m|%Y", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S", "%Y%m%d",
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_SEX = {"L": "L", "LK": "L", "LAKI": "L", "LAKILAKI": "L", "PRIA": "L", "M": "L",
        "P": "P", "PR": "P", "PEREMPUAN": "P", "WANITA": "P", "W": "P", "F": "P"}
_MARITAL = {"B": "B", "BK": "B", "BELUM": "B", "BELUMKAWIN": "B", "BELUMMENIKAH": "B",
            "S": "S", "K": "S", "SK": "S", "SUDAH": "S", "KAWIN": "S", "SUDAHKAWIN": "S", "MENIKAH": "S",
            "P": "P", "PERNAH": "P", "PERNAHKAWIN": "P", "CERAI": "P", "CERAIHIDUP": "P", "CERAIMATI": "P",
            "JANDA": "P", "DUDA": "P"}


def date_order(text: pl.Series, date_format: str | None) -> tuple[str, ...]:
    """The order `parse_dates` tries the formats in: the source's own format when configured, else every
    known format, the one that parses most of a sample of the list (its first 2,000 dates) first."""
    formats = [_user_format(date_format)] if date_format else list(DATE_FORMATS)
    sample = text.str.strip_chars().drop_nulls().head(2000)
    formats.sort(key=lambda f: -int(sample.str.strptime(pl.Date, f, strict=False).is_not_null().sum()))
    return tuple(formats)


def parse_dates(text: pl.Series, date_format: str | None, formats: tuple[str, ...] | None = None) -> pl.Series:
    """Text to Date: the source's own format when configured, else every known format; Excel serial numbers
    (1927-2064, so that a bare year such as 1980 is not read as a serial) in every case.

    The format that parses most of a sample goes first over the whole column (`date_order`, or `formats`
    when given: the order of the whole list when `text` is a part of it); the others only see the rows still
    unparsed, so a list written in one format costs one pass.
    """
    c = text.str.strip_chars()
    formats = date_order(text, date_format) if formats is None else formats
    parsed = c.str.strptime(pl.Date, formats[0], strict=False)
    todo = parsed.is_null() & c.is_not_null()
    if todo.any():
        rest = c.filter(todo).to_frame("t").select(pl.coalesce(
            [*(pl.col("t").str.strptime(pl.Date, f, strict=False) for f in formats[1:]), _excel_serial("t")]))
        parsed = parsed.scatter(todo.arg_true(), rest.to_series())
    return parsed


def _excel_serial(col: str) -> pl.Expr:
    digits = pl.col(col).str.replace(r"\.0+$", "")
    serial = pl.when(digits.str.contains(r"^[0-9]{5}$")).then(digits.cast(pl.Int32, strict=False))
    serial = pl.when(serial.is_between(10_000, 60_000)).then(serial)
    return (pl.lit(_EXCEL_EPOCH) + pl.duration(days=serial)).cast(pl.Date)


def _user_format(fmt: str) -> str:
    """'DD|MM|YYYY' style (or a strftime pattern, kept as it is)."""
    if "%" in fmt:
        return fmt
    return fmt.upper().replace("YYYY", "%Y").replace("DD", "%d").replace("MM", "%m")


def _code_map(col: str, table: dict[str, str]) -> pl.Expr:
    key = pl.col(col).str.to_uppercase().str.replace_all(r"[^A-Z]", "")
    return key.replace_strict(table, default=None, return_dtype=pl.String)


# A voter's columns that follow from its row alone, given the list's `Context`: what last night's cache keeps,
# but the cells as read (`_AS_READ`), with the row's key, its number-cell marks and its tally for the Excel
# check. The rest (voter_id's copy number, source, source_row, di_bawah_umur, which moves with the reference
# date) is set over the list.
ROW_COLUMNS: tuple[str, ...] = tuple(c for c in VOTER_SCHEMA
                                     if c not in ("voter_id", "source", "source_row", "di_bawah_umur"))
# Those that are a cell as read (a voter column <- its field): a reused row takes them from tonight's row.
_AS_READ: dict[str, str] = {**{c: c for c in ("tempat_lahir", "alamat", "disabilitas", "keterangan", "desa",
                                              "kecamatan", "kabupaten")}, "tanggal_lahir_asli": "tanggal_lahir"}
_TALLY: tuple[str, ...] = tuple(f"_{c}_{t}" for c in NUMBER_FIELDS for t in ("counted", "zero"))
KEY: tuple[str, str] = ("_k1", "_k2")
KEPT_SCHEMA: dict[str, pl.DataType] = {
    **dict.fromkeys(KEY, pl.UInt64()), **{c: VOTER_SCHEMA[c] for c in ROW_COLUMNS if c not in _AS_READ},
    **{NUMBER_CELL[c]: pl.Boolean() for c in NUMBER_FIELDS}, **dict.fromkeys(_TALLY, pl.Boolean())}


@dataclass(frozen=True)
class Context:
    """What a voter's values depend on beyond its own row (and the settings): the order the date formats are
    tried in (`date_order`, from a sample of the list) and whether the list's NIKs and NKKs were saved by
    Excel as numbers (`nik.excel_damaged`)."""

    date_formats: tuple[str, ...]
    damaged: tuple[bool, bool]           # NUMBER_FIELDS in order


@dataclass
class Kept:
    """A list's validated rows as the cache keeps them (KEPT_SCHEMA, one row per key) and their `Context`."""

    frame: pl.DataFrame
    context: Context


@dataclass
class Validated:
    """`validate`'s output: voters and rejects, tonight's rows to keep (`kept`) and how many voters were taken
    from last night's rows."""

    voters: pl.DataFrame
    rejects: pl.DataFrame
    kept: Kept
    reused: int = 0


def row_key(v: pl.DataFrame) -> pl.DataFrame:
    """`v` with KEY: a 128-bit hash of the row's cells as read (its mapped text fields and number-cell marks),
    all that a voter's ROW_COLUMNS depend on. Polars' row hash: stable for one polars version, which the
    cache's signature holds."""
    cells = v.select(*CANONICAL_FIELDS, *NUMBER_CELL.values())
    return v.with_columns(cells.hash_rows(seed=1701).alias(KEY[0]),
                          cells.hash_rows(seed=2917).alias(KEY[1]))


def validate(raw: RawSource, cfg: SourceConfig, regions: RegionTable, reference: dt.date, min_age: int,
             last: Kept | None = None) -> Validated:
    """Split a read source into voters and rejects.

    With `last` (last night's kept rows of this source, made with the same settings and code), a row whose
    key is there takes its values from it and only the other rows are validated; the result is the same as
    without. When the list's `Context` differs from last night's (another date format leads the sample, the
    list's NIKs are Excel-damaged tonight and were not), every row is validated."""
    rows = raw.rows.with_columns(
        pl.when(pl.col("reason").is_null() & ~pl.col("nama").str.contains(r"[A-Za-z\p{L}]").fill_null(False))
        .then(pl.lit(REJECT_NO_NAME)).otherwise(pl.col("reason")).alias("reason"),
        pl.lit(raw.name).alias("source"),
    )
    rejects = rows.filter(pl.col("reason").is_not_null()).select(
        "source", "source_row", "reason", pl.col("raw")
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    v = row_key(rows.filter(pl.col("reason").is_null()).drop("reason", "raw", "source"))
    del rows
    formats = date_order(v["tanggal_lahir"], cfg.date_format)
    provinces = regions.province_codes
    known = None
    if last is not None and last.context.date_formats == formats:
        joined = (v.select("source_row", *KEY, *[pl.col(f).alias(c) for c, f in _AS_READ.items()])
                  .join(last.frame.with_columns(pl.lit(True).alias("_hit")), on=list(KEY), how="left",
                        maintain_order="left"))
        hit = joined["_hit"].is_not_null()
        known = joined.filter(hit).drop("_hit")
        fresh = v.filter(~hit)
        del joined
        checked = _row_checks(fresh, cfg, provinces, formats, reference.year)
        damaged = _damaged([known, checked])
        if damaged != last.context.damaged:
            log.info("source %s: the Excel check of its NIKs or NKKs turned: every row is validated", raw.name)
            known = None
    if known is None:
        checked = _row_checks(v, cfg, provinces, formats, reference.year)
        damaged = _damaged([checked])
    del v
    values = _row_values(checked, damaged, regions, reference.year, min_age, raw.name)
    del checked
    if known is not None and known.height and values.height:
        parts = known.select(values.columns).merge_sorted(values, key="source_row")   # both in file order
    elif known is not None and known.height:
        parts = known.select(values.columns)
    else:
        parts = values
    reused = 0 if known is None else known.height
    _warn_lost_digits(parts, raw.name)
    dup = copies(parts)
    v = number_copies(parts, raw.name, dup)
    age_years = pl.lit(reference.year) - pl.col("tanggal_lahir").dt.year() - (
        (pl.col("tanggal_lahir").dt.month() * 100 + pl.col("tanggal_lahir").dt.day())
        > reference.month * 100 + reference.day).cast(pl.Int32)
    v = v.with_columns(
        pl.lit(raw.name).alias("source"),
        ((age_years < min_age) & (pl.col("status_kawin") == "B")).fill_null(False).alias("di_bawah_umur"),
    )
    voters = v.select(list(VOTER_SCHEMA)).cast(VOTER_SCHEMA)  # type: ignore[arg-type]
    kept = Kept(_one_per_key(parts.select(list(KEPT_SCHEMA)), dup), Context(formats, damaged))
    return Validated(voters, rejects, kept, reused)


def _one_per_key(kept: pl.DataFrame, dup: pl.Series) -> pl.DataFrame:
    """The kept rows, one per key (identical rows have identical values). Rows of one key have one row_hash,
    so only the rows that share theirs (`dup`) are looked at."""
    if not dup.any():
        return kept
    again = kept.select(KEY).with_row_index("_i").filter(dup).filter(~pl.struct(KEY).is_first_distinct())["_i"]
    return kept.filter(~pl.int_range(pl.len(), dtype=pl.UInt32).is_in(again.implode())) if again.len() else kept


def _row_checks(v: pl.DataFrame, cfg: SourceConfig, provinces: list[str], formats: tuple[str, ...], year: int
                ) -> pl.DataFrame:
    """The values read from each row alone: name, NIK and NKK cleaned and their problems (before the Excel
    check over the list), date, sex, marital status, RT/RW/TPS, and each number's tally for the Excel check."""
    v = v.with_columns(
        pl.col("nama").str.replace_all(r"\s+", " "),
        nikmod.clean_number("nik").alias("nik"),
        nikmod.clean_number("nkk").alias("nkk"),
        parse_dates(v["tanggal_lahir"], cfg.date_format, formats).alias("_tgl"),
        _code_map("jenis_kelamin", _SEX).alias("_jk"),
        _code_map("status_kawin", _MARITAL).alias("_sk"),
        *[pl.col(c).str.extract(r"([0-9]+)").cast(pl.Int32, strict=False).alias(f"_{c}")
          for c in ("rt", "rw", "tps")],
    )
    v = v.with_columns(
        pl.when(pl.col("_tgl").dt.year().is_between(1900, year)).then(pl.col("_tgl")).alias("_tgl"),
        nikmod.number_problem(pl.col("nik"), provinces, is_nik=True).alias("_nik_problem"),
        nikmod.number_problem(pl.col("nkk"), provinces, is_nik=False).alias("_nkk_problem"),
    )
    tallies = []
    for c in NUMBER_FIELDS:
        counted, zero = nikmod.zero_tally(pl.col(c), pl.col(f"_{c}_problem"), pl.col(NUMBER_CELL[c]))
        tallies += [counted.alias(f"_{c}_counted"), zero.alias(f"_{c}_zero")]
    return v.with_columns(tallies)


def _damaged(parts: list[pl.DataFrame]) -> tuple[bool, bool]:
    """`nik.excel_damaged` of each number field over the parts of a list (their tallies)."""
    sums = [sum(int(p[f"_{c}_{t}"].sum()) for p in parts) for c in NUMBER_FIELDS for t in ("counted", "zero")]
    nik, nkk = (nikmod.excel_damaged(sums[2 * i], sums[2 * i + 1]) for i in range(len(NUMBER_FIELDS)))
    return nik, nkk


def _row_values(v: pl.DataFrame, damaged: tuple[bool, bool], regions: RegionTable, year: int, min_age: int,
                source: str) -> pl.DataFrame:
    """Each checked row's ROW_COLUMNS (with source_row, KEY, the number-cell marks and tallies), the list's
    Excel check given."""
    v = v.with_columns(nikmod.mark_lost(pl.col(f"_{c}_problem"), pl.col(NUMBER_CELL[c]), pl.col(f"_{c}_zero"), d)
                       .alias(f"_{c}_masalah") for c, d in zip(NUMBER_FIELDS, damaged, strict=True))
    v = v.with_columns(
        pl.col("_nik_masalah").is_null().alias("nik_valid"),
        # An NKK Excel cut short is still its household's key (the whole KK reads the same number), so the TPS
        # keeps the KK together; its problem is reported all the same.
        (pl.col("_nkk_masalah").is_null() | (pl.col("_nkk_masalah") == nikmod.MASALAH_DIGIT_EXCEL)).alias("nkk_valid"),
    )
    # A NIK cut short by Excel still holds its region, date and sex digits: they are read as from any NIK.
    readable = pl.col("nik_valid") | (pl.col("_nik_masalah") == nikmod.MASALAH_DIGIT_EXCEL)
    nik_date, nik_sex = nikmod.decode_nik(pl.col("nik"), readable, pl.col("_tgl"), year, min_age)
    v = v.with_columns(
        nik_date.alias("nik_tanggal_lahir"),
        nik_sex.alias("nik_jenis_kelamin"),
        nikmod.region_code(pl.col("nik"), readable).alias("nik_kode_wilayah"),
    )
    v = v.with_columns(
        (pl.col("nik_tanggal_lahir") == pl.col("_tgl")).alias("nik_tanggal_cocok"),
        (pl.col("nik_jenis_kelamin") == pl.col("_jk")).alias("nik_jenis_kelamin_cocok"),
        pl.col("_tgl").is_not_null().alias("tanggal_lahir_valid"),
        pl.col("_jk").is_not_null().alias("jenis_kelamin_valid"),
    )
    v = regions.resolve_frame(v)
    v = row_hashes(v, source)
    renamed = {"tanggal_lahir": "_tgl", "jenis_kelamin": "_jk",
               "status_kawin": "_sk", "rt": "_rt", "rw": "_rw", "tps": "_tps", "tanggal_lahir_asli": "tanggal_lahir",
               "nik_masalah": "_nik_masalah", "nkk_masalah": "_nkk_masalah"}
    return v.select(
        "source_row", *KEY,
        *[pl.col(renamed.get(c, c)).cast(VOTER_SCHEMA[c]).alias(c) for c in ROW_COLUMNS],
        *[pl.col(NUMBER_CELL[c]) for c in NUMBER_FIELDS], *_TALLY)


def _warn_lost_digits(v: pl.DataFrame, source: str) -> None:
    """The staffer is told, loudly, when a list's NIKs or NKKs were saved by Excel as numbers: XLSX number
    cells (each one), or far more numbers ending in 0 than a real list holds."""
    for c in NUMBER_FIELDS:
        noun = c.upper()
        lost = v[f"{c}_masalah"] == nikmod.MASALAH_DIGIT_EXCEL
        cells = int((lost & v[NUMBER_CELL[c]]).sum())
        zeros = int(lost.sum()) - cells
        fix = (f"Those rows stay voters, their {noun} marked damaged. Export the list again with the {noun} column "
               "formatted as text.")
        if cells:
            log.warning("source %s: %d %ss are number cells in the sheet, not text: Excel keeps 15 digits of a "
                        "number, so a 16-digit %s stored as one has lost its last digit. %s", source, cells, noun,
                        noun, fix)
        if zeros:
            log.warning("source %s: %d %ss end in 0, far more than the tenth a real list holds: the file was "
                        "saved by Excel with the %s column as numbers, which keeps 15 digits and loses the "
                        "16th. %s", source, zeros, noun, noun, fix)
