"""TPS maps: one PNG and one interactive page per desa with coordinates, an overview per kecamatan, and an
index page; aggregates only."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import polars as pl
import pytest

from dpt_pipeline.io.files import FILE_MODE
from dpt_pipeline.outputs import gis, interactive, maps

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
    (out / "desa_lama.html").write_text("<p>stale</p>")
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
    assert not (out / "desa_lama.png").exists() and not (out / "desa_lama.html").exists()
    assert (out / "catatan.txt").exists()
    # the next night desa B has lost its coordinates: its map goes, the page says so
    page = maps.write_maps(*_frames(b_has_coordinates=False), out, max_voters=CAP).read_text(encoding="utf-8")
    assert [p.name for p in out.glob("*.png")] == [f"{CODE_A}.png"]
    assert not (out / f"{maps.file_stem(KEY_B)}.html").exists()
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


# -- interactive maps ------------------------------------------------------------------------------------

LEAFLET_SHA256 = {"leaflet.js": "db49d009c841f5ca34a888c96511ae936fd9f5533e90d8b2c4d57596f4e5641a",
                  "leaflet.css": "a7837102824184820dfa198d1ebcd109ff6d0ff9a2672a074b9a1b4d147d04c6"}
_DATA = re.compile(r'<script type="application/json" id="tps-data">(.*?)</script>', re.S)


def _data(page: str) -> dict:
    [found] = _DATA.findall(page)
    return json.loads(found)


def test_a_page_per_desa_with_points_and_an_overview_per_kecamatan(written: tuple[Path, str]) -> None:
    out, index = written
    stem_b = maps.file_stem(KEY_B)
    assert sorted(p.name for p in out.glob("*.html")) == sorted(
        [f"{CODE_A}.html", f"{stem_b}.html", "index.html", "kecamatan-64.08.13.html", "kecamatan-tanpa-kode.html"])
    for p in out.glob("*.html"):
        assert p.stat().st_mode & 0o777 == FILE_MODE, p.name
    # index.html links every page it names, and every page links back
    links = set(re.findall(r'href="([^"#]+\.html)', index))
    assert links == {f"{CODE_A}.html", f"{stem_b}.html", "kecamatan-64.08.13.html", "kecamatan-tanpa-kode.html"}
    assert _overview_cells(index, CODE_A)["Peta"] == f'<a href="{CODE_A}.html">peta interaktif</a>'
    assert "tanpa koordinat" in _overview_cells(index, CODE_C)["Peta"]
    page = (out / f"{CODE_A}.html").read_text(encoding="utf-8")
    assert 'href="kecamatan-64.08.13.html"' in page and f'href="index.html#desa-{CODE_A}"' in page
    # the overview of A's kecamatan draws A and lists C (no coordinates) without a link
    overview = _data((out / "kecamatan-64.08.13.html").read_text(encoding="utf-8"))
    assert overview["kind"] == "kecamatan"
    assert {f["properties"]["desa"] for f in overview["outlines"]["features"]} == {NAME_A}
    assert [(item["href"], item["label"]) for item in overview["legend"]] == [
        (f"{CODE_A}.html", f"{NAME_A}: 2 TPS, 10 pemilih"), (None, "Tanpa Peta: 1 TPS, 2 pemilih (tanpa koordinat)")]
    assert overview["legend"][0]["over"]


def test_page_data_are_the_desa_aggregates_as_geojson(written: tuple[Path, str]) -> None:
    out, _ = written
    page = (out / f"{CODE_A}.html").read_text(encoding="utf-8")
    assert "SECRET" not in page
    data = _data(page)
    assignments, summary, _ = _frames()
    expected = gis.rt_points(assignments.filter(pl.col("kode_desa") == CODE_A))
    points = data["points"]["features"]
    assert len(points) == expected.height
    assert sorted((f["properties"]["rw"], f["properties"]["rt"], f["properties"]["tps"], f["properties"]["voters"],
                   f["properties"]["lokasi"], *f["geometry"]["coordinates"]) for f in points) == sorted(
        expected.select("rw", "rt", "tps", "voters", "lokasi", "lon", "lat").rows())
    assert sum(f["properties"]["voters"] for f in points) == 10
    # no site proposed in these tables: each TPS at its voters' mean point
    assert [(f["properties"]["tps"], f["properties"]["site_kind"], f["properties"]["over"],
             f["geometry"]["coordinates"]) for f in data["sites"]["features"]] == [
        (1, "rata-rata", False, [117.5, 0.5025]), (2, "rata-rata", True, [117.5233, 0.5017])]
    areas = data["areas"]["features"]
    assert [(f["properties"]["tps"], f["properties"]["voters"], f["geometry"]["type"]) for f in areas] == [
        (1, 4, "MultiPolygon"), (2, 6, "MultiPolygon")]
    assert [item["label"] for item in data["legend"]] == ["TPS 1: 4 pemilih",
                                                          "TPS 2: 6 pemilih (melebihi kapasitas)"]
    west, south, east, north = data["bounds"]
    assert west < 117.50 < 117.53 < east and south < 0.50 < 0.51 < north


def test_a_name_with_a_script_end_tag_stays_text(tmp_path: Path) -> None:
    evil = "</script><script>window.HACKED=1</script><!--"
    assignments, summary, quality = (f.with_columns(pl.when(pl.col("kode_desa") == CODE_A).then(pl.lit(evil))
                                                    .otherwise(pl.col("desa")).alias("desa")) for f in _frames())
    maps.write_maps(assignments, summary, quality, tmp_path, max_voters=CAP)
    for name in (f"{CODE_A}.html", "kecamatan-64.08.13.html"):
        page = (tmp_path / name).read_text(encoding="utf-8")
        assert "<script>window.HACKED" not in page and "<!--" not in page
        assert page.count("</script>") == 3                 # the data, Leaflet and ours: nothing ended early
        data = _data(page)
        assert data["outlines"]["features"][0]["properties"]["desa"] == evil
    heading = re.search(r"<h1>(.*?)</h1>", (tmp_path / f"{CODE_A}.html").read_text(encoding="utf-8")).group(1)
    assert heading == f"Peta TPS &lt;/script&gt;&lt;script&gt;window.HACKED=1&lt;/script&gt;&lt;!-- ({CODE_A})"


def test_leaflet_is_the_pinned_release_inlined_whole(written: tuple[Path, str]) -> None:
    vendor = Path(interactive.__file__).parent / "vendor" / "leaflet"
    for name, digest in LEAFLET_SHA256.items():
        data = (vendor / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        assert b"</script" not in data.lower() and b"</style" not in data.lower()
    assert (vendor / "LICENSE").read_text().startswith("BSD 2-Clause License")
    out, _ = written
    page = (out / f"{CODE_A}.html").read_text(encoding="utf-8")
    assert f"Leaflet {interactive.LEAFLET_VERSION}, a JS library" in page
    assert "sourceMappingURL" not in page and "<script src" not in page and "<link" not in page
    assert len(page.encode()) < 200_000              # Leaflet (162 kB) and a small desa's data


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _browse(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium on `page` with no network at all (every host name fails): the offline case."""
    return subprocess.run([str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}",
                           "--window-size=1000,800", "--virtual-time-budget=5000", *args, page.resolve().as_uri()],
                          check=True, timeout=90, capture_output=True, text=True)


