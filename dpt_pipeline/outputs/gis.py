"""The TPS as GIS layers: each TPS's proposed site, every RT point with its TPS, and each TPS's area; drawn by
the interactive maps (`maps`) and written as a GeoPackage (`write_gpkg`, EPSG:4326) for QGIS.

Only aggregates: a point is an RT (or the desa centre) with its voter count, never a voter.

- tps_sites: one point per TPS with a site: `site_lat`/`site_lon` of tps_summary where the stage proposes one
  (`site_kind` 'rt' or 'kandidat', `site_name`), else the voters' mean point (`lat`/`lon`, site_kind
  'rata-rata'). A TPS with neither has no feature.
- rt_points: one point per (desa, RW, RT, TPS, lokasi) with coordinates: an RT split over two TPS is two
  features at one place; `lokasi` says how the point was found (rt, rt terdekat, pusat desa).
- tps_areas: the union of the Voronoi cells of a TPS's RT points, clipped to the desa's convex hull of its
  points buffered by `BUFFER_M`. Voronoi cells, not convex hulls: hulls of two TPS whose RTs interleave
  overlap, cells never do, so the areas of one desa tile its hull and every RT point lies in (or, where
  several TPS share the point, on the edge of) its TPS's area. A point several TPS share (an RT split
  between them, or RTs without coordinates placed at the desa centre) has its cell cut into sectors around
  the point, one per TPS, their angles in proportion to the TPS's voters there. The geometry is computed in
  metres on a local equirectangular plane (exact enough over a desa), overlaid on a 1 mm grid (`GRID_M`:
  GEOS's snap-rounding, so near-parallel edges cannot drop a piece; a shared point is then on its areas'
  edges to within a millimetre) and written in degrees. GEOS's Voronoi diagram is checked cell by cell
  and rebuilt from half-planes where it is wrong (`voronoi_cells`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import shapely

from dpt_pipeline.io.files import FILE_MODE

GPKG_NAME = "tps.gpkg"
# gpkg_contents.last_change of every layer (GDAL writes the clock's time without it): the file is a
# function of its content alone, so that the same TPS give the same bytes.
GPKG_CHANGED = "2000-01-01T00:00:00.000Z"
BUFFER_M = 300.0          # the desa's hull of RT points grown by this much: the outer RTs' cells end there
GRID_M = 0.001            # the areas' overlay grid, metres
SECTOR_STEPS = 16         # arc points per sector when a shared point's cell is cut between TPS
_M_PER_DEG = 111_320.0
SITE_KINDS = ("rt", "kandidat", "rata-rata")


@dataclass(frozen=True)
class Layers:
    """The three layers, with lon/lat columns (points) or shapely geometries in degrees (areas)."""

    sites: pl.DataFrame      # kode_desa, desa, tps, voters, site_kind, site_name, lat, lon
    rt_points: pl.DataFrame  # kode_desa, rw, rt, tps, voters, lokasi, lat, lon
    areas: pl.DataFrame      # kode_desa, tps, voters
    area_shapes: np.ndarray  # one shapely MultiPolygon per row of `areas`
    outlines: dict[str, shapely.Geometry]   # per desa: its buffered hull, the edge of its TPS areas


def _finite(lat: str = "lat", lon: str = "lon") -> pl.Expr:
    return pl.col(lat).is_finite() & pl.col(lon).is_finite()   # false for null and NaN


def sites(summary: pl.DataFrame) -> pl.DataFrame:
    """Each TPS's site: the stage's proposed site where it gave one, else the voters' mean point."""
    s = summary
    if {"site_lat", "site_lon"} <= set(s.columns):
        proposed = _finite("site_lat", "site_lon")
        kind = pl.col("site_kind") if "site_kind" in s.columns else pl.lit(None, pl.String)
        name = pl.col("site_name") if "site_name" in s.columns else pl.lit(None, pl.String)
        s = s.with_columns(pl.when(proposed).then(pl.col("site_lat")).otherwise(pl.col("lat")).alias("lat"),
                           pl.when(proposed).then(pl.col("site_lon")).otherwise(pl.col("lon")).alias("lon"),
                           pl.when(proposed).then(kind.cast(pl.String)).otherwise(pl.lit("rata-rata")).alias("site_kind"),
                           pl.when(proposed).then(name.cast(pl.String)).alias("site_name"))
    else:
        s = s.with_columns(pl.lit("rata-rata").alias("site_kind"), pl.lit(None, pl.String).alias("site_name"))
    return (s.filter(_finite())
            .select("kode_desa", pl.col("desa").cast(pl.String), pl.col("tps").cast(pl.Int32),
                    pl.col("voters").cast(pl.Int64), "site_kind", "site_name", "lat", "lon")
            .sort("kode_desa", "tps"))


