"""The place each TPS is proposed at: the candidate (an RT point of the desa, or a configured site such as
a school or the balai desa) that minimises its voters' walk, the sum of their straight-line distances.
The voters' mean point (tps_summary lat, lon) often lies in empty space; the site is a real place."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Walks:
    """One desa's walks, computed once: each household's distinct point (`point`, as
    `geometry.unique_rows` numbers them) and the metres from each point to each candidate site."""

    point: np.ndarray
    metres: np.ndarray       # (points, sites)

    @classmethod
    def of(cls, xy: np.ndarray, sites: np.ndarray) -> Walks:
        """The walks from households at `xy` to `sites` (both in metres)."""
        pts, point = unique_rows(xy)
        return cls(point, np.sqrt(sq_dist(pts, sites)))

    def choose(self, w: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
        """Each TPS's site: the index of the site whose sum of voter distances over the TPS's households is
        least, the first on a tie."""
        p = self.metres.shape[0]
        weight = np.bincount(labels * p + self.point, weights=w, minlength=k * p).reshape(k, p)
        return np.argmin(weight @ self.metres, axis=1)

    def walk(self, w: np.ndarray, labels: np.ndarray, k: int) -> float:
        """The voters' walk: each household's voters times its distance to its TPS's site."""
        return float((w * self.metres[self.point, self.choose(w, labels, k)[labels]]).sum())
