"""NIK and NKK as polars expressions: cleaning, validation and decoding, vectorised.

NIK: PP KK CC DDMMYY SSSS. PP KK CC is the Kemendagri code of the kecamatan where the person was first
registered; DD has 40 added for women; SSSS is a serial from 0001. NKK: 6-digit issuing kecamatan code,
issue date, serial. Excel damages both: scientific notation (6.40813E+15, digits lost), a leading
apostrophe, spaces or dots inside.
"""

from __future__ import annotations

import math

import polars as pl

from dpt_pipeline.core.schema import LOST_LAST_DIGIT

# Problems, checked in this order; the first that applies is reported.
MASALAH_KOSONG = "kosong"
MASALAH_EXCEL = "rusak oleh Excel (notasi ilmiah)"
MASALAH_BUKAN_ANGKA = "bukan angka"
MASALAH_PANJANG = "bukan 16 digit"
MASALAH_BERULANG = "satu digit berulang"
MASALAH_PROVINSI = "kode provinsi tidak dikenal"
MASALAH_TANGGAL = "tanggal lahir dalam NIK tidak mungkin"
MASALAH_URUT = "nomor urut 0000"
MASALAH_DIGIT_EXCEL = LOST_LAST_DIGIT

# Excel keeps 15 significant digits: a 16-digit number stored as a number loses its last digit, which becomes
# 0 (7315020604790014 -> 7315020604790010). One in ten true NIKs ends in 0; a list with far more was saved
# that way. "Far more": this many standard deviations above a tenth, so that an honest list is never taken
# for a damaged one (at 20 numbers, 10 zeros; at 5,000, 627: an eighth).
EXCEL_ZERO_SIGMAS = 6.0

_SCIENTIFIC = r"^'?[0-9](?:[.,][0-9]+)?[eE][+]?[0-9]+$"
_REPEATED = r"^(?:0+|1+|2+|3+|4+|5+|6+|7+|8+|9+)$"


def clean_number(col: str) -> pl.Expr:
    """Strip what Excel and typists add around a 16-digit number: apostrophes, spaces, dots, a '.0' tail.

    Scientific notation is left as it is (with its 'E') so that `number_problem` can name it.
    """
    c = pl.col(col).str.strip_chars()
    sci = c.str.contains(_SCIENTIFIC)
    cleaned = (
        c.str.replace(r"^([0-9]{16})\.0+$", "$1")
        .str.replace_all(r"['`\s.\-]", "")
    )
    out = pl.when(sci).then(c.str.replace_all(r"^'", "")).otherwise(cleaned)
    return pl.when(out.str.len_chars() == 0).then(None).otherwise(out)


def number_problem(cleaned: pl.Expr, province_codes: list[str], *, is_nik: bool) -> pl.Expr:
    """Why a cleaned NIK or NKK is invalid, or null when it is valid."""
    expr = (
        pl.when(cleaned.is_null()).then(pl.lit(MASALAH_KOSONG))
        .when(cleaned.str.contains(_SCIENTIFIC)).then(pl.lit(MASALAH_EXCEL))
        .when(~cleaned.str.contains(r"^[0-9]+$")).then(pl.lit(MASALAH_BUKAN_ANGKA))
        .when(cleaned.str.len_chars() != 16).then(pl.lit(MASALAH_PANJANG))
        .when(cleaned.str.contains(_REPEATED)).then(pl.lit(MASALAH_BERULANG))
        .when(~cleaned.str.slice(0, 2).is_in(province_codes)).then(pl.lit(MASALAH_PROVINSI))
    )
    if is_nik:
        day = cleaned.str.slice(6, 2).cast(pl.Int32, strict=False)
        month = cleaned.str.slice(8, 2).cast(pl.Int32, strict=False)
        real_day = pl.when(day > 40).then(day - 40).otherwise(day)
        bad_date = (real_day < 1) | (real_day > 31) | (month < 1) | (month > 12) | ((day > 31) & (day < 41))
        expr = (
            expr.when(bad_date).then(pl.lit(MASALAH_TANGGAL))
            .when(cleaned.str.slice(12, 4) == "0000").then(pl.lit(MASALAH_URUT))
        )
    return expr.otherwise(pl.lit(None, dtype=pl.String))


