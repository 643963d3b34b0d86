"""The RT coordinates file (one point per desa, RW and RT): read, checked row by row, and the rows that
cannot be used reported. Decoding and the separator are `dpt_pipeline.io.text`'s."""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dpt_pipeline.errors import InputError
from dpt_pipeline.io.files import read_regular
from dpt_pipeline.io.text import decode, separator
from dpt_pipeline.tps.geometry import M_PER_DEG_LAT, M_PER_DEG_LON

log = logging.getLogger(__name__)

COORDINATE_COLUMNS = ("kode_desa", "rw", "rt", "lat", "lon")
COORDINATE_SCHEMA = {"kode_desa": pl.String, "rw": pl.Int32, "rt": pl.Int32, "lat": pl.Float64, "lon": pl.Float64}


@dataclass(frozen=True)
class SkippedCoordinate:
    """A row of the coordinates file that was not used: where, which field, its text and why."""

    row: int        # 1-based data row of the coordinates file
    field: str
    value: str | None
    reason: str


_COORDINATE_ALIASES = {"kode_desa": ("kode_desa", "kodedesa", "kode desa", "kd_desa", "kode_kelurahan"),
                       "rw": ("rw",), "rt": ("rt",), "lat": ("lat", "latitude", "lintang"),
                       "lon": ("lon", "lng", "long", "longitude", "bujur")}
SITE_COLUMNS = ("kode_desa", "nama", "lat", "lon")
SITE_SCHEMA = {"kode_desa": pl.String, "nama": pl.String, "lat": pl.Float64, "lon": pl.Float64}
_SITE_ALIASES = {"kode_desa": _COORDINATE_ALIASES["kode_desa"],
                 "nama": ("nama", "name", "nama_tempat", "nama tempat", "tempat", "lokasi"),
                 "lat": _COORDINATE_ALIASES["lat"], "lon": _COORDINATE_ALIASES["lon"]}
FAR_FROM_DESA_M = 20_000.0   # an RT this far from its desa's other RTs is a typing slip


def read_coordinates(path: Path | None) -> tuple[pl.DataFrame, list[SkippedCoordinate]]:
    """The RT coordinates file: columns kode_desa, rw, rt, lat, lon (common spellings accepted), separated
    by `,`, `;` or tab, UTF-8/UTF-16/Windows-1252, a decimal comma accepted. A row that cannot be used (a
    field missing or unreadable, latitude or longitude out of range, the point (0, 0), an RT more than
    20 km from the rest of its desa, an RT listed twice) is skipped, named by its row and field and logged
    (coordinates are not personal), and its RT falls back like any RT missing from the file. An empty file
    means no coordinates; a file without the columns is refused."""
    return _read_points(path, "[tps].coordinates", "the RT coordinates file", _COORDINATE_ALIASES, ("rw", "rt"),
                        "RT", "this RT falls back to a neighbour", COORDINATE_SCHEMA)


def read_sites(path: Path | None) -> tuple[pl.DataFrame, list[SkippedCoordinate]]:
    """The candidate TPS sites file (`[tps] sites`: a school, a balai desa): columns kode_desa, nama, lat,
    lon, read as the RT coordinates file is (the same spellings, separators, encodings, decimal comma). A
    row that cannot be used (a field missing or unreadable, out of range, (0, 0), more than 20 km from the
    desa's other sites, a name listed twice in one desa) is skipped, named by its row and field and
    logged; the TPS of its desa are sited at RT points as without the file. A file without the columns is
    refused."""
    return _read_points(path, "[tps].sites", "the TPS sites file", _SITE_ALIASES, (), "site",
                        "this site is not proposed", SITE_SCHEMA)


