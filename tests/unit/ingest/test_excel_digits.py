"""A list saved by Excel with the NIK column as numbers: Excel keeps 15 significant digits, so every NIK loses
its 16th, which becomes 0 (7315020604790014 -> 7315020604790010). Such NIKs must not link two twins as one
person: they are marked damaged, the rows stay voters, and the staffer is told what to do."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpt_pipeline.ingest.nik import MASALAH_DIGIT_EXCEL

HEADER = "NIK;NKK;Nama;Tgl Lahir;JK"


def _niks(n: int, seed: int, *, excel: bool) -> list[str]:
    """n NIKs of Kutai Timur (64.08.13), serials drawn at random; `excel`: their last digit lost."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        day, month, year = 1 + i % 28, 1 + i % 12, 50 + i % 50
        serial = int(rng.integers(1, 10_000))
        nik = f"640813{day:02d}{month:02d}{year:02d}{serial:04d}"
        out.append(nik[:15] + "0" if excel else nik)
    return out


def _csv(niks: list[str]) -> str:
    rows = [f"{nik};{nik[:6]}010120{i % 10}{i % 9:02d}1;ORANG {i};{1 + i % 28:02d}-{1 + i % 12:02d}-1980;L"
            for i, nik in enumerate(niks)]
    return "\n".join([HEADER, *rows]) + "\n"


def test_a_list_whose_niks_lost_their_last_digit_is_flagged_and_kept(ingest_file, caplog) -> None:
    niks = _niks(300, 1, excel=True)
    with caplog.at_level(logging.WARNING, logger="dpt_pipeline"):
        voters, rejects, summary = ingest_file(_csv(niks))
    assert voters.height == 300 and rejects.height == 0                       # every row stays a voter
    assert (voters["nik_masalah"] == MASALAH_DIGIT_EXCEL).all() and not voters["nik_valid"].any()
    assert summary.nik_invalid_by_problem == {MASALAH_DIGIT_EXCEL: 300}
    assert voters["nik_tanggal_lahir"].is_not_null().all()                   # its date digits are intact
    assert voters["nkk_valid"].all()                                          # its NKKs were text: kept
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "saved by Excel" in said and "formatted as text" in said
    assert not any(nik in said for nik in niks)                             # no NIK in a message


@settings(deadline=None, max_examples=25)
@given(st.integers(min_value=1, max_value=3_000), st.integers(min_value=0, max_value=2**32 - 1))
def test_an_honest_list_is_never_taken_for_a_damaged_one(n: int, seed: int) -> None:
    import polars as pl

    from dpt_pipeline.ingest.nik import lost_last_digit

    frame = pl.DataFrame({"nik": _niks(n, seed, excel=False), "masalah": [None] * n},
                         schema={"nik": pl.String, "masalah": pl.String})
    problem = frame.select(lost_last_digit(pl.col("nik"), pl.col("masalah"))).to_series()
    assert problem.null_count() == n


def test_a_partly_damaged_list_flags_its_zeros_only(ingest_file) -> None:
    # A third of the cells typed as numbers: far more zeros than a tenth, so the zeros are suspect; the rest
    # are kept as they are.
    niks = _niks(600, 2, excel=False)
    niks = [nik[:15] + "0" if i % 3 == 0 else nik for i, nik in enumerate(niks)]
    voters, _, _ = ingest_file(_csv(niks))
    flagged = voters.filter(voters["nik_masalah"] == MASALAH_DIGIT_EXCEL)
    assert flagged["nik"].str.ends_with("0").all() and flagged.height >= 200
    assert voters.filter(~voters["nik"].str.ends_with("0"))["nik_valid"].all()


@pytest.mark.skipif(shutil.which("soffice") is None and not os.environ.get("CI"),
                    reason="needs LibreOffice (soffice); .ci/run installs it, and in CI it is never skipped")
def test_an_xlsx_saved_by_a_spreadsheet_program_with_numeric_niks(ingest_file, tmp_path: Path) -> None:
    # Calc opens the CSV with the NIK column as numbers (its default) and saves XLSX: 15 digits kept.
    niks = _niks(120, 3, excel=False)
    src = tmp_path / "dpt.csv"
    src.write_text(_csv(niks).replace(";", ","))
    profile = tmp_path / "lo-profile"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(tmp_path / "xlsx"), str(src)], check=True, capture_output=True, timeout=180)
    voters, rejects, summary = ingest_file((tmp_path / "xlsx" / "dpt.xlsx").read_bytes(), file_name="dpt.xlsx")
    assert voters.height == 120 and rejects.height == 0
    assert voters["nik"].str.ends_with("0").all()                            # what Calc kept of them
    assert summary.nik_invalid_by_problem.get(MASALAH_DIGIT_EXCEL) == 120
    assert (voters["nkk_masalah"] == MASALAH_DIGIT_EXCEL).all()             # the NKK column too
