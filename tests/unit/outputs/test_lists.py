"""Printable voter lists per TPS: an XLSX per desa (a sheet per TPS) and a PDF per TPS, as a PPS prints them.

Synthetic voters only. Names with apostrophes and accents must print as written; names that look like
formulas must stay text; the NIK is masked (first 4 and last 2 digits), the NKK and the birth date are
never written.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from dpt_pipeline.core.schema import VOTER_SCHEMA
from dpt_pipeline.io.files import FILE_MODE
from dpt_pipeline.outputs import lists

ELECTION = dt.date(2026, 12, 9)
PRINTED = dt.date(2026, 12, 1)
CODE_A, CODE_B = "64.08.13.2006", "64.08.13.2001"
NAMES = {"64.08": "KUTAI TIMUR", "64.08.13": "TELUK PANDAN", CODE_A: "MARTADINATA", CODE_B: "TELUK PANDAN"}
SPECIAL = ["SYAFI'I", "JOSÉ NGAU", "Ñoño Ürgen", "=HYPERLINK(\"http://x\",\"y\")", "+1+1", "@SUM(A1)", "-2+3",
           "NAMA SANGAT PANJANG SEKALI BINTI MUHAMMAD ABDURRAHMAN AL-HABSYI"]


def _voters(n_a1: int = 60, n_a2: int = 7, n_b: int = 5) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Voters and their tps_assignments: desa A with TPS 1 (n_a1 voters, over a page) and TPS 2, desa B
    with one TPS; written in a shuffled order."""
    rows, assign = [], []
    plan = [(CODE_A, "MARTADINATA", 1, n_a1), (CODE_A, "MARTADINATA", 2, n_a2), (CODE_B, "TELUK PANDAN", 1, n_b)]
    i = 0
    for code, desa, tps, n in plan:
        for _ in range(n):
            nama = SPECIAL[i] if i < len(SPECIAL) else f"PEMILIH {(i * 37) % 101:03d}"
            rw, rt = (None, None) if i == 9 else (1 + (i * 7) % 3, 1 + (i * 5) % 4)
            nik = "640813450580" + f"{i:04d}" if i != 11 else "6.40813E+15"
            born = dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28) if i != 12 else None
            sex = "L" if i % 2 else "P"
            rows.append({"voter_id": f"v{i:03d}", "nik": nik, "nkk": f"64081300000{i:05d}", "nama": nama,
                         "tanggal_lahir": born, "jenis_kelamin": None if i == 13 else sex,
                         "alamat": "JL. DURIAN" if i % 3 else "DUSUN SIDRAP", "rt": rt, "rw": rw, "desa": desa,
                         "kecamatan": "Teluk Pandan", "kabupaten": "Kutai Timur", "kode_kabupaten": "64.08",
                         "kode_kecamatan": "64.08.13", "kode_desa": code})
            assign.append({"voter_id": f"v{i:03d}", "kode_desa": code, "desa": desa, "household": f"k{i // 3}",
                           "rw": rw, "rt": rt, "lat": 0.1, "lon": 117.4, "lokasi": "rt", "tps": tps,
                           "distance_m": 10.0})
            i += 1
    voters = pl.DataFrame(rows, schema={k: VOTER_SCHEMA[k] for k in rows[0]})
    assignments = pl.DataFrame(assign, schema={"voter_id": pl.String, "kode_desa": pl.String, "desa": pl.String,
                                               "household": pl.String, "rw": pl.Int32, "rt": pl.Int32,
                                               "lat": pl.Float64, "lon": pl.Float64, "lokasi": pl.String,
                                               "tps": pl.Int32, "distance_m": pl.Float64})
    return voters.sample(fraction=1.0, shuffle=True, seed=3), assignments.sample(fraction=1.0, shuffle=True, seed=4)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame, pl.DataFrame, list[Path]]:
    voters, assignments = _voters()
    rows = lists.list_rows(assignments, voters, NAMES, ELECTION)
    out = tmp_path_factory.mktemp("daftar")
    return out, voters, assignments, lists.write_lists(rows, out, PRINTED)


def _expected_order(voters: pl.DataFrame, assignments: pl.DataFrame, code: str, tps: int) -> list[str]:
    mine = assignments.filter((pl.col("kode_desa") == code) & (pl.col("tps") == tps)).join(
        voters.select("voter_id", "nama"), on="voter_id")
    return mine.sort(["rw", "rt", "nama", "voter_id"], nulls_last=True)["nama"].to_list()


