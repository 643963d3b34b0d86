"""Review files: what a camat sees, and reading their decisions back row by row.

Every shape Excel saves is read; every good row is stored; each bad row is refused on its own with its file,
row and fix; a row whose record changed is stale and its pair reopened; an older file never replaces a
newer decision.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from dpt_pipeline import review
from dpt_pipeline.core import decisions
from dpt_pipeline.errors import InputError
from dpt_pipeline.io.hashing import sha256_file
from dpt_pipeline.io.spreadsheet import neutralise_formulas
from dpt_pipeline.review import sheet as review_sheet

WHEN = dt.datetime(2026, 11, 28, 1, 0)
EXPORTED = dt.datetime(2026, 11, 27, 1, 0)
OWNER = "kutai-timur/teluk-pandan"
VOTERS = pl.DataFrame({
    "voter_id": ["a", "b", "c", "d", "e", "f"], "source": ["kutim"] * 6, "source_row": [1, 2, 3, 4, 5, 6],
    "nama": ["ANI", "ANI", "BUDI", "BUDI S", "CICI", "CICI"], "nik": [f"640813450580000{i}" for i in range(1, 7)],
    "alamat": ["JL. A"] * 6})
EXPORTS = pl.DataFrame({
    "ekspor": ["E1"] * 3, "berkas": [OWNER] * 3, "diekspor": [EXPORTED] * 3, "pair_id": ["p1", "p2", "p3"],
    "voter_id_l": ["a", "c", "e"], "voter_id_r": ["b", "d", "f"], "match_probability": [0.9, 0.6, 0.3],
    "alasan": ["x"] * 3, "status": [review.STATUS_BARU] * 3}, schema=review.EXPORTS_SCHEMA)
NAMES = {"p1": ("ANI", "ANI", 1, 2), "p2": ("BUDI", "BUDI S", 3, 4), "p3": ("CICI", "CICI", 5, 6)}
HEADER = ["keputusan", "nama_1", "nama_2", "catatan", "sumber_1", "sumber_2", "baris_1", "baris_2", "pair_id",
          "ekspor", "berkas"]


def _row(pair: str, decision: str, note: str = "", *, names: tuple[str, str] | None = None) -> list[str]:
    n1, n2, b1, b2 = NAMES[pair]
    if names:
        n1, n2 = names
    return [decision, n1, n2, note, "kutim", "kutim", str(b1), str(b2), pair, "E1", OWNER]


def _csv(tmp_path: Path, rows: list[list[str]], *, sep: str = ";", bom: bool = True, encoding: str = "utf-8",
         header: list[str] = HEADER, name: str = "teluk-pandan.csv") -> Path:
    text = "\r\n".join(sep.join(r) for r in [header, *rows]) + "\r\n"
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def _read(paths: list[Path], *, voters: pl.DataFrame = VOTERS, history: pl.DataFrame | None = None
          ) -> tuple[review.ImportReport, pl.DataFrame]:
    return review.read_decisions(paths, exports=EXPORTS, shown=VOTERS, voters=voters,
                                 history=decisions.history_frame(history), imported_at=WHEN)


@pytest.mark.parametrize(("sep", "bom", "encoding", "why"), [
    (";", True, "utf-8", "as exported"),
    (",", False, "utf-8", "saved by Excel with a comma separator"),
    (";", False, "cp1252", "saved by old Excel in Windows-1252"),
])
def test_reads_every_shape_excel_saves(tmp_path, sep, bom, encoding, why) -> None:
    path = _csv(tmp_path, [_row("p1", "sama", "José ok"), _row("p2", " Beda "), _row("p3", "")], sep=sep, bom=bom,
                encoding=encoding)
    report, _ = _read([path])
    got = report.stored
    assert dict(got.select("pair_id", "keputusan").iter_rows()) == {"p1": "SAMA", "p2": "BEDA"}, why
    assert got.filter(pl.col("pair_id") == "p1")["catatan"].item() == "José ok"
    assert got["voter_id_l"].to_list() == ["a", "c"] and got["baris"].to_list() == [2, 3]
    assert set(got["berkas"]) == {OWNER} and set(got["diekspor"]) == {EXPORTED} and not report.refused


def test_reads_xlsx_saved_with_numbers_as_numbers(tmp_path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    row: list[object] = _row("p1", "RAGU", "tanya kades")
    row[6], row[7] = 1.0, 2          # a spreadsheet program writes row numbers as numbers
    ws.append(row)
    path = tmp_path / "teluk-pandan.xlsx"
    wb.save(path)
    report, _ = _read([path])
    assert report.stored.select("pair_id", "keputusan", "catatan").row(0) == ("p1", "RAGU", "tanya kades")


def test_one_bad_row_refuses_that_row_only(tmp_path) -> None:
    path = _csv(tmp_path, [_row("p1", "SAMA"), _row("p2", "YA"), _row("p3", "BEDA")], name="bad.csv")
    report, _ = _read([path])
    assert sorted(report.stored["pair_id"]) == ["p1", "p3"]
    [note] = report.refused
    assert (note.file.endswith("bad.csv"), note.row, note.field) == (True, 3, "keputusan")
    assert "SAMA, BEDA or RAGU" in str(note) and "YA" not in str(note)      # no cell value quoted


@pytest.mark.parametrize(("rows", "row", "fld", "why"), [
    ([_row("p1", "SAMA"), ["BEDA", "X", "Y", "", "kutim", "kutim", "1", "2", "zz", "E1", OWNER]], 3, "pair_id",
     "a pair no review file listed"),
    ([_row("p1", "SAMA"), _row("p2", "BEDA"), _row("p1", "BEDA")], 2, "keputusan", "two words for one pair"),
    ([_row("p1", "SAMA", names=("BUDI", "BUDI S"))], 2, "nama_1", "the decision sits beside another pair's names"),
])
def test_bad_rows_are_refused_with_file_row_and_field(tmp_path, rows, row, fld, why) -> None:
    path = _csv(tmp_path, rows, name="bad.csv")
    report, _ = _read([path])
    assert report.refused, why
    assert (report.refused[0].row, report.refused[0].field) == (row, fld), why
    assert "p1" not in (report.stored["pair_id"].to_list() if fld != "pair_id" else []), why


def test_a_shifted_decision_column_is_refused_not_misapplied(tmp_path) -> None:
    """The pair_id and decision columns slid down one row against the names beside them."""
    good = [_row(p, w) for p, w in (("p1", "SAMA"), ("p2", "BEDA"), ("p3", "SAMA"))]
    shifted = [[*good[i][:8], *good[i - 1][8:]] for i in range(1, 3)]
    shifted = [[good[i - 1][0], *r[1:]] for i, r in enumerate(shifted, start=1)]
    report, _ = _read([_csv(tmp_path, shifted, name="shifted.csv")])
    assert report.stored.height == 0 and len(report.refused) == 2
    assert {n.field for n in report.refused} <= {"nama_1", "nama_2", "sumber_1", "baris_1", "baris_2"}


def test_a_record_shown_at_another_row_another_night_still_matches(tmp_path) -> None:
    """Two identical rows: when the first is corrected, the second takes its voter_id (ingest numbers
    identical copies), so the same record is shown at row 3 tonight and was at row 2 last night."""
    moved = VOTERS.filter(pl.col("voter_id") == "b").with_columns(pl.lit(3, pl.Int64).alias("source_row"))
    shown = pl.concat([VOTERS, moved])
    row = _row("p1", "SAMA")
    row[7] = "3"
    report, _ = review.read_decisions([_csv(tmp_path, [row, _row("p2", "BEDA")])], exports=EXPORTS, shown=shown,
                                      voters=VOTERS, history=decisions.history_frame(None), imported_at=WHEN)
    assert not report.refused and report.stored.height == 2


def test_missing_columns_refuse_the_file(tmp_path) -> None:
    with pytest.raises(InputError, match=r"row 1.*missing columns \['keputusan'\]"):
        _read([_csv(tmp_path, [["p1"]], header=["pair_id"], name="x.csv")])
    with pytest.raises(InputError, match="nama_1 and nama_2"):
        _read([_csv(tmp_path, [["p1", "SAMA"]], header=["pair_id", "keputusan"], name="y.csv")])


def test_a_changed_record_makes_the_row_stale_and_reopens_its_pair(tmp_path) -> None:
    # Record b was corrected in its list since export: same list and row, new address, so a new voter_id.
    now = pl.concat([VOTERS.filter(pl.col("voter_id") != "b"),
                     VOTERS.filter(pl.col("voter_id") == "b").with_columns(pl.lit("b2").alias("voter_id"),
                                                                           pl.lit("JL. BARU").alias("alamat"))])
    report, reopened = _read([_csv(tmp_path, [_row("p1", "SAMA"), _row("p2", "BEDA")])], voters=now)
    assert report.stored["pair_id"].to_list() == ["p2"]
    [note] = report.stale
    assert note.row == 2 and "record 2: alamat" in note.problem and "JL." not in note.problem
    assert reopened.select("voter_id_l", "voter_id_r", "keputusan_lama").row(0) == ("a", "b2", "SAMA")


def test_an_older_file_never_replaces_a_newer_decision(tmp_path) -> None:
    newer = pl.DataFrame([{"pair_id": "p1", "voter_id_l": "a", "voter_id_r": "b", "keputusan": "BEDA", "catatan": None,
                           "file": "f", "baris": 2, "imported_at": WHEN - dt.timedelta(hours=1), "berkas": OWNER,
                           "diekspor": EXPORTED + dt.timedelta(days=2)}], schema=decisions.DECISION_SCHEMA)
    report, _ = _read([_csv(tmp_path, [_row("p1", "SAMA")])], history=newer)
    assert len(report.superseded) == 1 and report.superseded[0].row == 2
    after = decisions.standing(pl.concat([newer, report.stored]))
    assert after["keputusan"].to_list() == ["BEDA"]                 # the newer export's word stands
    assert pl.concat([newer, report.stored]).height == 2            # and the older one is in the history


def test_the_same_decision_again_is_not_stored_twice(tmp_path) -> None:
    first, _ = _read([_csv(tmp_path, [_row("p1", "SAMA")])])
    again, _ = _read([_csv(tmp_path, [_row("p1", "SAMA")])], history=first.stored)
    assert first.stored.height == 1 and again.stored.height == 0 and len(again.same_again) == 1


def test_two_camats_who_disagree_are_both_stored_as_a_conflict(tmp_path) -> None:
    a = _csv(tmp_path, [_row("p1", "SAMA")], name="teluk-pandan.csv")
    b_row = _row("p1", "BEDA")
    b_row[-1] = "bontang/bontang-utara"
    b = _csv(tmp_path, [b_row], name="bontang-utara.csv")
    report, _ = _read([a, b])
    assert report.stored.height == 2 and report.conflicts == 1 and not report.refused
    assert decisions.standing(report.stored)["keputusan"].to_list() == [decisions.KONFLIK]


@pytest.mark.parametrize(("a", "b", "mask_a", "words"), [
    ("6408134505800001", "6408134505800001", "640813******0001", "sama"),
    ("6408134505800001", "6474134505800001", "640813******0001", "beda: kabupaten (digit 3,4)"),
    ("6408134505800001", "6408134506800001", "640813***#**0001", "beda: tanggal lahir (digit 10)"),
    ("6408134505800001", "6408134505800010", "640813******0001", "beda: nomor urut (digit 15,16)"),
    ("6408134505800001", "3173020101990123", "640813##*###0001", "beda di 14 dari 16 digit (NIK lain)"),
    ("6408134505800001", None, "640813******0001", "salah satu kosong"),
    ("6.40813E+15", "6408134505800001", "(tidak sah)", "salah satu tidak sah"),
])
def test_masked_niks_still_show_where_they_differ(a, b, mask_a, words) -> None:
    df = pl.DataFrame({"x": [a], "y": [b]}, schema={"x": pl.String, "y": pl.String})
    ma, mb, w = review.masked_pair("x", "y")
    got = df.select(ma.alias("a"), mb.alias("b"), w.alias("w")).row(0)
    assert got[0] == mask_a and got[2] == words
    assert got[1] is None or "*" in got[1] or "#" in got[1] or got[1] == "(tidak sah)"


def test_formulas_are_neutralised_in_spreadsheets_only() -> None:
    df = pl.DataFrame({"nama": ["=HYPERLINK(\"x\")", "+1+1", "-2+3", "@SUM(A1)", "ANI", "\tX"], "n": [1] * 6})
    out = neutralise_formulas(df)
    assert out["nama"].to_list() == ["'=HYPERLINK(\"x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "ANI", "'\tX"]
    assert out["n"].to_list() == [1] * 6


def _sheet_frame() -> tuple[pl.DataFrame, pl.DataFrame]:
    cols = review_sheet.columns()
    row = {c: "x" for c in cols} | {"skor": 97.5, "nama_1": "=HYPERLINK(\"http://x\")", "nama_2": "ANI",
                                   "baris_1": 3, "baris_2": 4, "rt_1": 1, "rt_2": 2, "rw_1": 1, "rw_2": 1,
                                   "tps_1": 1, "tps_2": 1, "status": "KONFLIK: x"}
    differ = pl.DataFrame({f: [f in ("nama", "rt")] for f in review_sheet.COMPARED})
    return pl.DataFrame([row]), differ


def test_the_xlsx_is_a_file_a_camat_can_work_in(tmp_path) -> None:
    frame, differ = _sheet_frame()
    path = review_sheet.write_xlsx(frame, tmp_path / "a.xlsx", differ)
    wb = openpyxl.load_workbook(path)
    ws = wb["periksa"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["keputusan", "nama_1", "nama_2"] and ws.freeze_panes == review_sheet.FROZEN
    assert header.index("tanggal_lahir_2") == header.index("tanggal_lahir_1") + 1    # side by side
    [dv] = ws.data_validations.dataValidation
    assert "SAMA,BEDA,RAGU" in dv.formula1 and dv.showErrorMessage and dv.showInputMessage and dv.prompt
    assert str(dv.sqref).startswith("A2")
    skor = ws.cell(row=2, column=header.index("skor") + 1)
    assert skor.data_type == "n" and skor.value == 97.5 and skor.number_format == "0.0"
    nama = ws.cell(row=2, column=2)
    assert nama.data_type == "s" and nama.value.startswith("=HYPERLINK")   # text, never a live formula
    assert nama.quotePrefix and not ws.cell(row=2, column=3).quotePrefix    # and stays text when edited
    fill = {h: ws.cell(row=2, column=i + 1).fill.fgColor.rgb for i, h in enumerate(header)}
    assert fill["nama_1"] == fill["rt_2"] != fill["alamat_1"]
    assert "petunjuk" in wb.sheetnames


def test_the_csv_has_a_decimal_comma_and_no_live_formula(tmp_path) -> None:
    frame, _ = _sheet_frame()
    text = review_sheet.write_csv(frame, tmp_path / "a.csv").read_bytes().decode("utf-8-sig")
    row = dict(zip(*[line.split(";") for line in text.splitlines()[:2]], strict=True))
    assert row["skor"] == "97,5" and row["nama_1"].startswith("\"'=HYPERLINK") or row["nama_1"].startswith("'=")


def test_a_file_without_its_export_columns_is_owned_by_the_kecamatan_it_is_named_after(tmp_path) -> None:
    """A border pair was exported to two camats; a file whose `ekspor`/`berkas` columns were deleted is
    attributed to the camat whose file name it carries, not to whichever export came last."""
    other = EXPORTS.filter(pl.col("pair_id") == "p1").with_columns(pl.lit("bontang/bontang-utara").alias("berkas"))
    exports = pl.concat([other, EXPORTS])
    header = [h for h in HEADER if h not in ("ekspor", "berkas")]
    for name, owner in (("bontang-utara.csv", "bontang/bontang-utara"), ("teluk-pandan.csv", OWNER)):
        path = _csv(tmp_path, [_row("p1", "SAMA")[:-2]], header=header, name=name)
        report, _ = review.read_decisions([path], exports=exports, shown=VOTERS, voters=VOTERS,
                                          history=decisions.history_frame(None), imported_at=WHEN)
        assert report.stored["berkas"].to_list() == [owner], name


TWO_OWNERS = pl.concat([EXPORTS.filter(pl.col("pair_id") == "p1").with_columns(
    pl.lit("bontang/bontang-utara").alias("berkas")), EXPORTS])


def test_a_row_whose_owner_cannot_be_told_is_refused(tmp_path) -> None:
    """A border pair, a file renamed and stripped of its export columns: booking it under either camat
    could replace that camat's word, so the row is refused."""
    header = [h for h in HEADER if h not in ("ekspor", "berkas")]
    path = _csv(tmp_path, [_row("p1", "SAMA")[:-2], _row("p2", "BEDA")[:-2]], header=header, name="hasil camat.csv")
    report, _ = review.read_decisions([path], exports=TWO_OWNERS, shown=VOTERS, voters=VOTERS,
                                      history=decisions.history_frame(None), imported_at=WHEN)
    assert [(n.row, n.field) for n in report.refused] == [(2, "berkas")]
    assert report.stored["pair_id"].to_list() == ["p2"]          # a pair of one kecamatan only: its owner


