"""An XLSX whose NIK or NKK cells are numbers, not text: Excel (and Calc) keep 15 significant digits of a number,
so a 16-digit NIK stored as one has lost its last digit, with no sign in the sheet. Every such cell is marked
(whatever the share of zeros), the row stays a voter, an NKK so cut stays its household's key, the staffer is
told to export the column as text; text cells are left alone."""

from __future__ import annotations

import io
import logging

import openpyxl
import polars as pl
import pytest

from dpt_pipeline.ingest.nik import MASALAH_DIGIT_EXCEL, MASALAH_PANJANG, MASALAH_PROVINSI

NIKS = [f"6408134505{80 + i % 20:02d}{1 + i:04d}" for i in range(40)]
NKKS = [f"640813010120{1 + i // 4:04d}" for i in range(40)]
HEADER = "NIK;NKK;NAMA;TGL LAHIR;JK"


def _csv(niks: list[str], nkks: list[str]) -> str:
    rows = [f"{nik};{nkk};ORANG {chr(65 + i % 26)}{chr(65 + i // 26)};05-05-1980;P"
            for i, (nik, nkk) in enumerate(zip(niks, nkks, strict=True))]
    return "\n".join([HEADER, *rows]) + "\n"


def _said(caplog) -> str:
    return " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


def test_a_calc_sheet_with_the_nik_column_as_numbers_marks_every_nik(ingest_file, calc_xlsx, caplog) -> None:
    # 40 NIKs: too few for the count of zeros to tell (the test on zeros needs more than 6 sigma); the cell
    # type tells. Calc rounds each to 15 digits.
    content = calc_xlsx(_csv(NIKS, NKKS))
    with caplog.at_level(logging.WARNING, logger="dpt_pipeline"):
        voters, rejects, summary = ingest_file(content, file_name="dpt.xlsx")
    assert voters.height == 40 and rejects.height == 0                        # every row stays a voter
    assert (voters["nik_masalah"] == MASALAH_DIGIT_EXCEL).all() and not voters["nik_valid"].any()
    assert voters["nik_tanggal_lahir"].is_not_null().all()                    # still decoded
    assert (voters["nkk_masalah"] == MASALAH_DIGIT_EXCEL).all() and voters["nkk_valid"].all()
    assert summary.nik_invalid_by_problem == {MASALAH_DIGIT_EXCEL: 40}
    said = _said(caplog)
    assert "40 NIKs are number cells" in said and "40 NKKs are number cells" in said
    assert "formatted as text" in said
    assert not any(n[:12] in said for n in NIKS + NKKS)                    # no number in a message


def test_the_same_sheet_with_the_columns_as_text_marks_nothing(ingest_file, calc_xlsx, caplog) -> None:
    content = calc_xlsx(_csv(NIKS, NKKS), text_columns=(1, 2))
    with caplog.at_level(logging.WARNING, logger="dpt_pipeline"):
        voters, rejects, _ = ingest_file(content, file_name="dpt.xlsx")
    assert voters.height == 40 and rejects.height == 0
    assert voters.sort("source_row")["nik"].to_list() == NIKS                # all 16 digits
    assert voters["nik_valid"].all() and voters["nkk_valid"].all()
    assert voters["nkk_masalah"].is_null().all()
    assert "number cells" not in _said(caplog)


def test_number_cells_written_by_a_library_are_marked_cell_by_cell(ingest_file) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["NIK", "NKK", "NAMA", "TGL LAHIR"])
    ws.append([int(NIKS[0]), NKKS[0], "A", "05-05-1980"])       # a number cell: marked, whatever its digits
    ws.append([NIKS[1], int(NKKS[1]), "B", "05-05-1980"])       # text NIK, number NKK
    ws.append([NIKS[2], NKKS[2], "C", "05-05-1980"])            # text: left alone
    ws.append([int(NIKS[3][:15]), NKKS[3], "D", "05-05-1980"])  # 15 digits: what it lacks is said, as from text
    ws.append([int("99" + NIKS[4][2:]), NKKS[4], "E", "05-05-1980"])  # an unknown province: that problem first
    ws.append([None, NKKS[5], "F", "05-05-1980"])
    buf = io.BytesIO()
    wb.save(buf)
    voters, rejects, _ = ingest_file(buf.getvalue(), file_name="dpt.xlsx")
    assert rejects.height == 0
    v = voters.sort("source_row")
    assert v["nik_masalah"].to_list() == [MASALAH_DIGIT_EXCEL, None, None, MASALAH_PANJANG, MASALAH_PROVINSI,
                                          "kosong"]
    assert v["nkk_masalah"].to_list() == [None, MASALAH_DIGIT_EXCEL, None, None, None, None]
    assert v["nkk_valid"].all()
    assert v["nik"][0] == NIKS[0]                                             # its value as read


def test_a_csv_of_numbers_is_not_marked_by_cell(ingest_file) -> None:
    # A CSV has no cell types: only the share of zeros can tell (tests/unit/ingest/test_excel_digits.py).
    voters, _, _ = ingest_file(_csv(NIKS, NKKS))
    assert voters["nik_valid"].all()
    assert pl.Series(voters["nik_masalah"]).is_null().all()


def test_text_cells_beside_number_cells_are_judged_on_their_own_zeros(ingest_file) -> None:
    # 300 number cells (all cut to a 0) and 30 text NIKs, 3 of them ending in 0 as honest ones do: the number
    # cells' zeros say nothing of the text cells, which are left alone.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["NIK", "NAMA", "TGL LAHIR"])
    for i in range(300):
        ws.append([int(f"6408134505{80 + i % 20:02d}{1 + i:03d}0"), f"ORANG {i}", "05-05-1980"])
    text = [f"6408131203{85 + i % 10:02d}{500 + i:04d}" for i in range(30)]
    for i, nik in enumerate(text):
        ws.append([nik, f"TEKS {i}", "05-05-1980"])
    buf = io.BytesIO()
    wb.save(buf)
    voters, _, _ = ingest_file(buf.getvalue(), file_name="dpt.xlsx")
    assert sum(n.endswith("0") for n in text) == 3
    by_name = voters.filter(pl.col("nama").str.starts_with("TEKS"))
    assert by_name["nik_valid"].all()
    assert (voters.filter(pl.col("nama").str.starts_with("ORANG"))["nik_masalah"] == MASALAH_DIGIT_EXCEL).all()


def test_a_sheet_without_long_numbers_is_not_read_twice(ingest_file, calc_xlsx, monkeypatch) -> None:
    # The pass over the cell types costs a second read of the sheet; a sheet where no value is a number of 15
    # or 16 digits cannot hold a NIK as a number, so it is spared.
    from dpt_pipeline.ingest import tables

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sheet was read a second time")

    monkeypatch.setattr(tables, "_numeric_cells", refuse)
    voters, _, _ = ingest_file(calc_xlsx(_csv(NIKS, NKKS), text_columns=(1, 2)), file_name="dpt.xlsx")
    assert voters.height == 40 and voters["nik_valid"].all()

    with pytest.raises(AssertionError, match="second time"):
        ingest_file(calc_xlsx(_csv(NIKS, NKKS)), file_name="dpt.xlsx")
