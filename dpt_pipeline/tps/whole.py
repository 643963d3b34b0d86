"""The flow in whole households: its voters rounded to households per TPS (`round_to_households` gives
labels; the others work in place on them), single households moved to bring every TPS to the floor, and
every TPS brought under the cap (moves, swaps, an ejection) without ever splitting a household."""

from __future__ import annotations

import numpy as np

from dpt_pipeline.tps.geometry import sq_dist


def round_to_households(share: np.ndarray, group: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each household's TPS from the flow's voters per group and TPS, (groups, k): a group's households,
    largest first, fill its TPS in turn, each going where the middle of its voters falls. A group the flow
    sent to one TPS stays whole, and a split group is cut at most once per TPS it was sent to; each TPS gets
    its share to within half a household at each cut."""
    k = share.shape[1]
    order = np.lexsort((np.arange(len(w)), -w, group))
    middle = np.cumsum(w[order]) - w[order] / 2.0
    cell = np.searchsorted(np.cumsum(share.ravel()), middle, side="left")
    labels = np.empty(len(w), dtype=np.int64)
    labels[order] = cell % k
    return labels


def balance(labels: np.ndarray, w: np.ndarray, hcost: np.ndarray, centres: np.ndarray, lo: int, hi: int,
            max_moves: int) -> None:
    """Move single households between TPS until every size lies within [lo, hi] (the floor and the cap),
    cheapest moves per voter of imbalance removed first, among the nearest TPS before any other. In place."""
    k = len(centres)
    load = np.bincount(labels, weights=w, minlength=k)
    by_distance = np.argsort(sq_dist(centres, centres), axis=1)

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


def repair(labels: np.ndarray, w: np.ndarray, hcost: np.ndarray, cap: int) -> bool:
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
