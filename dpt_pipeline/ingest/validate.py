"""A read source's text values into voters and rejects: a row without a name is a reject; every other row is
a voter whose dates, sex, marital status, RT/RW/TPS, NIK and NKK (through `nik`) and region (through
`regions`) are parsed, with a flag where a value is broken, never a lost row.
"""

from __future__ import annotations

import datetime as dt
import logging

import polars as pl

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.core.schema import REJECT_NO_NAME, REJECT_SCHEMA, VOTER_SCHEMA
from dpt_pipeline.ingest import nik as nikmod
from dpt_pipeline.ingest.ids import with_ids
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


def parse_dates(text: pl.Series, date_format: str | None) -> pl.Series:
    """Text to Date: the source's own format when configured, else every known format; Excel serial numbers
    (1927-2064, so that a bare year such as 1980 is not read as a serial) in every case.

    The format that parses most of a sample goes first over the whole column; the others only see the
    rows still unparsed, so a list written in one format costs one pass.
    """
    c = text.str.strip_chars()
    formats = [_user_format(date_format)] if date_format else list(DATE_FORMATS)
    sample = c.drop_nulls().head(2000)
    formats.sort(key=lambda f: -int(sample.str.strptime(pl.Date, f, strict=False).is_not_null().sum()))
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


def validate(raw: RawSource, cfg: SourceConfig, regions: RegionTable, reference: dt.date, min_age: int
             ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a read source into (voters, rejects)."""
    rows = raw.rows.with_columns(
        pl.when(pl.col("reason").is_null() & ~pl.col("nama").str.contains(r"[A-Za-z\p{L}]").fill_null(False))
        .then(pl.lit(REJECT_NO_NAME)).otherwise(pl.col("reason")).alias("reason"),
        pl.lit(raw.name).alias("source"),
    )
    rejects = rows.filter(pl.col("reason").is_not_null()).select(
        "source", "source_row", "reason", pl.col("raw")
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    v = rows.filter(pl.col("reason").is_null())
    provinces = regions.province_codes

    v = v.with_columns(
        pl.col("nama").str.replace_all(r"\s+", " "),
        nikmod.clean_number("nik").alias("nik"),
        nikmod.clean_number("nkk").alias("nkk"),
        parse_dates(v["tanggal_lahir"], cfg.date_format).alias("_tgl"),
        _code_map("jenis_kelamin", _SEX).alias("_jk"),
        _code_map("status_kawin", _MARITAL).alias("_sk"),
        *[pl.col(c).str.extract(r"([0-9]+)").cast(pl.Int32, strict=False).alias(f"_{c}")
          for c in ("rt", "rw", "tps")],
    )
    v = v.with_columns(
        pl.when(pl.col("_tgl").dt.year().is_between(1900, reference.year)).then(pl.col("_tgl")).alias("_tgl"),
        nikmod.number_problem(pl.col("nik"), provinces, is_nik=True).alias("nik_masalah"),
        nikmod.number_problem(pl.col("nkk"), provinces, is_nik=False).alias("nkk_masalah"),
    )
    v = v.with_columns(nikmod.lost_last_digit(pl.col(c), pl.col(f"{c}_masalah"), pl.col(NUMBER_CELL[c]))
                       .alias(f"{c}_masalah") for c in NUMBER_FIELDS)
    _warn_lost_digits(v, raw.name)
    v = v.with_columns(
        pl.col("nik_masalah").is_null().alias("nik_valid"),
        # An NKK Excel cut short is still its household's key (the whole KK reads the same number), so the TPS
        # keeps the KK together; its problem is reported all the same.
        (pl.col("nkk_masalah").is_null() | (pl.col("nkk_masalah") == nikmod.MASALAH_DIGIT_EXCEL)).alias("nkk_valid"),
    )
    # A NIK cut short by Excel still holds its region, date and sex digits: they are read as from any NIK.
    readable = pl.col("nik_valid") | (pl.col("nik_masalah") == nikmod.MASALAH_DIGIT_EXCEL)
    nik_date, nik_sex = nikmod.decode_nik(pl.col("nik"), readable, pl.col("_tgl"), reference.year, min_age)
    v = v.with_columns(
        nik_date.alias("nik_tanggal_lahir"),
        nik_sex.alias("nik_jenis_kelamin"),
        nikmod.region_code(pl.col("nik"), readable).alias("nik_kode_wilayah"),
    )
    age_years = pl.lit(reference.year) - pl.col("_tgl").dt.year() - (
        (pl.col("_tgl").dt.month() * 100 + pl.col("_tgl").dt.day()) > reference.month * 100 + reference.day
    ).cast(pl.Int32)
    v = v.with_columns(
        (pl.col("nik_tanggal_lahir") == pl.col("_tgl")).alias("nik_tanggal_cocok"),
        (pl.col("nik_jenis_kelamin") == pl.col("_jk")).alias("nik_jenis_kelamin_cocok"),
        pl.col("_tgl").is_not_null().alias("tanggal_lahir_valid"),
        pl.col("_jk").is_not_null().alias("jenis_kelamin_valid"),
        ((age_years < min_age) & (pl.col("_sk") == "B")).fill_null(False).alias("di_bawah_umur"),
    )
    v = regions.resolve_frame(v)
    v = with_ids(v, raw.name)
    v = v.select(
        "voter_id", "source", "source_row", "nkk", "nik", "nama", "tempat_lahir",
        pl.col("_tgl").alias("tanggal_lahir"), pl.col("_jk").alias("jenis_kelamin"),
        pl.col("_sk").alias("status_kawin"), "alamat", pl.col("_rt").alias("rt"), pl.col("_rw").alias("rw"),
        "disabilitas", "keterangan", pl.col("_tps").alias("tps"), "desa", "kecamatan", "kabupaten",
        "kode_kabupaten", "kode_kecamatan", "kode_desa", "wilayah_status", "nik_valid", "nik_masalah",
        "nik_tanggal_lahir", "nik_jenis_kelamin", "nik_kode_wilayah", "nik_tanggal_cocok",
        "nik_jenis_kelamin_cocok", "nkk_valid", "nkk_masalah", "tanggal_lahir_valid",
        pl.col("tanggal_lahir").alias("tanggal_lahir_asli"), "jenis_kelamin_valid", "di_bawah_umur",
        "row_hash",
    )
    return v.cast(VOTER_SCHEMA), rejects  # type: ignore[arg-type]


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
