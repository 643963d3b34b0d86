"""A newcomer's first day: `dpt init` on a folder holding the shipped sample lists (copied away from the
repository), then `dpt run` on the config it wrote, with no hand-written TOML; and the same run with the
border areas turned off, which says so."""

from __future__ import annotations

import json
import logging
import shutil
import typing
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dpt_pipeline import cli
from dpt_pipeline.config import load_config

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"


@pytest.fixture(autouse=True)
def _drop_cli_log_handlers() -> typing.Iterator[None]:
    yield   # cli.main points the root logger at the stderr of its moment (capsys's, closed after the test)
    root = logging.getLogger()
    for h in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(h)


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder outside the repository with the sample lists, and the config `dpt init` wrote for it (maps
    off, to keep the test short: the one setting changed by hand, by removing its #)."""
    folder = tmp_path_factory.mktemp("kantor") / "dpt"
    shutil.copytree(SAMPLE, folder)
    assert cli.main(["init", str(folder), "-q"]) == 0
    text = (folder / "pipeline.toml").read_text()
    assert "# maps = true   # default" in text
    (folder / "pipeline.toml").write_text(text.replace("# maps = true   # default", "maps = false"))
    return folder, text


def test_init_finds_the_three_lists_and_the_coordinates_and_no_cell(started: tuple[Path, str]) -> None:
    folder, text = started
    cfg = load_config(folder / "pipeline.toml")
    assert [s.name for s in cfg.sources] == ["dpt_bontang", "dpt_kukar", "dpt_kutim"]
    assert cfg.tps.coordinates == (folder / "rt_coordinates.csv").resolve()
    assert [a.name for a in cfg.linkage.border_areas] == ["Dusun Sidrap"]
    assert "# [[sources]]\n# name = \"truth\"" in text          # the truth file is no voter list: commented out
    cells = set()
    for name, sep in (("dpt_kutim.csv", ";"), ("dpt_bontang.csv", ","), ("dpt_kukar.csv", "\t")):
        raw = (folder / name).read_bytes()
        frame = pl.read_csv(raw.decode("cp1252" if "bontang" in name else "utf-8-sig").encode(), separator=sep,
                            infer_schema=False, truncate_ragged_lines=True, ignore_errors=True)
        for col in frame.columns[1:4]:   # NKK, NIK, name (and the Kukar list's name, NIK, KK)
            cells |= {v for v in frame[col].drop_nulls().to_list() if len(v) >= 6}
    assert len(cells) > 5000
    assert not [c for c in cells if c in text]


def test_dpt_run_runs_on_the_written_config(started: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = started
    assert cli.main(["run", "--config", str(folder / "pipeline.toml")]) == 0
    out = capsys.readouterr().out
    assert "border:     Dusun Sidrap" in out and str(folder / "reports" / "border" / "dusun-sidrap.csv") in out
    summary = json.loads((folder / "reports" / "run_summary.json").read_text())
    assert [s["source"] for s in summary["sources"]] == ["dpt_bontang", "dpt_kukar", "dpt_kutim"]
    assert sum(s["voters"] for s in summary["sources"]) == 4988
    assert summary["linkage"]["border_areas"] == 1
    assert any(r["status"] == "terdaftar di dua sisi" for r in summary["linkage"]["border"])
    with duckdb.connect(str(folder / "reports" / "dpt.duckdb"), read_only=True) as con:
        # the region table shipped in the package resolved the regions of a config far from the repository
        resolved = con.execute("SELECT count(*) FROM voters WHERE kode_desa IS NOT NULL").fetchone()
        assert resolved is not None and resolved[0] > 4900


def test_no_border_area_configured_is_said(started: tuple[Path, str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = started
    text = (folder / "pipeline.toml").read_text().replace(
        "# border_areas = []   # turns them off", "border_areas = []   # turns them off")
    (folder / "off.toml").write_text(text.replace('dir = "reports"', f'dir = "{tmp_path / "out"}"'))
    assert load_config(folder / "off.toml").linkage.border_areas == []
    assert cli.main(["run", "--config", str(folder / "off.toml")]) == 0
    out, err = capsys.readouterr()
    assert "INFO dpt_pipeline.pipeline: no border area configured ([linkage] border_areas = [])" in err
    assert "border:     no border area configured ([linkage] border_areas = [])" in out
    assert json.loads((tmp_path / "out" / "run_summary.json").read_text())["linkage"]["border_areas"] == 0
    report = (tmp_path / "out" / "report.html").read_text()
    section = report[report.index('id="perbatasan"'):report.index('id="pemeriksaan"')]
    assert "no border area configured" in section and "no border residents" not in section
    assert not (tmp_path / "out" / "border").exists() or not list((tmp_path / "out" / "border").iterdir())