def test_the_files_a_pps_prints(written) -> None:
    out, *_, paths = written
    rel = sorted(str(p.relative_to(out)) for p in paths)
    assert rel == ["TELUK_PANDAN/MARTADINATA/DPT_MARTADINATA.xlsx", "TELUK_PANDAN/MARTADINATA/TPS_001.pdf",
                   "TELUK_PANDAN/MARTADINATA/TPS_002.pdf", "TELUK_PANDAN/TELUK_PANDAN/DPT_TELUK_PANDAN.xlsx",
                   "TELUK_PANDAN/TELUK_PANDAN/TPS_001.pdf"]
    assert all(p.stat().st_mode & 0o777 == FILE_MODE for p in paths)


def _sheet_rows(ws) -> tuple[dict[str, str], list[str], list[list[object]]]:
    values = [[c.value for c in row] for row in ws.iter_rows()]
    head = values.index(["NO", "NIK", "NAMA", "L/P", "USIA", "ALAMAT", "RT", "RW"])
    info = {r[0]: r[2] for r in values[1:head] if r[0]}
    return info, values[head], values[head + 1:]


def test_the_xlsx_has_a_sheet_per_tps_sorted_masked_and_counted(written) -> None:
    out, voters, assignments, _ = written
    wb = openpyxl.load_workbook(out / "TELUK_PANDAN" / "MARTADINATA" / "DPT_MARTADINATA.xlsx")
    assert wb.sheetnames == ["TPS 001", "TPS 002"]
    niks = dict(zip(voters["nama"], voters["nik"], strict=True))
    for name, number in (("TPS 001", 1), ("TPS 002", 2)):
        ws = wb[name]
        info, _, data = _sheet_rows(ws)
        mine = assignments.filter((pl.col("kode_desa") == CODE_A) & (pl.col("tps") == number))
        assert len(data) == mine.height
        assert [r[0] for r in data] == list(range(1, mine.height + 1))
        assert [r[2] for r in data] == _expected_order(voters, assignments, CODE_A, number)
        sex = mine.join(voters.select("voter_id", "jenis_kelamin"), on="voter_id")["jenis_kelamin"]
        assert info["Kabupaten/Kota"] == "KUTAI TIMUR" and info["Kecamatan"] == "TELUK PANDAN"
        assert info["Desa/Kelurahan"] == "MARTADINATA" and info["TPS"] == f"{number:03d}"
        assert info["Jumlah pemilih"].startswith(f"{mine.height} (laki-laki {(sex == 'L').sum()} · "
                                                 f"perempuan {(sex == 'P').sum()}")
        assert info["Dicetak"] == "01-12-2026"
        for r in data:
            nik = niks[r[2]]
            if re.fullmatch(r"\d{16}", nik):
                assert r[1] == nik[:4] + "*" * 10 + nik[-2:]
            else:
                assert r[1] == lists.NIK_INVALID
            assert isinstance(r[0], int) and (r[4] is None or isinstance(r[4], int))
    # The one voter without a birth date has no age; nobody's NKK or birth date is anywhere in the file.
    text = " ".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None)
    for nkk in voters["nkk"]:
        assert nkk not in text
    for nik in voters["nik"]:
        assert nik not in text


def test_no_cell_is_a_formula_and_formula_names_keep_their_text(written) -> None:
    out, voters, *_ = written
    path = out / "TELUK_PANDAN" / "MARTADINATA" / "DPT_MARTADINATA.xlsx"
    wb = openpyxl.load_workbook(path)
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    by_value = {c.value: c for c in cells}
    for name in SPECIAL:
        assert name in by_value, name
        assert by_value[name].data_type == "s"
        assert by_value[name].quotePrefix == (name[0] in "=+-@")
    assert all(isinstance(c.value, int) for c in cells if c.column in (7, 8) and c.row > 9)