def rt_points(assignments: pl.DataFrame) -> pl.DataFrame:
    """One row per (desa, RW, RT, TPS, lokasi, point) with coordinates, with its voters."""
    return (assignments.filter(_finite())
            .group_by("kode_desa", "rw", "rt", "tps", "lokasi", "lat", "lon")
            .agg(pl.len().cast(pl.Int64).alias("voters"))
            .select("kode_desa", "rw", "rt", "tps", "voters", "lokasi", "lat", "lon")
            .sort("kode_desa", "tps", "rw", "rt", "lat", "lon", nulls_last=True))


def layers(assignments: pl.DataFrame, summary: pl.DataFrame, *, points: pl.DataFrame | None = None,
           known: dict[str, list[tuple[int, int, shapely.Geometry]]] | None = None) -> Layers:
    """The three layers of the stage's tables. `points`: `rt_points(assignments)` if already computed;
    `known`: per desa its TPS areas as `desa_areas` gave them on the same points ((tps, voters, area),
    by TPS: last night's, read back from the GeoPackage by `published_areas`), not computed again."""
    points = rt_points(assignments) if points is None else points
    known = known or {}
    keys: list[str] = []
    numbers: list[int] = []
    counts: list[int] = []
    shapes: list[shapely.Geometry] = []
    outlines: dict[str, shapely.Geometry] = {}
    for (key,), desa in points.partition_by("kode_desa", as_dict=True, maintain_order=True).items():
        lat, lon = desa["lat"].to_numpy(), desa["lon"].to_numpy()
        if str(key) in known:
            outline, found = desa_outline(lat, lon), known[str(key)]
        else:
            outline, areas = desa_areas(lat, lon, desa["tps"].to_numpy(), desa["voters"].to_numpy())
            found = [(tps, voters, shape) for tps, (shape, voters) in sorted(areas.items())]
        outlines[str(key)] = outline
        for tps, voters, shape in found:
            keys.append(str(key))
            numbers.append(tps)
            counts.append(voters)
            shapes.append(shape)
    areas_frame = pl.DataFrame({"kode_desa": keys, "tps": numbers, "voters": counts},
                               schema={"kode_desa": pl.String, "tps": pl.Int32, "voters": pl.Int64})
    return Layers(sites(summary), points, areas_frame, np.array(shapes, dtype=object), outlines)


def published_areas(path: Path, desa: set[str]) -> dict[str, list[tuple[int, int, shapely.Geometry]]]:
    """The TPS areas of the `desa` in the GeoPackage at `path` (one `write_gpkg` wrote), as `layers` takes
    them: per desa (tps, voters, area) in the order written."""
    from pyogrio.raw import read

    _, _, wkb, fields = read(str(path), layer="tps_areas", columns=["kode_desa", "tps", "voters"])
    out: dict[str, list[tuple[int, int, shapely.Geometry]]] = {}
    shapes = shapely.from_wkb(wkb) if len(wkb) else np.array([], dtype=object)
    for key, tps, voters, shape in zip(fields[0], fields[1], fields[2], shapes, strict=True):
        if key in desa:
            out.setdefault(str(key), []).append((int(tps), int(voters), shape))
    return out


