"""GIS layers of the TPS (outputs.gis): areas that tile a desa and hold their RT points, and the GeoPackage
read back as QGIS would read it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import polars as pl
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from dpt_pipeline.io.files import FILE_MODE
from dpt_pipeline.outputs import gis

TOL = 1e-8   # degrees (~1 mm, the areas are drawn on a 1 mm grid): a point "on the edge" of its area


def _rows(draw_rows: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, ...]:
    """(grid x, grid y, tps, voters) -> lat, lon, tps, voters arrays; a grid step of ~110 m."""
    a = np.array(draw_rows, dtype=float)
    return 0.5 + a[:, 1] * 1e-3, 117.5 + a[:, 0] * 1e-3, a[:, 2].astype(int), a[:, 3].astype(int)


desa_rows = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(1, 4), st.integers(1, 60)),
                     min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(desa_rows)
def test_areas_tile_the_desa_and_hold_their_points(rows: list[tuple[int, int, int, int]]) -> None:
    # a grid of 7 x 7 places: points repeat (an RT split over TPS, RTs at one place), lie on lines, or are one
    lat, lon, tps, voters = _rows(rows)
    outline, areas = gis.desa_areas(lat, lon, tps, voters)
    assert set(areas) == set(tps.tolist())                          # every TPS of the desa has an area
    for t, (shape, n) in areas.items():
        assert shape.geom_type == "MultiPolygon" and shape.is_valid and shape.area > 0
        assert n == voters[tps == t].sum()
    for la, lo, t in zip(lat, lon, tps, strict=True):               # each RT point in (or on) its TPS's area
        assert areas[int(t)][0].distance(shapely.Point(lo, la)) < TOL
    shapes = [s for s, _ in areas.values()]
    for i, a in enumerate(shapes):                                  # no two areas of the desa overlap ...
        for b in shapes[i + 1:]:
            assert a.intersection(b).area < 1e-6 * outline.area
    union = shapely.union_all(shapes)                               # ... and together they cover its outline
    assert abs(union.area - outline.area) < 1e-5 * outline.area     # to the 1 mm grid along the edges
    assert outline.buffer(TOL).covers(union)


def _tables(*, with_sites: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows = []
    spots = [(0.500, 117.500, 1, 1, 1, "rt"), (0.502, 117.501, 1, 2, 1, "rt"), (0.503, 117.504, 2, 1, 2, "rt"),
             (0.503, 117.504, 2, 1, 1, "rt"),                       # RT 1/RW 2 split over TPS 1 and 2
             (0.506, 117.503, 2, 5, 2, "rt terdekat"), (0.504, 117.506, None, None, 2, "pusat desa")]
    for j, (lat, lon, rw, rt, t, lokasi) in enumerate(spots):
        for i in range(j + 2):
            rows.append((f"SECRETVOTER{j}{i}", "64.08.13.2006", "MARTADINATA", f"SECRETKK{j}{i}", rw, rt, lat, lon,
                         lokasi, t, 10.0))
    rows.append(("SECRETVOTERX", "64.08.13.2007", "TANPA", "SECRETKKX", 1, 1, None, None, "pusat desa", 1, None))
    assignments = pl.DataFrame(rows, orient="row", schema={
        "voter_id": pl.String, "kode_desa": pl.String, "desa": pl.String, "household": pl.String, "rw": pl.Int32,
        "rt": pl.Int32, "lat": pl.Float64, "lon": pl.Float64, "lokasi": pl.String, "tps": pl.Int32,
        "distance_m": pl.Float64})
    summary = pl.DataFrame({
        "kode_desa": ["64.08.13.2006", "64.08.13.2006", "64.08.13.2007"], "desa": ["MARTADINATA"] * 2 + ["TANPA"],
        "tps": pl.Series([1, 2, 1], dtype=pl.Int32), "voters": [11, 16, 1],
        "lat": [0.5015, 0.5043, None], "lon": [117.5015, 117.5047, None]})
    if with_sites:
        summary = summary.with_columns(pl.Series("site_lat", [0.502, None, None], dtype=pl.Float64),
                                       pl.Series("site_lon", [117.501, None, None], dtype=pl.Float64),
                                       pl.Series("site_kind", ["kandidat", None, None], dtype=pl.String),
                                       pl.Series("site_name", ["SD Negeri 001", None, None], dtype=pl.String))
    return assignments, summary


def test_sites_use_the_proposed_site_else_the_mean_point() -> None:
    _, summary = _tables(with_sites=True)
    s = gis.sites(summary)
    assert s.select("tps", "site_kind", "site_name", "lat", "lon").rows() == [
        (1, "kandidat", "SD Negeri 001", 0.502, 117.501), (2, "rata-rata", None, 0.5043, 117.5047)]  # no point: none
    _, plain = _tables(with_sites=False)
    assert gis.sites(plain)["site_kind"].to_list() == ["rata-rata", "rata-rata"]


def test_rt_points_one_per_rt_tps_and_place() -> None:
    assignments, _ = _tables(with_sites=False)
    pts = gis.rt_points(assignments)
    assert pts.height == 6                                          # the split RT twice, the desa without none
    assert pts["voters"].sum() == assignments.filter(pl.col("lat").is_not_null()).height
    split = pts.filter((pl.col("rw") == 2) & (pl.col("rt") == 1))
    assert split.select("tps", "voters").sort("tps").rows() == [(1, 5), (2, 4)]


@pytest.fixture
def gpkg(tmp_path: Path) -> tuple[Path, gis.Layers]:
    assignments, summary = _tables(with_sites=True)
    found = gis.layers(assignments, summary)
    path = tmp_path / gis.GPKG_NAME
    path.write_bytes(b"last night's")
    return gis.write_gpkg(found, path), found


def test_geopackage_layers_crs_and_counts(gpkg: tuple[Path, gis.Layers]) -> None:
    path, found = gpkg
    assert path.stat().st_mode & 0o777 == FILE_MODE
    assert not list(path.parent.glob(".*tmp*"))
    layers = dict(pyogrio.list_layers(path))
    assert layers == {"tps_sites": "Point", "rt_points": "Point", "tps_areas": "MultiPolygon"}
    expect = {"tps_sites": (2, ["kode_desa", "desa", "tps", "voters", "site_kind", "site_name"]),
              "rt_points": (6, ["kode_desa", "rw", "rt", "tps", "voters", "lokasi"]),
              "tps_areas": (2, ["kode_desa", "tps", "voters"])}
    for layer, (count, fields) in expect.items():
        info = pyogrio.read_info(path, layer=layer)
        assert info["crs"] == "EPSG:4326"
        assert info["features"] == count
        assert list(info["fields"]) == fields
    with sqlite3.connect(path) as db:          # the GeoPackage tables themselves, as the standard lays them out
        contents = dict(db.execute("SELECT table_name, srs_id FROM gpkg_contents").fetchall())
        assert contents == {"tps_sites": 4326, "rt_points": 4326, "tps_areas": 4326}
        assert db.execute("SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys "
                          "WHERE srs_id = 4326").fetchone() == ("EPSG", 4326)
    assert b"SECRET" not in path.read_bytes()


def _read(path: Path, layer: str) -> tuple[list[shapely.Geometry], dict[str, list]]:
    meta, _, wkb, values = pyogrio.raw.read(path, layer=layer)
    return list(shapely.from_wkb(wkb)), {f: list(v) for f, v in zip(meta["fields"], values, strict=True)}


def test_geopackage_points_lie_in_their_areas_and_areas_do_not_overlap(gpkg: tuple[Path, gis.Layers]) -> None:
    path, _ = gpkg
    areas, a = _read(path, "tps_areas")
    points, p = _read(path, "rt_points")
    sites, s = _read(path, "tps_sites")
    area_of = {(k, t): g for k, t, g in zip(a["kode_desa"], a["tps"], areas, strict=True)}
    assert sum(a["voters"]) == sum(p["voters"]) == 27
    for k, t, pt, lokasi in zip(p["kode_desa"], p["tps"], points, p["lokasi"], strict=True):
        assert area_of[(k, t)].distance(pt) < TOL, (k, t, lokasi)
    assert area_of[("64.08.13.2006", 1)].intersection(area_of[("64.08.13.2006", 2)]).area < 1e-12
    assert sorted(p["lokasi"]) == ["pusat desa", "rt", "rt", "rt", "rt", "rt terdekat"]
    assert s["site_name"] == ["SD Negeri 001", None] and s["site_kind"] == ["kandidat", "rata-rata"]
    assert (sites[0].x, sites[0].y) == (117.501, 0.502)
    with sqlite3.connect(path) as db:                               # an unknown RW/RT stays null, not 0
        unknown = db.execute("SELECT lokasi FROM rt_points WHERE rw IS NULL AND rt IS NULL").fetchall()
    assert unknown == [("pusat desa",)]


def test_an_empty_roll_writes_empty_layers(tmp_path: Path) -> None:
    assignments, summary = _tables(with_sites=False)
    found = gis.layers(assignments.clear(), summary.clear())
    path = gis.write_gpkg(found, tmp_path / gis.GPKG_NAME)
    assert {layer: pyogrio.read_info(path, layer=layer)["features"] for layer, _ in pyogrio.list_layers(path)} == {
        "tps_sites": 0, "rt_points": 0, "tps_areas": 0}