def test_the_xlsx_prints_on_a4_fit_to_width_with_the_header_on_every_page(written) -> None:
    out, *_ = written
    ws = openpyxl.load_workbook(out / "TELUK_PANDAN" / "MARTADINATA" / "DPT_MARTADINATA.xlsx")["TPS 001"]
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "portrait"
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0   # 1 wide (default), any tall
    assert ws.print_title_rows == "$9:$9"
    assert ws.cell(9, 1).value == "NO"
    assert "&P" in ws.oddFooter.right.text and "&N" in ws.oddFooter.right.text


def _pdf_text(path: Path) -> list[str]:
    return [p.extract_text() for p in PdfReader(path).pages]


def test_the_pdf_shows_names_as_written_in_order_with_the_header_on_every_page(written) -> None:
    out, voters, assignments, _ = written
    pages = _pdf_text(out / "TELUK_PANDAN" / "MARTADINATA" / "TPS_001.pdf")
    assert len(pages) == 2
    assert "Jumlah pemilih" in pages[0] and "KUTAI TIMUR" in pages[0] and "Halaman 1 dari 2" in pages[0]
    assert "Halaman 2 dari 2" in pages[1]
    for page in pages:   # the column header and the desa on every page
        assert "NAMA" in page and "ALAMAT" in page and "MARTADINATA · TPS 001" in page
    text = " ".join(pages).replace("\n", " ")     # a name too long for its cell is printed on two lines
    order = _expected_order(voters, assignments, CODE_A, 1)
    found = [text.find(name) for name in order]
    assert -1 not in found, [n for n, f in zip(order, found, strict=True) if f < 0]
    assert found == sorted(found)
    for name in ("SYAFI'I", "JOSÉ NGAU", "Ñoño Ürgen"):
        assert name in text
    for nik in voters["nik"]:
        assert nik not in text
    assert "6408**********00" in text


def test_a_character_outside_the_font_prints_as_a_question_mark(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    voters, assignments = _voters(n_a1=2, n_a2=0, n_b=0)
    voters = voters.with_columns(pl.when(pl.col("voter_id") == "v000").then(pl.lit("AHMAD 山田"))
                                 .otherwise(pl.col("nama")).alias("nama"))
    paths = lists.write_lists(lists.list_rows(assignments, voters, NAMES, ELECTION), tmp_path, PRINTED)
    pdf = next(p for p in paths if p.suffix == ".pdf")
    assert "AHMAD ??" in "".join(_pdf_text(pdf))
    assert "missing" not in caplog.text
    ws = openpyxl.load_workbook(next(p for p in paths if p.suffix == ".xlsx")).active
    assert "AHMAD 山田" in [c.value for row in ws.iter_rows() for c in row]   # the XLSX keeps it whole


@pytest.mark.skipif(shutil.which("pdftoppm") is None and not os.environ.get("CI"),
                    reason="needs poppler's pdftoppm; .ci/run installs it, and in CI it is never skipped")
def test_the_pdf_renders_to_a_page(written, tmp_path: Path) -> None:
    out, *_ = written
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1",
                    str(out / "TELUK_PANDAN" / "MARTADINATA" / "TPS_001.pdf"), str(tmp_path / "p")], check=True)
    png = next(tmp_path.glob("p*.png")).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000


@pytest.mark.skipif(shutil.which("soffice") is None and not os.environ.get("CI"),
                    reason="needs LibreOffice; .ci/run installs it, and in CI it is never skipped")
def test_libreoffice_shows_formula_names_as_text(written, tmp_path: Path) -> None:
    """Calc opens the workbook and saves its first sheet as CSV: a name like =HYPERLINK(...) is its text,
    not a link; 16-digit masks stay as written."""
    out, *_ = written
    src = out / "TELUK_PANDAN" / "MARTADINATA" / "DPT_MARTADINATA.xlsx"
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to",
                    "csv:Text - txt - csv (StarCalc):59,34,76,1", "--outdir", str(tmp_path), str(src)],
                   check=True, capture_output=True, timeout=180)
    text = (tmp_path / "DPT_MARTADINATA.csv").read_text(encoding="utf-8")
    assert '=HYPERLINK(""http://x"",""y"")' in text and "+1+1" in text and "@SUM(A1)" in text
    assert re.search(r"6408\*{10}\d\d", text)


# -- the rows, over random rolls ----------------------------------------------------------------------------

