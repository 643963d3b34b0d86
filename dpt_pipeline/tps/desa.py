"""One desa from its households to numbered TPS, as plain arrays (what a worker process is sent and sends
back): points in metres (or a stand-in line of its RTs when the desa has no coordinates), the solve,
tonight's numbers, the TPS points and distances.

Night to night the TPS are a fixed point: a night with unchanged lists moves nobody. A desa whose
households, voters and points are as last night keeps last night's TPS if they keep every rule. Otherwise
each night's result is settled: solved again from itself, as the next night would, until nothing moves (a
round that moves someone improves the solver's `_rank`, so this ends), so that the next night, on the same
input, gives it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from dpt_pipeline.tps import sites
from dpt_pipeline.tps.geometry import Projection
from dpt_pipeline.tps.numbering import last_night, tps_numbers
from dpt_pipeline.tps.solver import MIN_SHARE, assign_desa, keep_last_night, min_tps


@dataclass(frozen=True)
class DesaInput:
    """What the assignment of one desa needs, as plain arrays (cheap to send to a worker process): per
    household its point (NaN without coordinates), voters, RW, RT and last night's TPS (0: none); and
    whether the desa is as it was last night (the same households, voters and points)."""

    lat: np.ndarray
    lon: np.ndarray
    voters: np.ndarray
    rw: np.ndarray
    rt: np.ndarray
    prev_tps: np.ndarray
    unchanged: bool = False
    site_lat: np.ndarray = field(default_factory=lambda: np.zeros(0))   # the places a TPS may be proposed at
    site_lon: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def of(cls, g: pl.DataFrame, sites: pl.DataFrame | None = None) -> DesaInput:
        """The arrays of one desa's rows of the households table (`prev_tps`, `unchanged`: see
        `numbering.with_last_night`) and its candidate sites (`sites.candidates`)."""
        prev = g["prev_tps"] if "prev_tps" in g.columns else pl.Series([0] * g.height)
        same = "unchanged" in g.columns and g.height > 0 and bool(g["unchanged"].fill_null(False).all())
        return cls(g["lat"].cast(pl.Float64).to_numpy(), g["lon"].cast(pl.Float64).to_numpy(),
                   g["voters"].to_numpy().astype(np.int64), g["rw"].fill_null(0).to_numpy().astype(np.int64),
                   g["rt"].fill_null(0).to_numpy().astype(np.int64), prev.fill_null(0).to_numpy().astype(np.int64),
                   same, *((sites["site_lat"].to_numpy(), sites["site_lon"].to_numpy()) if sites is not None
                           else ()))


@dataclass(frozen=True)
class DesaOutput:
    """One desa's TPS, per household, as `solve_desa` gives them."""

    tps: np.ndarray            # TPS number per household
    tps_lat: np.ndarray        # its TPS point (NaN without coordinates)
    tps_lon: np.ndarray
    distance_m: np.ndarray     # household point to its TPS's site (NaN without coordinates or sites)
    site: np.ndarray           # its TPS's site, an index into the desa's candidates (-1: none)
    k: int
    extra_tps: bool


def _stand_in_layout(d: DesaInput) -> np.ndarray:
    """Points for a desa with no coordinates at all: its RTs in (rw, rt) order along a line, 100 m apart,
    so that TPS still take whole, neighbouring RTs."""
    _, rank = np.unique(d.rw * 10_000 + d.rt, return_inverse=True)
    return np.column_stack([(rank.ravel() + 1).astype(float) * 100.0, np.zeros(len(d.rw))])


SETTLE_ROUNDS = 20  # at most this many checks that tomorrow, on the same input, would keep tonight's TPS


def _solve_once(d: DesaInput, cap: int, min_share: float, *, as_before: bool = False) -> DesaOutput | None:
    """One desa: each household's TPS number, the TPS point and the distance to it. With `as_before`, last
    night's TPS as they are, or None unless they keep every rule tonight (every household has one, none
    over the cap, no more TPS than the lower bound)."""
    has_point = len(d.lat) > 0 and bool(np.isfinite(d.lat).all() and np.isfinite(d.lon).all())
    proj = Projection(float(d.lat.mean()) if has_point else 0.0)
    w = d.voters
    xy = proj.to_metres(d.lat, d.lon) if has_point else _stand_in_layout(d)
    previous, numbers = last_night(d.prev_tps, xy, w)
    site_xy = proj.to_metres(d.site_lat, d.site_lon) if has_point and len(d.site_lat) else None
    if as_before:
        before = keep_last_night(previous, xy, w, cap)
        if before is None or before.k != min_tps(w, cap):
            return None
        res = before
    else:
        res = assign_desa(xy, w, cap, previous=previous, min_share=min_share, sites=site_xy)
    number = tps_numbers(res, previous, numbers)
    tps_lat, tps_lon = proj.to_degrees(res.centres)
    nan = np.full(len(w), np.nan)
    if site_xy is None:
        return DesaOutput(number[res.labels], tps_lat[res.labels] if has_point else nan,
                          tps_lon[res.labels] if has_point else nan, nan, np.full(len(w), -1), res.k, res.extra_tps)
    walks = sites.Walks.of(xy, site_xy)
    site = walks.choose(w, res.labels, res.k)[res.labels]
    dist = walks.metres[walks.point, site]
    return DesaOutput(number[res.labels], tps_lat[res.labels], tps_lon[res.labels], dist, site, res.k,
                      res.extra_tps)


def solve_desa(d: DesaInput, cap: int, min_share: float = MIN_SHARE) -> DesaOutput:
    """One desa: each household's TPS number, the TPS point and the distance to it.

    A desa as it was last night keeps last night's TPS if they keep every rule. Otherwise the result is
    settled: it is what the next night would compute from it on the same input (solved again from itself,
    until nothing moves), so that a night with unchanged lists moves nobody."""
    if d.unchanged and (kept := _solve_once(d, cap, min_share, as_before=True)) is not None:
        return kept
    out = _solve_once(d, cap, min_share)
    assert out is not None
    for _ in range(SETTLE_ROUNDS):
        again = _solve_once(replace(d, prev_tps=out.tps.astype(np.int64), unchanged=False), cap, min_share)
        assert again is not None
        settled = np.array_equal(again.tps, out.tps)
        out = again
        if settled:
            break
    return out
