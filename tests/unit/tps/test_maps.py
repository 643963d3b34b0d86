"""TPS maps: one PNG per desa with coordinates, and an index page of aggregates only."""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import matplotlib.image
import polars as pl
import pytest

from dpt_pipeline.io.files import FILE_MODE
from dpt_pipeline.outputs import maps

CAP = 5
CODE_A = "64.08.13.2006"            # drawn, TPS 2 over capacity, a name to escape
KEY_B = "desa:NAMA X"               # code unknown: the key has a ':' and a space
CODE_C = "64.08.13.2007"            # no coordinates at all
NAME_A = "Marta <b>dinata</b> & Co"


def _frames(*, b_has_coordinates: bool = True) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    rows = []
    # desa A: TPS 1 has 4 voters at two RT points, TPS 2 has 6 voters (over CAP) at two points.
    for i, (lat, lon, tps, lokasi) in enumerate(
            [(0.50, 117.50, 1, "rt")] * 3 + [(0.51, 117.50, 1, "rt terdekat")]
            + [(0.50, 117.52, 2, "rt")] * 4 + [(0.505, 117.53, 2, "pusat desa")] * 2):
        rows.append((f"SECRETVOTER{i:03d}", CODE_A, NAME_A, f"SECRETKK{i // 2:03d}", 1, i % 3 + 1, lat, lon, lokasi,
                     tps, 100.0 + i))
    b_lat, b_lon = (0.60, 117.40) if b_has_coordinates else (None, None)
    for i in range(3):
        rows.append((f"SECRETVOTER1{i:02d}", KEY_B, "NAMA X", f"SECRETKK1{i:02d}", None, None, b_lat, b_lon,
                     "pusat desa", 1, 0.0))
    for i in range(2):
        rows.append((f"SECRETVOTER2{i:02d}", CODE_C, "Tanpa Peta", f"SECRETKK2{i:02d}", 2, 3, None, None,
                     "pusat desa", 1, None))
    assignments = pl.DataFrame(rows, orient="row", schema={
        "voter_id": pl.String, "kode_desa": pl.String, "desa": pl.String, "household": pl.String,
        "rw": pl.Int32, "rt": pl.Int32, "lat": pl.Float64, "lon": pl.Float64, "lokasi": pl.String,
        "tps": pl.Int32, "distance_m": pl.Float64})
    summary = pl.DataFrame([
        (CODE_A, NAME_A, 1, 4, 2, 2, 0.5025, 117.50, 120.0, 300.0, 400.0),
        (CODE_A, NAME_A, 2, 6, 3, 2, 0.5017, 117.5233, 150.0, 500.0, 600.0),
        (KEY_B, "NAMA X", 1, 3, 3, 1, b_lat, b_lon, 0.0, 0.0, 0.0),
        (CODE_C, "Tanpa Peta", 1, 2, 2, 1, None, None, None, None, None),
    ], orient="row", schema={
        "kode_desa": pl.String, "desa": pl.String, "tps": pl.Int32, "voters": pl.Int64, "households": pl.Int64,
        "rts": pl.Int64, "lat": pl.Float64, "lon": pl.Float64, "mean_distance_m": pl.Float64,
        "p95_distance_m": pl.Float64, "max_distance_m": pl.Float64})
    quality = pl.DataFrame([
        (CODE_A, NAME_A, 10, 5, 2, 2, False, 1, 0, 0, 1, 1.0, 135.0, 480.0, 600.0, 4, 0.4),
        (KEY_B, "NAMA X", 3, 3, 1, 1, False, 0, 0, 0, 1, 0.0, 0.0, 0.0, 0.0, 3, 0.25),
        (CODE_C, "Tanpa Peta", 2, 2, 1, 1, False, 0, 0, 0, 1, 0.0, None, None, None, None, None),
    ], orient="row", schema={
        "kode_desa": pl.String, "desa": pl.String, "voters": pl.Int64, "households": pl.Int64, "tps": pl.Int64,
        "tps_minimum": pl.Int64, "extra_tps": pl.Boolean, "over_cap": pl.Int64, "split_households": pl.Int64,
        "rts_split": pl.Int64, "rts_fallback": pl.Int64, "max_deviation": pl.Float64,
        "mean_distance_m": pl.Float64, "p95_distance_m": pl.Float64, "max_distance_m": pl.Float64,
        "moved": pl.Int64, "churn": pl.Float64})
    return assignments, summary, quality


