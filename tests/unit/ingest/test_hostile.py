"""Issue 13: lists a hostile tester built. Each ends as the right data, a clear refusal naming file, row and
field, or a warning; never a cell value in a message; voters + rejects = data rows whenever rows are read."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.core.schema import (
    REJECT_EMPTY_ROW,
    REJECT_HEADER_AGAIN,
    REJECT_NO_NAME,
    REJECT_REASONS,
    REJECT_TOO_MANY,
)
from dpt_pipeline.errors import InputError, StorageError
from dpt_pipeline.ingest import ingest_source
from dpt_pipeline.ingest.regions import RegionTable

REFERENCE = dt.date(2026, 12, 9)
NIKS = [f"640813450580{i:04d}" for i in range(1, 31)]
NAMES = [f"SITI AMINAH {chr(65 + i % 26)}{chr(65 + i // 26)}" for i in range(30)]


def _rows_are_counted(voters: pl.DataFrame, rejects: pl.DataFrame, summary, data_rows: int) -> None:
    """voters + rejects = data rows, and every row number once."""
    assert voters.height + rejects.height == summary.data_rows == data_rows
    seen = sorted(voters["source_row"].to_list() + rejects["source_row"].to_list())
    assert seen == list(range(1, data_rows + 1))


def _no_personal_data(text: str) -> None:
    for nik in NIKS:
        assert nik not in text
        assert nik[:8] not in text  # not even the start of one
    for name in NAMES:
        assert name not in text
    assert "AMINAH" not in text and "BAHAR" not in text


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _parquet(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


# --------------------------------------------------------------------- 1. repeated headers, by position

@pytest.mark.parametrize(("header", "columns", "named"), [
    ("NO;NAMA;NIK;NAMA;NIK", {}, ["column 2 ('NAMA')", "column 4 ('NAMA')"]),
    ("NIK;NAMA;NAMA LENGKAP", {}, ["column 2 ('NAMA')", "column 3 ('NAMA LENGKAP')"]),
    ("NIK;NAMA;KELURAHAN;DESA", {}, ["column 3 ('KELURAHAN')", "column 4 ('DESA')"]),
    ("NIK;NAMA ANDA;nama anda", {"nama": "NAMA ANDA"}, ["column 2 ('NAMA ANDA')", "column 3 ('nama anda')"]),
])
def test_two_columns_for_one_field_are_refused_naming_both(ingest_file, header, columns, named) -> None:
    n = header.count(";") + 1
    row = ";".join(([NIKS[0], NAMES[0], NAMES[1], NIKS[1], NAMES[2]])[:n])
    with pytest.raises(InputError) as err:
        ingest_file(f"{header}\n{row}\n", file_name="dup.csv", columns=columns)
    msg = str(err.value)
    assert "dup.csv" in msg and "row 0" in msg and all(x in msg for x in named)
    assert err.value.field in {"nama", "desa", "nik"}
    _no_personal_data(msg)


def test_a_configured_header_wins_over_an_alias_of_its_field(ingest_file) -> None:
    text = f"NAMA;NAMA LENGKAP;NIK\nPANGGILAN;{NAMES[0]};{NIKS[0]}\n"
    voters, rejects, summary = ingest_file(text, columns={"nama": "NAMA LENGKAP"})
    _rows_are_counted(voters, rejects, summary, 1)
    assert voters["nama"].to_list() == [NAMES[0]]
    assert summary.ignored_headers == ["NAMA"]


def test_mapping_is_by_position_when_unmapped_headers_repeat(ingest_file) -> None:
    text = f"X;NAMA;X;NIK;X\na;{NAMES[0]};b;{NIKS[0]};c\n"
    voters, rejects, summary = ingest_file(text)
    _rows_are_counted(voters, rejects, summary, 1)
    assert voters.select("nama", "nik").row(0) == (NAMES[0], NIKS[0])
    assert summary.ignored_headers == ["X", "X", "X"]


def test_xlsx_repeated_header_is_refused_not_renamed(ingest_file) -> None:
    content = _xlsx([["NIK", "NAMA", "NAMA"], [NIKS[0], NAMES[0], NAMES[1]]])
    with pytest.raises(InputError, match=r"column 2 \('NAMA'\) and column 3 \('NAMA'\)") as err:
        ingest_file(content, file_name="list.xlsx")
    _no_personal_data(str(err.value))


# --------------------------------------------------------------------------------------- 2. encodings

def _unicode_text() -> str:
    """Excel's "Unicode text": tab separated, CRLF."""
    lines = ["NO\tNIK\tNAMA\tTGL LAHIR\tALAMAT"]
    lines += [f"{i + 1}\t{NIKS[i]}\t{NAMES[i]}\t05-05-1980\tJL. CAFÉ {i}" for i in range(30)]
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize(("prefix", "codec", "expected"), [
    (b"\xff\xfe", "utf-16-le", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be", "utf-16-be"),
    (b"", "utf-16-le", "utf-16-le"),          # no byte-order mark: told by its NUL bytes
    (b"", "utf-16-be", "utf-16-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8", "utf-8-sig"),
])
def test_unicode_lists_are_read_whole(ingest_file, prefix: bytes, codec: str, expected: str) -> None:
    voters, rejects, summary = ingest_file(prefix + _unicode_text().encode(codec))
    _rows_are_counted(voters, rejects, summary, 30)
    assert summary.encoding == expected and summary.delimiter == "\t" and rejects.height == 0
    v = voters.sort("source_row")
    assert v["nama"].to_list() == NAMES and v["nik"].to_list() == NIKS
    assert v["alamat"].to_list()[0] == "JL. CAFÉ 0"


@pytest.mark.parametrize(("content", "says"), [
    (b"\xff\xfe" + _unicode_text().encode("utf-16-le")[:-1], "UTF-16-LE byte-order mark"),  # cut in a character
    (b"\xff\xfe" + "NAMA\tNIK\r\n\ud800".encode("utf-16-le", "surrogatepass"), "UTF-16-LE"),
    (_unicode_text().encode("utf-32-le"), "not a text file"),
    (b"\xef\xbb\xbfNAMA;NIK\n\xe9\n", "UTF-8 byte-order mark"),
])
def test_a_list_not_in_the_encoding_it_shows_is_refused(ingest_file, content: bytes, says: str) -> None:
    with pytest.raises(InputError, match=says) as err:
        ingest_file(content, file_name="enc.csv")
    assert "enc.csv" in str(err.value)
    _no_personal_data(str(err.value))


# ------------------------------------------------------------------------------ 3. trailing empty field

def test_a_trailing_empty_field_on_every_row_is_an_export_habit(ingest_file) -> None:
    text = "NIK;NAMA;TGL LAHIR\n" + "".join(f"{NIKS[i]};{NAMES[i]};05-05-1980;\n" for i in range(5))
    voters, rejects, summary = ingest_file(text)
    _rows_are_counted(voters, rejects, summary, 5)
    assert rejects.height == 0 and voters.sort("source_row")["nama"].to_list() == NAMES[:5]


def test_trailing_empty_fields_with_a_header_that_ends_in_the_separator(ingest_file) -> None:
    lines = [
        "NIK;NAMA;TGL LAHIR;;",
        f"{NIKS[0]};{NAMES[0]};05-05-1980;;",        # 1 as many empty fields as the header
        f"{NIKS[1]};{NAMES[1]};05-05-1980",          # 2 none
        f"{NIKS[2]};{NAMES[2]};05-05-1980;; ;",      # 3 one more, blank
        f'{NIKS[3]};JL "X;05-05-1980;;',             # 4 a stray quote, same rule
        f"{NIKS[4]};{NAMES[4]};05-05-1980;;X",       # 5 a value beyond the header: too many
        f'{NIKS[5]};JL "Y;05-05-1980;;;;',           # 6 stray quote, too many empty fields
        f"{NIKS[6]};{NAMES[6]};05-05-1980;;;;",      # 7 too many empty fields
    ]
    voters, rejects, summary = ingest_file("\n".join(lines) + "\n")
    _rows_are_counted(voters, rejects, summary, 7)
    assert summary.ignored_headers == []
    assert sorted(voters["source_row"].to_list()) == [1, 2, 3, 4]
    assert dict(rejects.select("source_row", "reason").iter_rows()) == {5: REJECT_TOO_MANY, 6: REJECT_TOO_MANY,
                                                                       7: REJECT_TOO_MANY}
    assert voters.sort("source_row")["tanggal_lahir"].to_list() == [dt.date(1980, 5, 5)] * 4


def test_one_empty_extra_field_is_fine_two_are_not(ingest_file) -> None:
    text = f"NIK;NAMA\n{NIKS[0]};{NAMES[0]};\n{NIKS[1]};{NAMES[1]};;\n{NIKS[2]};{NAMES[2]};\"\"\n"
    voters, rejects, summary = ingest_file(text)
    _rows_are_counted(voters, rejects, summary, 3)
    assert voters["source_row"].to_list() == [1]
    assert rejects["reason"].to_list() == [REJECT_TOO_MANY, REJECT_TOO_MANY]


# ---------------------------------------------------------------------------- 4. repeated header lines

def test_a_concatenated_export_rejects_its_second_header_line(ingest_file) -> None:
    lines = ["NO;NIK;NAMA;TGL LAHIR", f"1;{NIKS[0]};{NAMES[0]};05-05-1980", f"2;{NIKS[1]};{NAMES[1]};05-05-1980",
             "NO;NIK;NAMA;TGL LAHIR", f"1;{NIKS[2]};{NAMES[2]};05-05-1980",
             "No.;Nik;Nama Lengkap;Tgl. Lahir", f"1;{NIKS[3]};{NAMES[3]};05-05-1980"]
    voters, rejects, summary = ingest_file("\n".join(lines) + "\n")
    _rows_are_counted(voters, rejects, summary, 6)
    assert sorted(voters["nama"].to_list()) == sorted(NAMES[:4])
    assert dict(rejects.select("source_row", "reason").iter_rows()) == {3: REJECT_HEADER_AGAIN,
                                                                       5: REJECT_HEADER_AGAIN}
    assert REJECT_HEADER_AGAIN in REJECT_REASONS and summary.rejects_by_reason == {REJECT_HEADER_AGAIN: 2}


def test_a_person_named_like_a_header_stays_a_voter(ingest_file) -> None:
    text = f"NIK;NAMA;ALAMAT\n{NIKS[0]};DESA;JL. A\n{NIKS[1]};{NAMES[1]};KOTA\n"
    voters, rejects, summary = ingest_file(text)
    _rows_are_counted(voters, rejects, summary, 2)
    assert rejects.height == 0


def test_a_second_header_in_another_column_order_is_refused(ingest_file) -> None:
    lines = ["NIK;NAMA;TGL LAHIR", f"{NIKS[0]};{NAMES[0]};05-05-1980", "NAMA;NIK;TGL LAHIR",
             f"{NAMES[1]};{NIKS[1]};05-05-1980"]
    with pytest.raises(InputError) as err:
        ingest_file("\n".join(lines) + "\n", file_name="cat.csv")
    msg = str(err.value)
    assert "cat.csv" in msg and "row 2" in msg and "column 1" in msg and "two lists" in msg
    _no_personal_data(msg)


def test_xlsx_and_parquet_repeated_header_rows_are_rejects(ingest_file) -> None:
    rows = [["NIK", "NAMA", "TGL LAHIR"], [NIKS[0], NAMES[0], "05-05-1980"], ["NIK", "NAMA", "TGL LAHIR"],
            [NIKS[1], NAMES[1], "05-05-1980"]]
    voters, rejects, summary = ingest_file(_xlsx(rows), file_name="list.xlsx")
    _rows_are_counted(voters, rejects, summary, 3)
    assert dict(rejects.select("source_row", "reason").iter_rows()) == {2: REJECT_HEADER_AGAIN}
    df = pl.DataFrame([r for r in rows[1:]], schema=rows[0], orient="row")
    voters, rejects, summary = ingest_file(_parquet(df), file_name="list.parquet")
    _rows_are_counted(voters, rejects, summary, 3)
    assert dict(rejects.select("source_row", "reason").iter_rows()) == {2: REJECT_HEADER_AGAIN}


# ------------------------------------------------------------------- 5. no header line: no cell quoted

def test_a_list_without_header_line_names_no_cell(ingest_file) -> None:
    text = f"1;6408130602080025;BAHAR, M.PD;SANGATTA;05-05-1980;L\n2;{NIKS[1]};{NAMES[1]};X;05-05-1980;P\n"
    with pytest.raises(InputError) as err:
        ingest_file(text, file_name="noheader.csv")
    msg = str(err.value)
    assert "noheader.csv" in msg and "row 0" in msg
    assert "does not look like a header" in msg and "6 fields, 3 of them with digits" in msg
    assert "6408130602080025" not in msg and "SANGATTA" not in msg
    _no_personal_data(msg)


def test_an_xlsx_without_header_row_names_no_cell(ingest_file) -> None:
    content = _xlsx([[1, int(NIKS[0]), NAMES[0], "05-05-1980"], [2, NIKS[1], NAMES[1], "05-05-1980"]])
    with pytest.raises(InputError, match="does not look like a header") as err:
        ingest_file(content, file_name="noheader.xlsx")
    _no_personal_data(str(err.value))


def test_a_system_file_is_not_quoted(ingest_file) -> None:
    with pytest.raises(InputError) as err:
        ingest_file("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin\n", file_name="passwd")
    msg = str(err.value).split(": ", 1)[1]  # after "file <path>, row 0" (a tmp path may hold 'root')
    assert "root" not in msg and "bash" not in msg and "daemon" not in msg
    assert "1 field, 1 of them with digits" in str(err.value)


def test_unknown_headers_are_quoted_only_on_a_header_like_line(ingest_file) -> None:
    with pytest.raises(InputError) as err:
        ingest_file("NAMA ANDA;NOMOR INDUK\nx;y\n")
    assert "'NAMA ANDA'" in str(err.value) and "'NOMOR INDUK'" in str(err.value)
    with pytest.raises(InputError) as err:
        ingest_file(f"NIK;{NAMES[0]};05-05-1980\nx;y;z\n")
    assert "'NIK'" in str(err.value) and "2 not shown" in str(err.value)
    _no_personal_data(str(err.value))


# ---------------------------------------------------------------------------- 6. a stray cell in XLSX

def _xlsx_with_stray(*cells: tuple[int, int]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["NO", "NIK", "NAMA", "TGL LAHIR"])
    for i in range(30):
        ws.append([i + 1, NIKS[i], NAMES[i], "05-05-1980"])
    for row, col in cells:
        ws.cell(row=row, column=col, value="x")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("cells", [[(20000, 16384)], [(1, 16384)], [(5, 40), (20000, 16384), (1, 200)]])
def test_a_stray_cell_far_right_is_not_read(ingest_file, caplog, cells) -> None:
    content = _xlsx_with_stray(*cells)
    with caplog.at_level(logging.WARNING, logger="dpt_pipeline.ingest"):   # (the time: bench_stray_cell.py)
        voters, rejects, summary = ingest_file(content, file_name="stray.xlsx")
    _rows_are_counted(voters, rejects, summary, 30)
    # A data row holding a stray is shifted as a CSV row with a field too many is: rejected, not lost.
    shifted = {row - 1 for row, _ in cells if row > 1 and row <= 31}
    assert dict(rejects.select("source_row", "reason").iter_rows()) == dict.fromkeys(shifted, REJECT_TOO_MANY)
    assert voters.sort("source_row")["nama"].to_list() == [n for i, n in enumerate(NAMES, 1) if i not in shifted]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{len(cells)} cells right of column D" in m for m in warned)
    raw = json.loads(rejects["raw"][0]) if rejects.height else {}
    assert "x" not in raw.values()


def test_a_stray_cell_in_a_shared_strings_workbook(ingest_file, caplog) -> None:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf)
    ws = wb.add_worksheet("DPT")
    ws.write_row(0, 0, ["NIK", "NAMA", "TGL LAHIR"])
    for i in range(30):
        ws.write_row(i + 1, 0, [NIKS[i], NAMES[i], "05-05-1980"])
    ws.write(19999, 16383, "x")
    ws.write(5, 3, 7)  # a number right of the header
    wb.close()
    with caplog.at_level(logging.WARNING, logger="dpt_pipeline.ingest"):
        voters, rejects, summary = ingest_file(buf.getvalue(), file_name="stray.xlsx", sheet="DPT")
    _rows_are_counted(voters, rejects, summary, 30)
    # The number right of the header (D6) shifts its row: rejected; the far stray is not read.
    assert dict(rejects.select("source_row", "reason").iter_rows()) == {5: REJECT_TOO_MANY}
    assert voters.sort("source_row")["nik"].to_list() == NIKS[:4] + NIKS[5:]
    assert any("1 cells right of column D" in r.getMessage() for r in caplog.records)


