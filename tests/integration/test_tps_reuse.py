"""The tps folder night to night (outputs.reuse): a desa whose TPS are as last night is not drawn again, its
PNG, page and lists are last night's files (hard linked), and the folder is byte for byte what a run that
draws everything writes on the same input; also after a run that failed, or was killed while moving its
outputs into place."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dpt_pipeline import pipeline, synth
from dpt_pipeline.config import load_config
from dpt_pipeline.io import runs
from dpt_pipeline.outputs import interactive, maps, report, reuse

CONFIG = """
[output]
dir = "{out}"
[[sources]]
name = "kutim"
path = "data/dpt_kutim.csv"
[[sources]]
name = "bontang"
path = "data/dpt_bontang.csv"
[[sources]]
name = "kukar"
path = "data/dpt_kukar.csv"
[sources.defaults]
kabupaten = "KUTAI KARTANEGARA"
[ingest]
reference_date = 2026-12-09
[tps]
coordinates = "data/rt_coordinates.csv"
lists = true
"""
STAGES = ("ingest", "tps")


def _config(tmp: Path, out: str):  # type: ignore[no-untyped-def]
    path = tmp / f"{out}.toml"
    path.write_text(CONFIG.format(out=out))
    return load_config(path)


def _files(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under `folder`: (inode, sha256) by relative path."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _change_one_household(data: Path) -> None:
    """A KK of the first list moves to another RT, and a voter joins it: one desa changes."""
    path = data / "dpt_kutim.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    head = lines[0].split(";")
    nkk, rt, nik, nama = (head.index(c) for c in ("NKK", "RT", "NIK", "NAMA"))
    first = lines[1].split(";")
    moved = []
    for line in lines[1:]:
        cells = line.split(";")
        if cells[nkk] == first[nkk]:
            cells[rt] = str(int(cells[rt]) + 1)
        moved.append(";".join(cells))
    joined = moved[0].split(";")
    joined[nik] = joined[nik][:-4] + "9999"
    joined[nama] = "WARGA BARU"
    path.write_text("\n".join([lines[0], *moved, ";".join(joined)]) + "\n", encoding="utf-8-sig")


def _desa_rows(out: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(out / "dpt.duckdb"), read_only=True) as con:
        a = con.sql("SELECT * FROM tps_assignments ORDER BY kode_desa, tps, voter_id").pl()
    return {k: g for (k,), g in a.partition_by("kode_desa", as_dict=True).items()}


@pytest.fixture
def night_one(tmp_path: Path):  # type: ignore[no-untyped-def]
    synth.generate(tmp_path / "data", 900, 11)
    config = _config(tmp_path, "out")
    pipeline.run(config, stages=STAGES)
    return tmp_path, config


def _full_run(tmp_path: Path, source: Path, name: str) -> Path:
    """The run on a copy of the output folder `source` whose tps folder is gone: everything drawn."""
    copy = tmp_path / name
    shutil.copytree(source, copy, symlinks=True)
    runs.recover(copy)
    shutil.rmtree(copy / "tps")
    pipeline.run(_config(tmp_path, name), stages=STAGES)
    return copy / "tps"


def test_only_the_changed_desa_is_drawn_and_the_folder_equals_a_full_run(night_one, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tmp_path, config = night_one
    out = config.output.dir
    before = _files(out / "tps")
    rows_before = _desa_rows(out)
    assert reuse.MANIFEST in before and sum(n.endswith(".pdf") for n in before) > 5
    shutil.copytree(out, tmp_path / "after_night_one", symlinks=True)
    _change_one_household(tmp_path / "data")

    # A night that fails after the tps folder was staged (links to the published files made): nothing moves.
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    with monkeypatch.context() as m:
        m.setattr(report, "write_report", broken)
        with pytest.raises(RuntimeError):
            pipeline.run(config, stages=STAGES)
    assert _files(out / "tps") == before and not (out / runs.STAGING).exists()

    result = pipeline.run(config, stages=STAGES)
    after = _files(out / "tps")
    rows_after = _desa_rows(out)
    changed = {k for k in rows_after if k not in rows_before or not rows_after[k].equals(rows_before[k])}
    assert len(changed) == 1, changed                 # the change stays in its desa
    (key,) = changed
    stem = maps.file_stem(key)
    written = {n for n, (ino, _) in after.items() if n not in before or before[n][0] != ino}
    lists_written = {n for n in written if n.startswith("daftar/")}
    folders = {n.rsplit("/", 1)[0] for n in lists_written}
    assert len(folders) == 1
    (folder,) = folders
    assert lists_written == {n for n in after if n.startswith(folder + "/")}
    assert written - lists_written == {f"{stem}.png", f"{stem}.html", "index.html", "tps.gpkg", reuse.MANIFEST,
                                       f"kecamatan-{maps.file_stem(interactive.kecamatan_of(key))}.html"}
    assert result.tps["reused"]["as_last_night"] > 0
    # The rest is the very files of last night, and the whole folder is what a run drawing everything writes.
    full = _full_run(tmp_path, tmp_path / "after_night_one", "full")
    assert {n: h for n, (_, h) in _files(full).items()} == {n: h for n, (_, h) in after.items()}


def test_after_a_run_killed_while_moving_into_place_the_next_night_equals_a_full_run(night_one, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tmp_path, config = night_one
    out = config.output.dir
    _change_one_household(tmp_path / "data")
    real = runs._roll_forward

    def killed(out_dir: Path) -> None:
        raise KeyboardInterrupt   # the COMMIT marker is written, nothing moved yet

    with monkeypatch.context() as m:
        m.setattr(runs, "_roll_forward", killed)
        with pytest.raises(KeyboardInterrupt):
            pipeline.run(config, stages=STAGES)
    assert runs.committed(out) and runs._roll_forward is real
    full = _full_run(tmp_path, out, "full")     # the copy rolls the killed run forward first
    result = pipeline.run(config, stages=STAGES)             # so does this one, then takes from its tps folder
    assert result.tps["reused"]["as_last_night"] > 0
    assert {n: h for n, (_, h) in _files(full).items()} == {n: h for n, (_, h) in _files(out / "tps").items()}