def test_an_undated_row_never_outranks_a_dated_decision(tmp_path) -> None:
    newer = pl.DataFrame([{"pair_id": "p1", "voter_id_l": "a", "voter_id_r": "b", "keputusan": "BEDA", "catatan": None,
                           "file": "f", "baris": 2, "imported_at": WHEN - dt.timedelta(hours=1), "berkas": OWNER,
                           "diekspor": EXPORTED + dt.timedelta(days=2)}], schema=decisions.DECISION_SCHEMA)
    row = _row("p1", "SAMA")
    row[HEADER.index("ekspor")] = ""
    report, _ = _read([_csv(tmp_path, [row])], history=newer)
    assert len(report.superseded) == 1
    assert decisions.standing(pl.concat([newer, report.stored]))["keputusan"].to_list() == ["BEDA"]


def test_a_stranger_sliding_into_a_deleted_row_is_no_successor(tmp_path) -> None:
    # Record b was deleted from its list; the row below slid up into its place.
    now = pl.concat([VOTERS.filter(~pl.col("voter_id").is_in(["b", "c"])),
                     VOTERS.filter(pl.col("voter_id") == "c").with_columns(pl.lit(2, pl.Int64).alias("source_row"),
                                                                           pl.lit("6408131203900002").alias("nik"))])
    report, reopened = _read([_csv(tmp_path, [_row("p1", "SAMA")])], voters=now)
    assert "baris tidak ada lagi di daftarnya" in report.stale[0].problem and reopened.height == 0


