"""One desa's households into TPS: `assign_desa` (points in metres, voters per household, the cap, last
night's TPS, the candidate sites) gives each household a TPS index; the numbers are `numbering`'s, the
tables `stage`'s.

Method: a capacitated Lloyd iteration. Households at one RT point with one TPS last night form one group;
(1) a min-cost flow (`flow`) sends each group's voters to the TPS centres, every TPS between the floor,
floor(min_share * n/k), and the cap C, arcs only to each group's nearest centres, cost the squared distance
in metres plus a move penalty for leaving last night's TPS; (2) each centre moves to its voters' mean.
Groups are then rounded to whole households (a group the flow did not cut stays whole), a TPS under the
floor takes single households from its neighbours, and any TPS over the cap sheds households to the
nearest TPS with room (`whole`); if that fails the desa gets one more TPS. With candidate sites (the RT
points, configured sites) each TPS is then proposed at the site of least walk (`sites`) and the flow runs
again with each household's walk to its TPS's site as the cost, while that shortens the walk. A desa
published before starts from last night's centres, so TPS n keeps its meaning and few voters move.

Started from last night: every group can always stay (its arc to last night's TPS is there and wins ties),
and where last night's TPS still hold every household under the cap the iteration goes on only while each
step beats the best so far, starting from keeping them (`_rank`: fewer TPS, fewer voters outside the
sizes, then the walk to the sites, or without sites the squared distance, plus the move penalty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dpt_pipeline.config import TpsConfig
from dpt_pipeline.tps.flow import costs, flow_widening, walk_costs
from dpt_pipeline.tps.geometry import centres_of, sq_dist, unique_rows
from dpt_pipeline.tps.sites import Walks
from dpt_pipeline.tps.whole import balance, repair, round_to_households

MOVE_PENALTY_M2 = 300.0 ** 2      # cost of leaving last night's TPS, as a squared distance per voter
MIN_SHARE = TpsConfig.min_share   # each TPS at least this share of n/k (the setting's default)
SITE_ROUNDS = 4                   # at most this many rounds of sending households to their TPS's site


@dataclass(frozen=True)
class Previous:
    """Last night's TPS of a desa: centres (row j: the j-th TPS number in use last night, at its households'
    mean point tonight) and each household's row (-1 for a household new tonight)."""

    centres: np.ndarray
    labels: np.ndarray


@dataclass
class DesaResult:
    """What `assign_desa` gives: each household's TPS index, the TPS points and how many TPS."""

    labels: np.ndarray      # TPS index (0..k-1) per household (solve_desa maps indices to TPS numbers)
    centres: np.ndarray     # (k, 2) metres: each TPS's voters' mean
    k: int
    extra_tps: bool         # one more than ceil(n/C): the household sizes left no other way
    # TPS index i < len(kept) is last night's row kept[i]; the others are new (empty on a first night)
    kept: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


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
        d2 = sq_dist(pts, placed).min(axis=1)
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
        label = sq_dist(pts, centres).argmin(axis=1)
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


# -- the solve ---------------------------------------------------------------------------------------------

def min_tps(w: np.ndarray, cap: int) -> int:
    """A lower bound on the TPS a desa needs: ceil(n / C), and no two households of more than C/2 voters
    can share one."""
    return max(1, math.ceil(int(w.sum()) / cap), int((w > cap / 2).sum()))


