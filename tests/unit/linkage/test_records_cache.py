"""Standardised records are cached per voter: a night that takes the unchanged voters' standardised columns
from the cache and standardises only the others gets exactly the records of a full standardisation."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linkage_models import even_model

from dpt_pipeline.config import load_config
from dpt_pipeline.ingest import run as ingest_run
from dpt_pipeline.linkage import blocking as block
from dpt_pipeline.linkage import comparisons as compare
from dpt_pipeline.linkage import dpt, incremental, reblock, standardize

ROOT = Path(__file__).resolve().parents[3]
CSET = dpt.dpt_comparisons()
SIG = "c" * 64


@pytest.fixture(scope="module")
def roll() -> pl.DataFrame:
    """The sample's kutim list as ingest reads it (a few thousand voters of every shape)."""
    voters = ingest_run(load_config(ROOT / "config" / "pipeline.toml")).voters
    return voters.filter(pl.col("source") == "kutim")


def _full(voters: pl.DataFrame) -> pl.DataFrame:
    return standardize.prepare_records(standardize.standardize(voters))


def _cached(tmp: Path, voters: pl.DataFrame) -> pl.DataFrame:
    recs = _full(voters)
    pairs = pl.DataFrame({"rid_l": [0], "rid_r": [1]}, schema=block.PAIR_SCHEMA)
    pairs = pairs.with_columns(pl.lit(1, pl.UInt32).alias("pass_mask"))
    content = incremental.content_hash(voters.sort("voter_id"))
    incremental.save(tmp, SIG, compare.compare(recs, pairs, CSET, slim=True), recs, content,
                     reblock.keys_frame(recs, block.default_passes()), CSET, even_model())
    loaded = incremental.load_records(tmp, SIG, voters.schema)
    assert loaded is not None
    return loaded


def test_the_prepared_columns_are_what_prepare_records_adds(roll: pl.DataFrame) -> None:
    std = standardize.standardize(roll.head(50))
    added = [c for c in standardize.prepare_records(std).columns if c not in std.columns]
    assert added == ["rid", *standardize.PREPARED_COLUMNS]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_records_from_the_cache_equal_a_full_standardisation(roll: pl.DataFrame, tmp_path_factory, data) -> None:
    n = roll.height
    seed = data.draw(st.integers(0, 2**31 - 1))
    last = roll.sample(fraction=data.draw(st.floats(0.5, 1.0)), seed=seed)
    tonight = roll.sample(fraction=data.draw(st.floats(0.5, 1.0)), seed=seed + 1)
    # Some rows tonight changed in a field their voter_id does not hash (a file-level flag, the line number):
    # those must be standardised again, the line number alone must not matter.
    changed = data.draw(st.sets(st.integers(0, min(n, tonight.height) - 1), max_size=20))
    mark = pl.int_range(pl.len()).is_in(sorted(changed))
    tonight = tonight.with_columns(
        pl.when(mark).then(pl.lit("digit terakhir mungkin hilang (disimpan Excel sebagai angka)"))
        .otherwise(pl.col("nik_masalah")).alias("nik_masalah"),
        pl.when(mark).then(pl.col("source_row") + 100_000).otherwise(pl.col("source_row")).alias("source_row"))
    cached = _cached(tmp_path_factory.mktemp("c"), last)
    got, content, reused = incremental.prepared_records(tonight, cached)
    assert content.equals(incremental.content_hash(tonight.sort("voter_id")))
    want = _full(tonight)
    assert [c for c in want.columns if not got[c].equals(want[c])] == [] and got.columns == want.columns
    assert got.schema == want.schema
    unchanged_known = tonight.join(last, on=["voter_id", "nik_masalah"], how="semi", nulls_equal=True).height
    assert reused == unchanged_known


def test_without_a_cache_every_voter_is_standardised(roll: pl.DataFrame) -> None:
    got, _, reused = incremental.prepared_records(roll, None)
    assert reused == 0 and got.equals(_full(roll))


def test_a_records_file_of_the_wrong_shape_is_ignored_with_a_warning(roll: pl.DataFrame, tmp_path, caplog) -> None:
    _cached(tmp_path, roll.head(200))
    folder = tmp_path / incremental.CACHE_DIR
    frame = pl.read_parquet(folder / incremental.RECORDS_FILE).drop("nama_std")
    frame.write_parquet(folder / incremental.RECORDS_FILE)
    import hashlib
    import json
    manifest = json.loads((folder / incremental.MANIFEST_FILE).read_text())
    manifest["files"][incremental.RECORDS_FILE] = hashlib.sha256((folder / incremental.RECORDS_FILE).read_bytes()
                                                                 ).hexdigest()
    (folder / incremental.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert incremental.load_records(tmp_path, SIG, roll.schema) is None
    assert "other columns or types" in caplog.text
    assert not any(v in caplog.text for v in roll.head(200)["nama"].to_list())


def test_a_records_file_that_changed_is_ignored_with_a_warning(roll: pl.DataFrame, tmp_path, caplog) -> None:
    _cached(tmp_path, roll.head(200))
    (tmp_path / incremental.CACHE_DIR / incremental.RECORDS_FILE).write_bytes(b"PAR1 not really")
    assert incremental.load_records(tmp_path, SIG, roll.schema) is None
    assert "does not match its checksum" in caplog.text