def test_notes_come_back_without_the_neutralising_quote_and_every_row_is_logged(tmp_path) -> None:
    first, _ = _read([_csv(tmp_path, [_row("p1", "RAGU", "'-belum jelas"), _row("p2", "XX")])])
    assert first.stored["catatan"].to_list() == ["-belum jelas"]
    again, _ = _read([_csv(tmp_path, [_row("p1", "RAGU", "-belum jelas")])], history=first.stored)
    assert len(again.same_again) == 1 and again.stored.height == 0
    log = pl.concat([review.log_rows(first, WHEN), review.log_rows(again, WHEN)])
    assert sorted(log["hasil"].to_list()) == sorted([review.STORED, review.REFUSED, review.UNCHANGED])
    assert log["pair_id"].null_count() == 0


def test_the_import_reads_the_sheet_named_periksa(tmp_path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "catatan camat"
    wb.active.append(["apa saja"])
    ws = wb.create_sheet(review_sheet.SHEET)
    ws.append(HEADER)
    ws.append(_row("p1", "SAMA"))
    path = tmp_path / "teluk-pandan.xlsx"
    wb.save(path)
    report, _ = _read([path])
    assert report.stored["pair_id"].to_list() == ["p1"]


def test_edited_files_of_any_kind_are_kept_aside_and_a_file_changed_during_its_import_too(tmp_path, caplog) -> None:
    folder = tmp_path / "review"
    (folder / "kutai-timur").mkdir(parents=True)
    exported = folder / "kutai-timur" / "teluk-pandan.csv"
    exported.write_text("a")
    manifest = {"files": {"kutai-timur/teluk-pandan.csv": sha256_file(exported)}}
    (folder / review.MANIFEST).write_text(json.dumps(manifest))
    (folder / "kutai-timur" / "selesai.txt").write_text("camat")       # Excel's "Text (Tab delimited)"
    kept = review.keep_aside(folder, tmp_path, "R1")
    assert [k.name for k in kept] == ["selesai.txt"]
    imported_hash = sha256_file(exported)
    exported.write_text("saved again while importing")
    kept = review.keep_aside(folder, tmp_path, "R2", spare={exported: imported_hash})
    assert "teluk-pandan.csv" in {k.name for k in kept} and "changed while it was being imported" in caplog.text
