"""Score: symmetric, JSON round trip, EM on the sample; cluster: chain guard and the record to keep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dpt_pipeline.linkage import blocking as block
from dpt_pipeline.linkage import clustering as cluster
from dpt_pipeline.linkage import comparisons as compare
from dpt_pipeline.linkage import dpt, standardize
from dpt_pipeline.linkage import model as score

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Ingest and link the shipped sample once (ingest stage only, to keep this unit-level)."""
    from dpt_pipeline import ingest
    from dpt_pipeline.config import load_config

    cfg = load_config(ROOT / "config" / "pipeline.toml")
    voters = ingest.run(cfg).voters
    recs = standardize.prepare_records(standardize.standardize(voters))
    cset = dpt.dpt_comparisons()
    cands, _ = block.candidate_pairs(recs)
    compared = compare.compare(recs, cands, cset, slim=True)
    model = score.fit(compared, recs, cset, dpt.dpt_training(), random_pairs=50_000, seed=1)
    return recs, cset, cands, model


def test_score_is_symmetric(fitted) -> None:
    recs, cset, cands, model = fitted
    sample = cands.sample(2000, seed=3)
    ab = score.score(compare.compare(recs, sample, cset), recs, cset, model)["match_weight"].to_numpy()
    swapped = sample.select(pl.col("rid_r").alias("rid_l"), pl.col("rid_l").alias("rid_r"))
    ba = score.score(compare.compare(recs, swapped, cset), recs, cset, model)["match_weight"].to_numpy()
    np.testing.assert_allclose(ab, ba, rtol=0, atol=1e-9)


def test_model_json_round_trip(fitted, tmp_path: Path) -> None:
    recs, cset, cands, model = fitted
    path = tmp_path / "model.json"
    path.write_text(model.to_json())
    again = score.FellegiSunter.load(path, cset)     # a real fit passes every check of a model file
    sample = compare.compare(recs, cands.head(500), cset)
    a = score.score(sample, recs, cset, model)["match_probability"].to_numpy()
    b = score.score(sample, recs, cset, again)["match_probability"].to_numpy()
    np.testing.assert_allclose(a, b)


def test_em_learns_that_agreement_is_evidence(fitted) -> None:
    _, _, _, model = fitted
    weights = {c.name: dict(zip(c.codes, c.weights(), strict=True)) for c in model.comparisons}
    assert weights["nama"]["sama"] > 5 and weights["nama"]["beda"] < 0
    # The NIK's date digits are the date comparison's evidence: the NIK adds its region and serial.
    assert weights["nik"]["sama"] > 5 and weights["nik"]["sama"] > weights["nik"]["nomor_urut"]
    assert weights["nik"]["dua_nik"] < 0
    assert weights["tanggal_lahir"]["sama"] > weights["tanggal_lahir"]["tahun"] > weights["tanggal_lahir"]["beda"]
    assert weights["pola"]["kembar"] < -20    # fixed, not learned
    assert 0 < model.lambda_ < 1e-3           # a prior over all pairs


def test_pinned_model_for_other_comparisons_is_refused(fitted) -> None:
    from dpt_pipeline.errors import ConfigError

    _, cset, _, model = fitted
    model.comparisons[0].name = "renamed"
    try:
        with pytest.raises(ConfigError, match="refit"):
            model.check(cset)
    finally:
        model.comparisons[0].name = "nama"


def _records(n: int, extra: dict | None = None) -> pl.DataFrame:
    base = {"nik_kode_wilayah": "64.08.13", "nik_valid": True, "tanggal_lahir_valid": True}
    rows = [{"rid": i, "voter_id": f"v{i}", "kode_kabupaten": "64.08", **base, **(extra or {})} for i in range(n)]
    return pl.DataFrame(rows).with_columns(pl.col("rid").cast(pl.UInt32))


def test_chain_of_two_people_is_split() -> None:
    # A~B strong, B~C strong, but A and C clearly differ: A and C must not share a group.
    pairs = pl.DataFrame({"rid_l": [0, 1], "rid_r": [1, 2], "match_probability": [0.99, 0.9]},
                         schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32, "match_probability": pl.Float64})

    def score_fn(p: pl.DataFrame) -> pl.DataFrame:
        table = {(0, 1): 0.99, (1, 2): 0.9, (0, 2): 0.001}
        probs = [table[(a, b)] for a, b in p.select("rid_l", "rid_r").iter_rows()]
        return p.with_columns(pl.Series("match_probability", probs))

    groups = cluster.cluster(pairs, _records(3), score_fn)
    by_group = groups.group_by("group_id").agg("voter_id")
    members = [sorted(v) for v in by_group["voter_id"].to_list()]
    assert ["v0", "v1"] in members
    assert not any({"v0", "v2"} <= set(m) for m in members)


