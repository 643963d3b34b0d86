"""Ingest hands linkage its voters sorted by voter_id (so that linkage need not sort a second copy of the
roll), whatever the lists are called: also where one list's name is another's plus "-..." and their
voter_ids interleave."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dpt_pipeline.ingest.stage import _in_voter_id_order

NAMES = ["bandung", "bandung-barat", "kutim", "kutim-2", "a", "b"]


@settings(max_examples=80, deadline=None)
@given(lists=st.dictionaries(st.sampled_from(NAMES), st.lists(st.text("0123456789abcdef", min_size=2, max_size=4),
                                                            unique=True, max_size=12), min_size=1, max_size=4))
def test_the_voters_of_every_list_come_out_sorted_by_voter_id_and_none_is_lost(lists: dict[str, list[str]]) -> None:
    frames = [pl.DataFrame({"voter_id": [f"{name}-{h}" for h in hexes], "source": [name] * len(hexes)},
                           schema={"voter_id": pl.String, "source": pl.String}).sort("voter_id")
              for name, hexes in lists.items()]
    out = _in_voter_id_order(frames)
    assert out["voter_id"].is_sorted()
    assert sorted(out.rows()) == sorted(r for f in frames for r in f.rows())