def _read_points(path: Path | None, setting: str, what: str, aliases: dict[str, tuple[str, ...]],
                 numbers: tuple[str, ...], unit: str, fallback: str, schema: Mapping[str, type[pl.DataType]]
                 ) -> tuple[pl.DataFrame, list[SkippedCoordinate]]:
    """A file of points per desa (columns `aliases`, whole numbers `numbers`, then lat and lon), read and
    checked row by row; a point is keyed by every column but lat and lon."""
    if path is None:
        return pl.DataFrame(schema=schema), []
    columns = tuple(aliases)
    key = [c for c in columns if c not in ("lat", "lon")]
    text, _ = decode(read_regular(path, setting), path)
    lines = text.splitlines()
    if not text.strip():
        log.warning("%s is empty: no %s points from it", path, unit)
        return pl.DataFrame(schema=schema), []
    sep = separator(lines[0])
    rows = list(csv.reader(lines, delimiter=sep))
    header = [h.strip().lower().replace("-", "_") for h in rows[0]]
    where: dict[str, int] = {}
    for c, names in aliases.items():
        found = [i for i, h in enumerate(header) if h in names]
        if not found:
            raise InputError(f"{what} has no column {c!r} (needs {', '.join(columns)})", path=path, field=c)
        where[c] = found[0]
    skipped: list[SkippedCoordinate] = []
    cells: list[tuple[object, ...]] = []
    for n, r in enumerate(rows[1:], start=1):   # the file is small (one row per RT): a loop is fine
        if not any(x.strip() for x in r):
            continue
        if len(r) != len(header):
            skipped.append(SkippedCoordinate(n, "*", None, f"{len(r)} kolom, bukan {len(header)}"))
            continue
        cells.append((n, *(r[where[c]].strip() or None for c in columns)))
    s = pl.DataFrame(cells, schema=["row", *columns], orient="row",
                     schema_overrides={"row": pl.Int64, **{c: pl.String for c in columns}})
    parsed = s.with_columns(
        *[pl.col(c).cast(pl.Int32, strict=False).alias(f"_{c}") for c in numbers],
        *[pl.col(c).str.replace(",", ".", literal=True).cast(pl.Float64, strict=False).alias(f"_{c}")
          for c in ("lat", "lon")])
    far = _far_from_desa(parsed)
    checks = [*[(c, pl.col(c).is_null(), "kosong") for c in key if c not in numbers],
              *[(c, pl.col(f"_{c}").is_null(), "bukan angka") for c in numbers],
              ("lat", ~pl.col("_lat").is_between(-90, 90).fill_null(False), "bukan lintang"),
              ("lon", ~pl.col("_lon").is_between(-180, 180).fill_null(False), "bukan bujur"),
              ("lat", (pl.col("_lat") == 0) & (pl.col("_lon") == 0), "titik (0, 0): koordinat belum diisi"),
              ("lon", pl.col("row").is_in(far.implode()),
               f"lebih dari {FAR_FROM_DESA_M / 1000:.0f} km dari {unit} lain di desanya")]
    bad = parsed.with_columns(pl.coalesce([pl.when(cond).then(pl.lit(f)) for f, cond, _ in checks]).alias("_field"),
                              pl.coalesce([pl.when(cond).then(pl.lit(r)) for _, cond, r in checks]).alias("_why"))
    skipped += [SkippedCoordinate(r["row"], r["_field"], r[r["_field"]], r["_why"])
                for r in bad.filter(pl.col("_field").is_not_null()).iter_rows(named=True)]
    good = bad.filter(pl.col("_field").is_null()).select(
        "row", *[pl.col(f"_{c}").alias(c) if c in numbers or c in ("lat", "lon") else pl.col(c) for c in columns])
    dup = good.filter(pl.struct(key).is_first_distinct().not_())
    skipped += [SkippedCoordinate(r["row"], key[-1], str(r[key[-1]]), f"{unit} sudah tercantum di baris sebelumnya")
                for r in dup.iter_rows(named=True)]
    skipped.sort(key=lambda k: k.row)
    for sk in skipped[:10]:
        log.warning("%s row %d, %s=%r: %s; %s", path, sk.row, sk.field, sk.value, sk.reason, fallback)
    if len(skipped) > 10:
        log.warning("%s: %d more rows skipped", path, len(skipped) - 10)
    return good.filter(pl.struct(key).is_first_distinct()).drop("row"), skipped


def _far_from_desa(parsed: pl.DataFrame) -> pl.Series:
    """Rows whose point lies more than FAR_FROM_DESA_M from the median point of their desa."""
    ok = parsed.filter(pl.col("_lat").is_between(-90, 90) & pl.col("_lon").is_between(-180, 180)
                       & ~((pl.col("_lat") == 0) & (pl.col("_lon") == 0)))
    med = ok.group_by("kode_desa").agg(pl.col("_lat").median().alias("_mlat"), pl.col("_lon").median().alias("_mlon"))
    d = ok.join(med, on="kode_desa").with_columns(
        (((pl.col("_lat") - pl.col("_mlat")) * M_PER_DEG_LAT) ** 2
         + ((pl.col("_lon") - pl.col("_mlon")) * M_PER_DEG_LON * (pl.col("_mlat") * math.pi / 180).cos()) ** 2)
        .sqrt().alias("_d"))
    return d.filter(pl.col("_d") > FAR_FROM_DESA_M)["row"]
