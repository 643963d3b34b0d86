"""Incremental blocking equals blocking from scratch: over random nights (records joining, leaving and
changing, blocks crossing their caps both ways), `reblock.candidate_pairs_since` gives the pairs, pass masks
and reports of `blocking.candidate_pairs` on tonight's records."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpt_pipeline.config import load_config
from dpt_pipeline.ingest import run as ingest_run
from dpt_pipeline.linkage import blocking, reblock, standardize

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def roll() -> pl.DataFrame:
    """The sample's three lists as ingest reads them."""
    return ingest_run(load_config(ROOT / "config" / "pipeline.toml")).voters


def _records(voters: pl.DataFrame) -> pl.DataFrame:
    return standardize.prepare_records(standardize.standardize(voters))


def _passes(scale: float) -> list:
    """The DPT passes with their caps scaled down, so that blocks cross them on small rolls."""
    return [dataclasses.replace(p, max_block=max(2, int(p.max_block * scale))) for p in blocking.default_passes()]


def _night(last: pl.DataFrame, tonight: pl.DataFrame, passes: list):
    rec_last, rec_now = _records(last), _records(tonight)
    pairs_last, _ = blocking.candidate_pairs(rec_last, passes)
    keys_last = reblock.keys_frame(rec_last, passes)
    # Last night's records as tonight's rids; a record whose fields changed is a new one.
    now = rec_now.select("voter_id", "nama", "rid")
    mapped = (rec_last.select("voter_id", "nama").with_row_index("old")
              .join(now, on=["voter_id", "nama"], how="left").sort("old")["rid"]
              .cast(pl.Int64).fill_null(-1).to_numpy())
    got = reblock.candidate_pairs_since(rec_now, passes, mapped=mapped, last_pairs=pairs_last, last_keys=keys_last)
    want = blocking.candidate_pairs(rec_now, passes)
    return got, want, rec_now


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_incremental_blocking_equals_blocking_from_scratch(roll: pl.DataFrame, data) -> None:
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    scale = data.draw(st.sampled_from([0.02, 0.05, 0.2, 1.0]), label="cap scale")
    last = roll.sample(fraction=data.draw(st.floats(0.6, 1.0)), seed=seed)
    tonight = roll.sample(fraction=data.draw(st.floats(0.6, 1.0)), seed=seed + 1)
    # A few records change their name (so their blocks change) but keep their voter_id.
    n_changed = data.draw(st.integers(0, 30), label="changed names")
    idx = np.random.default_rng(seed).choice(tonight.height, size=n_changed, replace=False)
    changed = pl.int_range(pl.len()).is_in(idx.tolist())
    tonight = tonight.with_columns(pl.when(changed).then(pl.col("nama") + " X").otherwise(pl.col("nama"))
                                   .alias("nama"))
    (pairs, reports, keys), (want_pairs, want_reports), recs = _night(last, tonight, _passes(scale))
    assert pairs.equals(want_pairs)
    assert [dataclasses.asdict(r) for r in reports] == [dataclasses.asdict(r) for r in want_reports]
    assert keys.equals(reblock.keys_frame(recs, _passes(scale)))


def test_a_night_without_changes_blocks_again_only_the_oversized_blocks(roll: pl.DataFrame) -> None:
    passes = _passes(0.05)
    (pairs, reports, _), (want_pairs, want_reports), _ = _night(roll, roll, passes)
    assert pairs.equals(want_pairs) and pairs.height > 0
    assert [r.skipped_blocks for r in reports] == [r.skipped_blocks for r in want_reports]
    assert any(r.skipped_blocks for r in reports)


def test_the_nik_sub_key_of_a_pair_is_the_one_digit_or_swap_between_them() -> None:
    a = np.array([6408134505800001, 6408134505800001, 6408134505800001], dtype=np.uint64)
    b = np.array([6408134505900001, 6408143505800001, 6408134505800002], dtype=np.uint64)
    # digit 10 (0-based) differs; digits 5 and 6 swapped; a serial digit (beyond the first 12) differs
    assert reblock._sub_key_index(a, b, 12).tolist() == [20, 11, -1]


def test_nik_pairs_above_2_to_the_53_keep_their_sub_key_beside_records_without_a_nik(make_records) -> None:
    """Papua's NIKs (91..94) are above 2**53: with a record without a NIK in the roll, a float conversion would
    round them and put an old pair in another sub-block, which a new record made dirty: the pair was lost."""
    a, b = "9171010101199999", "9171010101159999"          # one digit apart (position 11): sub-key 22
    swap = "9171010101919999"                                # a's digits 10 and 11 swapped: a's sub-key 21
    rows = [{"nik": a, "nama": "YAKOB WENDA"}, {"nik": b, "nama": "YAKOB WENDA"}, {"nik": None, "nama": "MARIA"}]
    passes = [p for p in blocking.default_passes() if isinstance(p, blocking.NikEditPass)]
    last = make_records(rows)
    tonight = make_records([*rows, {"nik": swap, "nama": "YAKOBUS WENDA"}])
    pairs_last, _ = blocking.candidate_pairs(last, passes)
    assert pairs_last.height == 1
    mapped = np.arange(last.height, dtype=np.int64)      # v0..v2 keep their rids; v3 is new (sorted last)
    got, _, _ = reblock.candidate_pairs_since(tonight, passes, mapped=mapped, last_pairs=pairs_last,
                                              last_keys=reblock.keys_frame(last, passes))
    want, _ = blocking.candidate_pairs(tonight, passes)
    assert got.equals(want) and want.height == 2


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(data=st.data())
def test_blocking_spilled_to_parquet_equals_blocking_in_memory(roll: pl.DataFrame, tmp_path_factory, data) -> None:
    """Pairs spilled by range of rid_l and united a range at a time: the same pairs, masks, order and
    reports as in memory."""
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    passes = _passes(data.draw(st.sampled_from([0.05, 0.2, 1.0]), label="cap scale"))
    recs = _records(roll.sample(fraction=data.draw(st.floats(0.3, 1.0)), seed=seed))
    parts = data.draw(st.integers(1, 40), label="parts")
    spill = tmp_path_factory.mktemp("spill") / "pairs"
    got, got_reports = blocking.candidate_pairs_spilled(recs, passes, spill, parts)
    want, want_reports = blocking.candidate_pairs(recs, passes)
    assert got.lazy().collect().equals(want) and got.height == want.height > 0
    assert [dataclasses.asdict(r) for r in got_reports] == [dataclasses.asdict(r) for r in want_reports]
    assert 1 < len(got.parts) <= parts or parts == 1
    # Only the united parts are left, for the comparisons to read.
    assert sorted(p.relative_to(spill).parts[0] for p in spill.rglob("*.parquet")) == ["united"] * len(got.parts)