class _Plane:
    """A desa's local plane: metres east and north of its points' mean, and back to degrees."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray) -> None:
        self.lat0 = float(np.mean(lat))
        self.lon0 = float(np.mean(lon))
        self.kx = _M_PER_DEG * math.cos(math.radians(self.lat0))

    def to_plane(self, la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        return np.column_stack([(lo - self.lon0) * self.kx, (la - self.lat0) * _M_PER_DEG])

    def to_degrees(self, xy: np.ndarray) -> np.ndarray:
        return np.column_stack([xy[:, 0] / self.kx + self.lon0, xy[:, 1] / _M_PER_DEG + self.lat0])


def _region(unique: np.ndarray) -> shapely.Geometry:
    return shapely.convex_hull(shapely.multipoints(unique)).buffer(BUFFER_M, quad_segs=8)


def desa_outline(lat: np.ndarray, lon: np.ndarray) -> shapely.Geometry:
    """The desa's buffered hull of its RT points, in degrees: `desa_areas`'s first result, alone."""
    plane = _Plane(lat, lon)
    unique = np.unique(plane.to_plane(lat, lon), axis=0)
    return shapely.transform(_region(unique), plane.to_degrees)


def desa_areas(lat: np.ndarray, lon: np.ndarray, tps: np.ndarray, voters: np.ndarray
               ) -> tuple[shapely.Geometry, dict[int, tuple[shapely.Geometry, int]]]:
    """One desa's buffered hull and each TPS's area (with its voters) from its RT points (one row per
    point and TPS; a point may repeat with other TPS), in degrees."""
    plane = _Plane(lat, lon)
    to_degrees = plane.to_degrees
    xy = plane.to_plane(lat, lon)
    unique, where = np.unique(xy, axis=0, return_inverse=True)
    where = where.reshape(-1)
    region = _region(unique)
    cells = voronoi_cells(unique, region)
    reach = 4.0 * (math.dist(region.bounds[:2], region.bounds[2:]) + BUFFER_M)
    pieces: dict[int, list[shapely.Geometry]] = {}
    totals: dict[int, int] = {}
    for i, cell in enumerate(cells):
        rows = np.flatnonzero(where == i)
        at: dict[int, int] = {}
        for r in rows:
            at[int(tps[r])] = at.get(int(tps[r]), 0) + int(voters[r])
        for t, v in at.items():
            totals[t] = totals.get(t, 0) + v
        if len(at) == 1:
            pieces.setdefault(next(iter(at)), []).append(cell)
            continue
        # Shared by several TPS: sectors around the point, angles in proportion to their voters there.
        share = np.array([at[t] for t in sorted(at)], dtype=float)
        bounds = np.concatenate([[0.0], np.cumsum(share) / share.sum()]) * 2 * math.pi
        cx, cy = unique[i]
        for t, a, b in zip(sorted(at), bounds[:-1], bounds[1:], strict=True):
            arc = np.linspace(a, b, max(2, int(SECTOR_STEPS * (b - a) / (2 * math.pi)) + 2))
            ring = [(cx, cy), *zip(cx + reach * np.cos(arc), cy + reach * np.sin(arc), strict=True)]
            pieces.setdefault(t, []).append(
                multipolygon(shapely.intersection(cell, shapely.Polygon(ring), grid_size=GRID_M)))
    out = {}
    for t, parts in pieces.items():
        # On a grid of 1 mm (snap-rounding: GEOS's plain union can drop a piece that meets others in
        # near-parallel edges, as the sectors of a grid of RTs do)
        shape = shapely.union_all(parts, grid_size=GRID_M)
        # back to degrees; rounding there can pinch an edge (a self-intersection by 1e-15 deg): made valid
        out[t] = (multipolygon(shapely.make_valid(shapely.transform(shape, to_degrees))), totals[t])
    return shapely.transform(region, to_degrees), out


def multipolygon(shape: shapely.Geometry) -> shapely.MultiPolygon:
    """The polygons of `shape` as one MultiPolygon (an intersection can leave slivers of lines or points)."""
    parts = shapely.get_parts(shape)
    polygons = [q for p in parts for q in (shapely.get_parts(p) if p.geom_type == "MultiPolygon" else [p])
                if q.geom_type == "Polygon" and not q.is_empty]
    return shapely.MultiPolygon(polygons)


def voronoi_cells(xy: np.ndarray, region: shapely.Geometry) -> list[shapely.Geometry]:
    """The Voronoi cell of each of the distinct points `xy` (metres) within `region`, in their order.

    GEOS's diagram first; where four or more points lie on one circle (a grid of RTs) it can return a wrong
    cell (one holding several points, another missing), so the cells are checked (each holds its point, and
    together they fill the region) and, failing that, built one by one as the region cut by the half-planes
    nearer to the point than to each other point, nearest first, until no farther point can cut it."""
    if len(xy) == 1:
        return [multipolygon(region)]
    diagram = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=region, ordered=True)
    cells = [multipolygon(c) for c in shapely.intersection(shapely.make_valid(shapely.get_parts(diagram)), region)]
    if (len(cells) == len(xy) and bool(shapely.covers(np.array(cells, dtype=object), shapely.points(xy)).all())
            and abs(sum(shapely.area(np.array(cells, dtype=object)).tolist()) - region.area) <= 1e-9 * region.area):
        return cells
    reach = 4.0 * math.dist(region.bounds[:2], region.bounds[2:])
    out = []
    for i, p in enumerate(xy):
        gap = np.hypot(*(xy - p).T)
        cell = region
        for j in np.argsort(gap, kind="stable"):
            if j == i:
                continue
            corners = shapely.get_coordinates(cell)
            if not len(corners) or 2 * np.hypot(*(corners - p).T).max() < gap[j]:
                break      # every point of the cell is nearer to p than to any point left: done
            # the half-plane nearer to p than to xy[j]: a large square on p's side of their bisector
            mid = (p + xy[j]) / 2
            d = (xy[j] - p) / gap[j]
            n = np.array([-d[1], d[0]])
            square = shapely.Polygon([mid + reach * n, mid + reach * n - 2 * reach * d,
                                      mid - reach * n - 2 * reach * d, mid - reach * n])
            cell = shapely.intersection(cell, square)
        out.append(multipolygon(cell))
    return out


def _strings(frame: pl.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    values = frame[column].cast(pl.String)
    return values.fill_null("").to_numpy().astype(object), values.is_null().to_numpy()


def _ints(frame: pl.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    values = frame[column].cast(pl.Int64)
    return values.fill_null(0).to_numpy(), values.is_null().to_numpy()


_FIELDS = {  # layer: (geometry type, [(field, kind)]) in the order QGIS shows them
    "tps_sites": ("Point", [("kode_desa", "s"), ("desa", "s"), ("tps", "i"), ("voters", "i"),
                            ("site_kind", "s"), ("site_name", "s")]),
    "rt_points": ("Point", [("kode_desa", "s"), ("rw", "i"), ("rt", "i"), ("tps", "i"), ("voters", "i"),
                            ("lokasi", "s")]),
    "tps_areas": ("MultiPolygon", [("kode_desa", "s"), ("tps", "i"), ("voters", "i")]),
}


def write_gpkg(found: Layers, path: Path) -> Path:
    """The three layers as one GeoPackage at `path` (replaced), EPSG:4326, mode FILE_MODE."""
    import pyogrio  # GDAL's start-up only when a GeoPackage is written

    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")   # GDAL wants the .gpkg suffix
    tmp.unlink(missing_ok=True)
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_CHANGED})
    try:
        _write_layers(found, tmp)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})
    os.chmod(tmp, FILE_MODE)
    tmp.replace(path)
    return path


def _write_layers(found: Layers, tmp: Path) -> None:
    from pyogrio.raw import write

    for layer, frame, geometry in (
            ("tps_sites", found.sites, shapely.points(found.sites["lon"].to_numpy(), found.sites["lat"].to_numpy())),
            ("rt_points", found.rt_points, shapely.points(found.rt_points["lon"].to_numpy(),
                                                          found.rt_points["lat"].to_numpy())),
            ("tps_areas", found.areas, found.area_shapes)):
        kind, fields = _FIELDS[layer]
        data, masks = zip(*[(_strings if k == "s" else _ints)(frame, f) for f, k in fields], strict=True)
        write(str(tmp), shapely.to_wkb(np.asarray(geometry, dtype=object)) if frame.height else np.array([], object),
              list(data), [f for f, _ in fields], field_mask=list(masks), layer=layer, driver="GPKG",
              geometry_type=kind, crs="EPSG:4326", append=tmp.exists())
