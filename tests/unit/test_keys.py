"""The keys every stage agrees on (core.keys): the desa keys and the pair id."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dpt_pipeline.core.keys import desa_key, pair_ids, tps_desa_key


def _keys(desa: list[str | None], kode: list[str | None] | None = None) -> pl.DataFrame:
    n = len(desa)
    columns = {"kode_desa": kode or [None] * n, "desa": desa, "kode_kecamatan": [None] * n,
               "kecamatan": ["TELUK PANDAN"] * n, "kode_kabupaten": [None] * n, "kabupaten": [None] * n}
    frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
    return frame.select(desa_key().alias("link"), tps_desa_key().alias("tps"))


def test_a_code_is_the_key_of_both() -> None:
    k = _keys(["Sangatta Utara", None], ["64.08.04.2001", "64.08.04.2001"])
    assert k["link"].to_list() == k["tps"].to_list() == ["64.08.04.2001"] * 2


def test_the_linkage_compares_names_as_the_region_table_matches_them() -> None:
    k = _keys(["Suka Maju", "SUKAMAJU", "suka-maju", "Suka Damai"])
    assert k["link"].to_list()[:3] == ["SUKAMAJU"] * 3 and k["link"][3] != "SUKAMAJU"


def test_the_tps_key_is_the_name_as_written_and_an_unnamed_desa_stays_in_its_kecamatan() -> None:
    k = _keys(["Kampung  Baru", "KAMPUNG\tBARU", None, "  "])
    assert k["tps"].to_list() == ["desa:?|TELUK PANDAN|KAMPUNG BARU", "desa:?|TELUK PANDAN|KAMPUNG BARU",
                                  "desa:?|TELUK PANDAN|?", "desa:?|TELUK PANDAN|?"]


VOTER_ID = st.text(alphabet="0123456789abcdef", min_size=1, max_size=16)   # voter ids are hex (md5)


@settings(deadline=None)   # the first call starts DuckDB (md5)
@given(st.lists(st.tuples(VOTER_ID, VOTER_ID), min_size=1, max_size=30))
def test_a_pair_id_is_the_same_for_the_same_two_records_and_differs_between_pairs(pairs) -> None:
    frame = pl.DataFrame(pairs, schema=["voter_id_l", "voter_id_r"], orient="row")
    ids = pair_ids(frame)
    assert ids.equals(pair_ids(frame)) and ids.str.len_chars().eq(16).all()
    distinct = frame.unique().height
    assert frame.with_columns(ids).unique("pair_id").height == distinct
