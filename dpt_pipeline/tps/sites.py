"""The place each TPS is proposed at: the candidate (an RT point of the desa, or a configured site such as
a school or the balai desa) that minimises its voters' walk, the sum of their straight-line distances.
The voters' mean point (tps_summary lat, lon) often lies in empty space; the site is a real place."""

from __future__ import annotations

import numpy as np
import polars as pl

from dpt_pipeline.tps.geometry import sq_dist, unique_rows

CANDIDATE_SCHEMA = {"desa_key": pl.String, "site_lat": pl.Float64, "site_lon": pl.Float64, "site_kind": pl.String,
                    "site_name": pl.String}


def candidates(coordinates: pl.DataFrame, sites: pl.DataFrame | None) -> pl.DataFrame:
    """Per desa the places a TPS may be proposed at: the configured sites (`site_kind` 'kandidat', by name)
    first, so that one wins a tie, then the RT points of the coordinates file ('rt', 'RT 005 / RW 002')."""
    rts = coordinates.select(
        pl.col("kode_desa").alias("desa_key"), pl.col("lat").alias("site_lat"), pl.col("lon").alias("site_lon"),
        pl.lit("rt").alias("site_kind"),
        pl.format("RT {} / RW {}", pl.col("rt").cast(pl.String).str.zfill(3),
                  pl.col("rw").cast(pl.String).str.zfill(3)).alias("site_name"),
        pl.col("rw").alias("_rw"), pl.col("rt").alias("_rt")).sort("desa_key", "_rw", "_rt").drop("_rw", "_rt")
    parts = [rts]
    if sites is not None and sites.height:
        parts.insert(0, sites.select(pl.col("kode_desa").alias("desa_key"), pl.col("lat").alias("site_lat"),
                                     pl.col("lon").alias("site_lon"), pl.lit("kandidat").alias("site_kind"),
                                     pl.col("nama").alias("site_name")).sort("desa_key", "site_name"))
    return pl.concat([p.cast(CANDIDATE_SCHEMA) for p in parts])   # type: ignore[arg-type]


def choose(xy: np.ndarray, w: np.ndarray, labels: np.ndarray, k: int, sites: np.ndarray) -> np.ndarray:
    """Each TPS's site: the index into `sites` (metres, (m, 2)) whose sum of voter distances over the TPS's
    households (`xy`, `w`, `labels`) is least, the first on a tie; -1 for all without sites."""
    if len(sites) == 0:
        return np.full(k, -1)
    pts, point = unique_rows(xy)
    weight = np.zeros((k, len(pts)))
    np.add.at(weight, (labels, point), w)
    walk = weight @ np.sqrt(sq_dist(pts, sites))        # (k, sites): each TPS's walk to each site
    return np.argmin(walk, axis=1)


def walk(xy: np.ndarray, w: np.ndarray, labels: np.ndarray, k: int, sites: np.ndarray) -> float:
    """The voters' walk: each household's voters times its distance to the site chosen for its TPS."""
    at = sites[choose(xy, w, labels, k, sites)][labels]
    return float((w * np.sqrt(((xy - at) ** 2).sum(axis=1))).sum())
