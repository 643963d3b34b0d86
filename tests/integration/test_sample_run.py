"""The whole pipeline on the shipped sample data, checked against the generator's truth file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dpt_pipeline import pipeline
from dpt_pipeline.config import OutputConfig, load_config
from dpt_pipeline.core.schema import REJECT_SCHEMA, VOTER_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def run_db(tmp_path_factory) -> Path:
    cfg = load_config(ROOT / "config" / "pipeline.toml")
    out = tmp_path_factory.mktemp("reports")
    cfg = dataclasses.replace(cfg, output=OutputConfig(dir=out))
    result = pipeline.run(cfg)
    assert result.database.exists()
    return result.database


@pytest.fixture(scope="module")
def truth() -> pl.DataFrame:
    return pl.read_csv(SAMPLE / "truth.csv", infer_schema=False).with_columns(pl.col("source_row").cast(pl.Int64))


def _q(db: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).pl()


def test_tables_follow_the_contract(run_db: Path) -> None:
    voters = _q(run_db, "SELECT * FROM voters LIMIT 1")
    assert list(voters.columns) == list(VOTER_SCHEMA)
    assert dict(_q(run_db, "SELECT * FROM voters LIMIT 0").schema) == VOTER_SCHEMA
    assert list(_q(run_db, "SELECT * FROM rejects LIMIT 0").columns) == list(REJECT_SCHEMA)


def test_every_data_row_is_a_voter_or_a_reject_per_source(run_db: Path, truth: pl.DataFrame) -> None:
    got = _q(run_db, "SELECT source, source_row, 'voter' AS got FROM voters "
                     "UNION ALL SELECT source, source_row, 'reject' FROM rejects")
    assert got.select("source", "source_row").is_duplicated().sum() == 0
    per_source = got.group_by("source").len().sort("source")
    expected = truth.group_by("source").len().sort("source")
    assert per_source.equals(expected)
    summary = _q(run_db, "SELECT source, data_rows, voters + rejects AS total FROM ingest_summary ORDER BY 1")
    assert summary["data_rows"].to_list() == summary["total"].to_list() == expected["len"].to_list()


def test_rows_are_rejected_exactly_where_the_truth_says(run_db: Path, truth: pl.DataFrame) -> None:
    got = _q(run_db, "SELECT source, source_row, 'voter' AS got FROM voters "
                     "UNION ALL SELECT source, source_row, 'reject' FROM rejects")
    j = truth.join(got, on=["source", "source_row"], how="left")
    wrong = j.filter(pl.col("expect") != pl.col("got"))
    assert wrong.height == 0, wrong.select("source", "source_row", "corruption", "got").head(10)
    assert j.filter(pl.col("expect") == "reject").height > 0


def test_damaged_nik_rows_are_voters_with_their_problem(run_db: Path, truth: pl.DataFrame) -> None:
    v = _q(run_db, "SELECT source, source_row, nik_valid, nik_masalah FROM voters")
    excel = truth.filter(pl.col("corruption").str.contains("nik_excel")).join(v, on=["source", "source_row"])
    assert excel.height > 0
    assert excel["nik_masalah"].unique().to_list() == ["rusak oleh Excel (notasi ilmiah)"]


def test_ids_are_unique_and_the_same_on_a_second_run(run_db: Path, tmp_path: Path) -> None:
    first = _q(run_db, "SELECT source, source_row, voter_id FROM voters ORDER BY 1, 2")
    assert first["voter_id"].n_unique() == first.height
    cfg = load_config(ROOT / "config" / "pipeline.toml")
    again = pipeline.run(dataclasses.replace(cfg, output=OutputConfig(dir=tmp_path)), stages=("ingest",))
    second = _q(again.database, "SELECT source, source_row, voter_id FROM voters ORDER BY 1, 2")
    assert first.equals(second)


def test_regions_resolve_for_nearly_all_rows(run_db: Path) -> None:
    s = _q(run_db, "SELECT avg((kode_desa IS NOT NULL)::INT) AS share, "
                   "count(*) FILTER (WHERE kode_desa IS NULL) AS unknown FROM voters")
    assert s["share"].item() > 0.99
    assert s["unknown"].item() > 0  # the sample holds unknown desa names on purpose; they are kept


def test_duplicate_pairs_follow_the_contract(run_db: Path) -> None:
    pairs = _q(run_db, "SELECT * FROM duplicate_pairs")
    assert pairs.height > 0
    for col in ("pair_id", "voter_id_l", "voter_id_r", "match_probability", "match_weight", "alasan", "scope",
                "nama", "nik", "tanggal_lahir", "tempat_lahir", "jenis_kelamin", "keluarga", "pola"):
        assert col in pairs.columns, col
    assert (pairs["voter_id_l"] < pairs["voter_id_r"]).all()
    assert pairs["pair_id"].n_unique() == pairs.height
    assert set(pairs["scope"].unique()) == {"dalam", "lintas"}
    assert (pairs["match_probability"] >= 0.05).all()      # the default review threshold
    assert pairs["alasan"].str.len_chars().min() > 0
    groups = _q(run_db, "SELECT group_id, count(*) n, sum(keep::INT) kept FROM duplicate_groups GROUP BY 1")
    assert (groups["n"] >= 2).all() and (groups["kept"] == 1).all()


def test_linkage_quality_on_the_sample(run_db: Path) -> None:
    from dpt_pipeline.evaluate import evaluate

    ev = evaluate(run_db, SAMPLE / "truth.csv")
    # Claimed recall stays below the listed share by design: a person with two NIKs is held for review.
    assert ev.pairs.precision >= 0.98 and ev.pairs.recall >= 0.93, ev
    assert ev.listed_share >= 0.98, ev
    two_niks = ev.by_case["dua_nik"]
    assert two_niks.listed_share == 1.0 and two_niks.claimed < two_niks.true_pairs
    assert sum(ev.hard_negatives_claimed.values()) == 0, ev.hard_negatives_claimed


def test_copied_niks_are_reported_not_grouped(run_db: Path, truth: pl.DataFrame) -> None:
    conflicts = _q(run_db, "SELECT c.*, vl.source AS s_l, vl.source_row AS r_l FROM nik_conflicts c "
                           "JOIN voters vl ON vl.voter_id = c.voter_id_l")
    assert conflicts.height > 0 and (conflicts["match_probability"] < 0.5).all()
    cases = conflicts.join(truth, left_on=["s_l", "r_l"], right_on=["source", "source_row"])["case"]
    assert (cases == "nik_salinan").any()


def test_pair_ids_are_stable_across_runs(run_db: Path, tmp_path: Path) -> None:
    cfg = load_config(ROOT / "config" / "pipeline.toml")
    again = pipeline.run(dataclasses.replace(cfg, output=OutputConfig(dir=tmp_path)), stages=("ingest", "link"))
    a = _q(run_db, "SELECT pair_id, voter_id_l, voter_id_r FROM duplicate_pairs ORDER BY 1")
    b = _q(again.database, "SELECT pair_id, voter_id_l, voter_id_r FROM duplicate_pairs ORDER BY 1")
    assert a.equals(b)


def test_sidrap_border_report(run_db: Path) -> None:
    rep = _q(run_db, "SELECT kode_desa, status, count(*) n FROM border_residents GROUP BY ALL")
    assert set(rep["kode_desa"]) == {"64.08.13.2006", "64.74.01.1004"}
    both = rep.filter(pl.col("status") == "terdaftar di dua sisi")["n"]
    assert both.sum() >= 60 * 2   # the sample registers at least 60 Sidrap residents on both sides
    kept = _q(run_db, "SELECT v.kode_kabupaten FROM duplicate_groups g JOIN voters v USING (voter_id) "
                      "JOIN border_residents b USING (voter_id) WHERE g.keep AND b.status = 'terdaftar di dua sisi'")
    assert (kept["kode_kabupaten"] == "64.08").all()   # Kutim's record is the one recommended to keep


def test_border_csv_opens_in_excel_and_holds_no_nik(run_db: Path) -> None:
    path = run_db.parent / "border" / "dusun-sidrap.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\r\n" if b"\r\n" in raw else b"\n")[0].decode()
    assert header.split(";")[:3] == ["area", "source", "source_row"]
    assert "nik" not in header.split(";") and "nama" not in header.split(";")
    rows = pl.read_csv(path, separator=";")
    assert rows.height == _q(run_db, "SELECT count(*) n FROM border_residents")["n"].item()


def test_a_pinned_model_gives_the_same_scores(run_db: Path, tmp_path: Path) -> None:
    pinned = tmp_path / "pinned.json"
    pinned.write_text((run_db.parent / "model.json").read_text())
    text = (ROOT / "config" / "pipeline.toml").read_text().replace('dir = "../reports"', f'dir = "{tmp_path / "out"}"')
    text = text.replace("[linkage]\n", f'[linkage]\nmodel = "{pinned}"\n').replace("[tps]\n", "[tps]\nmaps = false\n")
    text = text.replace('"../sample_data/', f'"{ROOT / "sample_data"}/').replace(
        'regions = "regions.csv"', f'regions = "{ROOT / "dpt_pipeline" / "core" / "regions.csv"}"')
    cfg_path = tmp_path / "pinned.toml"
    cfg_path.write_text(text)
    again = pipeline.run(load_config(cfg_path))
    a = _q(run_db, "SELECT pair_id, round(match_probability, 9) p FROM duplicate_pairs ORDER BY 1")
    b = _q(again.database, "SELECT pair_id, round(match_probability, 9) p FROM duplicate_pairs ORDER BY 1")
    assert a.equals(b)


def test_every_voter_has_one_tps_in_their_desa_within_the_rules(run_db: Path) -> None:
    a = _q(run_db, "SELECT a.*, v.kode_desa AS voter_desa, v.nkk, v.nkk_valid FROM tps_assignments a "
                   "JOIN voters v USING (voter_id)")
    assert a.height == _q(run_db, "SELECT count(*) n FROM voters")["n"].item()   # no decisions yet: all vote
    assert a["voter_id"].is_unique().all()
    assert (a["kode_desa"] == a["voter_desa"]).all()
    assert a.filter(pl.col("nkk_valid")).group_by("kode_desa", "nkk").agg(pl.col("tps").n_unique())["tps"].max() == 1
    s = _q(run_db, "SELECT * FROM tps_summary")
    assert s["voters"].max() <= 600 and s["voters"].sum() == a.height
    q = _q(run_db, "SELECT * FROM tps_quality")
    assert q["over_cap"].sum() == 0 and q["split_households"].sum() == 0
    assert (q["tps"] == q["tps_minimum"]).all()
    assert set(q["kode_desa"]) == set(s["kode_desa"])


def test_dpt_tps_maps_the_published_voters_again_and_keeps_the_rest(run_db: Path, tmp_path: Path) -> None:
    import shutil

    from dpt_pipeline import cli

    shutil.copytree(run_db.parent, tmp_path / "out")   # this test changes the database: work on a copy
    run_db = tmp_path / "out" / run_db.name
    text = (ROOT / "config" / "pipeline.toml").read_text().replace('dir = "../reports"', f'dir = "{run_db.parent}"')
    text = text.replace('"../sample_data/', f'"{SAMPLE}/').replace(
        'regions = "regions.csv"', f'regions = "{ROOT / "dpt_pipeline" / "core" / "regions.csv"}"')
    cfg = tmp_path / "p.toml"
    cfg.write_text(text)
    before = _q(run_db, "SELECT count(*) n FROM duplicate_pairs")["n"].item()
    first = _q(run_db, "SELECT voter_id, tps FROM tps_assignments")
    assert cli.main(["tps", "--config", str(cfg), "--quiet"]) == 0
    after = _q(run_db, "SELECT voter_id, tps FROM tps_assignments")
    assert after.sort("voter_id").equals(first.sort("voter_id"))        # same voters: nobody moves
    assert _q(run_db, "SELECT count(*) n FROM duplicate_pairs")["n"].item() == before
    q = _q(run_db, "SELECT sum(moved) m, sum(voters_both_nights) b FROM tps_quality")
    assert q["m"].item() == 0 and q["b"].item() == after.height
    assert (run_db.parent / "tps" / "index.html").exists()
    # An ingest-only run keeps the last TPS map, so the next night still starts from it.
    assert cli.main(["ingest", "--config", str(cfg), "--quiet"]) == 0
    assert _q(run_db, "SELECT voter_id, tps FROM tps_assignments").sort("voter_id").equals(first.sort("voter_id"))


def test_the_public_link_claims_what_the_nightly_run_claims(run_db: Path) -> None:
    # The notebook's engine and the nightly run are one engine: on the published voters, `link` with the DPT
    # declarations claims the same pairs with the same probabilities (a first run: no decisions to learn from).
    from dpt_pipeline.linkage import link

    claimed = _q(run_db, "SELECT voter_id_l, voter_id_r, match_probability FROM duplicate_pairs "
                         "WHERE match_probability >= 0.5")
    mine = link(_q(run_db, "SELECT * FROM voters")).pairs().select("voter_id_l", "voter_id_r", "match_probability")
    both = mine.join(claimed, on=["voter_id_l", "voter_id_r"], how="full", coalesce=True)
    assert claimed.height > 100 and both.height == claimed.height == mine.height
    assert (both["match_probability"] - both["match_probability_right"]).abs().max() < 1e-12
