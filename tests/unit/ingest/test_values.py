"""Field values: dates, NIK and NKK rules, sex and marital codes, RT/RW/TPS numbers."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from dpt_pipeline.ingest import nik as nikmod


def _one(ingest_file, header: str, row: str, **opts) -> dict:
    voters, rejects, _ = ingest_file(f"{header}\n{row}\n", **opts)
    assert rejects.height == 0
    return voters.row(0, named=True)


@pytest.mark.parametrize(("text", "expected", "why"), [
    ("05|07|1980", dt.date(1980, 7, 5), "pipe, as SIDALIH exports it"),
    ("05-07-1980", dt.date(1980, 7, 5), "dash, day first"),
    ("05/07/1980", dt.date(1980, 7, 5), "slash, day first"),
    ("05.07.1980", dt.date(1980, 7, 5), "dot, day first"),
    ("1980-07-05", dt.date(1980, 7, 5), "ISO"),
    ("5-7-1980", dt.date(1980, 7, 5), "no zero padding"),
    ("29407", dt.date(1980, 7, 5), "Excel serial number"),
    ("1980-07-05 00:00:00", dt.date(1980, 7, 5), "Excel datetime as text"),
    ("31-02-1980", None, "no 31 February"),
    ("00|00|0000", None, "placeholder zeros"),
    ("1980", None, "a bare year is not a serial number"),
    ("05-07-2031", None, "in the future"),
    ("", None, "empty"),
])
def test_dates(ingest_file, text: str, expected: dt.date | None, why: str) -> None:
    v = _one(ingest_file, "NAMA;TANGGAL LAHIR", f"ANI;{text}")
    assert v["tanggal_lahir"] == expected, why
    assert v["tanggal_lahir_valid"] is (expected is not None)
    assert v["tanggal_lahir_asli"] == (text or None)  # the text as written is kept


def test_configured_date_format_is_used_alone(ingest_file) -> None:
    # 07/05/1980 read month-first, as a US-locale export would write it.
    v = _one(ingest_file, "NAMA;TANGGAL LAHIR", "ANI;07/05/1980", date_format="MM/DD/YYYY")
    assert v["tanggal_lahir"] == dt.date(1980, 7, 5)


@pytest.mark.parametrize(("raw", "clean", "problem"), [
    ("6408134505800001", "6408134505800001", None),
    ("'6408134505800001", "6408134505800001", None),
    ("6408 1345 0580 0001", "6408134505800001", None),
    ("6408.1345.0580.0001", "6408134505800001", None),
    ("6408134505800001.0", "6408134505800001", None),
    ("6.40813E+15", "6.40813E+15", nikmod.MASALAH_EXCEL),
    ("6,40813E+15", "6,40813E+15", nikmod.MASALAH_EXCEL),
    ("640813450580001", "640813450580001", nikmod.MASALAH_PANJANG),
    ("64081345058000012", "64081345058000012", nikmod.MASALAH_PANJANG),
    ("2222222222222222", "2222222222222222", nikmod.MASALAH_BERULANG),
    ("9908134505800001", "9908134505800001", nikmod.MASALAH_PROVINSI),
    ("64081345058O0001", "64081345058O0001", nikmod.MASALAH_BUKAN_ANGKA),
    ("6408133505800001", "6408133505800001", nikmod.MASALAH_TANGGAL),  # day 35: neither man nor woman
    ("6408134513800001", "6408134513800001", nikmod.MASALAH_TANGGAL),  # month 13
    ("6408134505800000", "6408134505800000", nikmod.MASALAH_URUT),
    ("", None, nikmod.MASALAH_KOSONG),
])
def test_nik_rules(ingest_file, raw: str, clean: str | None, problem: str | None) -> None:
    v = _one(ingest_file, "NAMA;NIK;TGL LAHIR;JK", f"ANI;{raw};05-05-1980;P")
    assert v["nik"] == clean
    assert v["nik_masalah"] == problem
    assert v["nik_valid"] is (problem is None)


def test_excel_damaged_nik_is_still_a_voter(ingest_file) -> None:
    voters, rejects, summary = ingest_file("NAMA;NIK\nANI;6.40813E+15\n")
    assert voters.height == 1 and rejects.height == 0
    assert summary.nik_invalid_by_problem == {nikmod.MASALAH_EXCEL: 1}


@pytest.mark.parametrize(("nik", "record_date", "sex", "date_ok", "sex_ok", "nik_date"), [
    ("6408134505800001", "05-05-1980", "P", True, True, dt.date(1980, 5, 5)),   # woman: day 45 = 5 + 40
    ("6408130505800001", "05-05-1980", "L", True, True, dt.date(1980, 5, 5)),   # man
    ("6408130505800001", "05-05-1980", "P", True, False, dt.date(1980, 5, 5)),  # NIK says man
    ("6408130505800001", "06-05-1980", "L", False, True, dt.date(1980, 5, 5)),  # NIK says the 5th
    ("6408130505050001", "05-05-2005", "L", True, True, dt.date(2005, 5, 5)),   # century from the record
    ("6408130505050001", "", "L", None, True, dt.date(2005, 5, 5)),             # 2005: 21 in 2026, adult
    ("6408130505150001", "", "L", None, True, dt.date(1915, 5, 5)),             # 2015 would be 11: 1915
])
def test_nik_decoding_and_agreement(ingest_file, nik, record_date, sex, date_ok, sex_ok, nik_date) -> None:
    v = _one(ingest_file, "NAMA;NIK;TGL LAHIR;JK", f"ANI;{nik};{record_date};{sex}")
    assert v["nik_tanggal_lahir"] == nik_date
    assert v["nik_jenis_kelamin"] == ("P" if int(nik[6:8]) > 40 else "L")
    assert v["nik_tanggal_cocok"] is date_ok
    assert v["nik_jenis_kelamin_cocok"] is sex_ok
    assert v["nik_kode_wilayah"] == "64.08.13"


@pytest.mark.parametrize(("raw", "problem"), [
    ("6408131203200001", None),
    ("'6408 1312 0320 0001", None),
    ("1111111111111111", nikmod.MASALAH_BERULANG),
    ("64081312032", nikmod.MASALAH_PANJANG),
    ("0008131203200001", nikmod.MASALAH_PROVINSI),
    ("", nikmod.MASALAH_KOSONG),
])
def test_nkk_rules(ingest_file, raw: str, problem: str | None) -> None:
    v = _one(ingest_file, "NAMA;NKK;NIK", f"ANI;{raw};6408134505800001")
    assert v["nkk_masalah"] == problem
    assert v["nkk_valid"] is (problem is None)


@pytest.mark.parametrize(("text", "code"), [
    ("L", "L"), ("P", "P"), ("LAKI-LAKI", "L"), ("Perempuan", "P"), ("Lk", "L"), ("Pr", "P"), ("X", None),
])
def test_jenis_kelamin(ingest_file, text: str, code: str | None) -> None:
    v = _one(ingest_file, "NAMA;NIK;JK", f"ANI;6408134505800001;{text}")
    assert v["jenis_kelamin"] == code
    assert v["jenis_kelamin_valid"] is (code is not None)


@pytest.mark.parametrize(("text", "code"), [
    ("B", "B"), ("S", "S"), ("P", "P"), ("BELUM KAWIN", "B"), ("Kawin", "S"), ("CERAI HIDUP", "P"), ("?", None),
])
def test_status_kawin(ingest_file, text: str, code: str | None) -> None:
    assert _one(ingest_file, "NAMA;NIK;STS KAWIN", f"ANI;6408134505800001;{text}")["status_kawin"] == code


def test_rt_rw_tps_are_numbers(ingest_file) -> None:
    v = _one(ingest_file, "NAMA;NIK;RT;RW;TPS", "ANI;6408134505800001;019;RW 02;TPS 003")
    assert (v["rt"], v["rw"], v["tps"]) == (19, 2, 3)


def test_under_age_flag(ingest_file) -> None:
    voters, _, _ = ingest_file(
        "NAMA;NIK;TGL LAHIR;STATUS KAWIN\n"
        "ANI;6408134505100001;05-05-2010;B\n"   # 16 on 2026-12-09, unmarried: TMS 3
        "INA;6408134505100002;05-05-2010;S\n"   # 16 but married: may vote
        "UNI;6408134505090001;05-05-2009;B\n"   # 17
    )
    assert voters.sort("source_row")["di_bawah_umur"].to_list() == [True, False, False]


def test_clean_number_is_idempotent() -> None:
    df = pl.DataFrame({"x": ["'6408 1345.0580 0001", "6.40813E+15", None, "  "]})
    once = df.select(nikmod.clean_number("x").alias("x"))
    twice = once.select(nikmod.clean_number("x").alias("x"))
    assert once["x"].to_list() == twice["x"].to_list() == ["6408134505800001", "6.40813E+15", None, None]