def test_keep_prefers_the_legal_side_of_the_border_then_the_nik_region() -> None:
    recs = pl.DataFrame({
        "rid": [0, 1, 2, 3], "voter_id": ["a", "b", "c", "d"],
        "kode_kabupaten": ["64.74", "64.08", "64.02", "64.74"],
        "nik_kode_wilayah": ["64.74.01", "64.74.01", "64.74.01", "64.74.01"],
        "nik_valid": [True] * 4, "tanggal_lahir_valid": [True] * 4,
        "_legal": [False, True, False, False],
    }).with_columns(pl.col("rid").cast(pl.UInt32))
    pairs = pl.DataFrame({"rid_l": [0, 2], "rid_r": [1, 3], "match_probability": [0.99, 0.99]},
                         schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32, "match_probability": pl.Float64})
    groups = cluster.cluster(pairs, recs, lambda p: p, keep_rules=cluster.default_keep_rules("_legal"))
    kept = dict(groups.filter("keep").select("group_id", "voter_id").iter_rows())
    assert set(kept.values()) == {"b", "d"}      # Sidrap: Kutim's record; else where the NIK was issued
    reasons = groups.filter("keep")["reason"].to_list()
    assert any("batas wilayah" in r for r in reasons) and any("asal NIK" in r for r in reasons)
    assert groups.filter(~pl.col("keep"))["reason"].str.contains("menunggu keputusan").all()


def test_twins_in_the_sample_are_never_one_person(fitted) -> None:
    recs, cset, cands, model = fitted
    scored = score.score(compare.compare(recs, cands, cset, slim=True), recs, cset, model)
    kembar = cset.level_index("pola", "kembar")
    twins = scored.filter(pl.col("lvl_pola") == kembar)
    assert twins.height > 0
    assert (twins["match_probability"] < 0.5).all()


def test_border_report(fitted) -> None:
    from dpt_pipeline.config import BorderArea, BorderSide
    from dpt_pipeline.outputs import border

    area = BorderArea("Sidrap", [BorderSide("64.08.13.2006", 19, 25), BorderSide("64.74.01.1004", 19, 25)], "64.08")
    voters = pl.DataFrame({"voter_id": ["k1", "k2", "b1", "x"], "source": ["kutim", "kutim", "bontang", "kutim"],
                           "kode_desa": ["64.08.13.2006", "64.08.13.2006", "64.74.01.1004", "64.08.13.2006"],
                           "rt": [19, 20, 21, 3]}, schema_overrides={"rt": pl.Int32})
    pairs = pl.DataFrame({"voter_id_l": ["b1"], "voter_id_r": ["k1"], "match_probability": [0.97]})
    rep = border.border_report(voters, pairs, [area])
    status = dict(rep.select("voter_id", "status").iter_rows())
    assert status == {"k1": border.BOTH, "k2": border.ONE, "b1": border.BOTH}  # x lives outside RT 19-25


def test_split_chain_parts_never_join_another_group() -> None:
    # 0-1 and 1-2 strong but 0 and 2 two people; 3-4 a separate pair. The split must not reuse 3-4's label.
    pairs = pl.DataFrame({"rid_l": [0, 1, 3], "rid_r": [1, 2, 4], "match_probability": [0.9, 0.8, 0.9]},
                         schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32, "match_probability": pl.Float64})

    def score_fn(p: pl.DataFrame) -> pl.DataFrame:
        table = {(0, 1): 0.9, (1, 2): 0.8, (0, 2): 0.01}
        return p.with_columns(pl.Series("match_probability", [table[(a, b)] for a, b in
                                                              p.select("rid_l", "rid_r").iter_rows()]))

    groups = cluster.cluster(pairs, _records(5), score_fn)
    members = sorted(sorted(v) for v in groups.group_by("group_id").agg("voter_id")["voter_id"].to_list())
    assert members == [["v0", "v1"], ["v3", "v4"]]


def test_compare_on_coded_strings_equals_compare_on_strings(fitted, monkeypatch) -> None:
    """Large pair sets are compared on integer codes of the strings, a chunk at a time: the levels must be
    those of the plain pair frame, for candidates and for random pairs (nulls, unlike values)."""
    recs, cset, cands, _ = fitted
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, recs.height, 20_000), rng.integers(0, recs.height, 20_000)
    keep = a != b
    randoms = pl.DataFrame({"rid_l": np.minimum(a, b)[keep], "rid_r": np.maximum(a, b)[keep]}).cast(pl.UInt32)
    pairs = pl.concat([cands.select("rid_l", "rid_r"), randoms]).unique(maintain_order=True)
    levels = [c.level_column for c in cset.comparisons]
    plain = compare.compare(recs, pairs, cset).select("rid_l", "rid_r", *levels)
    monkeypatch.setattr(compare, "CODE_FROM", 0)
    coded = compare.compare(recs, pairs, cset, slim=True, chunk_size=7_000).select("rid_l", "rid_r", *levels)
    assert coded.equals(plain)
    # The comparisons reach several levels here, so equality is not that of two constant columns.
    assert all(plain[c].n_unique() >= 3 for c in ("lvl_nama", "lvl_nik", "lvl_tanggal_lahir"))