_voter = st.fixed_dictionaries({
    "desa": st.sampled_from([CODE_A, CODE_B, "desa:SUMBER SARI"]),
    "tps": st.integers(1, 3),
    "rw": st.none() | st.integers(1, 4),
    "rt": st.none() | st.integers(1, 9),
    "nama": st.text(st.sampled_from("ABN 'É-"), min_size=1, max_size=6),
    "nik": st.none() | st.from_regex(r"\d{16}", fullmatch=True) | st.from_regex(r"\d{1,15}", fullmatch=True),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_voter, min_size=1, max_size=40))
def test_every_assigned_voter_is_listed_once_numbered_and_sorted(drawn: list[dict]) -> None:
    voters = pl.DataFrame([{"voter_id": f"v{i}", "nik": d["nik"], "nkk": "6408130000000001", "nama": d["nama"],
                            "tanggal_lahir": dt.date(1980, 5, 17), "jenis_kelamin": "L", "alamat": "JL",
                            "kabupaten": "Kutai Timur", "kecamatan": "Teluk Pandan", "kode_kabupaten": None,
                            "kode_kecamatan": "64.08.13", "rw": d["rw"], "rt": d["rt"]} for i, d in enumerate(drawn)],
                          schema={"voter_id": pl.String, "nik": pl.String, "nkk": pl.String, "nama": pl.String,
                                  "tanggal_lahir": pl.Date, "jenis_kelamin": pl.String, "alamat": pl.String,
                                  "kabupaten": pl.String, "kecamatan": pl.String, "kode_kabupaten": pl.String,
                                  "kode_kecamatan": pl.String, "rw": pl.Int32, "rt": pl.Int32})
    assignments = pl.DataFrame([{"voter_id": f"v{i}", "kode_desa": d["desa"], "desa": d["desa"][-6:],
                                 "tps": d["tps"]} for i, d in enumerate(drawn)],
                               schema={"voter_id": pl.String, "kode_desa": pl.String, "desa": pl.String,
                                       "tps": pl.Int32})
    rows = lists.list_rows(assignments, voters, NAMES, ELECTION)
    assert rows.height == len(drawn)
    assert set(rows.columns) == set(lists.LIST_COLUMNS) and "nkk" not in rows.columns
    assert rows["usia"].unique().to_list() == [46]
    assert rows["kabupaten"].unique().to_list() == ["KUTAI TIMUR"]       # written name where no code
    assert rows["kecamatan"].unique().to_list() == ["TELUK PANDAN"]      # canonical name of the code
    for (_, _), g in rows.group_by(["kode_desa", "tps"]):
        assert g["no"].to_list() == list(range(1, g.height + 1))
        keys = g.select("rw", "rt", "nama").rows()
        big = (10**9, 10**9, "")
        assert [(a if a is not None else big[0], b if b is not None else big[1], c) for a, b, c in keys] == sorted(
            (a if a is not None else big[0], b if b is not None else big[1], c) for a, b, c in keys)
    for nik in rows["nik"]:
        assert nik == lists.NIK_INVALID or re.fullmatch(r"\d{4}\*{10}\d{2}", nik)
    whole = [d["nik"] for d in drawn if d["nik"] and len(d["nik"]) == 16]
    assert (rows["nik"] == lists.NIK_INVALID).sum() == len(drawn) - len(whole)
    assert sorted(rows.filter(pl.col("nik") != lists.NIK_INVALID)["nik"]) == sorted(
        n[:4] + "*" * 10 + n[-2:] for n in whole)


def test_a_voter_is_listed_under_their_own_rt_not_their_households() -> None:
    """tps_assignments holds the household's RT (its members' most common); the posted list shows each
    voter's own RT and RW, as registered, and sorts by them."""
    voters, assignments = _voters()
    moved = assignments.with_columns(pl.lit(9, pl.Int32).alias("rt"), pl.lit(9, pl.Int32).alias("rw"))
    rows = lists.list_rows(moved, voters, NAMES, ELECTION)
    listed = sorted(rows.select("nama", pl.col("rt").cast(pl.Int32), pl.col("rw").cast(pl.Int32)).rows(),
                    key=str)
    registered = sorted(voters.select("nama", pl.col("rt").cast(pl.Int32), pl.col("rw").cast(pl.Int32)).rows(),
                        key=str)
    assert listed == registered and len(listed) == voters.height
    assert (rows["rt"].cast(pl.Int32) == 9).sum() == 0           # the household's RT (9 here) is not shown
