"""TPS assignment (groundwork for issue 5): the hard rules on generated households."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from dpt_pipeline import tps


def _check(xy: np.ndarray, w: np.ndarray, cap: int) -> tps.DesaResult:
    res = tps.assign_desa(xy, w, cap)
    load = np.bincount(res.labels, weights=w, minlength=res.k)
    assert load.max() <= cap                       # never over the cap
    assert res.k >= math.ceil(w.sum() / cap)
    assert res.labels.shape == w.shape             # one TPS per household: a KK is never split
    return res


@pytest.mark.parametrize(("n_households", "why"), [(200, "an ordinary desa"), (1500, "a large desa")])
def test_hard_rules_and_balance(n_households: int, why: str) -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 2000, (n_households, 2))
    w = rng.integers(1, 6, n_households)
    res = _check(xy, w, 600)
    assert res.k == math.ceil(w.sum() / 600), why
    load = np.bincount(res.labels, weights=w)
    assert np.abs(load - w.sum() / res.k).max() <= 15, why


def test_tight_desa_just_under_k_times_cap() -> None:
    w = np.array([4] * 299)                        # 1196 voters: two TPS of at most 600
    xy = np.random.default_rng(2).uniform(0, 1000, (299, 2))
    res = _check(xy, w, 600)
    assert res.k == 2


def test_desa_of_601_voters_gets_two_tps() -> None:
    w = np.array([1] * 601)
    res = _check(np.random.default_rng(3).uniform(0, 500, (601, 2)), w, 600)
    assert res.k == 2 and sorted(np.bincount(res.labels)) == [300, 301]


def test_a_household_of_twelve_stays_together() -> None:
    w = np.array([12] + [3] * 200)                 # 612 voters
    res = _check(np.random.default_rng(4).uniform(0, 800, (201, 2)), w, 600)
    assert res.k == 2


def test_sizes_that_cannot_fit_k_get_one_more_and_say_so() -> None:
    w = np.array([400, 400, 400])                  # 1200 voters, but no two households share a TPS of 600
    res = _check(np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]]), w, 600)
    assert res.k == 3 and res.extra_tps


def test_households_fall_back_when_their_rt_has_no_coordinates() -> None:
    voters = pl.DataFrame({
        "voter_id": ["a", "b", "c", "d"], "kode_desa": ["64.08.13.2006"] * 4, "desa": ["MARTADINATA"] * 4,
        "nkk": ["K1", "K1", "K2", "K3"], "nkk_valid": [True, True, True, False], "rt": [1, 1, 2, 9],
        "rw": [1, 1, 1, 5]}, schema_overrides={"rt": pl.Int32, "rw": pl.Int32})
    coords = pl.DataFrame({"kode_desa": ["64.08.13.2006"] * 2, "rw": [1, 1], "rt": [1, 3],
                           "lat": [0.2, 0.21], "lon": [117.4, 117.41]})
    hh = tps.households(voters, coords)
    where = dict(hh.select("household", "lokasi").iter_rows())
    assert where == {"K1": "rt", "K2": "rt terdekat", "d": "pusat desa"}
    assert hh.filter(pl.col("household") == "K1")["voters"].item() == 2
    out = tps.assign(voters, coords, 600)
    assert out.height == 4 and out["tps"].n_unique() == 1
