"""The whole pipeline on the shipped sample data, checked against the generator's truth file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dpt_pipeline import pipeline
from dpt_pipeline.config import OutputConfig, load_config
from dpt_pipeline.schema import REJECT_SCHEMA, VOTER_SCHEMA

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
    again = pipeline.run(dataclasses.replace(cfg, output=OutputConfig(dir=tmp_path)))
    second = _q(again.database, "SELECT source, source_row, voter_id FROM voters ORDER BY 1, 2")
    assert first.equals(second)


def test_regions_resolve_for_nearly_all_rows(run_db: Path) -> None:
    s = _q(run_db, "SELECT avg((kode_desa IS NOT NULL)::INT) AS share, "
                   "count(*) FILTER (WHERE kode_desa IS NULL) AS unknown FROM voters")
    assert s["share"].item() > 0.99
    assert s["unknown"].item() > 0  # the sample holds unknown desa names on purpose; they are kept
