"""`[tps] lists = true`: a run writes the printable lists of every TPS it mapped, counts equal to
tps_assignments, and moves them into place with the other outputs."""

from __future__ import annotations

from pathlib import Path

import duckdb
import openpyxl
import polars as pl
from pypdf import PdfReader

from dpt_pipeline import pipeline, synth
from dpt_pipeline.config import load_config
from dpt_pipeline.io.files import FILE_MODE

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_writes_a_list_for_every_tps(tmp_path: Path) -> None:
    synth.generate(tmp_path / "data", 900, 11)
    cfg = tmp_path / "p.toml"
    cfg.write_text("""
[output]
dir = "out"
[[sources]]
name = "kutim"
path = "data/dpt_kutim.csv"
[[sources]]
name = "bontang"
path = "data/dpt_bontang.csv"
[[sources]]
name = "kukar"
path = "data/dpt_kukar.csv"
[sources.defaults]
kabupaten = "KUTAI KARTANEGARA"
[ingest]
reference_date = 2026-12-09
[tps]
coordinates = "data/rt_coordinates.csv"
maps = false
lists = true
""")
    config = load_config(cfg)
    result = pipeline.run(config, stages=("ingest", "tps"))
    folder = config.output.dir / "tps" / "daftar"
    assert result.tps["lists"]["folder"] == str(folder)
    with duckdb.connect(str(result.database), read_only=True) as con:
        counts = con.sql("SELECT desa, tps, count(*) AS n FROM tps_assignments GROUP BY kode_desa, desa, tps").pl()
    assert counts.height > 5
    got = []
    for book in sorted(folder.rglob("*.xlsx")):
        assert book.stat().st_mode & 0o777 == FILE_MODE
        wb = openpyxl.load_workbook(book, read_only=True)
        for ws in wb:
            rows = [r for r in ws.iter_rows(values_only=True)]
            desa = next(r[2] for r in rows if r[0] == "Desa/Kelurahan")
            head = next(i for i, r in enumerate(rows) if r[0] == "NO")
            got.append((desa, int(ws.title.split()[1]), len(rows) - head - 1))
            pdf = book.parent / f"TPS_{ws.title.split()[1]}.pdf"
            assert f"Jumlah pemilih: {len(rows) - head - 1}" in PdfReader(pdf).pages[0].extract_text().replace(
                " : ", ": ").replace(":  ", ": ")
        wb.close()
    assert pl.DataFrame(got, schema=["desa", "tps", "n"], orient="row").sort(pl.all()).equals(
        counts.with_columns(pl.col("tps").cast(pl.Int64)).sort(pl.all()))
    assert len(list(folder.rglob("*.pdf"))) == counts.height
    assert not (config.output.dir / ".staging").exists()
