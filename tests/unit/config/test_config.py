"""The TOML configuration: strict keys, typed values, paths relative to the file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dpt_pipeline.config import BorderArea, BorderSide, known_border_areas, load_config
from dpt_pipeline.core import reference
from dpt_pipeline.errors import ConfigError
from dpt_pipeline.ingest.regions import RegionTable

ROOT = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "a.csv").write_text("NAMA;NIK\nANI;1\n")
    p = tmp_path / "p.toml"
    p.write_text(body)
    return p


BASE = '[output]\ndir = "out"\n\n[[sources]]\nname = "kutim"\npath = "a.csv"\n'


def test_minimal_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, BASE))
    assert cfg.output.dir == (tmp_path / "out").resolve()
    assert cfg.output.database_path.name == "dpt.duckdb"
    assert cfg.sources[0].path == (tmp_path / "a.csv").resolve()
    assert cfg.ingest.regions == reference.REGIONS
    assert cfg.tps.max_voters == 600


def test_a_config_outside_the_repository_finds_the_shipped_region_table(tmp_path: Path) -> None:
    # A folder holding only the config and its list (no regions.csv anywhere near): the table shipped in
    # the package is the default, and it is the whole Kemendagri table, Kutim and its neighbours' desa.
    cfg = load_config(_write(tmp_path, BASE))
    assert not (tmp_path / "regions.csv").exists()
    table = RegionTable.load(cfg.ingest.regions)
    assert table.names["64.08"] == "KUTAI TIMUR" and table.names["64.08.13.2006"] == "MARTADINATA"
    assert table.find("desa", "GUNTUNG", "64.74.01") == ("64.74.01.1004", True)


def test_a_config_that_names_its_region_table_uses_its_own(tmp_path: Path) -> None:
    own = tmp_path / "tabel" / "wilayah.csv"
    own.parent.mkdir()
    own.write_text("kode,tingkat,jenis,nama,alias\n64,provinsi,PROVINSI,KALIMANTAN TIMUR,KALTIM\n")
    cfg = load_config(_write(tmp_path, BASE + '[ingest]\nregions = "tabel/wilayah.csv"\n'))
    assert cfg.ingest.regions == own.resolve()
    assert RegionTable.load(cfg.ingest.regions).province_codes == ["64"]
    with pytest.raises(ConfigError, match="ingest.regions: file .*nope.csv does not exist"):
        load_config(_write(tmp_path, BASE + '[ingest]\nregions = "nope.csv"\n'))


def test_the_reference_data_is_package_data() -> None:
    # importlib.resources finds both files inside the package (what a non-editable install ships, listed in
    # pyproject's package-data); nothing of the repository's config/ folder is needed.
    from importlib.resources import files

    core = files("dpt_pipeline.core")
    assert core.joinpath("regions.csv").is_file() and core.joinpath("border_areas.toml").is_file()
    assert reference.REGIONS.read_bytes() == core.joinpath("regions.csv").read_bytes()
    assert "config" not in reference.REGIONS.parts and reference.REGIONS.parent.name == "core"


SIDRAP = BorderArea("Dusun Sidrap", [BorderSide("64.08.13.2006", 19, 25), BorderSide("64.74.01.1004", 19, 25)],
                    "64.08")


def test_the_known_border_areas_are_the_default(tmp_path: Path) -> None:
    assert known_border_areas() == [SIDRAP]
    assert load_config(_write(tmp_path, BASE)).linkage.border_areas == [SIDRAP]
    # a [linkage] table without the key still gets them
    assert load_config(_write(tmp_path, BASE + "[linkage]\nseed = 3\n")).linkage.border_areas == [SIDRAP]


def test_an_empty_border_area_list_turns_them_off_and_a_configured_one_replaces_them(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, BASE + "[linkage]\nborder_areas = []\n")).linkage.border_areas == []
    own = load_config(_write(tmp_path, BASE + _border(3, 4))).linkage.border_areas
    assert [a.name for a in own] == ["Sidrap"] and own[0].sides[0].rt_from == 3


def test_a_broken_border_area_file_is_refused_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "areas.toml"
    bad.write_text('[[border_areas]]\nname = "X"\nsides = [{ kode_desa = "1", rt_from = 1 }]\n')
    with pytest.raises(ConfigError, match=r"areas.toml: missing required key border_areas\[0\].sides\[0\].rt_to"):
        known_border_areas(bad)
    bad.write_text('[[border_area]]\nname = "X"\n')
    with pytest.raises(ConfigError, match="areas.toml: unknown key border_area"):
        known_border_areas(bad)


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
    (BASE + "[tps]\nmax_voters = 0\n", "tps.max_voters = 0 is out of range"),
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


# Every number a setting holds: (table, key, lowest allowed, highest allowed).
NUMBERS = [
    ("ingest", "min_age", 16, 21),
    ("tps", "max_voters", 1, 1000),
    ("linkage", "random_pairs", 10_000, 10_000_000),
    ("linkage", "seed", 0, 2**32 - 1),
    ("review", "learn_min", 1, 10_000_000),
]


def _border(rt_from: int, rt_to: int) -> str:
    return ('[[linkage.border_areas]]\nname = "Sidrap"\nsides = [{ kode_desa = "64.08.13.2006", '
            f'rt_from = {rt_from}, rt_to = {rt_to} }}]\n')


def test_every_numeric_setting_has_a_range() -> None:
    """A number added to a config table without a range check fails here."""
    import dataclasses

    from dpt_pipeline import config

    checked = {f"{t}.{k}" for t, k, _, _ in NUMBERS} | set(SHARES) | {"linkage.review_threshold"}
    tables = {"output": config.OutputConfig, "ingest": config.IngestConfig, "tps": config.TpsConfig,
              "linkage": config.LinkageConfig, "review": config.ReviewConfig}
    numbers = {f"{t}.{f.name}" for t, cls in tables.items() for f in dataclasses.fields(cls)
               if f.type in ("int", "float", "int | None", "float | None")}
    assert numbers == checked
    assert {f.name for f in dataclasses.fields(config.BorderSide) if f.type == "int"} == {"rt_from", "rt_to"}
    assert set(config.SHARES) == set(SHARES)
    assert set(config.RANGES) == {*(f"{t}.{k}" for t, k, _, _ in NUMBERS),
                                  "linkage.border_areas[].sides[].rt_from", "linkage.border_areas[].sides[].rt_to"}


@pytest.mark.parametrize(("table", "key", "lo", "hi"), NUMBERS)
def test_numeric_settings_at_their_bounds_are_accepted(tmp_path: Path, table: str, key: str, lo: int, hi: int) -> None:
    for value in (lo, hi):
        cfg = load_config(_write(tmp_path, BASE + f"[{table}]\n{key} = {value}\n"))
        assert getattr(getattr(cfg, table), key) == value


@pytest.mark.parametrize(("table", "key", "lo", "hi"), NUMBERS)
@pytest.mark.parametrize("side", ["below", "above", "far"])
def test_numeric_settings_out_of_range_are_refused_naming_key_and_range(tmp_path: Path, table: str, key: str,
                                                                        lo: int, hi: int, side: str) -> None:
    value = {"below": lo - 1, "above": hi + 1, "far": -(2**63)}[side]
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, BASE + f"[{table}]\n{key} = {value}\n"))
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'p.toml'}: {table}.{key} = {value} is out of range")
    assert f"from {lo:_} to {hi:_} (" in message
    assert err.value.exit_code == 2


SHARES = ("ingest.max_shrink", "ingest.max_reject_share", "linkage.prior_recall", "tps.min_share")


@pytest.mark.parametrize("key", SHARES)
@pytest.mark.parametrize("value", ["-0.01", "1.01", "nan", "inf", "-inf", "20"])
def test_shares_out_of_range_are_refused(tmp_path: Path, key: str, value: str) -> None:
    table, name = key.split(".")
    with pytest.raises(ConfigError, match=rf"{key} = \S+ is out of range: it must be a number from 0 to 1 \("):
        load_config(_write(tmp_path, BASE + f"[{table}]\n{name} = {value}\n"))


@pytest.mark.parametrize("key", SHARES)
@pytest.mark.parametrize("value", ["0", "0.2", "1"])
def test_shares_in_range_are_accepted(tmp_path: Path, key: str, value: str) -> None:
    table, name = key.split(".")
    if key == "linkage.prior_recall" and value == "0":
        with pytest.raises(ConfigError, match=r"linkage.prior_recall = 0.0 is out of range: .*at least 0.05"):
            load_config(_write(tmp_path, BASE + f"[{table}]\n{name} = {value}\n"))
        return
    cfg = load_config(_write(tmp_path, BASE + f"[{table}]\n{name} = {value}\n"))
    assert getattr(getattr(cfg, table), name) == float(value)


@pytest.mark.parametrize("value", ["0", "0.5", "0.495", "-0.1", "1", "nan", "inf", "-inf"])
def test_review_threshold_out_of_range_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"linkage.review_threshold = \S+ is out of range: it must lie above "
                                          r"0 and at most 0.49"):
        load_config(_write(tmp_path, BASE + f"[linkage]\nreview_threshold = {value}\n"))


@pytest.mark.parametrize("value", ["1e-12", "0.2", "0.49"])
def test_review_threshold_in_range_is_accepted(tmp_path: Path, value: str) -> None:
    assert load_config(_write(tmp_path, BASE + f"[linkage]\nreview_threshold = {value}\n")).linkage.review_threshold \
        == float(value)


@pytest.mark.parametrize(("body", "message"), [
    (_border(0, 25), "linkage.border_areas[0].sides[0].rt_from = 0 is out of range: it must be a whole number "
                     "from 1 to 999"),
    (_border(19, 1000), "linkage.border_areas[0].sides[0].rt_to = 1000 is out of range"),
    (_border(-5, 25), "rt_from = -5 is out of range"),
    (_border(25, 19), "linkage.border_areas[0].sides[0]: rt_from 25 is above rt_to 19"),
    ("[ingest]\nreference_date = 0226-12-09\n", "ingest.reference_date = 0226-12-09 is out of range"),
    ("[ingest]\nreference_date = 2206-12-09\n", "must lie between 2000-01-01 and 2100-12-31"),
])
def test_border_rts_and_the_reference_date_out_of_range_are_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, BASE + body))
    assert message in str(err.value)


def test_border_rts_in_range_are_accepted(tmp_path: Path) -> None:
    side = load_config(_write(tmp_path, BASE + _border(1, 999))).linkage.border_areas[0].sides[0]
    assert (side.rt_from, side.rt_to) == (1, 999)
    assert load_config(_write(tmp_path, BASE + _border(7, 7))).linkage.border_areas[0].sides[0].rt_to == 7
