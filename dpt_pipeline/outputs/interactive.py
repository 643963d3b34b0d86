"""The interactive TPS maps: an HTML page per desa (`<stem>.html`, beside its PNG) and an overview per
kecamatan (`kecamatan-<stem>.html`), drawn by Leaflet from GeoJSON embedded in the page (gis.Layers).

Each page is one file that works alone: Leaflet (vendor/leaflet, 1.9.4, BSD-2-Clause) and the data are
inline, so a PPS can be sent the one file and open it offline; online, OpenStreetMap tiles lie under it.
Inlined, Leaflet costs 162 kB a page (~65 MB over 400 desa, ~20 MB gzipped): accepted, because a page
that needs a sibling leaflet.js breaks the moment it is mailed or copied alone, and the folder is replaced
each night, not accumulated.

The data go through Jinja's |tojson (`<`, `>`, `&` and `'` as \\u escapes), so a desa name holding
`</script>` stays text. Only aggregates: RT points with their voter counts, TPS areas and sites.

The kecamatan is read from the desa key: a Kemendagri code `PP.KK.CC.DDDD` (or `desa:KAB|PP.KK.CC|DESA`, a
desa the region table does not know in a kecamatan it knows) belongs to kecamatan `PP.KK.CC`; a desa whose
kecamatan is known only by name goes to the overview "Kecamatan tidak diketahui".
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import shapely
from markupsafe import Markup

from dpt_pipeline.io.files import write_private
from dpt_pipeline.outputs import gis
from dpt_pipeline.outputs.pages import render

LEAFLET_VERSION = "1.9.4"
LABEL_ZOOM = 16.5           # a desa map's RT labels show from this zoom on (~2.4 m a pixel: they no longer overlap)
OVERVIEW_LABEL_ZOOM = 14.5  # an overview's TPS numbers show from this zoom on (below, a small dot each)
COORD_DIGITS = 6            # ~0.1 m: the GeoJSON in a page is rounded to this many decimals of a degree
UNKNOWN_KECAMATAN = "tanpa-kode"
# `PP.KK.CC.DDDD`, or a desa the region table does not know within a kecamatan it knows: `desa:KAB|PP.KK.CC|DESA`
_KECAMATAN = re.compile(r"^(?:(\d{2}\.\d{2}\.\d{2})\.\d{4}|desa:[^|]*\|(\d{2}\.\d{2}\.\d{2})\|.*)$")
SITE_NOTE = {"rt": "di titik RT", "kandidat": "lokasi kandidat", "rata-rata": "titik rata-rata pemilih"}


@dataclass(frozen=True)
class Overview:
    """A kecamatan overview page, for index.html."""

    code: str
    title: str
    href: str
    desa: int
    tps: int
    voters: int


@functools.cache
def _vendor() -> tuple[Markup, Markup]:
    """leaflet.css and leaflet.js as shipped, the source-map comment dropped (the map file is not shipped)."""
    folder = resources.files("dpt_pipeline.outputs") / "vendor" / "leaflet"
    js = (folder / "leaflet.js").read_text(encoding="utf-8").replace("//# sourceMappingURL=leaflet.js.map", "")
    css = (folder / "leaflet.css").read_text(encoding="utf-8")
    # Neither holds '</' (checked by a test), so neither can end its <script> / <style> early.
    return Markup(css), Markup(js)


def kecamatan_of(desa_key: str) -> str:
    """The kecamatan code of a desa key, or UNKNOWN_KECAMATAN."""
    m = _KECAMATAN.match(desa_key)
    return (m.group(1) or m.group(2)) if m else UNKNOWN_KECAMATAN


def _rounded(shape: shapely.Geometry) -> dict:
    return shapely.geometry.mapping(shapely.set_precision(shape, 10.0 ** -COORD_DIGITS))


def _point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [round(lon, COORD_DIGITS), round(lat, COORD_DIGITS)]}


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _none(value: object) -> object:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def write_pages(found: gis.Layers, desas: list[dict], out_dir: Path, *, max_voters: int, names: dict[str, str],
                palette: list[str], file_stem: Callable[[str], str], kept: frozenset[str] = frozenset(),
                kept_overviews: frozenset[str] = frozenset()) -> tuple[dict[str, str], list[Overview]]:
    """Every desa's page and every kecamatan's overview; returns {desa key: page file name} and the
    overviews. A desa without any point (no coordinates) gets no page; it is listed in its overview. The
    pages of the desa in `kept` and the overviews of the kecamatan in `kept_overviews` are already in
    `out_dir` (last night's, `outputs.reuse`): counted, not written."""
    title = {d["kode_desa"]: (f"{d['desa']} ({d['kode_desa']})" if d["desa"] else str(d["kode_desa"]))
             for d in desas}
    name_of = {d["kode_desa"]: str(d["desa"] or d["kode_desa"]) for d in desas}
    points_by = found.rt_points.partition_by("kode_desa", as_dict=True)
    sites_by = found.sites.partition_by("kode_desa", as_dict=True)
    area_rows = found.areas.with_row_index("i").partition_by("kode_desa", as_dict=True)
    empty_points = found.rt_points.clear()
    empty_sites = found.sites.clear()

    def features(key: str, with_desa: bool) -> dict:
        pts = points_by.get((key,), empty_points)
        sts = sites_by.get((key,), empty_sites)
        rows = area_rows.get((key,))
        label = {"desa": title[key]} if with_desa else {}
        return {
            "points": [{"type": "Feature", "geometry": _point(p["lon"], p["lat"]),
                        "properties": {**label, "rw": p["rw"], "rt": p["rt"], "tps": p["tps"], "voters": p["voters"],
                                       "lokasi": p["lokasi"]}} for p in pts.iter_rows(named=True)],
            "sites": [{"type": "Feature", "geometry": _point(s["lon"], s["lat"]),
                       "properties": {**label, "tps": s["tps"], "voters": s["voters"], "site_kind": s["site_kind"],
                                      "site_name": _none(s["site_name"]), "over": s["voters"] > max_voters}}
                      for s in sts.iter_rows(named=True)],
            "areas": [] if rows is None else [
                {"type": "Feature", "geometry": _rounded(found.area_shapes[r["i"]]),
                 "properties": {**label, "tps": r["tps"], "voters": r["voters"]}} for r in rows.iter_rows(named=True)],
            "outline": None if key not in found.outlines else {
                "type": "Feature", "geometry": _rounded(found.outlines[key]),
                "properties": {"desa": name_of[key]}},
            "max_point_voters": int(pts["voters"].max() or 1) if pts.height else 1,   # type: ignore[arg-type]
        }

    def bounds(keys: list[str]) -> list[float]:
        shapes = [found.outlines[k] for k in keys if k in found.outlines]
        return [round(float(v), COORD_DIGITS) for v in shapely.total_bounds(np.array(shapes, dtype=object))]

    by_kecamatan: dict[str, list[dict]] = {}
    for d in desas:
        by_kecamatan.setdefault(kecamatan_of(d["kode_desa"]), []).append(d)
    overview_href = {code: f"kecamatan-{file_stem(code)}.html" for code in by_kecamatan}
    css, js = _vendor()
    pages: dict[str, str] = {}
    for d in desas:
        key = d["kode_desa"]
        if key not in found.outlines:
            continue
        name = f"{file_stem(key)}.html"
        pages[key] = name
        if key in kept:
            continue
        f = features(key, with_desa=False)
        sts = sites_by.get((key,), empty_sites)
        n_tps = d["tps"] or 0
        legend = [{"tps": s["tps"], "over": s["voters"] > max_voters,
                   "label": f"TPS {s['tps']}: {s['voters']} pemilih" + (" (melebihi kapasitas)"
                                                                       if s["voters"] > max_voters else "")}
                  for s in sts.iter_rows(named=True)]
        kinds = sorted(set(sts["site_kind"].to_list()))
        notes = ["Lingkaran: RT (besar menurut jumlah pemilih), warna = TPS; garis hitam: lokasi perkiraan "
                 "(RT terdekat / pusat desa).",
                 "Tanda bernomor: lokasi TPS usulan (" + ", ".join(f"{_shape(k)} = {SITE_NOTE.get(k, k)}"
                                                                    for k in kinds) + ").",
                 "Wilayah berwarna: wilayah TPS (sel Voronoi titik RT); garis putus-putus: batas perkiraan desa.",
                 "Perbesar peta untuk melihat label RT."]
        data = {"kind": "desa", "palette": palette, "legend_title": f"{n_tps} TPS, kapasitas {max_voters}",
                "legend": legend, "notes": notes, "label_zoom": LABEL_ZOOM, "bounds": bounds([key]),
                "points": _collection(f["points"]), "sites": _collection(f["sites"]),
                "areas": _collection(f["areas"]), "outlines": _collection([f["outline"]]),
                "max_point_voters": f["max_point_voters"]}
        code = kecamatan_of(key)
        summary = f"{d['voters']} pemilih, {n_tps} TPS, kapasitas {max_voters} pemilih per TPS."
        write_private(out_dir / name, render(
            "tpsmap.html", heading=f"Peta TPS {title[key]}", summary=summary, index=f"index.html#desa-{file_stem(key)}",
            links=[{"href": overview_href[code], "text": f"Peta {kecamatan_title(code, names)}"}],
            data=data, leaflet_css=css, leaflet_js=js))

    overviews = []
    for code, members in sorted(by_kecamatan.items()):
        keys = [d["kode_desa"] for d in members]
        drawn = [k for k in keys if k in found.outlines]
        heading = f"Peta TPS {kecamatan_title(code, names)}"
        n_tps = sum(d["tps"] or 0 for d in members)
        voters = sum(d["voters"] or 0 for d in members)
        overviews.append(Overview(code, kecamatan_title(code, names), overview_href[code], len(members), n_tps,
                                  voters))
        if code in kept_overviews:
            continue
        if not drawn:
            write_private(out_dir / overview_href[code], render(
                "tpsmap_empty.html", heading=heading, index="index.html", desas=[title[k] for k in keys]))
            continue
        parts = [features(k, with_desa=True) for k in drawn]
        legend = [{"tps": 0, "href": pages.get(d["kode_desa"]), "over": (d["over_cap"] or 0) > 0,
                   "label": f"{name_of[d['kode_desa']]}: {d['tps'] or 0} TPS, {d['voters'] or 0} pemilih"
                   + ("" if d["kode_desa"] in pages else " (tanpa koordinat)")} for d in members]
        notes = ["Klik nama desa untuk peta desanya. Merah: ada TPS melebihi kapasitas.",
                 "Tanda bulat berwarna: lokasi TPS usulan (nomornya tampil bila diperbesar); wilayah berwarna: "
                 "wilayah TPS; garis putus-putus: batas perkiraan desa; titik kecil: RT."]
        data = {"kind": "kecamatan", "palette": palette, "legend_title": f"{len(members)} desa, {n_tps} TPS",
                "legend": legend, "notes": notes, "label_zoom": OVERVIEW_LABEL_ZOOM, "bounds": bounds(drawn),
                "points": _collection([x for p in parts for x in p["points"]]),
                "sites": _collection([x for p in parts for x in p["sites"]]),
                "areas": _collection([x for p in parts for x in p["areas"]]),
                "outlines": _collection([p["outline"] for p in parts]),
                "max_point_voters": max(p["max_point_voters"] for p in parts)}
        summary = (f"{len(members)} desa, {voters} pemilih, {n_tps} TPS, kapasitas {max_voters} pemilih per TPS.")
        write_private(out_dir / overview_href[code], render(
            "tpsmap.html", heading=heading, summary=summary, index="index.html", links=[], data=data,
            leaflet_css=css, leaflet_js=js))
    return pages, overviews


def _shape(kind: str) -> str:
    return {"rt": "bulat", "kandidat": "persegi", "rata-rata": "garis putus"}.get(kind, kind)


def kecamatan_title(code: str, names: dict[str, str]) -> str:
    if code == UNKNOWN_KECAMATAN:
        return "Kecamatan tidak diketahui"
    return f"Kecamatan {names[code]} ({code})" if names.get(code) else f"Kecamatan {code}"

