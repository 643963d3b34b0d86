"""A KPU export that opens with a title ("DAFTAR PEMILIH TETAP ..."), a subtitle and a blank line above its
header: the header is found among the first rows (or named by [sources].header_row), the rows above it are no
data rows, and a row's number still tells where it is in the file (its line less one, as always)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpt_pipeline.config import load_config
from dpt_pipeline.core.schema import REJECT_NO_NAME, REJECT_TOO_FEW
from dpt_pipeline.errors import ConfigError, InputError

ROOT = Path(__file__).resolve().parents[3]
TITLE = ["DAFTAR PEMILIH TETAP (DPT) PEMILIHAN BUPATI DAN WAKIL BUPATI KUTAI TIMUR TAHUN 2024",
         "KECAMATAN TELUK PANDAN - DESA MARTADINATA", ""]
HEADER = "NO;NIK;NAMA;TGL LAHIR;JK"
ROWS = ["1;6408134505800001;JOSÉ SUTRISNO;05-05-1980;L",
        "2;6408131203850002;;12-03-1985;L",              # no name: a reject on line 6
        "3;6408131203850003;BUDI;12-03-1985",             # a field too few: a reject on line 7
        "4;6408134505800004;ANI;05-05-1980;P"]


def _said(caplog) -> str:
    return " ".join(r.getMessage() for r in caplog.records)


def _check(voters, rejects, summary, header_row: int) -> None:
    assert summary.header_row == header_row and summary.data_rows == 4
    assert voters.height + rejects.height == 4
    # source_row is the line less one: line header_row + 1 is row header_row.
    assert sorted(voters["source_row"].to_list() + rejects["source_row"].to_list()) == [
        header_row + i for i in range(4)]
    assert dict(rejects.select("source_row", "reason").iter_rows()) == {
        header_row + 1: REJECT_NO_NAME, header_row + 2: REJECT_TOO_FEW}
    assert sorted(voters["nama"].to_list()) == ["ANI", "JOSÉ SUTRISNO"]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
@pytest.mark.parametrize("excel_style", [False, True])   # Excel saves a title cell as 'TITLE;;;;'
def test_a_csv_with_title_lines_above_its_header(ingest_file, caplog, encoding: str, excel_style: bool) -> None:
    title = [t + ";;;;" if excel_style else t for t in TITLE]
    with caplog.at_level(logging.INFO, logger="dpt_pipeline"):
        voters, rejects, summary = ingest_file("\n".join([*title, HEADER, *ROWS]) + "\n", encoding=encoding)
    _check(voters, rejects, summary, 4)
    assert summary.delimiter == ";" and summary.encoding.replace("-", "").lower() in {"utf8", "cp1252"}
    said = _said(caplog)
    assert "header found on row 4 (3 title rows skipped)" in said
    assert "DAFTAR" not in said and "MARTADINATA" not in said and "6408" not in said   # no cell quoted


def test_header_row_names_the_header_line(ingest_file) -> None:
    text = "\n".join([*TITLE, HEADER, *ROWS]) + "\n"
    voters, rejects, summary = ingest_file(text, header_row=4)
    _check(voters, rejects, summary, 4)
    with pytest.raises(InputError, match="no column for nama"):           # a title line is no header
        ingest_file(text, header_row=2)
    with pytest.raises(InputError, match="header_row = 40, but the file has 8 lines"):
        ingest_file(text, header_row=40)


def test_without_title_lines_nothing_changes(ingest_file, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="dpt_pipeline"):
        voters, rejects, summary = ingest_file("\n".join([HEADER, *ROWS]) + "\n")
    _check(voters, rejects, summary, 1)
    assert "title rows" not in _said(caplog)


def test_a_file_without_any_header_is_still_refused(ingest_file) -> None:
    with pytest.raises(InputError, match="no column for nama"):
        ingest_file("\n".join([*TITLE, *ROWS]) + "\n")


def test_a_calc_xlsx_with_title_rows(ingest_file, calc_xlsx, caplog) -> None:
    content = calc_xlsx("\n".join([*TITLE, HEADER, *ROWS]) + "\n", text_columns=(2,))
    with caplog.at_level(logging.INFO, logger="dpt_pipeline"):
        voters, rejects, summary = ingest_file(content, file_name="dpt.xlsx")
    # The sheet's rows: title 1-2, a blank row 3, the header on 4; a row short of a cell is no reject in a
    # sheet (its empty cells are just empty: tests/unit/ingest/test_xlsx_shifted.py).
    assert summary.header_row == 4 and summary.data_rows == 4
    assert sorted(voters["source_row"].to_list() + rejects["source_row"].to_list()) == [4, 5, 6, 7]
    assert dict(rejects.select("source_row", "reason").iter_rows()) == {5: REJECT_NO_NAME}
    assert voters.sort("source_row")["nik"].to_list() == ["6408134505800001", "6408131203850003",
                                                        "6408134505800004"]
    assert "header found on row 4 (3 title rows skipped)" in _said(caplog)
    voters2, _, summary2 = ingest_file(content, file_name="dpt.xlsx", header_row=4)
    assert summary2.header_row == 4 and voters2.equals(voters)
    with pytest.raises(InputError, match="header_row = 30, but the sheet's rows with values are 1 to 8"):
        ingest_file(content, file_name="dpt.xlsx", header_row=30)


_title = st.sampled_from([*TITLE, "DPT PILKADA 2024;;;;", "TPS 001;;;;", ";;;;", "Dicetak: 01-12-2026"])
_cell = st.text(alphabet=st.sampled_from(list("AB 1;\"x")), max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_title, max_size=6), st.lists(st.lists(_cell, max_size=6), min_size=1, max_size=15))
def test_every_row_below_the_header_is_a_voter_or_a_reject(ingest_file, titles, rows) -> None:
    """Whatever the title lines and rows, the rows below the header are counted once each, numbered from it."""
    body = "\n".join(";".join(r) for r in rows)
    voters, rejects, summary = ingest_file("\n".join([*titles, "NAMA;NIK;TGL LAHIR;ALAMAT;RT", body]) + "\n")
    k = len(titles)
    assert summary.header_row == k + 1
    seen = sorted(voters["source_row"].to_list() + rejects["source_row"].to_list())
    assert seen == list(range(k + 1, k + 1 + summary.data_rows))
    assert summary.data_rows <= len(rows)


def _config(tmp_path: Path, line: str) -> Path:
    (tmp_path / "a.csv").write_text("NAMA;NIK\nANI;1\n")
    (tmp_path / "regions.csv").write_text((ROOT / "dpt_pipeline" / "core" / "regions.csv").read_text())
    p = tmp_path / "p.toml"
    p.write_text(f'[output]\ndir = "out"\n\n[[sources]]\nname = "kutim"\npath = "a.csv"\n{line}\n')
    return p


def test_header_row_in_the_config(tmp_path: Path) -> None:
    assert load_config(_config(tmp_path, "header_row = 4")).sources[0].header_row == 4
    assert load_config(_config(tmp_path, "")).sources[0].header_row is None
    for bad, says in (("0", "out of range"), ("1001", "out of range"), ('"4"', "whole number"),
                      ("true", "whole number")):
        with pytest.raises(ConfigError, match=says):
            load_config(_config(tmp_path, f"header_row = {bad}"))


def test_an_xlsx_starting_below_its_first_rows_numbers_rows_as_the_sheet_does(ingest_file) -> None:
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.cell(2, 2, "DAFTAR PEMILIH TETAP")       # rows 1 and column A empty: the reader starts at B2
    ws.cell(4, 2, "NIK")
    ws.cell(4, 3, "NAMA")
    ws.cell(5, 2, "6408134505800001")
    ws.cell(5, 3, "SITI")
    ws.cell(7, 2, "6408131203850002")
    ws.cell(7, 3, "BUDI")
    buf = io.BytesIO()
    wb.save(buf)
    voters, rejects, summary = ingest_file(buf.getvalue(), file_name="dpt.xlsx")
    assert summary.header_row == 4 and summary.data_rows == 3
    assert dict(zip(voters["nama"], voters["source_row"], strict=True)) == {"SITI": 4, "BUDI": 6}
    assert rejects["source_row"].to_list() == [5]                             # the empty row 6
    voters2, _, _ = ingest_file(buf.getvalue(), file_name="dpt.xlsx", header_row=4)
    assert voters2.equals(voters)
    with pytest.raises(InputError, match="header_row = 1, but the sheet's rows with values are 2 to 7"):
        ingest_file(buf.getvalue(), file_name="dpt.xlsx", header_row=1)