@pytest.mark.skipif(_chromium() is None and not os.environ.get("CI"),
                    reason="needs Chromium; .ci/run installs it, and in CI it is never skipped")
def test_desa_map_renders_offline_in_headless_chromium(written: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = written
    page = out / f"{CODE_A}.html"
    dom = _browse(page, tmp_path, "--dump-dom").stdout
    assert 'data-ready="1"' in dom                                     # the script ran to its end
    data = _data(page.read_text(encoding="utf-8"))
    n_points, n_areas = len(data["points"]["features"]), len(data["areas"]["features"])
    # SVG paths Leaflet drew: one per RT circle and per TPS area (the desa outline is not interactive)
    assert len(re.findall(r'<path[^>]*class="leaflet-interactive"', dom)) == n_points + n_areas
    assert len(re.findall(r'class="tps-site ', dom)) == 2                 # the two TPS sites
    assert "TPS 2: 6 pemilih (melebihi kapasitas)" in dom and 'class="legenda' in dom
    assert re.search(r'class="leaflet-control-scale-line"[^>]*>\d+ k?m<', dom)
    assert "Peta dasar tidak tersedia (offline)" in dom
    assert "OpenStreetMap" in dom                                      # the attribution stands

    shot = tmp_path / "desa.png"
    _browse(page, tmp_path, f"--screenshot={shot}")
    rgb = matplotlib.image.imread(shot)[..., :3]
    assert rgb.shape[:2] == (800, 1000)
    # The map's colours: TPS 1 (tab20 blue) and TPS 2 (orange) areas and points, not a blank background.
    for colour in maps.PALETTE[:2, :3]:
        near = (np.abs(rgb - colour).max(axis=2) < 0.08).mean()
        assert near > 0.0005, colour


@pytest.mark.skipif(_chromium() is None and not os.environ.get("CI"),
                    reason="needs Chromium; .ci/run installs it, and in CI it is never skipped")
def test_kecamatan_overview_renders_offline_in_headless_chromium(written: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = written
    page = out / "kecamatan-64.08.13.html"
    dom = _browse(page, tmp_path, "--dump-dom").stdout
    assert 'data-ready="1"' in dom
    data = _data(page.read_text(encoding="utf-8"))
    n_points, n_areas = len(data["points"]["features"]), len(data["areas"]["features"])
    assert (n_points, n_areas) == (9, 2)                    # desa A's RT points and TPS areas; C has none
    assert len(re.findall(r'<path[^>]*class="leaflet-interactive"', dom)) == n_points + n_areas
    assert len(re.findall(r'class="tps-site [^"]*kecil', dom)) == 2
    assert "Marta &lt;b&gt;dinata&lt;/b&gt; &amp; Co" in dom                          # its label, as text
    assert "Tanpa Peta: 1 TPS, 2 pemilih (tanpa koordinat)" in dom


@pytest.mark.parametrize(("key", "kecamatan"), [
    ("64.08.13.2006", "64.08.13"),
    ("desa:64.08|64.08.13|SUMBER SARI", "64.08.13"),     # a desa the table lacks, in a kecamatan it knows
    ("desa:64.08|TELUK PANDAN|SUMBER SARI", "tanpa-kode"),
    ("desa:?|?|?", "tanpa-kode"),
    ("desa:64.08|64.08.13|?", "64.08.13"),               # voters whose desa nobody wrote down
])
def test_the_overview_of_a_desa_is_its_kecamatan_code(key: str, kecamatan: str) -> None:
    from dpt_pipeline.outputs.interactive import kecamatan_of

    assert kecamatan_of(key) == kecamatan


def test_every_tooltip_and_popup_of_the_maps_is_text_not_html() -> None:
    """Leaflet puts a string tooltip or popup into the page as HTML; a desa name as written in a list, or a
    candidate site's name, could hold markup. Every one is a node made by text() (textContent)."""
    js = (Path(maps.__file__).parent / "templates" / "tpsmap.js").read_text(encoding="utf-8")
    calls = re.findall(r"\.(?:bindTooltip|bindPopup|setContent)\(\s*([^\s(]+)\(", js)
    assert len(calls) >= 6 and set(calls) == {"text"}
    assert "innerHTML" not in js and re.findall(r"[{,]\s*html:\s*(\w+)", js) == ["node"]   # the badge: a text() node