def band(n: int, k: int, cap: int, min_share: float) -> tuple[int, int]:
    """The sizes a TPS may have, k TPS sharing n voters: from floor(min_share * n / k) to the cap C. The
    floor keeps a TPS from being left with a handful of voters; above it, sizes follow the walk."""
    return min(math.floor(min_share * n / k + 1e-9), n // k), cap


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


def keep_last_night(previous: Previous | None, xy: np.ndarray, w: np.ndarray, cap: int) -> DesaResult | None:
    """Last night's TPS kept as they are, if every household had one and none is over the cap tonight."""
    if previous is None or len(previous.labels) == 0 or (previous.labels < 0).any():
        return None
    m = len(previous.centres)
    load = np.bincount(previous.labels, weights=w, minlength=m)
    if load.max() > cap or (load == 0).any():
        return None
    return DesaResult(previous.labels.copy(), centres_of(previous.labels, w, xy, previous.centres), m,
                      m > math.ceil(int(w.sum()) / cap), np.arange(m))


def _rank(res: DesaResult, xy: np.ndarray, w: np.ndarray, cap: int, min_share: float, penalty: float,
          previous: Previous, sites: Walks | None) -> tuple[int, float, float]:
    """What an assignment is judged by, smaller is better: its TPS, its voters outside the accepted sizes,
    then the walk (each voter's distance to the site proposed for their TPS) plus the move penalty (its
    square root, in metres) of every voter who left last night's TPS; without sites, the squared distances
    to the TPS points plus the penalty."""
    load = np.bincount(res.labels, weights=w, minlength=res.k)
    band_lo, band_hi = band(int(w.sum()), res.k, cap, min_share)
    outside = float((np.maximum(0, load - band_hi) + np.maximum(0, band_lo - load)).sum())
    row = np.concatenate([res.kept, np.full(res.k - len(res.kept), -2)])[res.labels]   # -2: a new TPS
    moved = float(w[row != previous.labels].sum())
    if sites is not None:
        return res.k, outside, sites.walk(w, res.labels, res.k) + math.sqrt(penalty) * moved
    sse = float((w * ((xy - res.centres[res.labels]) ** 2).sum(axis=1)).sum())
    return res.k, outside, sse + penalty * moved


def _solve_k(xy: np.ndarray, w: np.ndarray, cap: int, k: int, pts: np.ndarray, point: np.ndarray,
             pw: np.ndarray, previous: Previous | None, kept: np.ndarray, iterations: int, nearest: int,
             penalty: float, min_share: float, before: DesaResult | None, sites: Walks | None
             ) -> DesaResult | None:
    """The TPS with k of them, or None if the flow or the repair cannot keep every TPS under the cap.

    `before`: last night's TPS (k of them), which still hold every household under the cap. Then the
    Lloyd iteration starts from them and goes on only while each step beats the best so far (`_rank`),
    stopping at the first that does not: started from a good assignment it moves nobody, and it never
    returns one worse than last night's."""
    n = int(w.sum())
    prev = previous.labels if previous is not None else np.full(len(w), -1)
    # Households at one point (an RT) with one TPS last night are one group: the flow sends a group to
    # one TPS unless the sizes force a cut, and the rounding keeps it whole then.
    keys, group = unique_rows(np.column_stack([point, prev]))
    gxy, gprev = pts[keys[:, 0]], keys[:, 1]
    supply = np.bincount(group, weights=w).astype(np.int64)
    lo, hi = band(n, k, cap, min_share)
    lo_j, hi_j = np.full(k, lo), np.full(k, hi)

    def step(centres: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """One Lloyd step: the flow to these centres, and the centres moved to the mean of their voters."""
        share = flow_widening(costs(gxy, gprev, centres, penalty), supply, lo_j, hi_j, nearest, gprev)
        if share is None:
            return None
        mass = share.sum(axis=0)
        moved_to = centres.copy()
        moved_to[mass > 0] = (share.T @ gxy)[mass > 0] / mass[mass > 0, None]
        return share, moved_to

    def whole(share: np.ndarray, centres: np.ndarray) -> DesaResult | None:
        """The flow in whole households, every TPS brought to the floor and under the cap."""
        labels = round_to_households(share, group, w)
        hcost = costs(xy, prev, centres, penalty)
        balance(labels, w, hcost, centres, lo, hi, 4 * k + 50)
        if not repair(labels, w, hcost, cap):
            return None
        return DesaResult(labels, centres_of(labels, w, xy, centres), k, k > math.ceil(n / cap), kept)

    def to_sites(res: DesaResult) -> DesaResult:
        """The households sent again, by the flow, to the sites proposed for their TPS (least walk) rather
        than to the TPS points, while that shortens the walk (plus the move penalty)."""
        if sites is None:
            return res
        whom = previous if previous is not None else Previous(res.centres, np.full(len(w), -1))
        best, best_rank = res, _rank(res, xy, w, cap, min_share, penalty, whom, sites)
        for _ in range(SITE_ROUNDS):
            at = sites.choose(w, best.labels, k)
            share = flow_widening(walk_costs(sites.metres[:, at][keys[:, 0]], gprev, penalty), supply, lo_j, hi_j,
                                  nearest, gprev)
            if share is None:
                break
            labels = round_to_households(share, group, w)
            hcost = walk_costs(sites.metres[:, at][point], prev, penalty)
            balance(labels, w, hcost, best.centres, lo, hi, 4 * k + 50)
            if not repair(labels, w, hcost, cap):
                break
            res = DesaResult(labels, centres_of(labels, w, xy, best.centres), k, k > math.ceil(n / cap), kept)
            rank = _rank(res, xy, w, cap, min_share, penalty, whom, sites)
            if not rank < best_rank:
                break
            best, best_rank = res, rank
        return best

    if before is not None and previous is not None:
        best, best_rank = before, _rank(before, xy, w, cap, min_share, penalty, previous, sites)
        candidate: DesaResult | None = to_sites(before)
        for _ in range(iterations):
            assert candidate is not None
            rank = _rank(candidate, xy, w, cap, min_share, penalty, previous, sites)
            if rank < best_rank:
                best, best_rank = candidate, rank
            elif candidate is not before:
                break
            stepped = step(best.centres)
            candidate = whole(*stepped) if stepped is not None else None
            if candidate is None:
                break
            candidate = to_sites(candidate)
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
    res = whole(share, centres)
    return to_sites(res) if res is not None else None


def assign_desa(xy: np.ndarray, w: np.ndarray, cap: int, *, previous: Previous | None = None,
                iterations: int = 20, nearest: int = 4, penalty: float = MOVE_PENALTY_M2,
                min_share: float = MIN_SHARE, sites: np.ndarray | None = None) -> DesaResult:
    """TPS for the households of one desa: `xy` (metres), `w` (voters per household), `cap` per TPS.

    With `previous`, the result is never worse than keeping last night's TPS where they still hold every
    household under the cap (`_rank`: fewer TPS, fewer voters outside the accepted sizes, then distance
    plus the move penalty): households move only when the move pays for itself.

    `sites` (metres, (m, 2)): the places a TPS may be proposed at; with them the households end sent to
    the site of least walk of their TPS, and the walk is what the result is judged by."""
    if len(w) and int(w.max()) > cap:
        raise ValueError(f"a household of {int(w.max())} voters is larger than the TPS capacity {cap}")
    if not np.isfinite(xy).all():
        raise ValueError("household points must be finite numbers")
    pts, point = unique_rows(xy)
    pw = np.bincount(point, weights=w)
    before = keep_last_night(previous, xy, w, cap)
    site_xy = Walks(point, np.sqrt(sq_dist(pts, sites))) if sites is not None and len(sites) else None
    result = None
    for k in range(min_tps(w, cap), len(w) + 1):
        prev_k, kept = _take(previous, w, k)
        result = _solve_k(xy, w, cap, k, pts, point, pw, prev_k, kept, iterations, nearest, penalty, min_share,
                          before if before is not None and before.k == k else None,
                          site_xy)
        if result is not None:
            break
    if result is None:
        raise ValueError("no assignment keeps every household whole")  # unreachable: k = households always fits
    if before is not None and previous is not None and (
            _rank(before, xy, w, cap, min_share, penalty, previous, site_xy)
            <= _rank(result, xy, w, cap, min_share, penalty, previous, site_xy)):
        return before
    return result
