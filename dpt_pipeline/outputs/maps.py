"""TPS maps: the assignment drawn per desa, for staff to check at a glance.

`write_maps` writes into one directory a PNG per desa, for printing (the voters' points coloured by TPS, one
marker per point and TPS with its area growing with the voters there; each TPS point as a star labelled
with its number), the interactive maps (`interactive`: an HTML page per desa and an overview per
kecamatan, from `gis.layers`) and `index.html`: every desa with its quality figures, linking to its
interactive map and to a section with its PNG and its per-TPS table, and to the kecamatan overviews.
Only aggregates are drawn or written: no name, NIK or voter id. The page is templates/maps.html (over
base.html, styled by maps.css): this module formats the figures, the template lays them out and escapes
them.

Legend: up to `LEGEND_MAX_TPS` TPS the map carries a legend "TPS 3: 587 pemilih" to the right of the axes;
above that (a desa can have 90 TPS) the legend is left out and the TPS are read from the numbers beside
their stars, with their voters in the HTML table. Colours cycle through 20, so with more than 20 TPS two
TPS can share a colour; the numbers tell them apart.

Points found only approximately (lokasi "rt terdekat" or "pusat desa") have a black outline; a TPS over
capacity has its number (and legend entry) in red. Every output file is chmod `FILE_MODE`; PNGs of desa
no longer drawn are removed, and so are stale pages (the *.png and *.html in the directory are ours; the
GeoPackage beside them is written by gis.write_gpkg).

Speed: voters are aggregated with Polars before anything is drawn; what costs is matplotlib's text (legend,
labels, ticks), ~100 ms a map. From 2 * MAPS_PER_WORKER maps on, they are drawn in up to MAX_WORKERS
spawned processes.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import offset_copy

from dpt_pipeline.io.files import FILE_MODE, write_private
from dpt_pipeline.io.runs import final_path
from dpt_pipeline.io.workers import pool as workers_pool
from dpt_pipeline.outputs.pages import render
from dpt_pipeline.outputs.reuse import Published, digest, row_digests

if TYPE_CHECKING:   # imported where used: the worker processes that draw PNGs need neither (nor shapely)
    from dpt_pipeline.outputs import gis, interactive

log = logging.getLogger(__name__)

FIG_INCHES = 7.0
DPI = 90
LEGEND_MAX_TPS = 30
MAPS_PER_WORKER = 10        # a worker process is started per this many maps, up to MAX_WORKERS
MAX_WORKERS = 4
# tab20 reordered: its ten dark hues first, then the ten light ones, so neighbouring TPS numbers contrast.
_TAB20 = colormaps["tab20"](np.arange(20))
PALETTE = np.concatenate([_TAB20[0::2], _TAB20[1::2]])
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
DASH = "–"


def file_stem(desa_key: str) -> str:
    """A file name stem for a desa key: [A-Za-z0-9._-] kept, the rest '_'. A key that needed a replacement
    gets a hash of itself, so two keys that differ only in replaced characters still get two files."""
    stem = _UNSAFE.sub("_", desa_key)
    if stem == desa_key:
        return stem
    return f"{stem}-{hashlib.sha1(desa_key.encode()).hexdigest()[:8]}"


def write_maps(assignments: pl.DataFrame, summary: pl.DataFrame, quality: pl.DataFrame, out_dir: Path,
               *, max_voters: int, names: dict[str, str] | None = None, layers: gis.Layers | None = None,
               reuse: Published | None = None, gpkg: bool = False) -> Path:
    """The PNGs, the interactive pages and index.html; returns the path of index.html. `names` maps region
    codes to names (the kecamatan's, for its overview); `layers` are gis.layers of the same tables (computed
    here when not given). With `reuse` (last night's folder, `outputs.reuse`), a desa whose PNG and page
    would be drawn from the same figures as last night is taken from last night's folder, and so is a
    kecamatan overview none of whose desa changed (and the TPS areas of such a desa from last night's
    GeoPackage); with `gpkg`, the GeoPackage (`gis.write_gpkg`) is written beside them."""
    from dpt_pipeline.outputs import gis, interactive

    out_dir.mkdir(parents=True, exist_ok=True)
    names = names or {}
    rt = layers.rt_points if layers is not None else gis.rt_points(assignments)
    tps = summary.select("kode_desa", "tps", "voters", "households", "rts", "lat", "lon", "mean_distance_m",
                         "p95_distance_m", "max_distance_m").sort("kode_desa", "tps")
    desas = quality.sort("kode_desa").to_dicts()
    digests = _digests(rt, gis.sites(summary) if layers is None else layers.sites, tps, quality, max_voters, names)
    by_kecamatan: dict[str, list[str]] = {}
    for d in desas:
        by_kecamatan.setdefault(interactive.kecamatan_of(d["kode_desa"]), []).append(d["kode_desa"])
    overview_digests = {code: digest("kecamatan", code, interactive.kecamatan_title(code, names), max_voters,
                                     [(k, digests[k]) for k in keys]) for code, keys in by_kecamatan.items()}
    kept = frozenset(k for k, dg in digests.items() if reuse is not None and reuse.take(f"desa:{k}", dg))
    kept_overviews = frozenset(c for c, dg in overview_digests.items()
                               if reuse is not None and reuse.take(f"kecamatan:{c}", dg))
    if layers is None:
        known = {}
        if reuse is not None:   # the areas of a desa as last night: read back from last night's GeoPackage
            same = {k for k, dg in digests.items() if reuse.unchanged(f"desa:{k}", dg)}
            path = reuse.published_file(gis.GPKG_NAME, "gpkg") if same else None
            known = gis.published_areas(path, same) if path is not None else {}
        layers = gis.layers(assignments, summary, points=rt, known=known)

    # One marker per (point, TPS): the plot never sees single voters. is_finite is false for null and NaN.
    points = (assignments.filter(pl.col("lat").is_finite() & pl.col("lon").is_finite()
                                 & ~pl.col("kode_desa").is_in(list(kept)))
              .group_by("kode_desa", "lat", "lon", "tps")
              .agg(pl.len().alias("voters"), (pl.col("lokasi") != "rt").any().alias("approx"))
              .sort("kode_desa", "tps", "lat", "lon"))   # a fixed drawing order: the same PNG for the same map
    points_by = points.partition_by("kode_desa", as_dict=True)
    tps_by = tps.partition_by("kode_desa", as_dict=True)
    jobs = [job for d in desas if d["kode_desa"] not in kept
            and (job := _job(d, points_by.get((d["kode_desa"],)), tps_by.get((d["kode_desa"],)), out_dir, max_voters))]
    _render_all(jobs)
    drawn = {job.key: job.path.name for job in jobs}
    drawn.update({k: p.name for k in kept if (p := out_dir / f"{file_stem(k)}.png").is_file()})
    pages, overviews = interactive.write_pages(layers, desas, out_dir, max_voters=max_voters, names=names,
                                               palette=[to_hex(c) for c in PALETTE], file_stem=file_stem,
                                               kept=kept, kept_overviews=kept_overviews)
    ours = {*drawn.values(), *pages.values(), *(o.href for o in overviews), "index.html"}
    for old in [*out_dir.glob("*.png"), *out_dir.glob("*.html")]:
        if old.name not in ours:
            old.unlink()
    if reuse is not None:
        for k, dg in digests.items():
            if k not in kept:
                reuse.record(f"desa:{k}", dg, [out_dir / n for n in (drawn.get(k), pages.get(k)) if n])
        for o in overviews:
            if o.code not in kept_overviews:
                reuse.record(f"kecamatan:{o.code}", overview_digests[o.code], [out_dir / o.href])

    index = out_dir / "index.html"
    write_private(index, _page(desas, tps_by, drawn, pages, overviews, max_voters))
    if gpkg:
        gis.write_gpkg(layers, out_dir / gis.GPKG_NAME)
        if reuse is not None:
            reuse.record("gpkg", "", [out_dir / gis.GPKG_NAME])
    log.info("drew %s TPS maps, %s interactive maps and %s kecamatan overviews (%s desa and %s overviews as last "
             "night); their index is %s", f"{len(jobs):,}", f"{len(pages) - len(kept & set(pages)):,}",
             f"{len(overviews) - len(kept_overviews):,}", f"{len(kept):,}", f"{len(kept_overviews):,}",
             final_path(index))
    return index


def _digests(rt_points: pl.DataFrame, sites: pl.DataFrame, tps: pl.DataFrame, quality: pl.DataFrame,
             max_voters: int, names: dict[str, str]) -> dict[str, str]:
    """Per desa, the digest of everything its PNG and its page are drawn from (`reuse.digest`): its RT
    points, TPS sites and TPS figures, its name and figures in tps_quality, its kecamatan's title, the cap."""
    from dpt_pipeline.outputs import interactive

    parts = [row_digests(rt_points, "kode_desa"), row_digests(sites, "kode_desa"), row_digests(tps, "kode_desa"),
             row_digests(quality.select("kode_desa", "desa", "tps", "voters", "over_cap"), "kode_desa")]
    return {k: digest("desa", k, max_voters, interactive.kecamatan_title(interactive.kecamatan_of(k), names),
                      *[p.get(k, b"") for p in parts]) for k in quality["kode_desa"].to_list()}


def _title(d: dict) -> str:
    return f"{d['desa']} ({d['kode_desa']})" if d["desa"] else str(d["kode_desa"])


@dataclass(frozen=True)
class _Map:
    """What one desa's PNG shows, as plain arrays: cheap to send to a worker process."""
    key: str
    path: Path
    title: str
    lon: np.ndarray             # markers: one per (point, TPS)
    lat: np.ndarray
    tps: np.ndarray
    voters: np.ndarray
    approx: np.ndarray          # point found only approximately (RT terdekat, pusat desa)
    centre_lon: np.ndarray      # TPS points
    centre_lat: np.ndarray
    centre_tps: np.ndarray
    centre_over: np.ndarray     # TPS over capacity: its number in red
    n_tps: int
    legend: list[tuple[int, int]]   # (TPS, voters) of every TPS; empty above LEGEND_MAX_TPS
    max_voters: int


def _job(d: dict, points: pl.DataFrame | None, tps: pl.DataFrame | None, out_dir: Path,
         max_voters: int) -> _Map | None:
    """The map of desa `d`, or None when it has no coordinates at all."""
    if points is None:
        points = pl.DataFrame(schema={"lat": pl.Float64, "lon": pl.Float64, "tps": pl.Int32, "voters": pl.UInt32,
                                      "approx": pl.Boolean})
    if tps is None:
        tps = pl.DataFrame(schema={"tps": pl.Int32, "voters": pl.Int64, "lat": pl.Float64, "lon": pl.Float64})
    centres = tps.filter(pl.col("lat").is_finite() & pl.col("lon").is_finite())
    if not points.height and not centres.height:
        return None
    return _Map(key=d["kode_desa"], path=out_dir / f"{file_stem(d['kode_desa'])}.png", title=_title(d),
                lon=points["lon"].to_numpy(), lat=points["lat"].to_numpy(), tps=points["tps"].to_numpy(),
                voters=points["voters"].to_numpy(), approx=points["approx"].to_numpy(),
                centre_lon=centres["lon"].to_numpy(), centre_lat=centres["lat"].to_numpy(),
                centre_tps=centres["tps"].to_numpy(), centre_over=(centres["voters"] > max_voters).to_numpy(),
                n_tps=tps.height,
                legend=(list(zip(tps["tps"].to_list(), tps["voters"].to_list(), strict=True))
                        if tps.height <= LEGEND_MAX_TPS else []),
                max_voters=max_voters)


def _render_all(jobs: list[_Map]) -> None:
    """Render serially, or in a few worker processes when there are enough maps to repay their start-up
    (~0.7 s each). Spawned, not forked: the parent holds Polars' and DuckDB's thread pools."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(cpus, MAX_WORKERS, len(jobs) // MAPS_PER_WORKER)
    if workers < 2:
        for job in jobs:
            _render(job)
        return
    with workers_pool(workers) as pool:
        for _ in pool.map(_render, jobs, chunksize=4):
            pass


def _render(job: _Map) -> None:
    """Draw one desa's map to its PNG."""
    fig = Figure(figsize=(FIG_INCHES, FIG_INCHES), dpi=DPI)
    ax = fig.add_axes((0.11, 0.11, 0.64 if job.legend else 0.85, 0.81))   # room below for the notes
    # y fixed: saves matplotlib a layout pass to place the title; parse_math off: a '$' in a name is text
    ax.set_title(job.title, fontsize=10, parse_math=False, y=1.01)
    ax.set_xlabel("Bujur", fontsize=8)
    ax.set_ylabel("Lintang", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_locator(MaxNLocator(5))

    if len(job.lon):
        face = _colours(job.tps)
        face[:, 3] = 0.75      # alpha per colour, not `alpha=`: that would also show the hidden edges
        ax.scatter(job.lon, job.lat, s=8 + 180 * job.voters / job.voters.max(), c=face, linewidths=0.6, zorder=2,
                   edgecolors=np.where(job.approx[:, None], (0.0, 0.0, 0.0, 1.0), (0.0, 0.0, 0.0, 0.0)).tolist())
    notes = []
    if job.approx.any():
        notes.append("Garis hitam: lokasi perkiraan (RT terdekat / pusat desa)")
    if len(job.centre_lon):
        ax.scatter(job.centre_lon, job.centre_lat, s=170, marker="*", c=_colours(job.centre_tps),
                   edgecolors="black", linewidths=0.8, zorder=3)
        beside = offset_copy(ax.transData, fig=fig, x=5, y=4, units="points")
        for n, x, y, over in zip(job.centre_tps, job.centre_lon, job.centre_lat, job.centre_over, strict=True):
            ax.text(x, y, str(n), transform=beside, fontsize=7, fontweight="bold", zorder=4,
                    color="red" if over else "black")
    if job.legend:
        handles = [Line2D([], [], linestyle="", marker="o", markersize=6, color=PALETTE[(n - 1) % len(PALETTE)])
                   for n, _ in job.legend]
        legend = ax.legend(handles, [f"TPS {n}: {v} pemilih" for n, v in job.legend], loc="upper left",
                           bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False, borderaxespad=0.0)
        for text, (_, v) in zip(legend.get_texts(), job.legend, strict=True):
            if v > job.max_voters:
                text.set_color("red")
    elif job.n_tps:
        notes.append(f"{job.n_tps} TPS: jumlah pemilih per TPS ada di tabel")
    for i, note in enumerate(notes):
        fig.text(0.11, 0.015 + 0.022 * i, note, fontsize=7)

    # Limits with a margin (at least ~100 m, so a desa of one point is not a degenerate box), then the
    # aspect that makes a metre as long east-west as north-south.
    lon = np.concatenate([job.lon, job.centre_lon])
    lat = np.concatenate([job.lat, job.centre_lat])
    pad_x = max(0.05 * float(lon.max() - lon.min()), 0.001)
    pad_y = max(0.05 * float(lat.max() - lat.min()), 0.001)
    ax.set_xlim(float(lon.min()) - pad_x, float(lon.max()) + pad_x)
    ax.set_ylim(float(lat.min()) - pad_y, float(lat.max()) + pad_y)
    ax.set_aspect(1.0 / math.cos(math.radians(float(lat.mean()))))

    fig.savefig(job.path, format="png", dpi=DPI)
    os.chmod(job.path, FILE_MODE)


def _colours(tps_numbers: np.ndarray) -> np.ndarray:
    return PALETTE[(tps_numbers.astype(np.int64) - 1) % len(PALETTE)]


def _fmt(value: object, spec: str = "d") -> str:
    """A number for the page; null (or NaN) as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return format(value, spec)


def _page(desas: list[dict], tps_by: dict, drawn: dict[str, str], pages: dict[str, str],
          overviews: list[interactive.Overview], max_voters: int) -> str:
    """index.html: the figures formatted here, laid out (and escaped) by templates/maps.html."""
    rows = []
    for d in desas:
        key = d["kode_desa"]
        n_tps = _fmt(d["tps"])
        if d["tps"] is not None and d["tps_minimum"] is not None and d["tps"] != d["tps_minimum"]:
            n_tps += f" (min. {d['tps_minimum']})"
        churn = DASH if d["churn"] is None else f"{_fmt(d['moved'])} ({d['churn']:.1%})"
        stations = []
        found = tps_by.get((key,))
        for t in found.to_dicts() if found is not None else []:
            stations.append({
                "over": t["voters"] is not None and t["voters"] > max_voters, "tps": _fmt(t["tps"]),
                "voters": _fmt(t["voters"]),
                "figures": [_fmt(t["households"]), _fmt(t["rts"]), _fmt(t["mean_distance_m"], ".0f"),
                            _fmt(t["p95_distance_m"], ".0f"), _fmt(t["max_distance_m"], ".0f"),
                            _fmt(t["lat"], ".5f"), _fmt(t["lon"], ".5f")]})
        rows.append({
            "key": key, "name": str(d["desa"] or key), "title": _title(d), "anchor": f"desa-{file_stem(key)}",
            "over": (d["over_cap"] or 0) > 0, "image": drawn.get(key), "page": pages.get(key),
            "figures": [_fmt(d["voters"]), _fmt(d["households"]), n_tps, _fmt(d["mean_distance_m"], ".0f"),
                        _fmt(d["p95_distance_m"], ".0f"), _fmt(d["max_distance_m"], ".0f"),
                        _fmt(d["max_deviation"], ".1f"), _fmt(d["over_cap"]), _fmt(d["split_households"]),
                        _fmt(d["rts_fallback"]), churn],
            "stations": stations})
    return render("maps.html", desas=rows, max_voters=max_voters, side=int(FIG_INCHES * DPI), overviews=overviews,
                  total_voters=sum(d["voters"] or 0 for d in desas), total_tps=sum(d["tps"] or 0 for d in desas))
