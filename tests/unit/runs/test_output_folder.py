"""The output folder is dpt's alone: a foreign folder is refused before anything is written, a crafted
COMMIT marker never moves files from or to outside it, and a damaged run record stops no later night."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from dpt_pipeline.errors import ConfigError
from dpt_pipeline.io import runs


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# -- ownership ---------------------------------------------------------------------------------------------

def test_a_new_folder_is_created_and_marked(tmp_path: Path) -> None:
    out = tmp_path / "a" / "out"
    with runs.lock(out, "run"):
        pass
    assert (out / runs.MARKER).is_file()


def test_an_empty_folder_is_adopted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with runs.lock(out, "run"):
        pass
    assert (out / runs.MARKER).is_file()


@pytest.mark.parametrize("foreign", [["notes.txt"], ["review"], ["tps", "report.html"]])
def test_a_folder_holding_other_files_is_refused_and_left_alone(tmp_path: Path, foreign: list[str]) -> None:
    out = tmp_path / "shared"
    out.mkdir()
    for name in foreign:
        (out / name).write_text("not dpt's")
    before = _entries(out)
    with pytest.raises(ConfigError, match="did not write") as e, runs.lock(out, "run"):
        pass
    assert "not dpt's" not in str(e.value)
    assert _entries(out) == before      # no lock file, no marker, nothing
    assert all((out / n).read_text() == "not dpt's" for n in foreign)


def test_the_root_folder_is_refused() -> None:
    with pytest.raises(ConfigError, match="did not write"):
        runs.claim(Path("/"))


def test_a_folder_of_an_earlier_dpt_version_is_adopted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / runs.RUNS_FILE).write_text("")
    (out / "dpt.duckdb").write_text("x")
    with runs.lock(out, "run"):
        pass
    assert (out / runs.MARKER).is_file()


def test_a_file_or_a_link_as_output_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        runs.claim(tmp_path / "file")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ConfigError, match="symbolic link"):
        runs.claim(tmp_path / "link")


# -- a crafted COMMIT ---------------------------------------------------------------------------------------

def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    return victim


@pytest.mark.parametrize("names", [["../victim"], ["../../etc"], ["/etc"], ["a/../../victim"], [".."], [3],
                                   ["review\x00x"]])
def test_a_commit_naming_paths_outside_is_ignored(tmp_path: Path, names: list[object],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "out"
    staging = out / runs.STAGING
    staging.mkdir(parents=True)
    (out / "dpt.duckdb").write_text("old db")
    (staging / runs.COMMIT).write_text(json.dumps(names))
    assert not runs.committed(out)
    with caplog.at_level(logging.WARNING):
        runs.recover(out)
    assert (victim / "keep.txt").read_text() == "precious"
    assert (out / "dpt.duckdb").read_text() == "old db"
    assert not staging.exists()


def test_a_staged_symbolic_link_is_never_moved_into_place(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "out"
    staging = out / runs.STAGING
    staging.mkdir(parents=True)
    (staging / "review").symlink_to(victim)
    (staging / runs.COMMIT).write_text(json.dumps(["review"]))
    runs.recover(out)
    assert not (out / "review").exists()
    assert (victim / "keep.txt").read_text() == "precious"


def test_a_staging_folder_that_is_a_link_is_unlinked_not_followed(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    (victim / runs.COMMIT).write_text(json.dumps(["keep.txt"]))
    out = tmp_path / "out"
    out.mkdir()
    (out / runs.STAGING).symlink_to(victim)
    runs.recover(out)
    assert not (out / runs.STAGING).exists() and not (out / "keep.txt").exists()
    assert (victim / "keep.txt").read_text() == "precious"


def test_an_old_folder_that_is_a_link_never_receives_outputs(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "out"
    (out / "review").mkdir(parents=True)
    (out / "review" / "a.csv").write_text("old")
    (out / runs.OLD).symlink_to(victim)
    staging = out / runs.STAGING
    (staging / "review").mkdir(parents=True)
    (staging / "review" / "a.csv").write_text("new")
    (staging / runs.COMMIT).write_text(json.dumps(["review"]))
    runs.recover(out)
    assert (out / "review" / "a.csv").read_text() == "new"
    assert _entries(victim) == {"keep.txt"}


# -- a damaged run record -----------------------------------------------------------------------------------

def test_damaged_lines_of_the_run_record_are_skipped_with_a_warning(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    good = {"run_id": "r1", "command": "run", "started_at": "2026-11-30T01:00:00", "finished_at":
            "2026-11-30T01:01:00", "status": "ok", "mode": "full", "config_hash": "x", "inputs": "[]",
            "stages": "{}", "version": "0", "error": None}
    lines = [json.dumps(good).encode(), b"\xff\xfe not utf-8", b"[1, 2, 3]", b'"a string"', b"{}",
             b'{"run_id": 5}', b'{"run_id": "r2", "status": "ok", "started_at": "2026-11-30T02:00:00"',
             json.dumps({**good, "run_id": "r3", "started_at": "2026-12-01T01:00:00"}).encode()]
    (tmp_path / runs.RUNS_FILE).write_bytes(b"\n".join(lines) + b"\n")
    with caplog.at_level(logging.WARNING):
        h = runs.history(tmp_path)
    assert h["run_id"].to_list() == ["r1", "r3"]
    assert h["status"].to_list() == ["ok", "ok"]
    assert any("6 damaged lines skipped" in r.getMessage() for r in caplog.records)


def test_a_run_record_that_cannot_be_appended_does_not_hide_the_run(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    record = runs.Run(tmp_path, "run")
    (tmp_path / runs.RUNS_FILE).mkdir()          # the record cannot be opened for appending
    with caplog.at_level(logging.WARNING):
        record.start()
    assert any("could not be written" in r.getMessage() for r in caplog.records)
    os.rmdir(tmp_path / runs.RUNS_FILE)
