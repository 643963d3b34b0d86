"""The incremental cache is a shortcut: whatever is wrong with it (a manifest that is no JSON object, a file
missing, changed or corrupt, tables of the wrong shape, a model that does not read back) means a full run and
a warning that says so, never a failed run and never a value from the roll in the log."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from linkage_models import even_model

from dpt_pipeline.linkage import blocking as block
from dpt_pipeline.linkage import comparisons as compare
from dpt_pipeline.linkage import dpt, incremental, reblock

CSET = dpt.dpt_comparisons()
SIG = "a" * 64
ROWS: list[dict[str, Any]] = [
    {"nik": "6408134505800001", "nama": "BUDI SANTOSO"},
    {"nik": "6408134505800001", "nama": "BUDI SANTOSA"},
    {"nik": "6408134505800002", "nama": "SITI AMINAH", "jenis_kelamin": "P"},
    {"nik": "6408134505800003", "nama": "SITI AMINAH", "jenis_kelamin": "P"},
]
SECRETS = ("BUDI", "SITI", "6408134505800001", "v0", "v1")


_model = even_model


def _save(folder: Path, compared: pl.DataFrame, recs: pl.DataFrame, model) -> None:
    """The cache as compare_tonight saves it."""
    content = incremental.content_hash(recs.drop(incremental._derived_names(recs)))
    incremental.save(folder, SIG, compared, recs, content, reblock.keys_frame(recs, block.default_passes()), CSET,
                     model)


@pytest.fixture
def cache(tmp_path: Path, make_records) -> tuple[Path, pl.DataFrame, pl.DataFrame]:
    """A cache as a run saves it: tmp_path/cache, the compared pairs and the records."""
    recs = make_records(ROWS)
    cands, _ = block.candidate_pairs(recs)
    compared = compare.compare(recs, cands, CSET, slim=True)
    assert compared.height >= 2
    _save(tmp_path, compared, recs, _model())
    return tmp_path, compared, recs


def _folder(out: Path) -> Path:
    return out / incremental.CACHE_DIR


def _manifest(out: Path) -> dict[str, Any]:
    return json.loads((_folder(out) / incremental.MANIFEST_FILE).read_text())


def _rewrite(out: Path, name: str, data: bytes) -> None:
    """Replace a cached file and its checksum, as if the cache had been written so: what load must catch
    beyond the checksum."""
    (_folder(out) / name).write_bytes(data)
    manifest = _manifest(out)
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (_folder(out) / incremental.MANIFEST_FILE).write_text(json.dumps(manifest))


def _parquet(frame: pl.DataFrame, tmp: Path) -> bytes:
    frame.write_parquet(tmp / "x.parquet")
    return (tmp / "x.parquet").read_bytes()


def _full_run(out: Path, caplog: pytest.LogCaptureFixture, warned: str | None) -> None:
    with caplog.at_level(logging.INFO, logger="dpt_pipeline"):
        assert incremental.load(out, SIG) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if warned is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and warned in warnings[0], warnings
    for secret in SECRETS:
        assert secret not in caplog.text


def test_a_saved_cache_loads_back(cache) -> None:
    out, compared, recs = cache
    loaded = incremental.load(out, SIG, CSET)
    assert loaded is not None
    pairs, ids, model, keys = loaded
    assert pairs.equals(compared.select("rid_l", "rid_r", "pass_mask", *[c.level_column for c in CSET.comparisons]))
    assert ids["voter_id"].equals(recs["voter_id"])
    assert keys.equals(reblock.keys_frame(recs, block.default_passes()))
    assert model == _model()
    assert set(_manifest(out)["files"]) == {incremental.PAIRS_FILE, incremental.IDS_FILE, incremental.RECORDS_FILE,
                                            incremental.KEYS_FILE, incremental.MODEL_FILE}


def test_no_cache_or_other_settings_is_a_full_run_without_a_warning(cache, tmp_path_factory, caplog) -> None:
    out, _, _ = cache
    _full_run(tmp_path_factory.mktemp("empty"), caplog, None)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dpt_pipeline"):
        assert incremental.load(out, "b" * 64) is None
    assert "other settings" in caplog.text and not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_cache_of_an_earlier_version_without_checksums_is_a_full_run(cache, caplog) -> None:
    out, compared, _ = cache
    (_folder(out) / incremental.MANIFEST_FILE).write_text(json.dumps({"signature": SIG, "pairs": compared.height}))
    _full_run(out, caplog, None)
    assert "without checksums" in caplog.text


def test_a_cache_of_an_earlier_version_without_blocking_keys_is_a_full_run(cache, caplog) -> None:
    out, _, _ = cache
    manifest = _manifest(out)
    del manifest["files"][incremental.KEYS_FILE]
    (_folder(out) / incremental.MANIFEST_FILE).write_text(json.dumps(manifest))
    _full_run(out, caplog, None)
    assert "blocking keys (an earlier version" in caplog.text


MANIFESTS: list[tuple[str, bytes, str]] = [
    ("a list", b'["signature", "pairs"]', "manifest.json is not a JSON object"),
    ("invalid JSON", b'{"signature": ', "manifest.json is not valid JSON"),
    ("invalid bytes", b'{"signature": "\xff\xfe"}', "manifest.json is not UTF-8 text"),
    ("empty", b"", "manifest.json is not valid JSON"),
    ("nested too deep", b"[" * 100_000, "manifest.json is not valid JSON"),
    ("signature a number", json.dumps({"signature": 5, "pairs": 1, "files": {}}).encode(), "'signature' is missing"),
    ("signature missing", json.dumps({"pairs": 1, "files": {}}).encode(), "'signature' is missing"),
    ("pairs a string", json.dumps({"signature": SIG, "pairs": "3", "files": {}}).encode(), "'pairs' is missing"),
    ("pairs negative", json.dumps({"signature": SIG, "pairs": -1, "files": {}}).encode(), "not a count"),
    ("pairs true", json.dumps({"signature": SIG, "pairs": True, "files": {}}).encode(), "not a count"),
    ("files a list", json.dumps({"signature": SIG, "pairs": 1, "files": ["x"]}).encode(), "'files' is not a table"),
    ("a checksum a number", json.dumps({"signature": SIG, "pairs": 1, "files": {"voter_ids.parquet": 1}}).encode(),
     "'files' is not a table"),
    ("a checksum missing", json.dumps({"signature": SIG, "pairs": 1, "files": {}}).encode(),
     "holds no checksum of compared_pairs.parquet"),
]


@pytest.mark.parametrize(("data", "message"), [m[1:] for m in MANIFESTS], ids=[m[0] for m in MANIFESTS])
def test_a_damaged_manifest_is_a_full_run_with_a_warning(cache, caplog, data: bytes, message: str) -> None:
    out, _, _ = cache
    (_folder(out) / incremental.MANIFEST_FILE).write_bytes(data)
    _full_run(out, caplog, message)
    assert "the incremental cache in" in caplog.text and "is damaged" in caplog.text


def test_a_missing_or_unreadable_manifest_is_a_full_run_with_a_warning(cache, caplog) -> None:
    out, _, _ = cache
    manifest = _folder(out) / incremental.MANIFEST_FILE
    manifest.unlink()
    _full_run(out, caplog, "manifest.json is missing")
    caplog.clear()
    manifest.mkdir()
    _full_run(out, caplog, "manifest.json cannot be read: IsADirectoryError")


def _flip(data: bytes) -> bytes:
    mid = len(data) // 2
    return data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]


DAMAGE: list[tuple[str, Callable[[bytes], bytes | None]]] = [
    ("missing", lambda d: None),
    ("emptied", lambda d: b""),
    ("truncated", lambda d: d[: len(d) // 2]),
    ("a byte flipped", _flip),
    ("garbage", lambda d: b"PAR1" + b"\x00" * 64 + b"PAR1"),
]


@pytest.mark.parametrize("name", [incremental.PAIRS_FILE, incremental.IDS_FILE, incremental.MODEL_FILE])
@pytest.mark.parametrize(("how", "damage"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_a_missing_or_corrupt_cached_file_is_a_full_run_with_a_warning(cache, caplog, name: str, how: str,
                                                                       damage) -> None:
    """Checked against the manifest's checksum before it is parsed: a corrupt parquet file can abort the
    reader (and the process) instead of raising."""
    out, _, _ = cache
    path = _folder(out) / name
    data = damage(path.read_bytes())
    if data is None:
        path.unlink()
    else:
        path.write_bytes(data)
    if name == incremental.MODEL_FILE:
        _full_run(out, caplog, "the cached model")
        assert "fitting again" in caplog.text
    else:
        _full_run(out, caplog, "is missing" if data is None else "does not match its checksum")
        assert name in caplog.text


def _model_text(change: Callable[[dict[str, Any]], None]) -> bytes:
    d = json.loads(_model().to_json())
    change(d)
    return json.dumps(d).encode()


BAD_MODELS: list[tuple[str, bytes, str]] = [
    ("m NaN", _model_text(lambda d: d["comparisons"][0]["levels"][2].update({"m": math.nan})),
     "comparison 'nama' level 2 (spasi_urutan): m is NaN"),
    ("lambda Infinity", _model_text(lambda d: d.update({"lambda": math.inf})), "lambda is Infinity"),
    ("u 0", _model_text(lambda d: d["comparisons"][1]["levels"][1].update({"u": 0})), "u is 0.0"),
    ("a list", b"[]", "holds an array"),
    ("invalid bytes", b'{"model": "\xff"}', "not UTF-8 text"),
    ("a level code of another engine", _model_text(lambda d: d["comparisons"][0]["levels"][3].update(
        {"code": "phonetic"})), "comparison 'nama': levels"),
    ("one level fewer", _model_text(lambda d: d["comparisons"][4]["levels"].pop()), "jenis_kelamin"),
]


@pytest.mark.parametrize(("data", "message"), [m[1:] for m in BAD_MODELS], ids=[m[0] for m in BAD_MODELS])
def test_a_damaged_cached_model_means_fitting_again(cache, caplog, data: bytes, message: str) -> None:
    """Even with a checksum that matches (written so): the model is read through from_json and checked
    against the comparisons, so a NaN model is never used again the next night."""
    out, _, _ = cache
    _rewrite(out, incremental.MODEL_FILE, data)
    _full_run(out, caplog, "the cached model")
    assert message in caplog.text and "fitting again" in caplog.text


def _tables(out: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    folder = _folder(out)
    return pl.read_parquet(folder / incremental.PAIRS_FILE), pl.read_parquet(folder / incremental.IDS_FILE)


TABLES: list[tuple[str, str, Callable[[pl.DataFrame], pl.DataFrame], str]] = [
    ("rid as Int64", incremental.PAIRS_FILE, lambda f: f.with_columns(pl.col("rid_l").cast(pl.Int64)),
     "other columns or types"),
    ("a level column missing", incremental.PAIRS_FILE, lambda f: f.drop("lvl_nama"), "other columns or types"),
    ("an extra column", incremental.PAIRS_FILE, lambda f: f.with_columns(pl.lit(1).alias("x")),
     "other columns or types"),
    ("a level below 0", incremental.PAIRS_FILE, lambda f: f.with_columns(pl.lit(-1, pl.Int8).alias("lvl_nik")),
     "lvl_nik holds a level its comparison does not have"),
    ("a level beyond the last", incremental.PAIRS_FILE,
     lambda f: f.with_columns(pl.lit(len(CSET.comparisons[0].codes), pl.Int8).alias("lvl_nama")),
     "lvl_nama holds a level"),
    ("an empty level", incremental.PAIRS_FILE, lambda f: f.with_columns(pl.lit(None, pl.Int8).alias("lvl_pola")),
     "empty cells"),
    ("a rid beyond the voter_ids", incremental.PAIRS_FILE,
     lambda f: f.with_columns(pl.lit(len(ROWS), pl.UInt32).alias("rid_r")), "a rid beyond voter_ids.parquet"),
    ("rid_l not below rid_r", incremental.PAIRS_FILE,
     lambda f: f.with_columns(pl.col("rid_r").alias("rid_l"), pl.col("rid_l").alias("rid_r")), "not below its rid_r"),
    ("a pair fewer", incremental.PAIRS_FILE, lambda f: f.head(f.height - 1), "another number of pairs"),
    ("a voter_id twice", incremental.IDS_FILE, lambda f: f.with_columns(pl.lit("v0").alias("voter_id")),
     "lists a voter_id twice"),
    ("an empty voter_id", incremental.IDS_FILE, lambda f: f.with_columns(pl.lit(None, pl.String).alias("voter_id")),
     "empty cells"),
    ("voter_id as a number", incremental.IDS_FILE, lambda f: f.select(pl.int_range(pl.len()).alias("voter_id")),
     "other columns or types"),
]


@pytest.mark.parametrize(("name", "change", "message"), [t[1:] for t in TABLES], ids=[t[0] for t in TABLES])
def test_cached_tables_of_the_wrong_shape_are_a_full_run_with_a_warning(cache, caplog, tmp_path_factory, name: str,
                                                                          change, message: str) -> None:
    out, _, _ = cache
    pairs, ids = _tables(out)
    frame = pairs if name == incremental.PAIRS_FILE else ids
    _rewrite(out, name, _parquet(change(frame), tmp_path_factory.mktemp("t")))
    _full_run(out, caplog, message)


def test_a_cached_file_that_is_no_parquet_is_a_full_run_with_a_warning(cache, caplog) -> None:
    out, _, _ = cache
    _rewrite(out, incremental.IDS_FILE, b"voter_id\nv0\nv1\n")
    _full_run(out, caplog, "voter_ids.parquet cannot be read as a table")


def test_a_cache_saved_by_an_incremental_run_loads_back(cache, make_records, tmp_path_factory, caplog) -> None:
    """The next night's cache is written from compare_with_cache's pairs: the checks must accept them."""
    out, compared, recs = cache
    loaded = incremental.load(out, SIG, CSET)
    assert loaded is not None
    content = incremental.content_hash(recs.drop(incremental._derived_names(recs)))
    mapped = incremental.mapped_rids(loaded.ids, recs, content)
    again, reuse = incremental.compare_with_cache(recs, block.candidate_pairs(recs)[0], CSET, loaded.pairs, mapped)
    assert reuse == {"reused_pairs": compared.height, "compared_pairs": 0}
    nxt = tmp_path_factory.mktemp("next")
    _save(nxt, again, recs, loaded.model)
    with caplog.at_level(logging.INFO, logger="dpt_pipeline"):
        assert incremental.load(nxt, SIG) is not None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def _signature(cset: compare.ComparisonSet | None = None) -> str:
    from dpt_pipeline.config import load_config

    config = load_config(Path(__file__).parents[3] / "config" / "pipeline.toml")
    return incremental.signature(config, cset or dpt.dpt_comparisons())


def test_the_cache_key_changes_with_a_level_condition() -> None:
    import dataclasses

    base = _signature()
    assert _signature() == base                      # the same code: the same key
    cset = dpt.dpt_comparisons()
    tempat = cset.comparisons[3]
    mirip = dataclasses.replace(tempat.levels[1], condition=compare.sim("tempat_lahir_key", "jaro_winkler") >= 0.9)
    changed = dataclasses.replace(tempat, levels=(tempat.levels[0], mirip, *tempat.levels[2:]))
    other = dataclasses.replace(cset, comparisons=(*cset.comparisons[:3], changed, *cset.comparisons[4:]))
    assert [c.codes for c in other.comparisons] == [c.codes for c in cset.comparisons]   # same level names
    assert _signature(cset=other) != base


@pytest.mark.parametrize(("module", "name", "value"), [
    ("linkage.standardize", "OLD_SPELLING", (("OE", "U"),)),
    ("linkage.standardize", "PLACEHOLDER_DATES", ((1, 7),)),
    ("linkage.standardize", "COMMON_NAME_TOKENS", ("SITI",)),
])
def test_the_cache_key_changes_with_a_standardisation_table(monkeypatch: pytest.MonkeyPatch, module: str,
                                                           name: str, value: object) -> None:
    import importlib

    base = _signature()
    monkeypatch.setattr(importlib.import_module(f"dpt_pipeline.{module}"), name, value)
    assert _signature() != base


def test_the_cache_key_changes_with_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    base = _signature()
    monkeypatch.setattr(incremental, "sha256_file", lambda path: "other" if path.name == "blocking.py" else "same")
    changed = _signature()
    monkeypatch.setattr(incremental, "sha256_file", lambda path: "same")
    assert changed != _signature() != base
