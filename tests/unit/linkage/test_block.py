"""Blocking: passes find what they are for, and no pass explodes on placeholder dates or common names."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dpt_pipeline.linkage import blocking as block


def _pairs(make_records, rows, passes=None):
    recs = make_records(rows)
    pairs, reports = block.candidate_pairs(recs, passes)
    return recs, pairs, {r.name: r for r in reports}


def test_nik_slip_and_swap_are_candidates(make_records) -> None:
    rows = [{"nik": "6408134505800001", "nama": "ANI"},
            {"nik": "6408134505800001", "nama": "INA"},         # same NIK
            {"nik": "6408124505800001", "nama": "UNI"},         # one digit of the region code
            {"nik": "6408134505080001", "nama": "ENI"},         # two digits of the year swapped
            {"nik": "6474011203850011", "nama": "ONI"}]         # unrelated
    # The NIK passes (the rows share a birth date, place and sex, which other passes pair).
    recs, pairs, reports = _pairs(make_records, rows, [p for p in block.default_passes() if p.name.startswith("nik")])
    got = {tuple(sorted((recs["nama"][a], recs["nama"][b]))) for a, b in pairs.select("rid_l", "rid_r").iter_rows()}
    assert ("ANI", "INA") in got and ("ANI", "UNI") in got and ("ANI", "ENI") in got
    assert not any("ONI" in p for p in got)
    assert reports["nik"].pairs == 1


def test_placeholder_date_and_common_name_do_not_explode(make_records) -> None:
    # 400 women called SITI AMINAH born on the placeholder date 01-07-1970, all with different NIKs.
    rows = [{"nama": "SITI AMINAH", "jenis_kelamin": "P", "tanggal_lahir": dt.date(1970, 7, 1),
             "nik": f"64081341077{i:05d}", "nkk": None} for i in range(1, 401)]
    recs, pairs, reports = _pairs(make_records, rows)
    assert pairs.height < 400 * 399 // 2          # not every pair
    for r in reports.values():
        assert r.pairs <= 100 * 99 // 2 * 4, r     # capped blocks
    assert reports["tanggal_nama"].skipped_blocks >= 1
    assert reports["tanggal_nama"].largest_blocks[0] == 400   # the report shows the block it refused


def test_pairs_are_ordered_and_unique(make_records) -> None:
    rows = [{"nama": "BUDI", "nik": "6408130505800001"}, {"nama": "BUDI", "nik": "6408130505800001"},
            {"nama": "BUDI", "nik": "6408130505800001"}]
    recs, pairs, _ = _pairs(make_records, rows)
    assert (pairs["rid_l"] < pairs["rid_r"]).all()
    assert pairs.select("rid_l", "rid_r").is_duplicated().sum() == 0
    names = block.default_passes()
    mask = pairs["pass_mask"][0]
    assert "nik" in pairs.select(block.pass_names(pl.lit(mask), names)).item().split(",")
    # rid follows voter_id
    assert recs.sort("rid")["voter_id"].to_list() == sorted(recs["voter_id"].to_list())


def test_a_pass_yields_each_pair_once_also_from_refined_blocks(make_records) -> None:
    """Blocks small enough are joined whole, larger ones split by the refine keys: no pair comes out of
    both, and `new_pairs` adds up to the united pairs."""
    # 60 people born on one day whose names start alike (one block of tanggal_nama over its cap of 50,
    # refined by the last word's sound), and 10 more on another day (a small block).
    rows = [{"nama": f"SITI {'AMINAH' if i % 2 else 'RAHMA'}", "jenis_kelamin": "P",
             "tanggal_lahir": dt.date(1980, 3, 4), "nik": None, "nkk": None} for i in range(60)]
    rows += [{"nama": "SITI NUR", "jenis_kelamin": "P", "tanggal_lahir": dt.date(1981, 3, 4), "nik": None,
              "nkk": None} for _ in range(10)]
    recs = make_records(rows)
    p = next(x for x in block.default_passes() if x.name == "tanggal_nama")
    pairs, report = block._run_key_pass(recs, p)
    assert report.largest_blocks[0] == 60 and report.skipped_blocks == 0
    assert pairs.height == 2 * (30 * 29 // 2) + 10 * 9 // 2
    assert pairs.is_duplicated().sum() == 0
    united, reports = block.candidate_pairs(recs)
    assert sum(r.new_pairs for r in reports) == united.height


def test_a_row_without_sex_meets_its_duplicate_through_the_nik_sex(make_records) -> None:
    """tanggal_nama is keyed on the sex: a row whose sex was left blank takes the NIK's (here a man's,
    day 03 < 40), so that it still meets its duplicate, whose day and month are swapped."""
    rows = [{"nama": "SUPRIADI", "jenis_kelamin": "L", "tanggal_lahir": dt.date(1980, 3, 4), "nik": None},
            {"nama": "SUPRIADI", "jenis_kelamin": None, "tanggal_lahir": dt.date(1980, 4, 3),
             "nik": "6408130304800001", "nik_jenis_kelamin": "L"}]
    recs, pairs, reports = _pairs(make_records, rows)
    assert reports["tanggal_nama"].pairs == 1
    assert pairs.height == 1


def test_a_placeholder_date_meets_its_double_by_name_and_year(make_records) -> None:
    rows = [{"nama": "SYAHRANI", "tanggal_lahir": dt.date(1989, 11, 18), "tempat_lahir": "BONE"},
            {"nama": "SYAHRANI", "tanggal_lahir": dt.date(1989, 12, 31), "tempat_lahir": "SOPPENG"},  # placeholder
            {"nama": "SYAHRANI", "tanggal_lahir": dt.date(1989, 3, 2), "tempat_lahir": "WAJO"}]
    recs, pairs, reports = _pairs(make_records, rows)
    got = set(pairs.filter(block.pass_names(pl.col("pass_mask"), block.default_passes())
                           .str.contains("placeholder_nama_tahun")).select("rid_l", "rid_r").iter_rows())
    # Each record with a real date meets the placeholder; the two real dates do not meet through it.
    assert got == {(0, 1), (1, 2)}
    assert reports["placeholder_nama_tahun"].pairs == 2


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 12), max_size=25), chunk=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_block_pairs_are_every_pair_within_each_block_once(sizes: list[int], chunk: int, seed: int) -> None:
    """Blocks of any sizes (one record included), cut into chunks of any size: each pair of records of
    one block once, with rid_l < rid_r, and none across blocks."""
    rng = np.random.default_rng(seed)
    rids = rng.permutation(max(sum(sizes), 1) * 3)[:sum(sizes)].astype(np.uint32)
    blocks, at = [], 0
    for n in sizes:
        blocks.append(np.sort(rids[at:at + n]))
        at += n
    flat = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.uint32)
    got = block.block_pairs(flat, np.array(sizes, dtype=np.int64), chunk=chunk)
    want = sorted((int(a), int(b)) for b_ in blocks for a, b in itertools.combinations(b_, 2))
    assert got.schema == pl.Schema(block.PAIR_SCHEMA)
    assert sorted(got.iter_rows()) == want
