"""`dpt evaluate` on a hand-made database, truth file and cache: exact figures per case, blocking recall,
listed share and review load."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dpt_pipeline.evaluate import HARD_NEGATIVES, evaluate, format_report
from dpt_pipeline.linkage.incremental import IDS_FILE, PAIRS_FILE

# voter -> (person, case); v17 is in the database but not in the truth file
PEOPLE = {
    "v01": ("P1", "duplikat_asal"), "v02": ("P1", "duplikat_lintas"),
    "v03": ("P2", "duplikat_asal"), "v04": ("P2", "dua_nik"),
    "v05": ("P3", "duplikat_asal"), "v06": ("P3", "tanpa_nik"),
    "v07": ("P4", "duplikat_asal"), "v08": ("P4", "lain"),          # a case name the generator does not use
    "v09": ("P5", "duplikat_asal"), "v10": ("P5", "dua_salah"), "v11": ("P5", "duplikat_dalam"),
    "v12": ("P6", "kembar"), "v13": ("P7", "kembar"),
    "v14": ("P8", "nama_umum"), "v15": ("P9", "nama_umum"),
    "v16": ("P10", "unik"),
}
VOTERS = [*PEOPLE, "v17"]
LISTED = [  # duplicate_pairs: everything at or above the review threshold
    ("v01", "v02", 0.90), ("v03", "v04", 0.30), ("v09", "v10", 0.95), ("v09", "v11", 0.80),
    ("v12", "v13", 0.60), ("v14", "v15", 0.25), ("v01", "v16", 0.40),
]
GROUPS = [("g1", "v01"), ("g1", "v02"), ("g2", "v09"), ("g2", "v10"), ("g2", "v11"), ("g3", "v12"), ("g3", "v13")]
# candidates: the listed pairs, true pairs compared but not listed, and a pair of strangers; (v07, v08) is not
CANDIDATES = [(a, b) for a, b, _ in LISTED] + [("v05", "v06"), ("v10", "v11"), ("v02", "v03")]


MARTADINATA, GUNTUNG = "64.08.13.2006", "64.74.01.1004"
# where some voters live: P1 and P2 across the Sidrap line (RT 19-25 on both sides), P3 outside its RTs
PLACES = {"v01": (MARTADINATA, 20), "v02": (GUNTUNG, 21), "v03": (MARTADINATA, 19), "v04": (GUNTUNG, 25),
          "v05": (MARTADINATA, 22), "v06": (GUNTUNG, 30)}


def _write(tmp: Path, cache: bool = True) -> tuple[Path, Path, Path]:
    db = tmp / "dpt.duckdb"
    voters = pl.DataFrame({"voter_id": VOTERS, "source": ["kutim"] * len(VOTERS),
                           "source_row": list(range(1, len(VOTERS) + 1)),
                           "kode_desa": [PLACES.get(v, (None, None))[0] for v in VOTERS],
                           "rt": [PLACES.get(v, (None, None))[1] for v in VOTERS]})
    pairs = pl.DataFrame(LISTED, schema=["voter_id_l", "voter_id_r", "match_probability"], orient="row")
    groups = pl.DataFrame(GROUPS, schema=["group_id", "voter_id"], orient="row")
    with duckdb.connect(str(db)) as con:
        for name, frame in (("voters", voters), ("duplicate_pairs", pairs), ("duplicate_groups", groups)):
            con.register("f", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM f")
            con.unregister("f")
    truth = tmp / "truth.csv"
    rows = [("kutim", i, *PEOPLE[v]) for i, v in enumerate(VOTERS, start=1) if v in PEOPLE]
    rows.append(("kutim", 99, None, "rusak"))   # a reject: no voter, no person
    pl.DataFrame(rows, schema=["source", "source_row", "person_id", "case"], orient="row").write_csv(truth)
    folder = tmp / "cache"
    if cache:
        folder.mkdir()
        ids = sorted(VOTERS)
        rid = {v: i for i, v in enumerate(ids)}
        pl.DataFrame({"voter_id": ids}).write_parquet(folder / IDS_FILE)
        pl.DataFrame({"rid_l": [rid[a] for a, _ in CANDIDATES], "rid_r": [rid[b] for _, b in CANDIDATES],
                      "lvl_nama": [1] * len(CANDIDATES)},
                     schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32, "lvl_nama": pl.Int8}
                     ).write_parquet(folder / PAIRS_FILE)
    return db, truth, folder


def test_figures_per_case_blocking_and_review_load(tmp_path: Path) -> None:
    db, truth, cache = _write(tmp_path)
    ev = evaluate(db, truth, cache_dir=cache)
    # 7 true pairs: P1-P4 one each, P5 three; 4 claimed (>= 0.5), 3 of them true
    assert (ev.pairs.true_pairs, ev.pairs.claimed, ev.pairs.true_positives) == (7, 4, 3)
    assert (ev.pairs.precision, ev.pairs.recall) == (0.75, 0.4286)
    assert (ev.groups.claimed, ev.groups.true_positives) == (5, 4)
    assert ev.listed_share == 0.5714 and ev.never_listed == 3 and ev.true_pairs_not_candidates == 3
    assert ev.blocking_recall == 0.8571 and ev.not_candidates == 1 and ev.blocking_note is None
    assert ev.candidate_pairs == 10 and ev.candidates_per_record == 0.588   # 10 / 17 voters
    rl = ev.review_load
    assert rl is not None
    assert (rl.voters, rl.listed_pairs, rl.to_decide_pairs) == (17, 7, 3)
    assert rl.listed_per_1000_voters == 411.765 and rl.listed_true_share == 0.5714
    assert rl.to_decide_per_1000_voters == 176.471 and rl.to_decide_true_share == 0.3333
    got = {c: (f.true_pairs, f.candidates, f.listed, f.claimed, f.recall, f.listed_share)
           for c, f in ev.by_case.items() if not f.hard_negative}
    assert got == {
        "duplikat_lintas": (1, 1, 1, 1, 1.0, 1.0),
        "dua_nik": (1, 1, 1, 0, 0.0, 1.0),
        "tanpa_nik": (1, 1, 0, 0, 0.0, 0.0),
        "lain": (1, 0, 0, 0, 0.0, 0.0),
        "dua_salah": (2, 2, 1, 1, 0.5, 0.5),        # (v09, v10), and (v10, v11): two copies, the left's case
        "duplikat_dalam": (1, 1, 1, 1, 1.0, 1.0),
    }
    hard = {c: (f.true_pairs, f.wrong_candidates, f.wrong_listed, f.wrong_claimed, f.recall)
            for c, f in ev.by_case.items() if f.hard_negative}
    assert hard == {"kembar": (0, 1, 1, 1, None), "nama_umum": (0, 1, 1, 0, None)}   # only those in the truth
    assert ev.hard_negatives_claimed == {"kembar": 1, "ayah_anak": 0, "nik_salinan": 0, "nama_umum": 0}
    assert ev.hard_negative_pairs == {"kembar": 1, "ayah_anak": 0, "nik_salinan": 0, "nama_umum": 1}
    assert set(ev.hard_negatives_claimed) == set(HARD_NEGATIVES)
    # the report and the JSON carry it all
    text = format_report(ev)
    assert "blocking recall: 0.8571" in text and "0.588 per record" in text
    assert "dua_salah" in text and "lain" in text and "kembar" in text
    d = json.loads(json.dumps(ev.to_dict()))
    for key in ("pairs", "groups", "hard_negatives_claimed", "listed_share", "never_listed", "blocking_recall",
                "candidate_pairs", "candidates_per_record", "review_load", "by_case"):
        assert key in d, key
    assert d["by_case"]["dua_nik"]["listed"] == 1 and d["review_load"]["to_decide_pairs"] == 3


def test_without_the_cache_blocking_is_unknown(tmp_path: Path) -> None:
    db, truth, cache = _write(tmp_path, cache=False)
    for ev in (evaluate(db, truth, cache_dir=cache), evaluate(db, truth)):
        assert ev.blocking_recall is None and ev.candidate_pairs is None and ev.candidates_per_record is None
        assert ev.not_candidates is None and ev.blocking_note == "no cache"
        assert all(f.candidates is None for f in ev.by_case.values())
        assert ev.by_case["kembar"].wrong_candidates is None and ev.by_case["kembar"].wrong_listed == 1
        assert ev.listed_share == 0.5714 and ev.by_case["dua_salah"].claimed == 1   # the rest as before
        assert "blocking recall: unknown (no cache)" in format_report(ev)


def test_a_cache_of_other_voters_is_not_used(tmp_path: Path) -> None:
    db, truth, cache = _write(tmp_path)
    pl.DataFrame({"voter_id": [f"x{i:02d}" for i in range(len(VOTERS))]}).write_parquet(cache / IDS_FILE)
    ev = evaluate(db, truth, cache_dir=cache)
    assert ev.blocking_recall is None and ev.blocking_note is not None and "other voters" in ev.blocking_note


@pytest.mark.parametrize("threshold", [0.25, 0.5])
def test_the_claim_threshold_moves_claimed_and_to_decide(tmp_path: Path, threshold: float) -> None:
    db, truth, cache = _write(tmp_path)
    ev = evaluate(db, truth, threshold=threshold, cache_dir=cache)
    assert ev.review_load is not None
    assert ev.pairs.claimed + ev.review_load.to_decide_pairs == len(LISTED)
    assert ev.by_case["dua_nik"].claimed == (1 if threshold < 0.3 else 0)


def test_figures_across_a_border_area(tmp_path: Path) -> None:
    from dpt_pipeline.config import BorderArea, BorderSide

    db, truth, cache = _write(tmp_path)
    sidrap = BorderArea("Dusun Sidrap", [BorderSide(MARTADINATA, 19, 25), BorderSide(GUNTUNG, 19, 25)], "64.08")
    ev = evaluate(db, truth, cache_dir=cache, border_areas=[sidrap])
    f = ev.by_area["Dusun Sidrap"]
    # P1 (claimed) and P2 (listed at 0.30) lie across the line; P3's second record is outside its RTs
    assert (f.true_pairs, f.candidates, f.listed, f.claimed) == (2, 2, 2, 1)
    assert (f.recall, f.listed_share) == (0.5, 1.0)
    assert "border area Dusun Sidrap: 2 true pairs across its sides, 1 claimed (0.5000)" in format_report(ev)