def _with_sheet_xml(content: bytes, extra: bytes) -> bytes:
    """The workbook with `extra` added at the end of its sheet's data (crafted XML)."""
    import copy
    import zipfile

    zin = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", extra + b"</sheetData>")
            z.writestr(copy.copy(info), data)
    return out.getvalue()


@pytest.mark.parametrize("extra", [
    b'<row r="40"><c' + b' r="XFD40"' * 200_000 + b"</row>",           # a tag never closed
    b'<row r="40">' + b'<c r="XFD40"><v>1</v>' * 100_000 + b"</row>",  # cells never closed
    b'<row r="40"><c r="A40" t="s"><v>1</v></c>' * 100_000,            # rows never closed
])
def test_a_malformed_sheet_is_read_or_refused(ingest_file, extra: bytes) -> None:
    """(The scan stays linear on such XML: benchmarks/bench_stray_cell.py measures the time.)"""
    content = _with_sheet_xml(_xlsx_with_stray(), extra)
    try:
        voters, rejects, summary = ingest_file(content, file_name="bad.xlsx")
    except InputError as e:
        _no_personal_data(str(e))
    else:
        assert voters.height + rejects.height == summary.data_rows


def test_a_stray_cell_below_in_a_header_column_is_data(ingest_file) -> None:
    content = _xlsx_with_stray((40, 3), (60, 2000))
    voters, rejects, summary = ingest_file(content, file_name="stray.xlsx")
    # rows 31-38 are blank inside the used range; row 39 holds the stray 'x' as its name.
    _rows_are_counted(voters, rejects, summary, 39)
    assert dict(rejects.group_by("reason").len().iter_rows()) == {REJECT_EMPTY_ROW: 8}
    assert voters.filter(pl.col("source_row") == 39)["nama"].item() == "x"


