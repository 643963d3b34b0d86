"""Shifted rows in an XLSX. A CSV row with a field too many is `kolom lebih`; in a sheet that is a value right
of the header's last column (a value pasted one column to the right, a stray far right), and its row is
rejected the same way. A CSV row with a field too few is `kolom kurang`; a sheet cannot tell it: a row whose
last cells are empty is read with those cells empty (the reader pads every row to the header's width), which is
also how a list with empty optional columns (KETERANGAN, DISABILITAS) looks, so such a row stays a voter."""

from __future__ import annotations

import json

import polars as pl

from dpt_pipeline.core.schema import REJECT_EMPTY_ROW, REJECT_TOO_FEW, REJECT_TOO_MANY

HEADER = "NIK;NAMA;TGL LAHIR;JK"
LINES = [
    "6408134505800001;SITI;05-05-1980;P",
    "6408131203850002;BUDI;12-03-1985;L;L",                 # pasted one column right: a value beyond JK
    "6408131203850003;ANI;05-05-1980",                      # its last cell empty
    "6408134505800004;RINA;05-05-1980;P" + ";" * 30 + "Z",  # a stray far right (column AI)
    ";;;;X",                                                # a value right of the header only
    "6408134505800006;DEWI;05-05-1980;P",
]


def test_a_calc_xlsx_rejects_its_shifted_rows_as_a_csv_does(ingest_file, calc_xlsx) -> None:
    text = "\n".join([HEADER, *LINES]) + "\n"
    voters, rejects, summary = ingest_file(calc_xlsx(text, text_columns=(1,)), file_name="dpt.xlsx")
    assert summary.data_rows == 6 == voters.height + rejects.height          # every row counted once
    got = dict(rejects.select("source_row", "reason").iter_rows())
    assert got == {2: REJECT_TOO_MANY, 4: REJECT_TOO_MANY, 5: REJECT_TOO_MANY}
    assert voters.sort("source_row")["nama"].to_list() == ["SITI", "ANI", "DEWI"]
    assert voters.filter(pl.col("nama") == "ANI")["jenis_kelamin"].item() is None
    raw = json.loads(rejects.filter(pl.col("source_row") == 2)["raw"].item())
    assert raw["NAMA"] == "BUDI" and list(raw) == ["NIK", "NAMA", "TGL LAHIR", "JK"]   # its cells by header

    # The same lines as a CSV: the same rows rejected for a field too many, and the short row too.
    voters_csv, rejects_csv, _ = ingest_file(text)
    got_csv = dict(rejects_csv.select("source_row", "reason").iter_rows())
    assert got_csv == {**got, 3: REJECT_TOO_FEW}
    assert set(voters_csv["voter_id"]) == set(voters["voter_id"]) - set(
        voters.filter(pl.col("source_row") == 3)["voter_id"])


def test_an_empty_row_with_nothing_right_of_the_header_stays_an_empty_row(ingest_file, calc_xlsx) -> None:
    text = "\n".join([HEADER, LINES[0], ";;;", LINES[5]]) + "\n"
    voters, rejects, _ = ingest_file(calc_xlsx(text, text_columns=(1,)), file_name="dpt.xlsx")
    assert voters.height == 2
    assert dict(rejects.select("source_row", "reason").iter_rows()) == {2: REJECT_EMPTY_ROW}
