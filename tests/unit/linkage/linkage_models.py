"""Models the linkage tests share (a module of its own: conftest holds fixtures)."""

from __future__ import annotations

from dpt_pipeline.linkage import comparisons as compare
from dpt_pipeline.linkage import dpt
from dpt_pipeline.linkage import model as score


def even_model(cset: compare.ComparisonSet | None = None) -> score.FellegiSunter:
    """A valid model of the DPT comparisons: m and u spread evenly over each comparison's levels (u over
    the levels whose u is conditional, where the comparison has plain-u levels)."""
    comps = []
    for c in (cset or dpt.dpt_comparisons()).comparisons:
        n = len(c.codes) - 1
        m = [0.0] + [1 / n] * n
        plain = c.u_plain_codes
        k = n - len(plain)
        u = [0.0] + [0.5 if code in plain else 1 / k for code in c.codes[1:]]
        fixed = {lv.code: lv.weight for lv in c.levels if lv.weight is not None}
        comps.append(score.ComparisonParams(c.name, list(c.codes), m, u, fixed, c.conditions(), plain))
    return score.FellegiSunter(comps, 1e-6, 12, 300_000)