def _section(page: str, title: str) -> str:
    """The HTML section whose heading is `title` (already escaped)."""
    [found] = [s for s in page.split("<section")[1:] if f"<h2>{title}</h2>" in s]
    return found


def _overview_cells(page: str, key: str) -> dict[str, str]:
    """The overview row of desa `key`, as header -> cell text."""
    overview = page.split("</table>")[0]
    headers = re.findall(r"<th>(.*?)</th>", overview)
    [row] = [line for line in overview.splitlines() if f"<td>{key}</td>" in line]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert len(cells) == len(headers)
    return dict(zip(headers, cells, strict=True))


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, str]:
    out = tmp_path / "peta"
    out.mkdir()
    (out / "desa_lama.png").write_bytes(b"\x89PNG stale")       # from a run when this desa still existed
    (out / "catatan.txt").write_text("not ours")
    index = maps.write_maps(*_frames(), out, max_voters=CAP)
    return out, index.read_text(encoding="utf-8")


def test_a_valid_png_per_desa_with_coordinates_and_none_without(written: tuple[Path, str]) -> None:
    out, _ = written
    stem_b = maps.file_stem(KEY_B)
    assert sorted(p.name for p in out.glob("*.png")) == sorted([f"{CODE_A}.png", f"{stem_b}.png"])
    side = int(maps.FIG_INCHES * maps.DPI)
    for png in out.glob("*.png"):
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert struct.unpack(">II", data[16:24]) == (side, side)             # IHDR width, height
        assert matplotlib.image.imread(png).shape[:2] == (side, side)


def test_file_names_are_safe_and_unique_per_key() -> None:
    assert maps.file_stem(CODE_A) == CODE_A
    keys = ["desa:NAMA X", "desa:NAMA_X", "desa:NAMA/X", "desa:NAMA  X", "desa:../../etc"]
    stems = [maps.file_stem(k) for k in keys]
    assert len(set(stems)) == len(keys)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", s) for s in stems)
    assert stems[0].startswith("desa_NAMA_X")


def test_index_lists_every_desa_with_its_map_or_tanpa_koordinat(written: tuple[Path, str]) -> None:
    out, page = written
    assert (out / "index.html").exists()
    for name in ("Marta &lt;b&gt;dinata&lt;/b&gt; &amp; Co", "NAMA X", "Tanpa Peta"):
        assert name in page
    assert f'<img src="{CODE_A}.png"' in _section(page, f"Marta &lt;b&gt;dinata&lt;/b&gt; &amp; Co ({CODE_A})")
    assert f'<img src="{maps.file_stem(KEY_B)}.png"' in _section(page, "NAMA X (desa:NAMA X)")
    no_map = _section(page, f"Tanpa Peta ({CODE_C})")
    assert "tanpa koordinat" in no_map and "<img" not in no_map
    # every link from the overview reaches a section
    for anchor in re.findall(r'<a href="#(desa-[^"]+)">', page):
        assert f'<section id="{anchor}">' in page


def test_names_are_escaped(written: tuple[Path, str]) -> None:
    _, page = written
    assert "<b>" not in page and "& Co" not in page
    assert "Marta &lt;b&gt;dinata&lt;/b&gt; &amp; Co" in page


def test_capacity_shown_and_over_capacity_tps_marked(written: tuple[Path, str]) -> None:
    _, page = written
    assert f"Kapasitas: {CAP} pemilih per TPS" in page
    section = _section(page, f"Marta &lt;b&gt;dinata&lt;/b&gt; &amp; Co ({CODE_A})")
    assert '<tr class="over"><td class="n">2</td><td class="n">6 (melebihi kapasitas)</td>' in section
    assert '<tr><td class="n">1</td><td class="n">4</td>' in section
    assert _overview_cells(page, CODE_A)["Melebihi kapasitas"] == "1"
    assert f'<tr class="over"><td><a href="#desa-{CODE_A}">' in page


