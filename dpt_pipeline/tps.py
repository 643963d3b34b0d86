"""Stage: tps (groundwork for issue 5; not yet part of `dpt run`). Households to polling stations.

Per desa, k = ceil(n / C) TPS. A capacitated Lloyd iteration alternates (1) assigning households, weighted
by their voters, to TPS centres by a min-cost flow (OR-Tools) with every TPS between floor(n/k) and
min(C, ceil(n/k)) voters, arcs only to each household's nearest centres, costs in squared metres; and
(2) moving each centre to its voters' weighted mean. A flow splits at most k-1 households; each goes whole
to the TPS that took most of it, and any TPS left over the cap sheds its smallest households to the
nearest TPS with room. When household sizes make k TPS impossible, the desa gets one more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
from ortools.graph.python import min_cost_flow

_M_PER_DEG_LAT = 110_540.0
_M_PER_DEG_LON = 111_320.0


@dataclass
class DesaResult:
    labels: np.ndarray      # TPS index (0..k-1) per household
    centres: np.ndarray     # (k, 2) metres
    k: int
    extra_tps: bool         # one more than ceil(n/C): the household sizes left no other way


def to_metres(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Equirectangular projection around the desa: fine over a few kilometres."""
    lat0 = float(np.nanmean(lat)) if len(lat) else 0.0
    return np.column_stack([lon * _M_PER_DEG_LON * math.cos(math.radians(lat0)), lat * _M_PER_DEG_LAT])


