"""`dpt init`: the survey of a folder's lists (ingest.survey) and the commented config written for them
(starter): detected formats, separators, encodings and header mappings, every setting of config.py with
its default, names and paths that load, no cell in the file."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import subprocess
import tomllib
import typing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpt_pipeline import cli, starter
from dpt_pipeline.config import Config, SourceConfig, load_config
from dpt_pipeline.core.reference import REGIONS
from dpt_pipeline.ingest.regions import RegionTable
from dpt_pipeline.ingest.survey import guess_date_format, survey

KUTIM = ("NO;NKK;NIK;NAMA;TANGGAL LAHIR;JENIS KELAMIN;RT;RW;KELURAHAN/DESA;KECAMATAN;KABUPATEN/KOTA\n"
         "1;6408131507080013;6408132506000023;BUDI SANTOSO;25|06|2000;L;1;1;MARTADINATA;TELUK PANDAN;KUTAI TIMUR\n"
         "2;6408131507080013;6408136507020021;SITI AMINAH;25|07|2002;P;1;1;MARTADINATA;TELUK PANDAN;KUTAI TIMUR\n")
# cp1252, comma separated, its own header spellings, no kabupaten column
BONTANG = ("No,No. KK,NIK,Nama Lengkap,Tgl Lahir,L/P,Kelurahan,Kecamatan\n"
           "1,6474011304210061,3312073011820014,JOSÉ MARIÑO,30-11-1982,L,GUNTUNG,BONTANG UTARA\n")
NAMES = ("BUDI SANTOSO", "SITI AMINAH", "JOSÉ MARIÑO")
NUMBERS = ("6408131507080013", "6408132506000023", "6408136507020021", "6474011304210061", "3312073011820014")


@pytest.fixture(autouse=True)
def _drop_cli_log_handlers() -> typing.Iterator[None]:
    # cli.main points the root logger at the stderr of its moment (capsys's, closed after the test).
    yield
    root = logging.getLogger()
    for h in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(h)


@pytest.fixture(scope="module")
def regions() -> RegionTable:
    return RegionTable.load(REGIONS)


def _folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "dpt_kutim.csv").write_text(KUTIM, encoding="utf-8-sig")
    (data / "DPT_Bontang_v2 (1).csv").write_bytes(BONTANG.encode("cp1252"))
    return data


def test_the_survey_reports_format_encoding_separator_and_headers(tmp_path: Path, regions: RegionTable) -> None:
    data = _folder(tmp_path)
    k = survey(data / "dpt_kutim.csv", regions)
    assert (k.format, k.encoding, k.delimiter, k.rows, k.refusal) == ("csv", "utf-8-sig", ";", 2, None)
    assert k.fields[:4] == [None, "nkk", "nik", "nama"] and "kabupaten" not in k.missing
    assert (k.date_format, k.date_share) == ("DD|MM|YYYY", 1.0)
    b = survey(data / "DPT_Bontang_v2 (1).csv", regions)
    assert (b.encoding, b.delimiter) == ("cp1252", ",")
    assert dict(zip(b.headers, b.fields, strict=True))["Nama Lengkap"] == "nama"
    assert b.missing == ["tempat_lahir", "status_kawin", "alamat", "rt", "rw", "disabilitas", "keterangan", "tps",
                         "kabupaten"]
    assert b.from_file_name == {"kabupaten": "Bontang"}


def test_a_list_ingest_would_refuse_says_why_and_keeps_the_mapping_it_found(tmp_path: Path,
                                                                              regions: RegionTable) -> None:
    p = tmp_path / "x.csv"
    p.write_text("NIK;NAMA ANDA;TGL LAHIR\n6408132506000023;BUDI;01-01-1980\n")
    s = survey(p, regions)
    assert s.refusal == "no column for nama"
    assert s.fields == ["nik", None, "tanggal_lahir"] and s.date_format == "DD-MM-YYYY"
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    assert "save it as .xlsx" in (survey(tmp_path / "old.xls", regions).refusal or "")
    (tmp_path / "empty.csv").write_text("")
    assert survey(tmp_path / "empty.csv", regions).refusal == "the first line (the header) is empty"


@pytest.mark.parametrize(("values", "expected"), [
    (["25|06|2000", "01|01|1970", None, ""], ("DD|MM|YYYY", 1.0)),
    (["2000-06-25", "1999-13-01"], ("YYYY-MM-DD", 0.5)),                  # a month 13 reads with no format
    (["20000625"], ("YYYYMMDD", 1.0)),
    (["2000-06-25 00:00:00"], ("%Y-%m-%d %H:%M:%S", 1.0)),                # no DD|MM|YYYY spelling: kept as is
    (["kemarin", "??"], (None, 0.0)),
    ([None], (None, 0.0)),
])
def test_the_date_format_guess(values: list[str | None], expected: tuple[str | None, float]) -> None:
    import polars as pl

    assert guess_date_format(pl.Series(values, dtype=pl.String)) == expected


def test_a_data_line_taken_for_the_header_is_never_written(tmp_path: Path) -> None:
    # The header line is missing: the first line holds a NIK, a name and a date. None of it may reach the
    # config (a column is named by its position), nor the log.
    data = _folder(tmp_path)
    (data / "tanpa_judul.csv").write_text("6408132506000099;AHMAD NORDIN;02-02-1990\n6408132506000098;X;1\n")
    text, written = starter.render(data, data / "pipeline.toml")
    assert "6408132506000099" not in text and "AHMAD NORDIN" not in text and "02-02-1990" not in text
    assert "(not shown: it does not look like a header)" in text
    assert [p.name for p, _ in written.skipped] == ["tanpa_judul.csv"]


def test_the_written_config_loads_and_holds_no_cell(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = _folder(tmp_path)
    with caplog.at_level("DEBUG"):
        written = starter.init(data)
    text = written.path.read_text()
    for value in (*NAMES, *NUMBERS, "25|06|2000", "MARTADINATA", "GUNTUNG"):
        assert value not in text and value not in caplog.text, value
    cfg = load_config(written.path)
    assert {s.name: s.path for s in cfg.sources} == {"dpt_bontang_v2_1": (data / "DPT_Bontang_v2 (1).csv").resolve(),
                                                      "dpt_kutim": (data / "dpt_kutim.csv").resolve()}
    assert cfg.output.dir == (data / "reports").resolve()
    # detected, shown, and left to detection on each run
    assert '# delimiter = ","   # detected' in text and '# encoding = "cp1252"   # detected' in text
    assert "#    4. 'Nama Lengkap'                 -> nama" in text
    assert "# [sources.defaults]" in text and "the file name says 'Bontang'" in text


def test_every_setting_of_config_py_is_written(tmp_path: Path) -> None:
    data = _folder(tmp_path)
    text = starter.init(data).path.read_text()
    tables = {name: tp for name, tp in typing.get_type_hints(Config).items() if dataclasses.is_dataclass(tp)}
    assert set(tables) == {"output", "ingest", "tps", "linkage", "review"}
    sections = re.split(r"^\[(\w+)\]$", text, flags=re.M)
    body = dict(zip(sections[1::2], sections[2::2], strict=True))
    for name, cls in tables.items():
        for f in dataclasses.fields(cls):
            assert re.search(rf"^(# )?{f.name} = ", body[name], flags=re.M), f"{name}.{f.name}"
    source = text.split("\n[[sources]]\n", 1)[1].split("\n\n", 1)[0]
    for f in dataclasses.fields(SourceConfig):
        if f.name not in ("sheet", "defaults"):     # an XLSX's sheet, a list without region columns
            assert re.search(rf"^(# )?(\[sources\.)?{f.name}( = |\])", source, flags=re.M), f"sources.{f.name}"
    # the comments are config.py's own, and the defaults its values
    assert "# The day ages are computed at (the election day)" in body["ingest"]
    assert "# max_voters = 600   # default" in body["tps"]
    # uncommenting a setting gives a config that loads with it
    changed = text.replace("# max_voters = 600", "max_voters = 300").replace("# seed = 0", "seed = 7")
    (data / "b.toml").write_text(changed)
    cfg = load_config(data / "b.toml")
    assert (cfg.tps.max_voters, cfg.linkage.seed) == (300, 7)


def test_the_border_block_written_is_the_default_and_uncommented_loads_the_same(tmp_path: Path) -> None:
    data = _folder(tmp_path)
    text = starter.init(data).path.read_text()
    block = text[text.index("# [[linkage.border_areas]]"):text.index("[review]")]
    uncommented = text.replace(block, "\n".join(line.removeprefix("# ") for line in block.splitlines()) + "\n\n")
    (data / "c.toml").write_text(uncommented)
    assert load_config(data / "c.toml").linkage == load_config(data / "pipeline.toml").linkage
    assert tomllib.loads(uncommented)["linkage"]["border_areas"][0]["name"] == "Dusun Sidrap"


def test_an_existing_file_is_kept_unless_forced_and_out_sets_the_place(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = _folder(tmp_path)
    target = data / "pipeline.toml"
    target.write_text("# mine\n")
    assert cli.main(["init", str(data)]) == 2
    assert "exists already" in capsys.readouterr().err and target.read_text() == "# mine\n"
    assert cli.main(["init", str(data), "--force", "-q"]) == 0 and "[[sources]]" in target.read_text()
    elsewhere = tmp_path / "conf" / "dpt.toml"
    assert cli.main(["init", str(data), "--out", str(elsewhere)]) == 0
    assert f"wrote {elsewhere}: 2 voter lists" in capsys.readouterr().out
    assert 'path = "../data/dpt_kutim.csv"' in elsewhere.read_text()
    assert load_config(elsewhere).sources[1].path == (data / "dpt_kutim.csv").resolve()


def test_odd_file_names_are_written_so_that_they_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    odd = ['dpt "kutim" #1.csv', "dpt\nbaris.csv", "désa\\x.CSV", "dpt\x7f.txt", "old.xls"]
    for name in odd[:-1]:
        (data / name).write_text(KUTIM)
    (data / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    written = starter.init(data)
    text = written.path.read_text()
    assert "# old.xls: not read: an old Excel workbook (.xls): open it and save it as .xlsx" in text
    assert "# dpt?baris.csv: csv, 2 data rows" in text     # a comment stays on its line (the TOML loads)
    cfg = load_config(written.path)
    assert sorted(s.path.name for s in cfg.sources) == sorted(odd[:-1])
    assert all(s.name and all(c.isascii() and (c.isalnum() or c in "_-") for c in s.name) for s in cfg.sources)
    assert [p.name for p, _ in written.skipped] == ["old.xls"]


def test_a_folder_without_a_voter_list_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "truth.csv").write_text("source,source_row,person_id\nkutim,1,P1\n")
    assert cli.main(["init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no voter list found to configure (files looked at: truth.csv" in err
    assert not (tmp_path / "pipeline.toml").exists()
    assert cli.main(["init", str(tmp_path / "nope")]) == 2


_HEADERS = st.sampled_from(["NIK", "NAMA", "Nama Lengkap", "TGL LAHIR", "NO. KK", "RT", "Kota", "ALAMAT", "X", ""])


@settings(max_examples=25, deadline=None)
@given(headers=st.lists(_HEADERS, min_size=1, max_size=6),
       missing_header=st.booleans(),
       rows=st.lists(st.tuples(st.integers(10**15, 10**16 - 1), st.text("ABCDEFGHIJKLMNOPRSTUWY", min_size=3,
                                                                         max_size=8)), min_size=1, max_size=5),
       sep=st.sampled_from([";", ",", "\t"]))
def test_no_cell_ever_reaches_the_written_config(tmp_path_factory: pytest.TempPathFactory, headers: list[str],
                                                   missing_header: bool, rows: list[tuple[int, str]],
                                                   sep: str) -> None:
    # Whatever the header line (known headers, unknown ones, none at all: the first data line taken for it),
    # no NIK or name of the list is in the config: a header is quoted only when it looks like one.
    data = tmp_path_factory.mktemp("cells")
    cells = [[str(nik), f"QZ{name}", "01-02-1980"] + ["v"] * (len(headers) - 3) for nik, name in rows]
    lines = [sep.join(c[:len(headers)]) for c in cells]
    (data / "dpt.csv").write_text("\n".join(([] if missing_header else [sep.join(headers)]) + lines) + "\n")
    (data / "ok.csv").write_text("NAMA;NIK\nANI;1\n")
    text, _ = starter.render(data, data / "pipeline.toml")
    for c in cells:
        for value in c[:min(2, len(headers))]:
            assert value not in text
    tomllib.loads(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=8))
def test_source_names_are_valid_and_unique(stems: list[str]) -> None:
    taken: set[str] = set()
    names = [starter._name(s, taken) for s in stems]
    assert len(set(names)) == len(names)
    assert all(n and all(c.isascii() and (c.isalnum() or c in "_-") for c in n) for n in names)


@pytest.mark.skipif(shutil.which("soffice") is None and not os.environ.get("CI"),
                    reason="needs LibreOffice (soffice); .ci/run installs it, and in CI it is never skipped")
def test_an_xlsx_saved_by_libreoffice_is_surveyed(tmp_path: Path) -> None:
    src = tmp_path / "src" / "dpt_sangatta.csv"
    src.parent.mkdir()
    src.write_text("NIK,Nama Pemilih,Tgl. Lahir,Desa,Kec\n6408132506000023,BUDI SANTOSO,25-06-2000,SANGKIMA,"
                   "SANGATTA SELATAN\n")
    data = tmp_path / "data"
    profile = tmp_path / "lo-profile"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(data), str(src)], check=True, capture_output=True, timeout=180)
    written = starter.init(data)
    text = written.path.read_text()
    assert "# dpt_sangatta.xlsx: xlsx, 1 data rows" in text
    assert "# sheet = " in text and "#    2. 'Nama Pemilih'" in text
    assert "# kabupaten = \"\"   # this list has no kabupaten column" in text
    assert "BUDI" not in text and "6408132506000023" not in text
    cfg = load_config(written.path)
    assert cfg.sources[0].path.suffix == ".xlsx"
    for f in dataclasses.fields(SourceConfig):   # with a sheet and region defaults; no separator in a sheet
        found = re.search(rf"^(# )?(\[sources\.)?{f.name}( = |\])", text, flags=re.M)
        assert found or f.name in ("delimiter", "encoding"), f.name


def test_a_list_with_title_rows_is_surveyed_from_its_header_and_the_row_written(tmp_path: Path,
                                                                                regions: RegionTable) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "dpt_kutim.csv").write_text("DAFTAR PEMILIH TETAP;;;\nPILKADA 2026 KAB. KUTAI TIMUR;;;\n;;;\n" + KUTIM,
                                        encoding="utf-8-sig")
    k = survey(data / "dpt_kutim.csv", regions)
    assert (k.header_row, k.rows, k.refusal) == (4, 2, None)
    assert k.fields[:4] == [None, "nkk", "nik", "nama"]
    written = starter.init(data, None).path
    text = written.read_text(encoding="utf-8")
    assert re.search(r"^# header_row = 4 ", text, re.M) and "3 title rows" in text
    assert text.count("header_row =") == 1            # not written again by the generic loop
    cfg = load_config(written)
    assert cfg.sources[0].header_row is None           # found on each run: left commented
