"""The TOML configuration: strict keys, typed values, paths relative to the file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dpt_pipeline.config import load_config
from dpt_pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "a.csv").write_text("NAMA;NIK\nANI;1\n")
    (tmp_path / "regions.csv").write_text((ROOT / "config" / "regions.csv").read_text())
    p = tmp_path / "p.toml"
    p.write_text(body)
    return p


BASE = '[output]\ndir = "out"\n\n[[sources]]\nname = "kutim"\npath = "a.csv"\n'


def test_minimal_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, BASE))
    assert cfg.output.dir == (tmp_path / "out").resolve()
    assert cfg.output.database_path.name == "dpt.duckdb"
    assert cfg.sources[0].path == (tmp_path / "a.csv").resolve()
    assert cfg.ingest.regions == (tmp_path / "regions.csv").resolve()
    assert cfg.tps.max_voters == 600


def test_full_config(tmp_path: Path) -> None:
    body = BASE + (
        'delimiter = ";"\nencoding = "cp1252"\ndate_format = "DD|MM|YYYY"\n'
        '[sources.columns]\nnama = "NAMA ANDA"\n[sources.defaults]\nkabupaten = "KUTAI TIMUR"\n'
        '[ingest]\nreference_date = 2026-12-09\nmin_age = 17\n'
        '[tps]\nmax_voters = 300\ncoordinates = "a.csv"\n'
    )
    cfg = load_config(_write(tmp_path, body))
    s = cfg.sources[0]
    assert (s.delimiter, s.encoding, s.date_format) == (";", "cp1252", "DD|MM|YYYY")
    assert s.columns == {"nama": "NAMA ANDA"} and s.defaults == {"kabupaten": "KUTAI TIMUR"}
    assert cfg.ingest.reference_date == dt.date(2026, 12, 9)
    assert cfg.tps.max_voters == 300


@pytest.mark.parametrize(("body", "message"), [
    (BASE + "delimter = ';'\n", "unknown key sources[0].delimter"),
    (BASE + "[outptu]\n", "unknown key outptu"),
    (BASE.replace('dir = "out"', 'dir = "out"\ndatabse = "x"'), "unknown key output.databse"),
    (BASE + "[sources.columns]\nnamaa = 'X'\n", "unknown key sources[0].columns.namaa"),
    (BASE + "[sources.defaults]\nrt = '1'\n", "unknown key sources[0].defaults.rt"),
    (BASE + "[tps]\nmax_voters = 'many'\n", "tps.max_voters must be a whole number"),
    (BASE + "[tps]\nmax_voters = 0\n", "tps.max_voters must be a positive"),
    (BASE + "[tps]\ncoordinates = 'nope.csv'\n", "nope.csv does not exist"),
    (BASE.replace('"a.csv"', '"missing.csv"'), "missing.csv does not exist"),
    (BASE + '[[sources]]\nname = "kutim"\npath = "a.csv"\n', "used twice"),
    (BASE + 'encoding = "ebcdic"\n', "sources[0].encoding must be one of"),
    (BASE + '[ingest]\nregions = "none.csv"\n', "none.csv does not exist"),
    ('[output]\ndir = "out"\n', "[[sources]]"),
    ("this is = = not toml", "not valid TOML"),
])
def test_bad_config_names_the_problem(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, body))
    assert message in str(err.value)
    assert "p.toml" in str(err.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_shipped_config_loads() -> None:
    cfg = load_config(ROOT / "config" / "pipeline.toml")
    assert [s.name for s in cfg.sources] == ["kutim", "bontang", "kukar"]
