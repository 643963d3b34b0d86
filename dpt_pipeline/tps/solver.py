"""Stage: tps. Every voter who stays on the roll gets a polling station (TPS) in their own desa.

Hard rules (PKPU 7/2024): at most `max_voters` per TPS, one desa per TPS, all voters of one KK in a desa at
one TPS, ceil(n / max_voters) TPS per desa unless household sizes force one more. Voters confirmed as
duplicates and not kept (a SAMA decision, keep = false) get no TPS.

Method, per desa: a capacitated Lloyd iteration. Households at one RT point with one size (and one TPS last
night) are interchangeable, so they form one group; (1) a min-cost flow (OR-Tools) sends each group's
voters to the TPS centres, every TPS between floor(n/k) and min(C, ceil(n/k)) voters, arcs only to each
group's nearest centres, cost the squared distance in metres plus a move penalty for leaving last night's
TPS; (2) each centre moves to its voters' mean. Groups are then rounded to whole households, a few single
households move to even the sizes out, and any TPS still over the cap sheds households to the nearest TPS
with room; if that fails the desa gets one more TPS. A desa published before starts from last night's
centres, so TPS n keeps its meaning and few voters move.

Night to night the TPS are a fixed point: a night with unchanged lists moves nobody. A desa whose
households, voters and points are as last night keeps last night's TPS if they keep every rule. Otherwise,
started from last night: a TPS whose voters still lie within the sizes accepted in the end (floor/ceil(n/k)
and the tolerance) may keep its size in the flow, every group can always stay (its arc to last night's TPS
is there and wins ties), and where last night's TPS still hold every household under the cap the Lloyd
iteration goes on only while each step beats the best so far, starting from keeping them (`_rank`: fewer
TPS, fewer voters outside the accepted sizes, then distance plus the move penalty). Each night's result
is then settled: solved again from itself, as the next night would, until nothing moves (a round that
moves someone improves `_rank`, so this ends), so that the next night, on the same input, gives it back.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from ortools.graph.python import min_cost_flow

from dpt_pipeline.core.keys import desa_key
from dpt_pipeline.errors import InputError
from dpt_pipeline.io.files import read_regular
from dpt_pipeline.io.text import decode, separator
from dpt_pipeline.io.workers import pool as workers_pool

log = logging.getLogger(__name__)

_M_PER_DEG_LAT = 110_540.0
_M_PER_DEG_LON = 111_320.0
MOVE_PENALTY_M2 = 300.0 ** 2      # cost of leaving last night's TPS, as a squared distance per voter
BALANCE_TOLERANCE = 3             # sizes are evened out to within this many voters of floor/ceil(n/k)
ASSIGNMENT_SCHEMA = {"voter_id": pl.String, "kode_desa": pl.String, "desa": pl.String, "household": pl.String,
                     "rw": pl.Int32, "rt": pl.Int32, "lat": pl.Float64, "lon": pl.Float64, "lokasi": pl.String,
                     "tps": pl.Int32, "distance_m": pl.Float64}


@dataclass(frozen=True)
class Projection:
    """Equirectangular projection around a desa's mean latitude: fine over a few kilometres."""

    lat0: float

    def to_metres(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return np.column_stack([lon * _M_PER_DEG_LON * math.cos(math.radians(self.lat0)), lat * _M_PER_DEG_LAT])

    def to_degrees(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return xy[:, 1] / _M_PER_DEG_LAT, xy[:, 0] / (_M_PER_DEG_LON * math.cos(math.radians(self.lat0)))


@dataclass(frozen=True)
class Previous:
    """Last night's TPS of a desa: centres (row j: the j-th TPS number in use last night, at its households'
    mean point tonight) and each household's row (-1 for a household new tonight)."""

    centres: np.ndarray
    labels: np.ndarray


@dataclass
class DesaResult:
    labels: np.ndarray      # TPS index (0..k-1) per household (solve_desa maps indices to TPS numbers)
    centres: np.ndarray     # (k, 2) metres: each TPS's voters' mean
    k: int
    extra_tps: bool         # one more than ceil(n/C): the household sizes left no other way
    # TPS index i < len(kept) is last night's row kept[i]; the others are new (empty on a first night)
    kept: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


# -- the flow ----------------------------------------------------------------------------------------------

def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances between the rows of a (n, 2) and b (m, 2), (n, m)."""
    return (a[:, None, 0] - b[None, :, 0]) ** 2 + (a[:, None, 1] - b[None, :, 1]) ** 2


def _unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(a, axis=0, return_inverse=True) (the same rows in the same order), several times faster."""
    order = np.lexsort(a.T[::-1])
    s = a[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (s[1:] != s[:-1]).any(axis=1)
    inverse = np.empty(len(a), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return s[first], inverse


def _costs(xy: np.ndarray, prev: np.ndarray, centres: np.ndarray, penalty: float) -> np.ndarray:
    """Cost per voter of each point at each centre: squared metres, plus the penalty for leaving last night's
    TPS (rows with prev = -1 pay none)."""
    d2 = _sq_dist(xy, centres)
    moved = (prev[:, None] >= 0) & (np.arange(len(centres))[None, :] != prev[:, None])
    return d2 + penalty * moved


def _flow(cost: np.ndarray, supply: np.ndarray, lo: np.ndarray, hi: np.ndarray, nearest: int,
          prev: np.ndarray) -> np.ndarray | None:
    """Voters of each group at each centre, (groups, k), by a min-cost flow with centre j between lo[j] and
    hi[j] voters and arcs only to each group's `nearest` cheapest centres and to its TPS of last night
    (`prev`, -1: none), so that staying is always possible; None if that is infeasible. A move costs one
    unit more than its distance, so that between equal costs the households stay where they were."""
    g, k = cost.shape
    m = min(nearest, k)
    near = np.argsort(cost, axis=1, kind="stable")[:, :m]
    missing = np.flatnonzero((prev >= 0) & ~(near == prev[:, None]).any(axis=1))
    tails = np.concatenate([np.repeat(np.arange(g), m), missing])
    heads = np.concatenate([near.ravel(), prev[missing]])
    unit = (np.rint(cost[tails, heads] / 100.0).astype(np.int64)     # dm^2 keeps the integers small
            + ((prev[tails] >= 0) & (heads != prev[tails])))
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, g + heads, supply[tails].astype(np.int64), unit)
    sink = g + k
    lo, hi = lo.astype(np.int64), hi.astype(np.int64)
    flow.add_arcs_with_capacity_and_unit_cost(g + np.arange(k), np.full(k, sink), hi - lo, np.zeros(k, np.int64))
    total = int(supply.sum())
    flow.set_nodes_supplies(np.arange(g + k + 1),
                            np.concatenate([supply.astype(np.int64), -lo, [-(total - int(lo.sum()))]]))
    status = flow.solve()
    if status == flow.INFEASIBLE:
        return None
    if status != flow.OPTIMAL:
        raise RuntimeError(f"the min-cost flow failed (status {status})")
    share = np.zeros((g, k))
    np.add.at(share, (tails, heads), flow.flows(arcs))
    return share


def _flow_widening(cost: np.ndarray, supply: np.ndarray, lo: np.ndarray, hi: np.ndarray, nearest: int,
                   prev: np.ndarray) -> np.ndarray | None:
    """The flow, with arcs widened to more centres until the TPS bounds can be met."""
    m = nearest
    while True:
        share = _flow(cost, supply, lo, hi, m, prev)
        if share is not None or m >= cost.shape[1]:
            return share
        m *= 2


# -- starting centres --------------------------------------------------------------------------------------

def _spread(pts: np.ndarray, pw: np.ndarray, centres: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Place the NaN rows of `centres` on the points: k-means++ (seeded) when `rng` is given, else the point
    of most voters far from the centres already placed (deterministic, for a desa that grows a TPS)."""
    centres = centres.copy()
    for j in np.flatnonzero(np.isnan(centres[:, 0])):
        placed = centres[~np.isnan(centres[:, 0])]
        if len(placed) == 0:
            centres[j] = pts[int(np.argmax(pw))] if rng is None else pts[rng.choice(len(pts), p=pw / pw.sum())]
            continue
        d2 = _sq_dist(pts, placed).min(axis=1)
        score = pw * d2
        if score.sum() <= 0:   # every point already holds a centre: stack this one a metre away
            centres[j] = pts[int(np.argmax(pw))] + (j + 1) * 1.0
        elif rng is None:
            centres[j] = pts[int(np.argmax(score))]
        else:
            centres[j] = pts[rng.choice(len(pts), p=score / score.sum())]
    return centres


def _kmeans(pts: np.ndarray, pw: np.ndarray, centres: np.ndarray, iterations: int = 10) -> np.ndarray:
    """A few plain weighted Lloyd steps on the distinct points: spread-out, uncapacitated centres."""
    for _ in range(iterations):
        label = _sq_dist(pts, centres).argmin(axis=1)
        mass = np.bincount(label, weights=pw, minlength=len(centres))
        sums = np.stack([np.bincount(label, weights=pw * pts[:, d], minlength=len(centres)) for d in (0, 1)], 1)
        ok = mass > 0
        centres = centres.copy()
        centres[ok] = sums[ok] / mass[ok, None]
    return centres


def _initial_centres(pts: np.ndarray, pw: np.ndarray, k: int, previous: np.ndarray | None) -> np.ndarray:
    """k starting centres: last night's where there were any (row j for TPS j+1), the rest spread out."""
    centres = np.full((k, 2), np.nan)
    if previous is not None and len(previous):
        m = min(k, len(previous))
        centres[:m] = previous[:m]
        return _spread(pts, pw, centres, None)
    centres = _spread(pts, pw, centres, np.random.default_rng(0))
    return _kmeans(pts, pw, centres)


# -- whole households --------------------------------------------------------------------------------------

def _round(share: np.ndarray, size: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Households of each group per centre: the flow's voters divided by the household size, rounded by
    largest remainder so that each group's count is kept."""
    q = share / size[:, None]
    base = np.floor(q + 1e-9)
    rest = count - base.sum(axis=1)
    order = np.argsort(-(q - base), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(share.shape[1])[None, :].repeat(len(share), 0), axis=1)
    return (base + (rank < rest[:, None])).astype(np.int64)


def _balance(labels: np.ndarray, w: np.ndarray, hcost: np.ndarray, centres: np.ndarray, lo: int, hi: int,
             max_moves: int) -> None:
    """Move single households between TPS until every size lies within [lo, hi], cheapest moves per voter
    of imbalance removed first, among the nearest TPS before any other. In place."""
    k = len(centres)
    load = np.bincount(labels, weights=w, minlength=k)
    by_distance = np.argsort(_sq_dist(centres, centres), axis=1)

    def excess(x: np.ndarray) -> np.ndarray:
        return np.maximum(0, x - hi) + np.maximum(0, lo - x)

    for _ in range(max_moves):
        v = excess(load)
        a = int(np.argmax(v))
        if v[a] <= 0:
            return
        moved = False
        for others in (by_distance[a, 1:7], by_distance[a, 1:]):
            if load[a] > hi:     # a gives one of its households to a neighbour
                h = np.flatnonzero(labels == a)
                src = np.full((len(h), len(others)), a)
                dst = np.broadcast_to(others, (len(h), len(others)))
            else:                # a takes one household from a neighbour
                h = np.flatnonzero(np.isin(labels, others))
                src = labels[h][:, None]
                dst = np.full((len(h), 1), a)
            if len(h) == 0:
                continue
            s = w[h][:, None]
            gain = excess(load[src]) - excess(load[src] - s) + excess(load[dst]) - excess(load[dst] + s)
            extra = s * (hcost[h[:, None], dst] - hcost[h[:, None], src])
            score = np.where(gain > 0, extra / np.maximum(gain, 1), np.inf)
            best = np.unravel_index(int(np.argmin(score)), score.shape)
            if np.isfinite(score[best]):
                i, j = h[best[0]], int(dst[best])
                load[labels[i]] -= w[i]
                load[j] += w[i]
                labels[i] = j
                moved = True
                break
        if not moved:
            return


def _repair(labels: np.ndarray, w: np.ndarray, hcost: np.ndarray, cap: int) -> bool:
    """Bring every TPS under the cap: move the smallest households off a TPS over it to the cheapest TPS
    with room, else swap one of its households for a smaller one of another TPS with room for the
    difference. In place; True if all fit."""
    k = hcost.shape[1]
    load = np.bincount(labels, weights=w, minlength=k)
    for _ in range(4 * k + 50):
        over = np.flatnonzero(load > cap)
        if len(over) == 0:
            return True
        j = int(over[0])
        mine = np.flatnonzero(labels == j)
        moved = False
        for h in mine[np.argsort(w[mine], kind="stable")]:
            for t in np.argsort(hcost[h], kind="stable"):
                if t != j and load[t] + w[h] <= cap:
                    labels[h], load[j], load[t] = t, load[j] - w[h], load[t] + w[h]
                    moved = True
                    break
            if moved or load[j] <= cap:
                break
        if moved:
            continue
        # Swap: h (in j) for g (elsewhere, smaller), where g's TPS has room for the difference.
        others = np.flatnonzero(labels != j)
        sizes_h = np.unique(w[mine])
        best = None
        for sh in sizes_h[::-1]:
            d = sh - w[others]
            ok = (d > 0) & (load[labels[others]] + d <= cap)
            if ok.any():
                cand = others[ok]
                # the swap that brings j nearest to the cap from below
                gain = np.minimum(sh - w[cand], load[j] - cap)
                g = int(cand[np.argmax(gain)])
                best = (int(mine[np.flatnonzero(w[mine] == sh)[0]]), g)
                break
        if best is None:
            if _eject(labels, w, hcost, load, j, cap):
                continue
            return False
        h, g = best
        t = labels[g]
        labels[h], labels[g] = t, j
        load[j] += w[g] - w[h]
        load[t] += w[h] - w[g]
    return bool((load <= cap).all())


def _eject(labels: np.ndarray, w: np.ndarray, hcost: np.ndarray, load: np.ndarray, j: int, cap: int) -> bool:
    """One household h of the TPS j over the cap goes to TPS b, which makes room by sending its smallest
    households to j: when h is too big for any room, a few small households can still change places with
    it. Tries the households of j largest first, the cheapest b first. In place; True if j got under."""
    room_j = cap - load[j]
    mine = np.flatnonzero(labels == j)
    for h in mine[np.argsort(-w[mine], kind="stable")]:
        for b in np.argsort(hcost[h], kind="stable"):
            if b == j:
                continue
            need = load[b] + w[h] - cap              # what b must give away to take h
            give_room = room_j + w[h]                # what j can take back once h has left
            theirs = np.flatnonzero(labels == b)
            theirs = theirs[np.argsort(w[theirs], kind="stable")]
            total = np.cumsum(w[theirs])
            m = int(np.searchsorted(total, max(need, 0))) + (1 if need > 0 else 0)
            if need > 0 and (m > len(theirs) or total[m - 1] > give_room):
                continue
            back = theirs[:m] if need > 0 else theirs[:0]
            if load[j] - w[h] + w[back].sum() > cap:
                continue
            labels[h] = b
            labels[back] = j
            load[b] += w[h] - w[back].sum()
            load[j] += w[back].sum() - w[h]
            return True
    return False


def _centres_of(labels: np.ndarray, w: np.ndarray, xy: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    k = len(fallback)
    mass = np.bincount(labels, weights=w, minlength=k)
    sums = np.stack([np.bincount(labels, weights=w * xy[:, d], minlength=k) for d in (0, 1)], axis=1)
    out = fallback.copy()
    out[mass > 0] = sums[mass > 0] / mass[mass > 0, None]
    return out


def min_tps(w: np.ndarray, cap: int) -> int:
    """A lower bound on the TPS a desa needs: ceil(n / C), and no two households of more than C/2 voters
    can share one."""
    return max(1, math.ceil(int(w.sum()) / cap), int((w > cap / 2).sum()))


def _band(n: int, k: int, cap: int, tolerance: int) -> tuple[int, int, int, int]:
    """The flow's sizes for k TPS, floor(n/k) to min(C, ceil(n/k)), and the sizes accepted in the end, those
    widened by the tolerance."""
    lo, hi = n // k, min(cap, math.ceil(n / k))
    return lo, hi, max(0, lo - tolerance), min(cap, hi + tolerance)


def _take(previous: Previous | None, w: np.ndarray, k: int) -> tuple[Previous | None, np.ndarray]:
    """Last night's TPS for a solve with k TPS, and which of last night's rows they are: all of them when
    there were at most k, else the k with most voters tonight (the fewest voters move)."""
    if previous is None:
        return None, np.zeros(0, np.int64)
    m = len(previous.centres)
    if m <= k:
        return previous, np.arange(m)
    had = previous.labels >= 0
    load = np.bincount(previous.labels[had], weights=w[had], minlength=m)
    kept = np.sort(np.argsort(-load, kind="stable")[:k])
    row = np.full(m + 1, -1)          # row[-1] = -1: a household new tonight stays new
    row[kept] = np.arange(k)
    return Previous(previous.centres[kept], row[previous.labels]), kept


def _as_before(previous: Previous | None, xy: np.ndarray, w: np.ndarray, cap: int) -> DesaResult | None:
    """Last night's TPS kept as they are, if every household had one and none is over the cap tonight."""
    if previous is None or len(previous.labels) == 0 or (previous.labels < 0).any():
        return None
    m = len(previous.centres)
    load = np.bincount(previous.labels, weights=w, minlength=m)
    if load.max() > cap or (load == 0).any():
        return None
    return DesaResult(previous.labels.copy(), _centres_of(previous.labels, w, xy, previous.centres), m,
                      m > math.ceil(int(w.sum()) / cap), np.arange(m))


def _rank(res: DesaResult, xy: np.ndarray, w: np.ndarray, cap: int, tolerance: int, penalty: float,
          previous: Previous) -> tuple[int, float, float]:
    """What an assignment is judged by, smaller is better: its TPS, its voters outside the accepted sizes,
    then the squared distances to the TPS points plus the move penalty of every voter who left last
    night's TPS."""
    load = np.bincount(res.labels, weights=w, minlength=res.k)
    _, _, band_lo, band_hi = _band(int(w.sum()), res.k, cap, tolerance)
    outside = float((np.maximum(0, load - band_hi) + np.maximum(0, band_lo - load)).sum())
    sse = float((w * ((xy - res.centres[res.labels]) ** 2).sum(axis=1)).sum())
    row = np.concatenate([res.kept, np.full(res.k - len(res.kept), -2)])[res.labels]   # -2: a new TPS
    return res.k, outside, sse + penalty * float(w[row != previous.labels].sum())


def _solve_k(xy: np.ndarray, w: np.ndarray, cap: int, k: int, pts: np.ndarray, point: np.ndarray,
             pw: np.ndarray, previous: Previous | None, kept: np.ndarray, iterations: int, nearest: int,
             penalty: float, tolerance: int, before: DesaResult | None) -> DesaResult | None:
    """The TPS with k of them, or None if the flow or the repair cannot keep every TPS under the cap.

    `before`: last night's TPS (k of them), which still hold every household under the cap. Then the
    Lloyd iteration starts from them and goes on only while each step beats the best so far (`_rank`),
    stopping at the first that does not: started from a good assignment it moves nobody, and it never
    returns one worse than last night's."""
    n = int(w.sum())
    prev = previous.labels if previous is not None else np.full(len(w), -1)
    # Interchangeable households: one point, one size, one TPS last night.
    keys, group = _unique_rows(np.column_stack([point, w, prev]))
    gxy, size, gprev = pts[keys[:, 0]], keys[:, 1], keys[:, 2]
    count = np.bincount(group)
    supply = count * size
    lo, hi, band_lo, band_hi = _band(n, k, cap, tolerance)
    lo_j, hi_j = np.full(k, lo), np.full(k, hi)
    if previous is not None:
        # A TPS whose voters of last night already lie within the accepted sizes may keep that size: the
        # flow does not move voters only to even sizes out that the rounding below would accept anyway.
        m = len(previous.centres)
        had = prev >= 0
        carried = np.bincount(prev[had], weights=w[had], minlength=m).astype(np.int64)
        lo_j[:m] = np.minimum(lo, np.maximum(carried, band_lo))
        hi_j[:m] = np.maximum(hi, np.minimum(carried, band_hi))

    def step(centres: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """One Lloyd step: the flow to these centres, and the centres moved to the mean of their voters."""
        share = _flow_widening(_costs(gxy, gprev, centres, penalty), supply, lo_j, hi_j, nearest, gprev)
        if share is None:
            return None
        mass = share.sum(axis=0)
        moved_to = centres.copy()
        moved_to[mass > 0] = (share.T @ gxy)[mass > 0] / mass[mass > 0, None]
        return share, moved_to

    def whole(share: np.ndarray, centres: np.ndarray) -> DesaResult | None:
        """The flow in whole households, the sizes evened out and every TPS brought under the cap."""
        per_group = _round(share, size, count)
        labels = np.empty(len(w), dtype=np.int64)
        labels[np.argsort(group, kind="stable")] = np.repeat(np.tile(np.arange(k), len(per_group)),
                                                             per_group.ravel())
        hcost = _costs(xy, prev, centres, penalty)
        _balance(labels, w, hcost, centres, band_lo, band_hi, 4 * k + 50)
        if not _repair(labels, w, hcost, cap):
            return None
        return DesaResult(labels, _centres_of(labels, w, xy, centres), k, k > math.ceil(n / cap), kept)

    if before is not None and previous is not None:
        best, best_rank = before, _rank(before, xy, w, cap, tolerance, penalty, previous)
        for _ in range(iterations):
            stepped = step(best.centres)
            res = whole(*stepped) if stepped is not None else None
            if res is None:
                break
            rank = _rank(res, xy, w, cap, tolerance, penalty, previous)
            if not rank < best_rank:
                break
            best, best_rank = res, rank
        return best
    centres = _initial_centres(pts, pw, k, previous.centres if previous is not None else None)
    share = None
    for _ in range(iterations):
        stepped = step(centres)
        if stepped is None:
            return None
        share, moved_to = stepped
        shift = float(np.abs(moved_to - centres).max())
        centres = moved_to
        if shift < 1.0:
            break
    assert share is not None
    return whole(share, centres)


def assign_desa(xy: np.ndarray, w: np.ndarray, cap: int, *, previous: Previous | None = None,
                iterations: int = 20, nearest: int = 4, penalty: float = MOVE_PENALTY_M2,
                tolerance: int = BALANCE_TOLERANCE) -> DesaResult:
    """TPS for the households of one desa: `xy` (metres), `w` (voters per household), `cap` per TPS.

    With `previous`, the result is never worse than keeping last night's TPS where they still hold every
    household under the cap (`_rank`: fewer TPS, fewer voters outside the accepted sizes, then distance
    plus the move penalty): households move only when the move pays for itself."""
    if len(w) and int(w.max()) > cap:
        raise ValueError(f"a household of {int(w.max())} voters is larger than the TPS capacity {cap}")
    if not np.isfinite(xy).all():
        raise ValueError("household points must be finite numbers")
    pts, point = _unique_rows(xy)
    pw = np.bincount(point, weights=w)
    before = _as_before(previous, xy, w, cap)
    result = None
    for k in range(min_tps(w, cap), len(w) + 1):
        prev_k, kept = _take(previous, w, k)
        result = _solve_k(xy, w, cap, k, pts, point, pw, prev_k, kept, iterations, nearest, penalty, tolerance,
                          before if before is not None and before.k == k else None)
        if result is not None:
            break
    if result is None:
        raise ValueError("no assignment keeps every household whole")  # unreachable: k = households always fits
    if before is not None and previous is not None and (
            _rank(before, xy, w, cap, tolerance, penalty, previous)
            <= _rank(result, xy, w, cap, tolerance, penalty, previous)):
        return before
    return result


# -- inputs ----------------------------------------------------------------------------------------------

COORDINATE_COLUMNS = ("kode_desa", "rw", "rt", "lat", "lon")
COORDINATE_SCHEMA = {"kode_desa": pl.String, "rw": pl.Int32, "rt": pl.Int32, "lat": pl.Float64, "lon": pl.Float64}


@dataclass(frozen=True)
class SkippedCoordinate:
    row: int        # 1-based data row of the coordinates file
    field: str
    value: str | None
    reason: str


_COORDINATE_ALIASES = {"kode_desa": ("kode_desa", "kodedesa", "kode desa", "kd_desa", "kode_kelurahan"),
                       "rw": ("rw",), "rt": ("rt",), "lat": ("lat", "latitude", "lintang"),
                       "lon": ("lon", "lng", "long", "longitude", "bujur")}
FAR_FROM_DESA_M = 20_000.0   # an RT this far from its desa's other RTs is a typing slip


def read_coordinates(path: Path | None) -> tuple[pl.DataFrame, list[SkippedCoordinate]]:
    """The RT coordinates file: columns kode_desa, rw, rt, lat, lon (common spellings accepted), separated
    by `,`, `;` or tab, UTF-8/UTF-16/Windows-1252, a decimal comma accepted. A row that cannot be used (a
    field missing or unreadable, latitude or longitude out of range, the point (0, 0), an RT more than
    20 km from the rest of its desa, an RT listed twice) is skipped, named by its row and field and logged
    (coordinates are not personal), and its RT falls back like any RT missing from the file. An empty file
    means no coordinates; a file without the columns is refused."""
    if path is None:
        return pl.DataFrame(schema=COORDINATE_SCHEMA), []
    text, _ = decode(read_regular(path, "[tps].coordinates"), path)
    lines = text.splitlines()
    if not text.strip():
        log.warning("%s is empty: every RT falls back to the desa's centre", path)
        return pl.DataFrame(schema=COORDINATE_SCHEMA), []
    sep = separator(lines[0])
    rows = list(csv.reader(lines, delimiter=sep))
    header = [h.strip().lower().replace("-", "_") for h in rows[0]]
    where: dict[str, int] = {}
    for c, names in _COORDINATE_ALIASES.items():
        found = [i for i, h in enumerate(header) if h in names]
        if not found:
            raise InputError(f"the RT coordinates file has no column {c!r} (needs {', '.join(COORDINATE_COLUMNS)})",
                             path=path, field=c)
        where[c] = found[0]
    skipped: list[SkippedCoordinate] = []
    cells: list[tuple[object, ...]] = []
    for n, r in enumerate(rows[1:], start=1):   # the file is small (one row per RT): a loop is fine
        if not any(x.strip() for x in r):
            continue
        if len(r) != len(header):
            skipped.append(SkippedCoordinate(n, "*", None, f"{len(r)} kolom, bukan {len(header)}"))
            continue
        cells.append((n, *(r[where[c]].strip() or None for c in COORDINATE_COLUMNS)))
    s = pl.DataFrame(cells, schema=["row", *COORDINATE_COLUMNS], orient="row",
                     schema_overrides={"row": pl.Int64, **{c: pl.String for c in COORDINATE_COLUMNS}})
    parsed = s.with_columns(
        pl.col("rw").cast(pl.Int32, strict=False).alias("_rw"), pl.col("rt").cast(pl.Int32, strict=False).alias("_rt"),
        *[pl.col(c).str.replace(",", ".", literal=True).cast(pl.Float64, strict=False).alias(f"_{c}")
          for c in ("lat", "lon")])
    far = _far_from_desa(parsed)
    checks = [("kode_desa", pl.col("kode_desa").is_null(), "kosong"),
              ("rw", pl.col("_rw").is_null(), "bukan angka"), ("rt", pl.col("_rt").is_null(), "bukan angka"),
              ("lat", ~pl.col("_lat").is_between(-90, 90).fill_null(False), "bukan lintang"),
              ("lon", ~pl.col("_lon").is_between(-180, 180).fill_null(False), "bukan bujur"),
              ("lat", (pl.col("_lat") == 0) & (pl.col("_lon") == 0), "titik (0, 0): koordinat belum diisi"),
              ("lon", pl.col("row").is_in(far.implode()),
               f"lebih dari {FAR_FROM_DESA_M / 1000:.0f} km dari RT lain di desanya")]
    bad = parsed.with_columns(pl.coalesce([pl.when(cond).then(pl.lit(f)) for f, cond, _ in checks]).alias("_field"),
                              pl.coalesce([pl.when(cond).then(pl.lit(r)) for _, cond, r in checks]).alias("_why"))
    skipped += [SkippedCoordinate(r["row"], r["_field"], r[r["_field"]], r["_why"])
                for r in bad.filter(pl.col("_field").is_not_null()).iter_rows(named=True)]
    good = bad.filter(pl.col("_field").is_null()).select(
        "row", "kode_desa", pl.col("_rw").alias("rw"), pl.col("_rt").alias("rt"), pl.col("_lat").alias("lat"),
        pl.col("_lon").alias("lon"))
    dup = good.filter(pl.struct("kode_desa", "rw", "rt").is_first_distinct().not_())
    skipped += [SkippedCoordinate(r["row"], "rt", str(r["rt"]), "RT sudah tercantum di baris sebelumnya")
                for r in dup.iter_rows(named=True)]
    skipped.sort(key=lambda k: k.row)
    for sk in skipped[:10]:
        log.warning("%s row %d, %s=%r: %s; this RT falls back to a neighbour", path, sk.row, sk.field, sk.value,
                    sk.reason)
    if len(skipped) > 10:
        log.warning("%s: %d more rows skipped", path, len(skipped) - 10)
    return good.filter(pl.struct("kode_desa", "rw", "rt").is_first_distinct()).drop("row"), skipped


def _far_from_desa(parsed: pl.DataFrame) -> pl.Series:
    """Rows whose point lies more than FAR_FROM_DESA_M from the median point of their desa."""
    ok = parsed.filter(pl.col("_lat").is_between(-90, 90) & pl.col("_lon").is_between(-180, 180)
                       & ~((pl.col("_lat") == 0) & (pl.col("_lon") == 0)))
    med = ok.group_by("kode_desa").agg(pl.col("_lat").median().alias("_mlat"), pl.col("_lon").median().alias("_mlon"))
    d = ok.join(med, on="kode_desa").with_columns(
        (((pl.col("_lat") - pl.col("_mlat")) * _M_PER_DEG_LAT) ** 2
         + ((pl.col("_lon") - pl.col("_mlon")) * _M_PER_DEG_LON * (pl.col("_mlat") * math.pi / 180).cos()) ** 2)
        .sqrt().alias("_d"))
    return d.filter(pl.col("_d") > FAR_FROM_DESA_M)["row"]


# -- tables ------------------------------------------------------------------------------------------------

def eligible(voters: pl.DataFrame, struck: pl.DataFrame | None) -> pl.DataFrame:
    """The voters who get a TPS: all but the `struck` (voter_id): those a person's SAMA decisions join to
    the record kept for them (`decisions.resolve`, the one place of that rule)."""
    if struck is None or struck.height == 0:
        return voters
    return voters.join(struck.select("voter_id"), on="voter_id", how="anti")


def _with_kecamatan(voters: pl.DataFrame) -> pl.DataFrame:
    """`desa_key` reads the kecamatan too; a frame without it (a test's) gets empty columns."""
    missing = [c for c in ("kode_kecamatan", "kecamatan") if c not in voters.columns]
    return voters.with_columns([pl.lit(None, pl.String).alias(c) for c in missing]) if missing else voters


def households(voters: pl.DataFrame, coordinates: pl.DataFrame, cap: int = 600) -> pl.DataFrame:
    """One row per household (a KK within a desa; a voter without a valid NKK is a household alone), with
    its voters and a point: its RT's coordinates, else the nearest RT number of the same RW, else the
    desa's centre (`lokasi` says which: rt, rt terdekat, pusat desa)."""
    v = _with_kecamatan(voters).with_columns(
        desa_key(within_kecamatan=True).alias("desa_key"),
        pl.when(pl.col("nkk_valid")).then(pl.col("nkk")).otherwise(pl.col("voter_id")).alias("kk"))
    # A KK larger than a TPS (a dormitory, a copied NKK) cannot vote at one: it is cut into the fewest
    # parts that fit, in voter_id order, and reported (`oversize_households`).
    size = pl.len().over("desa_key", "kk")
    parts = (size + cap - 1) // cap
    part = pl.col("voter_id").rank("ordinal").over("desa_key", "kk") - 1
    v = v.with_columns(pl.when(size > cap).then(pl.concat_str(
        [pl.col("kk"), pl.lit("#"), (part * parts // size + 1).cast(pl.String)])).otherwise(pl.col("kk"))
        .alias("household"), (size > cap).alias("oversize"))
    h = v.group_by("desa_key", "household").agg(
        pl.len().alias("voters"), pl.col("kk").first(), pl.col("oversize").first(),
        pl.col("desa").drop_nulls().min(),
        pl.col("rt").drop_nulls().mode().min().alias("rt"), pl.col("rw").drop_nulls().mode().min().alias("rw"),
        pl.col("voter_id").sort())
    c = coordinates.select(pl.col("kode_desa").alias("desa_key"), pl.col("rw").cast(pl.Int32),
                           pl.col("rt").cast(pl.Int32), pl.col("lat").cast(pl.Float64),
                           pl.col("lon").cast(pl.Float64)).unique(["desa_key", "rw", "rt"], keep="first",
                                                                  maintain_order=True)
    exact = h.join(c, on=["desa_key", "rw", "rt"], how="left")
    near = (exact.filter(pl.col("lat").is_null()).drop("lat", "lon")
            .join(c.rename({"rt": "rt_c"}), on=["desa_key", "rw"], how="left")
            .with_columns((pl.col("rt_c") - pl.col("rt")).abs().alias("_gap"))
            .sort("_gap", "rt_c", nulls_last=True).group_by("desa_key", "household", maintain_order=True).first()
            .with_columns([pl.when(pl.col("_gap").is_not_null()).then(pl.col(c)).alias(c) for c in ("lat", "lon")])
            .drop("rt_c", "_gap"))
    centre = c.group_by("desa_key").agg(pl.col("lat").mean().alias("lat_c"), pl.col("lon").mean().alias("lon_c"))
    out = pl.concat([exact.filter(pl.col("lat").is_not_null()).with_columns(pl.lit("rt").alias("lokasi")),
                     near.with_columns(pl.when(pl.col("lat").is_not_null()).then(pl.lit("rt terdekat"))
                                       .otherwise(pl.lit("pusat desa")).alias("lokasi"))], how="diagonal")
    out = out.join(centre, on="desa_key", how="left").with_columns(
        pl.coalesce("lat", "lat_c").alias("lat"), pl.coalesce("lon", "lon_c").alias("lon")).drop("lat_c", "lon_c")
    return out.sort("desa_key", "household")


@dataclass
class TpsResult:
    assignments: pl.DataFrame   # tps_assignments: one row per voter with a TPS
    summary: pl.DataFrame       # tps_summary: one row per TPS
    quality: pl.DataFrame       # tps_quality: one row per desa


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

    @classmethod
    def of(cls, g: pl.DataFrame) -> DesaInput:
        prev = g["prev_tps"] if "prev_tps" in g.columns else pl.Series([0] * g.height)
        same = "unchanged" in g.columns and g.height > 0 and bool(g["unchanged"].fill_null(False).all())
        return cls(g["lat"].cast(pl.Float64).to_numpy(), g["lon"].cast(pl.Float64).to_numpy(),
                   g["voters"].to_numpy().astype(np.int64), g["rw"].fill_null(0).to_numpy().astype(np.int64),
                   g["rt"].fill_null(0).to_numpy().astype(np.int64), prev.fill_null(0).to_numpy().astype(np.int64),
                   same)


@dataclass(frozen=True)
class DesaOutput:
    tps: np.ndarray            # TPS number per household
    tps_lat: np.ndarray        # its TPS point (NaN without coordinates)
    tps_lon: np.ndarray
    distance_m: np.ndarray     # household point to TPS point (NaN without coordinates)
    k: int
    extra_tps: bool


def _stand_in_layout(d: DesaInput) -> np.ndarray:
    """Points for a desa with no coordinates at all: its RTs in (rw, rt) order along a line, 100 m apart,
    so that TPS still take whole, neighbouring RTs."""
    _, rank = np.unique(d.rw * 10_000 + d.rt, return_inverse=True)
    return np.column_stack([(rank.ravel() + 1).astype(float) * 100.0, np.zeros(len(d.rw))])


def _previous(prev: np.ndarray, xy: np.ndarray, w: np.ndarray) -> tuple[Previous | None, list[int]]:
    """Last night's TPS of the desa in tonight's terms: each number in use (its households' mean point
    tonight), the households' indices into those numbers, and the numbers. If the desa now needs fewer
    TPS, `assign_desa` drops the ones with fewest voters tonight (the fewest voters move)."""
    used = np.unique(prev[prev > 0])
    if len(used) == 0:
        return None, []
    idx = np.where(np.isin(prev, used), np.searchsorted(used, prev), -1)
    had = idx >= 0
    centres = _centres_of(idx[had], w[had], xy[had], np.zeros((len(used), 2)))
    return Previous(centres, idx), [int(t) for t in used]


SETTLE_ROUNDS = 20  # at most this many checks that tomorrow, on the same input, would keep tonight's TPS


def _solve_once(d: DesaInput, cap: int, *, as_before: bool = False) -> DesaOutput | None:
    """One desa: each household's TPS number, the TPS point and the distance to it. With `as_before`, last
    night's TPS as they are, or None unless they keep every rule tonight (every household has one, none
    over the cap, no more TPS than the lower bound)."""
    has_point = len(d.lat) > 0 and bool(np.isfinite(d.lat).all() and np.isfinite(d.lon).all())
    proj = Projection(float(d.lat.mean()) if has_point else 0.0)
    w = d.voters
    xy = proj.to_metres(d.lat, d.lon) if has_point else _stand_in_layout(d)
    previous, numbers = _previous(d.prev_tps, xy, w)
    if as_before:
        before = _as_before(previous, xy, w, cap)
        if before is None or before.k != min_tps(w, cap):
            return None
        res = before
    else:
        res = assign_desa(xy, w, cap, previous=previous)
    if previous is None:  # a new desa: number its TPS from north-west to south-east, as they read on a map
        number = np.argsort(np.lexsort((res.centres[:, 0], -np.round(res.centres[:, 1], -2)))) + 1
    else:                 # last night's numbers, then the lowest numbers free
        kept = [numbers[i] for i in res.kept]
        free = [t for t in range(1, res.k + len(numbers) + 1) if t not in set(numbers)]
        number = np.array(kept + free[:res.k - len(kept)])
    tps_lat, tps_lon = proj.to_degrees(res.centres)
    dist = np.sqrt(((xy - res.centres[res.labels]) ** 2).sum(axis=1))
    nan = np.full(len(w), np.nan)
    return DesaOutput(number[res.labels], tps_lat[res.labels] if has_point else nan,
                      tps_lon[res.labels] if has_point else nan, dist if has_point else nan, res.k, res.extra_tps)


def solve_desa(d: DesaInput, cap: int) -> DesaOutput:
    """One desa: each household's TPS number, the TPS point and the distance to it.

    A desa as it was last night keeps last night's TPS if they keep every rule. Otherwise the result is
    settled: it is what the next night would compute from it on the same input (solved again from itself,
    until nothing moves), so that a night with unchanged lists moves nobody."""
    if d.unchanged and (kept := _solve_once(d, cap, as_before=True)) is not None:
        return kept
    out = _solve_once(d, cap)
    assert out is not None
    for _ in range(SETTLE_ROUNDS):
        again = _solve_once(replace(d, prev_tps=out.tps.astype(np.int64), unchanged=False), cap)
        assert again is not None
        settled = np.array_equal(again.tps, out.tps)
        out = again
        if settled:
            break
    return out


PARALLEL_FROM = 100_000   # households; below this, starting worker processes costs more than it saves


def _solve_chunk(desa: list[DesaInput], cap: int) -> list[DesaOutput]:
    return [solve_desa(d, cap) for d in desa]


def _solve_all(desa: list[DesaInput], cap: int) -> list[DesaOutput]:
    """Every desa, in worker processes (one per core, at most 4) when there are many households: the desa
    are independent problems, so the result does not depend on how they were shared out."""
    workers = min(4, os.cpu_count() or 1)
    # A desa as it was last night costs next to nothing (it keeps last night's TPS): only the others count.
    work = [0 if d.unchanged else len(d.voters) for d in desa]
    if workers < 2 or sum(work) < PARALLEL_FROM:
        return _solve_chunk(desa, cap)
    chunks: list[list[int]] = [[] for _ in range(workers)]
    load = [0] * workers
    for i in sorted(range(len(desa)), key=lambda i: -work[i]):   # largest first, to the lightest
        j = load.index(min(load))
        chunks[j].append(i)
        load[j] += work[i]
    with workers_pool(workers) as pool:
        done = list(pool.map(_solve_chunk, [[desa[i] for i in c] for c in chunks], [cap] * workers))
    out: dict[int, DesaOutput] = {}
    for c, results in zip(chunks, done, strict=True):
        out.update(zip(c, results, strict=True))
    return [out[i] for i in range(len(desa))]


def _attach(g: pl.DataFrame, r: DesaOutput) -> pl.DataFrame:
    return g.with_columns(
        pl.Series("tps", r.tps, dtype=pl.Int32), pl.Series("tps_lat", r.tps_lat).fill_nan(None),
        pl.Series("tps_lon", r.tps_lon).fill_nan(None), pl.Series("distance_m", r.distance_m).fill_nan(None),
        pl.lit(r.k, dtype=pl.Int64).alias("k"), pl.lit(r.extra_tps).alias("extra_tps"))


def assign(voters: pl.DataFrame, coordinates: pl.DataFrame, cap: int, *, struck: pl.DataFrame | None = None,
           previous: pl.DataFrame | None = None, names: dict[str, str] | None = None) -> TpsResult:
    """TPS for every voter who stays on the roll: all but the `struck` (voter_id; see `eligible`);
    `previous` is last night's tps_assignments; `names` maps desa codes to their Kemendagri names."""
    voters = _with_kecamatan(voters)
    kept = eligible(voters, struck)
    hh = households(kept, coordinates, cap)
    prev_assign = previous
    if prev_assign is not None:
        hh = _with_last_night(hh, prev_assign)
    frames = hh.partition_by("desa_key", maintain_order=True)
    parts = [_attach(g, r) for g, r in zip(frames, _solve_all([DesaInput.of(g) for g in frames], cap), strict=True)]
    if not parts:  # no voters: the tables with their columns and no rows
        schema: dict[str, Any] = {**ASSIGNMENT_SCHEMA, "voter_id": pl.List(pl.String), "tps_lat": pl.Float64,
                                  "tps_lon": pl.Float64, "extra_tps": pl.Boolean, "kk": pl.String,
                                  "oversize": pl.Boolean}
        parts = [pl.DataFrame(schema=schema).rename({"kode_desa": "desa_key"})]
    done = pl.concat(parts, how="diagonal_relaxed")
    if names:
        done = done.with_columns(pl.coalesce(pl.col("desa_key").replace_strict(names, default=None,
                                                                               return_dtype=pl.String),
                                             pl.col("desa")).alias("desa"))
    per_voter = done.explode("voter_id").rename({"desa_key": "kode_desa"})
    assignments = per_voter.select(list(ASSIGNMENT_SCHEMA)).sort("kode_desa", "tps", "voter_id")
    summary = _summary(per_voter)
    quality = _quality(per_voter, summary, cap, voters, kept, prev_assign)
    return TpsResult(assignments, summary, quality)


_SAME_COLUMNS = ("household", "rw", "rt", "lat", "lon")


def _with_last_night(hh: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """The households with their TPS of last night (`prev_tps`, the most common among their voters) and,
    per desa, whether it is as it was last night (`unchanged`): the same voters in the same households at
    the same RTs and points, each household at one TPS. In the order of `households`."""
    compare = all(c in previous.columns for c in _SAME_COLUMNS)
    last = previous.select("voter_id", pl.col("kode_desa").cast(pl.String).alias("desa_key"), "tps",
                           *([pl.col(c).cast(hh.schema[c]).alias(f"{c}_last") for c in _SAME_COLUMNS]
                             if compare else []))
    per_voter = (hh.select("desa_key", *_SAME_COLUMNS, "voter_id").explode("voter_id")
                 .join(last, on=["voter_id", "desa_key"], how="left"))
    same = pl.col("tps").is_not_null()
    if compare:
        for c in _SAME_COLUMNS:
            same = same & pl.col(c).eq_missing(pl.col(f"{c}_last"))
    was = per_voter.group_by("desa_key", "household").agg(
        pl.col("tps").drop_nulls().mode().min().alias("prev_tps"),
        (same.all() & (pl.col("tps").n_unique() == 1)).alias("_same"), pl.len().alias("_voters"))
    before = last.group_by("desa_key").agg(pl.len().alias("_before"))
    desa = (was.group_by("desa_key").agg(pl.col("_same").all(), pl.col("_voters").sum())
            .join(before, on="desa_key", how="left")
            .select("desa_key", (pl.col("_same") & (pl.col("_voters") == pl.col("_before")) & pl.lit(compare))
                    .fill_null(False).alias("unchanged")))
    return (hh.join(was.select("desa_key", "household", "prev_tps"), on=["desa_key", "household"], how="left")
            .join(desa, on="desa_key", how="left")
            .sort("desa_key", "household"))   # each night the same order, whatever the joins did


def overall_churn(quality: pl.DataFrame) -> float | None:
    """Voters who changed TPS, as a share of the voters who had a TPS in the same desa both nights (None
    without a previous night)."""
    both = quality["voters_both_nights"].sum() if quality.height else 0
    return float(quality["moved"].sum()) / float(both) if both else None


def _summary(per_voter: pl.DataFrame) -> pl.DataFrame:
    return per_voter.group_by("kode_desa", "tps").agg(
        pl.col("desa").first(), pl.len().cast(pl.Int64).alias("voters"),
        pl.col("household").n_unique().cast(pl.Int64).alias("households"),
        pl.struct("rw", "rt").n_unique().cast(pl.Int64).alias("rts"),
        pl.col("tps_lat").first().alias("lat"), pl.col("tps_lon").first().alias("lon"),
        pl.col("distance_m").mean().alias("mean_distance_m"),
        pl.col("distance_m").quantile(0.95, "linear").alias("p95_distance_m"),
        pl.col("distance_m").max().alias("max_distance_m"),
    ).select("kode_desa", "desa", "tps", "voters", "households", "rts", "lat", "lon", "mean_distance_m",
             "p95_distance_m", "max_distance_m").sort("kode_desa", "tps")


def _quality(per_voter: pl.DataFrame, summary: pl.DataFrame, cap: int, voters: pl.DataFrame,
             kept: pl.DataFrame, prev_assign: pl.DataFrame | None) -> pl.DataFrame:
    """Per desa: every hard rule checked on the result, balance, distances, fallbacks and churn."""
    split = (per_voter.group_by("kode_desa", "kk").agg(pl.col("tps").n_unique().alias("n"),
                                                      pl.col("oversize").first())
             .group_by("kode_desa").agg(((pl.col("n") > 1) & ~pl.col("oversize")).sum().cast(pl.Int64)
                                        .alias("split_households"),
                                        pl.col("oversize").sum().cast(pl.Int64).alias("oversize_households")))
    rts = (per_voter.group_by("kode_desa", "rw", "rt").agg(pl.col("tps").n_unique().alias("n"),
                                                           (pl.col("lokasi") != "rt").any().alias("fb"))
           .group_by("kode_desa").agg((pl.col("n") > 1).sum().cast(pl.Int64).alias("rts_split"),
                                      pl.col("fb").sum().cast(pl.Int64).alias("rts_fallback")))
    sizes = summary.group_by("kode_desa").agg(
        pl.col("voters").sum().alias("n"), pl.len().cast(pl.Int64).alias("tps"),
        (pl.col("voters") > cap).sum().cast(pl.Int64).alias("over_cap"),
        (pl.col("voters") - pl.col("voters").sum() / pl.len()).abs().max().alias("max_deviation"))
    base = per_voter.group_by("kode_desa").agg(
        pl.col("desa").first(), pl.len().cast(pl.Int64).alias("voters"),
        pl.col("household").n_unique().cast(pl.Int64).alias("households"),
        pl.col("extra_tps").first(),
        pl.col("distance_m").mean().alias("mean_distance_m"),
        pl.col("distance_m").quantile(0.95, "linear").alias("p95_distance_m"),
        pl.col("distance_m").max().alias("max_distance_m"))
    struck = (voters.join(kept.select("voter_id"), on="voter_id", how="anti")
              .group_by(desa_key(within_kecamatan=True).alias("kode_desa")).agg(pl.len().cast(pl.Int64).alias("struck_duplicates")))
    q = (base.join(sizes, on="kode_desa").join(split, on="kode_desa").join(rts, on="kode_desa")
         .join(struck, on="kode_desa", how="left")
         .with_columns(((pl.col("voters") + cap - 1) // cap).cast(pl.Int64).alias("tps_minimum"),
                       pl.col("struck_duplicates").fill_null(0)))
    if prev_assign is not None:
        churn = (per_voter.select("voter_id", "kode_desa", "tps")
                 .join(prev_assign.select("voter_id", "kode_desa", pl.col("tps").alias("tps_prev")),
                       on=["voter_id", "kode_desa"])
                 .group_by("kode_desa").agg(pl.len().cast(pl.Int64).alias("voters_both_nights"),
                                            (pl.col("tps") != pl.col("tps_prev")).sum().cast(pl.Int64).alias("moved")))
        q = q.join(churn, on="kode_desa", how="left").with_columns(
            pl.col("voters_both_nights", "moved").fill_null(0)).with_columns(
            pl.when(pl.col("voters_both_nights") > 0).then(pl.col("moved") / pl.col("voters_both_nights"))
            .alias("churn"))
    else:
        q = q.with_columns(pl.lit(None, pl.Int64).alias("voters_both_nights"), pl.lit(None, pl.Int64).alias("moved"),
                           pl.lit(None, pl.Float64).alias("churn"))
    return q.select("kode_desa", "desa", "voters", "households", "tps", "tps_minimum", "extra_tps", "over_cap",
                    "split_households", "oversize_households", "rts_split", "rts_fallback", "max_deviation",
                    "mean_distance_m", "p95_distance_m", "max_distance_m", "voters_both_nights", "moved", "churn",
                    "struck_duplicates").sort("kode_desa")
