"""Ingest reusing last night's rows (`ingest.cache`) equals a full ingest: on random edits of small lists (rows
inserted, removed, changed, copied; lines swapped), through the cache files of `ingest.run`, and when the cache
is damaged or was made with other settings (a full ingest, never a failed one)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import shutil
import textwrap
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from reuse import REFERENCE_DATE, summary_counts

from dpt_pipeline import ingest
from dpt_pipeline.config import Config, SourceConfig, load_config
from dpt_pipeline.errors import InputError
from dpt_pipeline.ingest import cache, ingest_source
from dpt_pipeline.ingest.regions import RegionTable
from dpt_pipeline.ingest.stage import _ingest_source

ROOT = Path(__file__).resolve().parents[3]
HEADER = "NKK;NIK;NAMA;TGL LAHIR;JK;STATUS KAWIN;RT;KELURAHAN/DESA;KECAMATAN;KABUPATEN"

# Cells that make the list-wide rules turn: NIKs ending in 0 (the Excel check), dates in several formats (the
# format that leads the sample), names that are none (a reject), odd lines (too few fields, the header again,
# a stray quote, a quote opening a record over two lines).
_NIK = st.sampled_from(["6408131110490016", "6408134102480020", "6408131110490010", "6408135507800030",
                        "6474011510750040", "6.40813E+15", "123", "", "6408131110490000", "'6408134102480017"])
_NKK = st.sampled_from(["6408130105100025", "6408130105100020", "", "64081301051000"])
_NAME = st.sampled_from(["SAHARUDDIN", "SITI  FITRIANI", "", "123", "ANI", "budi santoso", "ÉLISE"])
_DATE = st.sampled_from(["11|10|1949", "1949-10-11", "11-10-1949", "01/02/1980", "", "32-13-2000", "29000",
                         "2015-06-01", "1980"])
_CELL = st.sampled_from(["L", "P", "x", "", "B", "S", "001", "TELUK PANDAN", "KUTAI TIMUR", "BONTANG"])


@st.composite
def _row(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["voter"] * 8 + ["short", "header", "stray", "blank", "open"]))
    if kind == "short":
        return "1;2;ANI"
    if kind == "header":
        return HEADER
    if kind == "blank":
        return ""
    cells = [draw(_NKK), draw(_NIK), draw(_NAME), draw(_DATE), draw(_CELL), draw(_CELL), draw(_CELL),
             draw(_CELL), draw(_CELL), draw(_CELL)]
    if kind == "stray":
        cells[7] = 'JL MERDEKA 5"'
    if kind == "open":
        cells[9] = '"KUTAI'      # a quote the next line may close
    return ";".join(cells)


_EDIT = st.tuples(st.sampled_from(["insert", "remove", "change", "copy", "swap"]), st.integers(0, 1000),
                  st.integers(0, 1000), _row())


def _edited(lines: list[str], edits: list[tuple[str, int, int, str]]) -> list[str]:
    out = list(lines)
    for kind, i, j, line in edits:
        if kind == "insert" or not out:
            out.insert(i % (len(out) + 1), line)
        elif kind == "remove":
            out.pop(i % len(out))
        elif kind == "change":
            out[i % len(out)] = line
        elif kind == "copy":
            out.insert(j % (len(out) + 1), out[i % len(out)])
        else:
            a, b = i % len(out), j % len(out)
            out[a], out[b] = out[b], out[a]
    return out


def _ingest(cfg: SourceConfig, regions: RegionTable, last: ingest.validate.Kept | None = None
            ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, object], ingest.validate.Validated] | None:
    try:
        v, r, s, done = _ingest_source(cfg, regions, REFERENCE_DATE, 17, last)
    except InputError:
        return None
    return v, r, summary_counts(s), done


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_row(), max_size=25), edits=st.lists(_EDIT, min_size=1, max_size=8),
       date_format=st.sampled_from([None, None, "DD|MM|YYYY"]))
def test_reusing_last_nights_rows_gives_the_full_ingest(tmp_path: Path, regions: RegionTable, lines: list[str],
                                                         edits: list[tuple[str, int, int, str]],
                                                         date_format: str | None) -> None:
    path = tmp_path / "list.csv"
    cfg = SourceConfig(name="s", path=path, date_format=date_format)
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    logging.disable(logging.CRITICAL)
    try:
        night = _ingest(cfg, regions)
        if night is None:
            event("first night refused")
            return
        path.write_text("\n".join([HEADER, *_edited(lines, edits)]) + "\n")
        full = _ingest(cfg, regions)
        again = _ingest(cfg, regions, night[3].kept)
    finally:
        logging.disable(logging.NOTSET)
    assert (full is None) == (again is None)      # a file refused is refused either way
    if full is None or again is None:
        return
    event("rows reused" if again[3].reused else "no row reused")
    assert_frame_equal(again[0], full[0])
    assert_frame_equal(again[1], full[1])
    assert again[2] == full[2]
    assert_frame_equal(again[3].kept.frame.sort(again[3].kept.frame.columns),
                       full[3].kept.frame.sort(full[3].kept.frame.columns))
    assert again[3].kept.context == full[3].kept.context


def test_only_the_changed_rows_are_validated(tmp_path: Path, regions: RegionTable) -> None:
    path = tmp_path / "list.csv"
    rows = [f"6408130105100025;64081311104900{i % 90 + 10};NAMA {chr(65 + i % 26)}{i};11|10|1949;L;S;1;;;"
            for i in range(200)]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    cfg = SourceConfig(name="s", path=path)
    night = _ingest_source(cfg, regions, REFERENCE_DATE, 17, None)[3]
    rows[5] = rows[5].replace("NAMA", "NAMA BARU")
    rows.insert(0, rows[7])                       # a copy of a row, before it: the copies' numbers swap
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    v, r, s, done = _ingest_source(cfg, regions, REFERENCE_DATE, 17, night.kept)
    assert done.reused == 200                     # all but the changed row (the copy is a kept row too)
    full = ingest_source(cfg, regions, REFERENCE_DATE, 17)
    assert_frame_equal(v, full[0])
    assert v.filter(pl.col("voter_id").str.ends_with("-2"))["source_row"].to_list() == [9]


# -- the cache files ---------------------------------------------------------------------------------------------

def _config(tmp_path: Path, min_age: int = 17) -> Config:
    for name, sep in (("a", ";"), ("b", ",")):
        rows = [sep.join(["6408130105100025", f"64081311104900{i + 10}", f"NAMA {name.upper()}{i}", "11|10|1949",
                          "L", "S", "1", "TELUK PANDAN", "TELUK PANDAN", "KUTAI TIMUR"]) for i in range(60)]
        (tmp_path / f"{name}.csv").write_text("\n".join([HEADER.replace(";", sep), *rows]) + "\n")
    toml = tmp_path / "dpt.toml"
    toml.write_text(textwrap.dedent(f"""
        [output]
        dir = "out"
        [[sources]]
        name = "a"
        path = "a.csv"
        [[sources]]
        name = "b"
        path = "b.csv"
        [ingest]
        regions = "{ROOT / 'dpt_pipeline' / 'core' / 'regions.csv'}"
        reference_date = 2026-12-09
        min_age = {min_age}
    """))
    return load_config(toml)


def _night(config: Config, tmp_path: Path) -> ingest.IngestResult:
    """One ingest reading the cache in <out> and writing tonight's through a staging folder, then moved in."""
    work = tmp_path / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    result = ingest.run(config, last=config.output.dir, keep=work)
    config.output.dir.mkdir(exist_ok=True)
    shutil.rmtree(config.output.dir / cache.CACHE_DIR, ignore_errors=True)
    shutil.move(work / cache.CACHE_DIR, config.output.dir / cache.CACHE_DIR)
    return result


