"""XLSX and Parquet sources, and the deterministic voter_id."""

from __future__ import annotations

import datetime as dt
import io
import json

import openpyxl
import polars as pl
import pytest

from dpt_pipeline.core.schema import REJECT_EMPTY_ROW, REJECT_NO_NAME
from dpt_pipeline.errors import InputError


def _xlsx(rows: list[list[object]], sheet: str = "DPT") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_with_date_cells_serials_numbers_and_empty_rows(ingest_file) -> None:
    content = _xlsx([
        ["No", "NIK", "Nama Lengkap", "Tgl Lahir", "JK"],
        [1, 6408134505800001, "SITI", dt.datetime(1980, 5, 5), "P"],   # NIK typed as a number, date cell
        [2, "'6408131203850002", "BUDI", 31118, "L"],                  # serial number (1985-03-12)
        [None, None, None, None, None],                               # empty row inside: a reject
        [4, "6408131203850003", None, "12-03-1985", "L"],             # no name
        [5, "6408134505800004", "ANI", "05|05|1980", "P"],
    ])
    voters, rejects, summary = ingest_file(content, file_name="list.xlsx")
    assert summary.format == "xlsx" and summary.data_rows == 5
    v = voters.sort("source_row")
    assert v["source_row"].to_list() == [1, 2, 5]
    assert v["nik"].to_list() == ["6408134505800001", "6408131203850002", "6408134505800004"]
    assert v["tanggal_lahir"].to_list() == [dt.date(1980, 5, 5), dt.date(1985, 3, 12), dt.date(1980, 5, 5)]
    assert dict(rejects.select("source_row", "reason").iter_rows()) == {3: REJECT_EMPTY_ROW, 4: REJECT_NO_NAME}
    raw = json.loads(rejects.filter(pl.col("source_row") == 4)["raw"].item())
    assert raw["NIK"] == "6408131203850003"  # the raw row keeps its values by header


def test_xlsx_sheet_by_name(ingest_file) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["CATATAN"])
    ws = wb.create_sheet("DPT")
    ws.append(["NAMA", "NIK"])
    ws.append(["ANI", "6408134505800001"])
    buf = io.BytesIO()
    wb.save(buf)
    voters, _, _ = ingest_file(buf.getvalue(), file_name="list.xlsx", sheet="DPT")
    assert voters["nama"].to_list() == ["ANI"]


def test_parquet_with_typed_columns(ingest_file, tmp_path) -> None:
    df = pl.DataFrame({
        "NIK": ["6408134505800001", None], "NAMA": ["SITI", "BUDI"],
        "TANGGAL LAHIR": [dt.date(1980, 5, 5), dt.date(1985, 3, 12)], "RT": [19, 3],
    })
    buf = io.BytesIO()
    df.write_parquet(buf)
    voters, rejects, summary = ingest_file(buf.getvalue(), file_name="list.parquet")
    assert summary.format == "parquet" and rejects.height == 0
    v = voters.sort("source_row")
    assert v["tanggal_lahir"].to_list() == [dt.date(1980, 5, 5), dt.date(1985, 3, 12)]
    assert v["rt"].to_list() == [19, 3]
    assert v["nik_masalah"].to_list() == [None, "kosong"]


@pytest.mark.parametrize(("name", "content"), [("broken.xlsx", b"not a zip"), ("broken.parquet", b"PAR1xx")])
def test_unreadable_file_names_the_file(ingest_file, name: str, content: bytes) -> None:
    with pytest.raises(InputError, match=name):
        ingest_file(content, file_name=name)


def test_unknown_extension_is_refused(ingest_file) -> None:
    with pytest.raises(InputError, match=r"\.ods"):
        ingest_file(b"x", file_name="list.ods")


ROWS = ["6408134505800001;SITI;05-05-1980", "6408131203850002;BUDI;12-03-1985", "6408134505800004;ANI;05-05-1980"]


def test_voter_id_is_the_same_whatever_the_row_order_or_file_style(ingest_file) -> None:
    a, _, _ = ingest_file("NIK;NAMA;TGL LAHIR\n" + "\n".join(ROWS) + "\n")
    b, _, _ = ingest_file("NIK;NAMA;TGL LAHIR\n" + "\n".join(reversed(ROWS)) + "\n")
    # Other separator, other column order, other header spelling, CRLF, a NO column.
    c_rows = [f"{i},{r.split(';')[1]},{r.split(';')[0]},{r.split(';')[2]}" for i, r in enumerate(ROWS, 1)]
    c, _, _ = ingest_file("NO,NAMA LENGKAP,NIK,TGL. LAHIR\r\n" + "\r\n".join(c_rows) + "\r\n")
    ids = [dict(zip(x["nama"], x["voter_id"], strict=True)) for x in (a, b, c)]
    assert ids[0] == ids[1] == ids[2]
    assert len(set(ids[0].values())) == 3
    assert all(i.startswith("src-") for i in ids[0].values())


def test_voter_id_changes_with_content_and_source(ingest_file) -> None:
    a, _, _ = ingest_file("NIK;NAMA;TGL LAHIR\n" + ROWS[0] + "\n")
    b, _, _ = ingest_file("NIK;NAMA;TGL LAHIR\n" + ROWS[0].replace("SITI", "SITTI") + "\n")
    c, _, _ = ingest_file("NIK;NAMA;TGL LAHIR\n" + ROWS[0] + "\n", name="other")
    assert len({a["voter_id"].item(), b["voter_id"].item(), c["voter_id"].item()}) == 3
    assert a["row_hash"].item() != b["row_hash"].item()


def test_identical_rows_get_distinct_ids(ingest_file) -> None:
    voters, _, _ = ingest_file("NIK;NAMA;TGL LAHIR\n" + "\n".join([ROWS[0]] * 3) + "\n")
    ids = voters.sort("source_row")["voter_id"].to_list()
    assert len(set(ids)) == 3
    assert ids[1] == ids[0] + "-2" and ids[2] == ids[0] + "-3"
