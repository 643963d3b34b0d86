"""A desa the region table does not know is keyed within its kabupaten and kecamatan: a TPS never holds
voters of two regencies, two kecamatan or two desa, however their names are spelt or repeated."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dpt_pipeline import tps

# Few names, so that the same desa name turns up in several kecamatan and the same kecamatan name in
# several kabupaten; None and blanks for the parts nobody wrote down.
KAB = st.sampled_from(["KUTAI TIMUR", "Kutai  Timur", "BONTANG", "kutai kartanegara", None, " "])
KEC = st.sampled_from(["TELUK PANDAN", "teluk pandan ", "SANGATTA", "MUARA|BADAK", None])
DESA = st.sampled_from(["SUMBER SARI", "Sumber\tSari", "SUKA DAMAI", "MUARA", "BADAK|MUARA", None, ""])


def _fold(x: str | None) -> str | None:
    """The part as a person reads it: spaces and case folded, empty as missing."""
    if x is None or not x.strip():
        return None
    return " ".join(x.split()).upper()


@settings(max_examples=60, deadline=None)
@given(triples=st.lists(st.tuples(KAB, KEC, DESA, st.integers(1, 40), st.integers(1, 4)), min_size=1, max_size=25),
       cap=st.sampled_from([600, 30]), seed=st.integers(0, 2**16))
def test_every_tps_holds_one_kabupaten_kecamatan_and_desa(triples: list[tuple[str | None, str | None, str | None,
                                                                               int, int]], cap: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for i, (kab, kec, desa, voters, kk_size) in enumerate(triples):
        for v in range(voters):
            rows.append({"voter_id": f"{i:02d}-{v:03d}", "kode_desa": None, "kode_kecamatan": None,
                         "kode_kabupaten": None, "kabupaten": kab, "kecamatan": kec, "desa": desa,
                         "nkk": f"K{i}-{v // kk_size}", "nkk_valid": bool(rng.random() > 0.1),
                         "rt": int(rng.integers(1, 4)), "rw": 1})
    voters = pl.DataFrame(rows, schema={"voter_id": pl.String, "kode_desa": pl.String, "kode_kecamatan": pl.String,
                                        "kode_kabupaten": pl.String, "kabupaten": pl.String, "kecamatan": pl.String,
                                        "desa": pl.String, "nkk": pl.String, "nkk_valid": pl.Boolean,
                                        "rt": pl.Int32, "rw": pl.Int32})
    r = tps.assign(voters, pl.DataFrame(schema=tps.COORDINATE_SCHEMA), cap)
    assert r.assignments.height == voters.height and r.assignments["voter_id"].is_unique().all()
    who = voters.select("voter_id", *[pl.col(c).map_elements(_fold, return_dtype=pl.String).alias(f"_{c}")
                                      for c in ("kabupaten", "kecamatan", "desa")])
    per_tps = (r.assignments.join(who, on="voter_id").group_by("kode_desa", "tps")
               .agg(pl.struct("_kabupaten", "_kecamatan", "_desa").n_unique().alias("places")))
    assert per_tps["places"].max() == 1
    # ... and two places are never one key: each key holds one (kabupaten, kecamatan, desa).
    per_key = r.assignments.join(who, on="voter_id").group_by("kode_desa").agg(
        pl.struct("_kabupaten", "_kecamatan", "_desa").n_unique().alias("places"))
    assert per_key["places"].max() == 1
    assert r.summary["voters"].max() <= cap


def test_sumber_sari_of_two_kabupaten_and_four_kecamatan_is_four_desa() -> None:
    places = [("KUTAI TIMUR", "TELUK PANDAN"), ("KUTAI TIMUR", "SANGATTA"), ("BONTANG", "BONTANG UTARA"),
              ("BONTANG", "TELUK PANDAN")]
    rows = [{"voter_id": f"{i}-{v}", "kode_desa": None, "kode_kecamatan": None, "kode_kabupaten": None,
             "kabupaten": kab, "kecamatan": kec, "desa": "SUMBER SARI", "nkk": f"{i}-{v}", "nkk_valid": True,
             "rt": 1, "rw": 1} for i, (kab, kec) in enumerate(places) for v in range(50)]
    voters = pl.DataFrame(rows, schema_overrides={"rt": pl.Int32, "rw": pl.Int32, "kode_desa": pl.String,
                                                  "kode_kecamatan": pl.String, "kode_kabupaten": pl.String})
    r = tps.assign(voters, pl.DataFrame(schema=tps.COORDINATE_SCHEMA), 600)
    assert sorted(r.quality["kode_desa"]) == ["desa:BONTANG|BONTANG UTARA|SUMBER SARI",
                                              "desa:BONTANG|TELUK PANDAN|SUMBER SARI",
                                              "desa:KUTAI TIMUR|SANGATTA|SUMBER SARI",
                                              "desa:KUTAI TIMUR|TELUK PANDAN|SUMBER SARI"]
    assert (r.quality["voters"] == 50).all()


def test_last_nights_tps_keyed_the_old_way_start_fresh_once() -> None:
    """Last night's rows under the old key (`desa:SUMBER SARI`) match no desa tonight: the desa is solved as
    new (its voters counted in no churn), and the night after it keeps its TPS."""
    rows = [{"voter_id": f"v{v:03d}", "kode_desa": None, "kode_kecamatan": "64.08.13", "kode_kabupaten": "64.08",
             "kabupaten": "KUTAI TIMUR", "kecamatan": "TELUK PANDAN", "desa": "SUMBER SARI", "nkk": f"K{v // 3}",
             "nkk_valid": True, "rt": 1 + v // 100, "rw": 1} for v in range(700)]
    voters = pl.DataFrame(rows, schema_overrides={"rt": pl.Int32, "rw": pl.Int32, "kode_desa": pl.String})
    none = pl.DataFrame(schema=tps.COORDINATE_SCHEMA)
    first = tps.assign(voters, none, 600)
    old = first.assignments.with_columns(pl.lit("desa:SUMBER SARI").alias("kode_desa"))
    fresh = tps.assign(voters, none, 600, previous=old)
    assert fresh.quality["kode_desa"].item() == "desa:64.08|64.08.13|SUMBER SARI"
    assert fresh.quality["voters_both_nights"].item() == 0
    again = tps.assign(voters, none, 600, previous=fresh.assignments)
    assert again.quality["moved"].item() == 0