def _change_a_row(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace("NAMA", "NAMA LAIN")
    del lines[10]
    path.write_text("\n".join(lines) + "\n")


def _same(a: ingest.IngestResult, b: ingest.IngestResult) -> None:
    assert_frame_equal(a.voters, b.voters)
    assert_frame_equal(a.rejects, b.rejects)
    assert [summary_counts(s) for s in a.summaries] == [summary_counts(s) for s in b.summaries]


def test_the_cache_files_give_the_full_ingest(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = _night(config, tmp_path)
    assert first.reused == {"a": 0, "b": 0}
    manifest = json.loads((config.output.dir / cache.CACHE_DIR / cache.MANIFEST_FILE).read_text())
    assert sorted(manifest["sources"]) == ["a", "b"]
    _change_a_row(tmp_path)
    again = _night(config, tmp_path)
    assert again.reused == {"a": 58, "b": 60}
    _same(again, ingest.run(config))


def _break_manifest(folder: Path) -> None:
    (folder / cache.MANIFEST_FILE).write_text("{not json")


def _break_file(folder: Path) -> None:
    path = folder / "source_1.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _other_columns(folder: Path) -> None:
    path = folder / "source_1.parquet"
    pl.read_parquet(path).drop("nama").write_parquet(path)
    manifest = json.loads((folder / cache.MANIFEST_FILE).read_text())
    manifest["sources"]["a"]["sha256"] = cache.sha256_file(path)
    (folder / cache.MANIFEST_FILE).write_text(json.dumps(manifest))


def _drop_file(folder: Path) -> None:
    (folder / "source_2.parquet").unlink()


@pytest.mark.parametrize("damage", [_break_manifest, _break_file, _other_columns, _drop_file])
def test_a_damaged_cache_is_a_warning_and_a_full_ingest(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                        damage: object) -> None:
    config = _config(tmp_path)
    _night(config, tmp_path)
    damage(config.output.dir / cache.CACHE_DIR)  # type: ignore[operator]
    _change_a_row(tmp_path)
    with caplog.at_level(logging.WARNING, logger="dpt_pipeline"):
        again = _night(config, tmp_path)
    assert any("ingest cache" in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
    assert 0 in again.reused.values()
    _same(again, ingest.run(config))
    assert _night(config, tmp_path).reused == {"a": 59, "b": 60}    # and the next night reuses every row


def test_other_settings_make_the_kept_rows_unusable(tmp_path: Path) -> None:
    _night(_config(tmp_path), tmp_path)
    older = _config(tmp_path, min_age=18)
    again = _night(older, tmp_path)
    assert again.reused == {"a": 0, "b": 0}
    _same(again, ingest.run(older))


def test_the_signature_holds_the_settings_a_row_depends_on(tmp_path: Path) -> None:
    config = _config(tmp_path)
    src = config.sources[0]
    day = dt.date(2026, 12, 9)
    sig = cache.signature(config, src, day)
    assert cache.signature(config, src, dt.date(2026, 1, 1)) == sig     # the day moves only the under-age flag
    assert cache.signature(config, src, dt.date(2027, 1, 1)) != sig     # the year moves the NIK's century
    assert cache.signature(config, dataclasses.replace(src, date_format="DD-MM-YYYY"), day) != sig
    assert cache.signature(config, dataclasses.replace(src, path=tmp_path / "elsewhere.csv"), day) == sig
