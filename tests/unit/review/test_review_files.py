"""Reading review files back: every shape Excel saves, and every way a file can be wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from dpt_pipeline import review
from dpt_pipeline.errors import InputError

KNOWN = pl.DataFrame({"pair_id": ["p1", "p2", "p3"], "voter_id_l": ["a", "c", "e"], "voter_id_r": ["b", "d", "f"]})
WHEN = dt.datetime(2026, 11, 28, 1, 0)
HEADER = ["pair_id", "skor", "alasan", "nama_1", "nama_2", "keputusan", "catatan"]


def _csv(tmp_path: Path, rows: list[list[str]], *, sep: str = ";", bom: bool = True, encoding: str = "utf-8",
         header: list[str] = HEADER, name: str = "teluk-pandan.csv") -> Path:
    text = "\r\n".join(sep.join(r) for r in [header, *rows]) + "\r\n"
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def _row(pair: str, decision: str, note: str = "") -> list[str]:
    return [pair, "99.5", "NIK sama", "ANI", "ANI", decision, note]


@pytest.mark.parametrize(("sep", "bom", "encoding", "why"), [
    (";", True, "utf-8", "as exported"),
    (",", False, "utf-8", "saved by Excel with a comma separator"),
    (";", False, "cp1252", "saved by old Excel in Windows-1252"),
])
def test_reads_every_shape_excel_saves(tmp_path, sep, bom, encoding, why) -> None:
    path = _csv(tmp_path, [_row("p1", "sama", "José ok"), _row("p2", " Beda "), _row("p3", "")], sep=sep, bom=bom,
                encoding=encoding)
    got = review.read_file(path, KNOWN, WHEN)
    assert dict(got.select("pair_id", "keputusan").iter_rows()) == {"p1": "SAMA", "p2": "BEDA"}, why
    assert got.filter(pl.col("pair_id") == "p1")["catatan"].item() == "José ok"
    assert got["voter_id_l"].to_list() == ["a", "c"] and got["baris"].to_list() == [2, 3]


def test_reads_xlsx(tmp_path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(_row("p1", "RAGU", "tanya kades"))
    path = tmp_path / "teluk-pandan.xlsx"
    wb.save(path)
    got = review.read_file(path, KNOWN, WHEN)
    assert got.select("pair_id", "keputusan", "catatan").row(0) == ("p1", "RAGU", "tanya kades")


@pytest.mark.parametrize(("rows", "header", "row", "message"), [
    ([_row("p1", "SAMA"), _row("zz", "BEDA")], HEADER, 3, "unknown pair_id 'zz'"),
    ([_row("p1", "YA")], HEADER, 2, "unknown decision 'YA'"),
    ([_row("p1", "SAMA"), _row("p2", "BEDA"), _row("p1", "BEDA")], HEADER, 4, "two different decisions"),
    ([["p1", "SAMA"]], ["pair_id", "keputusan"], 1, "missing columns ['catatan']"),
])
def test_bad_files_are_refused_naming_file_row_and_problem(tmp_path, rows, header, row, message) -> None:
    path = _csv(tmp_path, rows, header=header, name="bad.csv")
    with pytest.raises(InputError) as err:
        review.read_file(path, KNOWN, WHEN)
    text = str(err.value)
    assert "bad.csv" in text and f"row {row}" in text and message in text


def test_one_bad_file_refuses_the_whole_import(tmp_path) -> None:
    good = _csv(tmp_path, [_row("p1", "SAMA")], name="good.csv")
    bad = _csv(tmp_path, [_row("p2", "MUNGKIN")], name="bad.csv")
    with pytest.raises(InputError, match="bad.csv"):
        review.read_files([good, bad], KNOWN)


def test_latest_decision_counts_and_history_is_kept() -> None:
    early = dt.datetime(2026, 11, 1)
    history = pl.DataFrame({
        "pair_id": ["p1", "p1", "p2"], "voter_id_l": ["a", "a", "c"], "voter_id_r": ["b", "b", "d"],
        "keputusan": ["SAMA", "BEDA", "RAGU"], "catatan": [None, "salah", None], "file": ["x", "y", "x"],
        "baris": [2, 2, 3], "imported_at": [early, WHEN, early]}, schema=review.DECISION_SCHEMA)
    now = review.latest(history)
    assert dict(now.select("pair_id", "keputusan").iter_rows()) == {"p1": "BEDA", "p2": "RAGU"}
    assert history.height == 3


def test_masking_keeps_first_six_and_last_four() -> None:
    df = pl.DataFrame({"nik": ["6408134505800001", "6.40813E+15", None]})
    assert df.select(review.mask_number("nik"))["nik"].to_list() == ["640813******0001", "(tidak sah)", None]


def test_xlsx_export_has_frozen_header_and_a_dropdown(tmp_path) -> None:
    frame = pl.DataFrame({c: ["x"] for c in review.file_columns()})
    path = review.write_xlsx(frame, tmp_path / "a.xlsx")
    ws = openpyxl.load_workbook(path).active
    assert ws.freeze_panes == "A2"
    validations = ws.data_validations.dataValidation
    assert validations and "SAMA,BEDA,RAGU" in validations[0].formula1


@pytest.mark.parametrize(("show_nik", "expected"), [(False, "640813******0001"), (True, "6408134505800001")])
def test_nik_is_masked_unless_the_config_says_otherwise(show_nik: bool, expected: str) -> None:
    voters = pl.DataFrame({
        "voter_id": ["a", "b"], "source": ["kutim"] * 2, "source_row": [1, 2], "nama": ["ANI", "ANI"],
        "nik": ["6408134505800001"] * 2, "tanggal_lahir": [dt.date(1980, 5, 5)] * 2, "jenis_kelamin": ["P"] * 2,
        "nkk": ["6408130101200001"] * 2, "alamat": ["JL. A"] * 2, "rt": [1, 1], "rw": [1, 1],
        "desa": ["MARTADINATA"] * 2, "kecamatan": ["TELUK PANDAN"] * 2, "kabupaten": ["KUTAI TIMUR"] * 2,
        "tps": [1, 1], "kode_kecamatan": ["64.08.13"] * 2, "kode_kabupaten": ["64.08"] * 2})
    pairs = pl.DataFrame({"pair_id": ["p"], "voter_id_l": ["a"], "voter_id_r": ["b"], "match_probability": [0.9],
                          "alasan": ["NIK sama"]})
    rows = review.review_rows(pairs, voters, pl.DataFrame(schema=review.DECISION_SCHEMA), {}, show_nik=show_nik)
    assert rows["nik_1"].item() == expected and rows["nik_2"].item() == expected
    assert rows["tanggal_lahir_1"].item() == "05-05-1980" and rows["skor"].item() == 90.0


def test_two_files_that_disagree_on_a_border_pair_are_refused(tmp_path) -> None:
    a = _csv(tmp_path, [_row("p2", "BEDA"), _row("p1", "SAMA")], name="kec1.csv")
    b = _csv(tmp_path, [_row("p1", "BEDA")], name="kec2.csv")
    with pytest.raises(InputError, match="different decisions in .*kec1.csv row 3.*kec2.csv row 2"):
        review.read_files([a, b], KNOWN)
    same = _csv(tmp_path, [_row("p1", "sama")], name="kec3.csv")
    assert review.read_files([a, same], KNOWN).height == 2   # agreeing files are fine, one decision per pair