def test_blank_xlsx_header_columns_in_the_middle_stay_columns(ingest_file) -> None:
    content = _xlsx([["NIK", None, "NAMA", None], [NIKS[0], "a", NAMES[0], None], [None, None, None, None]])
    voters, rejects, summary = ingest_file(content, file_name="gap.xlsx")
    _rows_are_counted(voters, rejects, summary, 1)
    assert voters["nama"].to_list() == [NAMES[0]]


# -------------------------------------------------------------------------------- 7. not a regular file

@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail instead of hanging if a read blocks."""
    def boom(*_: object) -> None:
        raise TimeoutError("the read blocked")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _ingest_path(path: Path, regions: RegionTable) -> None:
    ingest_source(SourceConfig(name="src", path=path), regions, REFERENCE, 17)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_a_fifo_is_refused_before_it_is_opened(tmp_path, regions, alarm, suffix: str) -> None:
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    with pytest.raises(StorageError, match=r"pipe.*FIFO.*not a regular file"):
        _ingest_path(fifo, regions)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_and_a_directory_are_refused(tmp_path, regions, alarm) -> None:
    with pytest.raises(StorageError, match=r"/dev/zero.*a device"):
        _ingest_path(Path("/dev/zero"), regions)
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    with pytest.raises(StorageError, match="a device"):
        _ingest_path(link, regions)
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(StorageError, match=r"dir\.csv.*a directory"):
        _ingest_path(tmp_path / "dir.csv", regions)
    assert StorageError.exit_code == 7


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_a_storage_error(tmp_path, regions) -> None:
    p = tmp_path / "locked.csv"
    p.write_text("NAMA;NIK\n")
    p.chmod(0)
    with pytest.raises(StorageError, match="locked.csv"):
        _ingest_path(p, regions)


def test_a_read_the_system_refuses_is_a_storage_error(tmp_path, regions, monkeypatch) -> None:
    p = tmp_path / "locked.csv"
    p.write_text("NAMA;NIK\n")

    def refuse(*_: object) -> int:
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr("dpt_pipeline.io.files.os.open", refuse)
    with pytest.raises(StorageError, match="locked.csv: cannot be read: Permission denied"):
        _ingest_path(p, regions)


def test_a_missing_sheet_and_an_empty_sheet_are_named(ingest_file) -> None:
    with pytest.raises(InputError, match=r"has no sheet 'DPT' \(its sheets: 'Sheet'\)"):
        ingest_file(_xlsx([["NAMA", "NIK"], [NAMES[0], NIKS[0]]]), file_name="list.xlsx", sheet="DPT")
    with pytest.raises(InputError, match="row 0: the sheet is empty"):
        ingest_file(_xlsx([]), file_name="list.xlsx")


def test_a_missing_file_is_an_input_error(tmp_path, regions) -> None:
    with pytest.raises(InputError, match="does not exist"):
        _ingest_path(tmp_path / "gone.csv", regions)


# -------------------------------------------------------------------------- 8. nested Parquet columns

@pytest.mark.parametrize(("column", "values"), [
    ("NAMA", [[NAMES[0]], [NAMES[1]]]),
    ("NAMA", [{"depan": NAMES[0]}, {"depan": NAMES[1]}]),
    ("NIK", [NIKS[0].encode(), NIKS[1].encode()]),
])
def test_a_nested_or_binary_mapped_parquet_column_is_refused(ingest_file, column: str, values) -> None:
    cols = {"NIK": NIKS[:2], "NAMA": NAMES[:2], column: values}
    with pytest.raises(InputError) as err:
        ingest_file(_parquet(pl.DataFrame(cols)), file_name="nested.parquet")
    msg = str(err.value)
    assert "nested.parquet" in msg and f"column {list(cols).index(column) + 1} ('{column}')" in msg
    assert err.value.field == column.lower()
    _no_personal_data(msg)


def test_nested_unmapped_parquet_columns_go_to_raw_as_json_text(ingest_file) -> None:
    df = pl.DataFrame({
        "NIK": [NIKS[0], NIKS[1]], "NAMA": [NAMES[0], None],
        "TAGS": [[1, 2], None], "META": [{"a": 1, "b": "x"}, {"a": None, "b": None}],
        "BLOB": [b"\x00\xff", None], "LAMA": [dt.timedelta(days=1), None],
        "DEEP": [[{"k": b"\x01"}], None],
    })
    voters, rejects, summary = ingest_file(_parquet(df), file_name="nested.parquet")
    _rows_are_counted(voters, rejects, summary, 2)
    assert rejects["reason"].to_list() == [REJECT_NO_NAME]
    raw = json.loads(rejects["raw"].item())
    assert raw["NIK"] == NIKS[1] and raw["TAGS"] is None and raw["BLOB"] is None
    assert json.loads(raw["META"]) == {"a": None, "b": None}
    assert set(summary.ignored_headers) == {"TAGS", "META", "BLOB", "LAMA", "DEEP"}


def test_nested_json_text_of_a_filled_row(ingest_file) -> None:
    df = pl.DataFrame({"NIK": [NIKS[0]], "NAMA": [None], "TAGS": [[1, 2]], "BLOB": [b"\x00\xff"]})
    voters, rejects, summary = ingest_file(_parquet(df), file_name="nested.parquet")
    _rows_are_counted(voters, rejects, summary, 1)
    raw = json.loads(rejects["raw"].item())
    assert json.loads(raw["TAGS"]) == [1, 2] and raw["BLOB"] == "00ff"