def test_overview_figures_and_null_churn_as_dash(written: tuple[Path, str]) -> None:
    _, page = written
    a = _overview_cells(page, CODE_A)
    assert (a["Pemilih"], a["TPS"], a["Rata-rata jarak (m)"], a["Jarak p95 (m)"]) == ("10", "2", "135", "480")
    assert a["Perpindahan dari malam sebelumnya"] == "4 (40.0%)"
    c = _overview_cells(page, CODE_C)
    assert c["Perpindahan dari malam sebelumnya"] == "–"
    assert c["Rata-rata jarak (m)"] == "–"
    assert "tanpa koordinat" in c["Peta"]


def test_files_are_private_and_hold_no_voter_or_household_ids(written: tuple[Path, str]) -> None:
    out, page = written
    for p in [*out.glob("*.png"), out / "index.html"]:
        assert p.stat().st_mode & 0o777 == FILE_MODE, p.name
    assert "SECRET" not in page


def test_stale_maps_are_removed_and_other_files_kept(written: tuple[Path, str]) -> None:
    out, _ = written
    assert not (out / "desa_lama.png").exists()
    assert (out / "catatan.txt").exists()
    # the next night desa B has lost its coordinates: its map goes, the page says so
    page = maps.write_maps(*_frames(b_has_coordinates=False), out, max_voters=CAP).read_text(encoding="utf-8")
    assert [p.name for p in out.glob("*.png")] == [f"{CODE_A}.png"]
    assert "tanpa koordinat" in _section(page, "NAMA X (desa:NAMA X)")


def test_many_tps_render_without_a_legend(tmp_path: Path) -> None:
    n = 45
    assignments = pl.DataFrame({
        "voter_id": [f"v{i}" for i in range(n)], "kode_desa": ["64.08.01.2001"] * n, "desa": ["BESAR"] * n,
        "household": [f"h{i}" for i in range(n)], "rw": pl.Series([1] * n, dtype=pl.Int32),
        "rt": pl.Series(range(n), dtype=pl.Int32), "lat": [0.5 + i * 1e-3 for i in range(n)],
        "lon": [117.0 + (i % 7) * 1e-3 for i in range(n)], "lokasi": ["rt"] * n,
        "tps": pl.Series(range(1, n + 1), dtype=pl.Int32), "distance_m": [0.0] * n})
    summary = assignments.select("kode_desa", "desa", "tps", pl.lit(1, pl.Int64).alias("voters"),
                                 pl.lit(1, pl.Int64).alias("households"), pl.lit(1, pl.Int64).alias("rts"),
                                 "lat", "lon", pl.lit(0.0).alias("mean_distance_m"),
                                 pl.lit(0.0).alias("p95_distance_m"), pl.lit(0.0).alias("max_distance_m"))
    quality = pl.DataFrame({
        "kode_desa": ["64.08.01.2001"], "desa": ["BESAR"], "voters": [n], "households": [n], "tps": [n],
        "tps_minimum": [n], "extra_tps": [False], "over_cap": [0], "split_households": [0], "rts_split": [0],
        "rts_fallback": [0], "max_deviation": [0.0], "mean_distance_m": [0.0], "p95_distance_m": [0.0],
        "max_distance_m": [0.0], "moved": pl.Series([None], dtype=pl.Int64),
        "churn": pl.Series([None], dtype=pl.Float64)})
    page = maps.write_maps(assignments, summary, quality, tmp_path, max_voters=600).read_text(encoding="utf-8")
    assert (tmp_path / "64.08.01.2001.png").read_bytes().startswith(b"\x89PNG")
    assert page.count('<tr><td class="n">') == n                        # every TPS in the table


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="worker processes need two CPUs")
def test_worker_processes_draw_the_same_maps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = _frames()
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    monkeypatch.setattr(maps, "MAX_WORKERS", 1)
    maps.write_maps(*frames, serial, max_voters=CAP)
    monkeypatch.setattr(maps, "MAX_WORKERS", 2)
    monkeypatch.setattr(maps, "MAPS_PER_WORKER", 1)           # two maps: two spawned workers
    maps.write_maps(*frames, parallel, max_voters=CAP)
    names = sorted(p.name for p in serial.iterdir())
    assert names == sorted(p.name for p in parallel.iterdir())
    assert len([n for n in names if n.endswith(".png")]) == 2
    for name in names:
        assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name
        assert (parallel / name).stat().st_mode & 0o777 == FILE_MODE
