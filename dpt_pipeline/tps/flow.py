"""One step of the capacitated assignment: the min-cost flow (OR-Tools) that sends each group of
interchangeable households' voters to the TPS centres within each TPS's size bounds. The only module that
talks to OR-Tools."""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from dpt_pipeline.tps.geometry import sq_dist


def costs(xy: np.ndarray, prev: np.ndarray, centres: np.ndarray, penalty: float) -> np.ndarray:
    """Cost per voter of each point at each centre: squared metres, plus the penalty for leaving last night's
    TPS (rows with prev = -1 pay none)."""
    d2 = sq_dist(xy, centres)
    moved = (prev[:, None] >= 0) & (np.arange(len(centres))[None, :] != prev[:, None])
    return d2 + penalty * moved


def walk_costs(metres: np.ndarray, prev: np.ndarray, penalty: float) -> np.ndarray:
    """Cost per voter of each row's walk to each TPS's site (`metres`, (rows, k)), in the flow's units,
    plus the square root of the penalty (metres) for leaving last night's TPS."""
    moved = (prev[:, None] >= 0) & (np.arange(metres.shape[1])[None, :] != prev[:, None])
    return (metres + np.sqrt(penalty) * moved) * WALK_SCALE


WALK_SCALE = 1000.0   # a walk's metres times this: the flow rounds costs to hundredths of that


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


def flow_widening(cost: np.ndarray, supply: np.ndarray, lo: np.ndarray, hi: np.ndarray, nearest: int,
                  prev: np.ndarray) -> np.ndarray | None:
    """The flow, with arcs widened to more centres until the TPS bounds can be met."""
    m = nearest
    while True:
        share = _flow(cost, supply, lo, hi, m, prev)
        if share is not None or m >= cost.shape[1]:
            return share
        m *= 2