def decode_nik(nik: pl.Expr, valid: pl.Expr, record_date: pl.Expr, reference_year: int,
               min_age: int) -> tuple[pl.Expr, pl.Expr]:
    """Birth date and sex ('L'/'P') encoded in a valid NIK.

    The century is ambiguous: take the record's own century when its year ends in the same two digits,
    else 20YY when that makes the person at least `min_age` in `reference_year`, else 19YY.
    """
    day = nik.str.slice(6, 2).cast(pl.Int32, strict=False)
    month = nik.str.slice(8, 2).cast(pl.Int32, strict=False)
    yy = nik.str.slice(10, 2).cast(pl.Int32, strict=False)
    female = day > 40
    real_day = pl.when(female).then(day - 40).otherwise(day)
    rec_year = record_date.dt.year()
    year = (
        pl.when(rec_year.is_not_null() & (rec_year % 100 == yy)).then(rec_year)
        .when(reference_year - (2000 + yy) >= min_age).then(2000 + yy)
        .otherwise(1900 + yy)
    )
    text = pl.format(
        "{}-{}-{}",
        year.cast(pl.String),
        month.cast(pl.String).str.zfill(2),
        real_day.cast(pl.String).str.zfill(2),
    )
    date = pl.when(valid).then(text.str.strptime(pl.Date, "%Y-%m-%d", strict=False))
    sex = pl.when(valid).then(pl.when(female).then(pl.lit("P")).otherwise(pl.lit("L")))
    return date, sex


def region_code(nik: pl.Expr, valid: pl.Expr) -> pl.Expr:
    """The NIK's kecamatan of first registration as a dotted Kemendagri code, e.g. 64.08.13."""
    return pl.when(valid).then(
        pl.format("{}.{}.{}", nik.str.slice(0, 2), nik.str.slice(2, 2), nik.str.slice(4, 2))
    )


def lost_last_digit(cleaned: pl.Expr, problem: pl.Expr, number_cell: pl.Expr | None = None) -> pl.Expr:
    """`problem` (the column `number_problem` gave), with MASALAH_DIGIT_EXCEL for a number whose 16th digit may
    be lost to Excel: every one that an XLSX holds as a number cell (`number_cell`: Excel keeps 15 digits of a
    number, whatever the list), and the other numbers ending in 0 when they hold far more of them than a tenth
    (`EXCEL_ZERO_SIGMAS`): such a list was saved by Excel with the column as numbers, and which of its zeros are
    real cannot be told. Over the whole list (one source). A cut number is one that is valid but for its
    serial 0000 (0001 to 0009 cut); one with another problem (15 digits, an unknown province) keeps it.

    In two steps for a list validated in parts (`ingest.validate`): `zero_tally` per row, `excel_damaged`
    over the list, `mark_lost` per row again."""
    counted, zero = zero_tally(cleaned, problem, number_cell)
    n = counted.sum()
    damaged = (n > 0) & (zero.sum() > 0.1 * n + EXCEL_ZERO_SIGMAS * (0.09 * n).sqrt())
    return _lost(problem, number_cell, zero, damaged)


def zero_tally(cleaned: pl.Expr, problem: pl.Expr, number_cell: pl.Expr | None = None) -> tuple[pl.Expr, pl.Expr]:
    """Per row, for `excel_damaged`: whether the number counts (a plausible number the cell type does not tell
    about) and whether it is such a number ending in 0."""
    plausible = problem.is_null() | (problem == MASALAH_URUT)
    cell = pl.lit(False) if number_cell is None else number_cell
    counted = plausible & ~cell
    return counted, counted & cleaned.str.ends_with("0")


def excel_damaged(counted: int, zeros: int) -> bool:
    """Whether a list whose `counted` numbers hold `zeros` ending in 0 was saved by Excel with the column as
    numbers (see `lost_last_digit`)."""
    return counted > 0 and zeros > 0.1 * counted + EXCEL_ZERO_SIGMAS * math.sqrt(0.09 * counted)


def mark_lost(problem: pl.Expr, number_cell: pl.Expr, zero: pl.Expr, damaged: bool) -> pl.Expr:
    """`problem` with MASALAH_DIGIT_EXCEL where `lost_last_digit` puts it, the list's `excel_damaged` given."""
    return _lost(problem, number_cell, zero, pl.lit(damaged))


def _lost(problem: pl.Expr, number_cell: pl.Expr | None, zero: pl.Expr, damaged: pl.Expr) -> pl.Expr:
    plausible = problem.is_null() | (problem == MASALAH_URUT)
    cell = pl.lit(False) if number_cell is None else number_cell
    lost = (damaged & zero) | (plausible & cell)
    return pl.when(lost).then(pl.lit(MASALAH_DIGIT_EXCEL)).otherwise(problem)