def _flow(xy: np.ndarray, w: np.ndarray, centres: np.ndarray, lo: int, hi: int, nearest: int) -> np.ndarray:
    """Share of each household's voters at each centre, (n_households, k), by a min-cost flow."""
    n, k = len(w), len(centres)
    d2 = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    m = min(nearest, k)
    near = np.argsort(d2, axis=1)[:, :m]
    flow = min_cost_flow.SimpleMinCostFlow()
    src_h = np.arange(n)
    tps_node = n + np.arange(k)
    sink = n + k
    tails = np.repeat(src_h, m)
    heads = tps_node[near.ravel()]
    costs = np.rint(d2[np.repeat(src_h, m), near.ravel()] / 100.0).astype(np.int64)  # dm^2 keeps ints small
    caps = np.repeat(w, m).astype(np.int64)
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.add_arcs_with_capacity_and_unit_cost(tps_node, np.full(k, sink), np.full(k, hi - lo), np.zeros(k, np.int64))
    supplies = np.concatenate([w.astype(np.int64), np.full(k, -lo, np.int64), [-(int(w.sum()) - k * lo)]])
    flow.set_nodes_supplies(np.arange(n + k + 1), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise ValueError("no feasible flow")
    share = np.zeros((n, k))
    np.add.at(share, (tails - 0, near.ravel()), flow.flows(arcs))
    return share


def _initial_centres(xy: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Weighted k-means (scikit-learn, fixed seed) as the start: spread-out centres."""
    if k == 1:
        return np.average(xy, axis=0, weights=w)[None, :]
    # Households share their RT's point: cluster the distinct points, weighted by their voters.
    pts, inv = np.unique(xy, axis=0, return_inverse=True)
    pw = np.bincount(inv.ravel(), weights=w)
    if len(pts) <= k:  # fewer points than TPS: several TPS start at the heaviest points, a metre apart
        order = np.argsort(-pw, kind="stable")
        idx = np.arange(k)
        return pts[order[idx % len(pts)]] + (idx // len(pts))[:, None] * 1.0
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=1, random_state=0, max_iter=50).fit(pts, sample_weight=pw)
    return np.asarray(km.cluster_centers_, dtype=float)


def _flow_widening(xy: np.ndarray, w: np.ndarray, centres: np.ndarray, lo: int, hi: int, nearest: int
                   ) -> np.ndarray:
    """The flow with arcs to the nearest centres, widened until the TPS bounds can be met."""
    m = min(nearest, len(centres))
    while True:
        try:
            return _flow(xy, w, centres, lo, hi, m)
        except ValueError:
            if m >= len(centres):
                raise
            m = min(len(centres), m * 2)


def _repair(labels: np.ndarray, w: np.ndarray, xy: np.ndarray, centres: np.ndarray, cap: int) -> bool:
    """Move the smallest households off any TPS over the cap to the nearest TPS with room. True if all fit."""
    k = len(centres)
    load = np.bincount(labels, weights=w, minlength=k)
    for j in np.flatnonzero(load > cap):
        for h in sorted(np.flatnonzero(labels == j), key=lambda i: w[i]):
            if load[j] <= cap:
                break
            order = np.argsort(((centres - xy[h]) ** 2).sum(axis=1))
            for t in order:
                if t != j and load[t] + w[h] <= cap:
                    labels[h] = t
                    load[j] -= w[h]
                    load[t] += w[h]
                    break
    return bool((load <= cap).all())


def assign_desa(xy: np.ndarray, w: np.ndarray, cap: int, *, iterations: int = 15, nearest: int = 4
                ) -> DesaResult:
    """TPS for the households of one desa: `xy` (metres), `w` (voters per household), `cap` per TPS."""
    n = int(w.sum())
    k0 = max(1, math.ceil(n / cap))
    for k in range(k0, len(w) + 1):
        centres = _initial_centres(xy, w, k)
        lo, hi = n // k, min(cap, math.ceil(n / k))
        labels = np.zeros(len(w), dtype=np.int64)
        try:
            for _ in range(iterations):
                share = _flow_widening(xy, w, centres, lo, hi, nearest)
                new = share.argmax(axis=1)
                for j in range(k):
                    mine = new == j
                    if mine.any():
                        centres[j] = np.average(xy[mine], axis=0, weights=w[mine])
                if np.array_equal(new, labels):
                    break
                labels = new
        except ValueError:
            continue
        if _repair(labels, w, xy, centres, cap):
            return DesaResult(labels, centres, k, k > k0)
    raise ValueError("a household is larger than the TPS capacity")


def households(voters: pl.DataFrame, coordinates: pl.DataFrame) -> pl.DataFrame:
    """One row per household (a KK within a desa; a voter without a valid NKK is a household alone), with
    its voters and a point: its RT's coordinates, else the nearest RT number of the same RW, else the
    desa's centre (`lokasi` says which)."""
    v = voters.with_columns(
        pl.coalesce(pl.col("kode_desa"), pl.concat_str([pl.lit("desa:"), pl.col("desa").str.to_uppercase()]))
        .alias("desa_key"),
        pl.when(pl.col("nkk_valid")).then(pl.col("nkk")).otherwise(pl.col("voter_id")).alias("household"))
    h = v.group_by("desa_key", "household").agg(
        pl.len().alias("voters"), pl.col("rt").drop_nulls().mode().first().alias("rt"),
        pl.col("rw").drop_nulls().mode().first().alias("rw"), pl.col("voter_id"))
    c = coordinates.select(pl.col("kode_desa").alias("desa_key"), pl.col("rw").cast(pl.Int32),
                           pl.col("rt").cast(pl.Int32), "lat", "lon")
    exact = h.join(c, on=["desa_key", "rw", "rt"], how="left")
    # Nearest RT number in the same RW, then the desa's centre.
    near = (exact.filter(pl.col("lat").is_null()).drop("lat", "lon")
            .join(c.rename({"rt": "rt_c"}), on=["desa_key", "rw"], how="left")
            .with_columns((pl.col("rt_c") - pl.col("rt")).abs().alias("_gap"))
            .sort("_gap", nulls_last=True).group_by("desa_key", "household", maintain_order=True).first()
            .drop("rt_c", "_gap"))
    centre = c.group_by("desa_key").agg(pl.col("lat").mean().alias("lat_c"), pl.col("lon").mean().alias("lon_c"))
    out = pl.concat([exact.filter(pl.col("lat").is_not_null()).with_columns(pl.lit("rt").alias("lokasi")),
                     near.with_columns(pl.when(pl.col("lat").is_not_null()).then(pl.lit("rt terdekat"))
                                       .otherwise(pl.lit("pusat desa")).alias("lokasi"))], how="diagonal")
    out = out.join(centre, on="desa_key", how="left").with_columns(
        pl.coalesce("lat", "lat_c").alias("lat"), pl.coalesce("lon", "lon_c").alias("lon")).drop("lat_c", "lon_c")
    return out.sort("desa_key", "household")


def assign(voters: pl.DataFrame, coordinates: pl.DataFrame, cap: int) -> pl.DataFrame:
    """tps_assignments: voter_id, desa_key, tps (1-based within its desa), household, lat, lon, distance_m."""
    hh = households(voters, coordinates)
    parts = []
    for _, g in hh.group_by(["desa_key"], maintain_order=True):
        lat = g["lat"].fill_null(0.0).to_numpy()
        lon = g["lon"].fill_null(0.0).to_numpy()
        xy = to_metres(lat, lon)
        w = g["voters"].to_numpy().astype(np.int64)
        res = assign_desa(xy, w, cap)
        # Number TPS from north-west to south-east so that the numbers read on a map.
        rank = np.argsort(np.lexsort((res.centres[:, 0], -res.centres[:, 1])))
        dist = np.sqrt(((xy - res.centres[res.labels]) ** 2).sum(axis=1))
        parts.append(g.select("desa_key", "household", "voter_id", "lat", "lon", "voters", "lokasi").with_columns(
            pl.Series("tps", rank[res.labels] + 1, dtype=pl.Int32), pl.Series("distance_m", dist),
            pl.lit(res.extra_tps).alias("extra_tps")))
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts).explode("voter_id")
