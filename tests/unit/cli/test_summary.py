"""The closing summary of `dpt run`, `dpt ingest`, `dpt tps` and `dpt review import`: what ran, where the
report and the review files are, what needs a look, and what to do next."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import polars as pl
import pytest

from dpt_pipeline import cli
from dpt_pipeline.config import Config, load_config
from dpt_pipeline.ingest import SourceSummary
from dpt_pipeline.ingest.nik import MASALAH_DIGIT_EXCEL
from dpt_pipeline.io.runs import STAGING, final_path
from dpt_pipeline.pipeline import RunResult
from dpt_pipeline.review import ImportReport
from dpt_pipeline.review.imports import RowNote

ROOT = Path(__file__).resolve().parents[3]
FLAGS = {"nik_tidak_valid": 0, "wilayah_tidak_dikenal": 0}


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Content checks on unwrapped lines; test_long_lines_wrap_between_words checks the wrapping."""
    monkeypatch.setenv("COLUMNS", "400")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "a.csv").write_text("NAMA;NIK\n")
    (tmp_path / "regions.csv").write_text((ROOT / "dpt_pipeline" / "core" / "regions.csv").read_text())
    cfg = tmp_path / "p.toml"
    cfg.write_text('[output]\ndir = "out"\n[[sources]]\nname = "kutim"\npath = "a.csv"\n')
    return load_config(cfg)


def _args(command: str, config: Config, quiet: bool = False) -> argparse.Namespace:
    return argparse.Namespace(command=command, quiet=quiet, verbose=False, config=config.path)


def _source(name: str, rows: int, rejects: int, cut: int = 0) -> SourceSummary:
    return SourceSummary(source=name, path=f"{name}.csv", format="csv", encoding="utf-8", delimiter=";",
                         data_rows=rows, voters=rows - rejects, rejects=rejects,
                         rejects_by_reason={"nama kosong": rejects} if rejects else {},
                         nik_invalid_by_problem={MASALAH_DIGIT_EXCEL: cut} if cut else {}, flags=FLAGS)


def _result(config: Config, *, sources: list[SourceSummary], linkage: bool = True, tps: bool = True) -> RunResult:
    out = config.output.dir
    link: dict[str, object] = {
        "mode": "full", "candidate_pairs": 123_456, "listed_pairs": 1_234, "claimed_pairs": 1_000, "groups": 990,
        "nik_conflicts": 3, "struck": 0, "border": [], "border_files": [],
        "review_summary": [{"kabupaten": "KUTAI TIMUR", "kecamatan": "TELUK PANDAN", "terbuka": 1_200, "sama": 2,
                            "beda": 1, "ragu": 0, "konflik": 0}],
    } if linkage else {}
    tps_info: dict[str, object] = {
        "voters": 1_234_567, "tps": 2_100, "desa": 140, "over_cap": 2, "split_households": 0, "rts_fallback": 5,
        "churn": None, "moved": None, "desa_with_extra_tps": [], "maps": str(out / "tps" / "index.html"),
        "gpkg": str(out / "tps" / "tps.gpkg"), "rts_split": 17,
        "lists": {"folder": str(out / "tps" / "daftar"), "files": 4_200},
    } if tps else {}
    return RunResult(database=config.output.database_path, summary_file=out / "run_summary.json", sources=sources,
                     stage_seconds={"ingest": 1.0, "link": 2.5}, linkage=link, tps=tps_info,
                     run_id="20261201T010203-abcdef")


def test_a_run_says_where_the_report_and_review_files_are_and_what_to_do_next(config: Config, capsys) -> None:
    cli._print_run(_result(config, sources=[_source("kutim", 1_552, 4)]), _args("run", config), config)
    out = capsys.readouterr().out
    folder = config.output.dir
    assert "dpt run finished: run 20261201T010203-abcdef, 3.5 s" in out
    assert "kutim        csv         1,552     1,548        4" in out     # thousands separators
    assert "123,456 pairs compared" in out and "1,000 claimed as one person" in out
    assert "  KUTAI TIMUR        TELUK PANDAN          1,200     2" in out      # to review per kecamatan
    assert "1,234,567 voters in 2,100 TPS over 140 desa" in out
    assert "17 RTs split between two or more TPS" in out and "(table tps_rt_splits)" in out
    assert f"GIS layers:   {folder / 'tps' / 'tps.gpkg'} (QGIS)" in out
    assert f"TPS lists:    {folder / 'tps' / 'daftar'}/ (XLSX per desa, PDF per TPS)" in out
    assert f"report:       {folder / 'report.html'}" in out
    assert f"review files: {folder / 'review'}/" in out
    assert f"send the review files in {folder / 'review'}/ to the camat" in out
    assert f"dpt review import --config {config.path} {folder / 'review'}/*/*.xlsx" in out
    assert "2 TPS hold more voters than the cap" in out and "3 NIKs are shared by two people" in out
    assert STAGING not in out


def test_a_list_cut_by_excel_or_mostly_rejected_and_the_warnings_are_pointed_at(config: Config, capsys) -> None:
    cli._setup_logging(_args("run", config))     # not a terminal: plain lines, and the warnings counted
    logging.getLogger("dpt_pipeline.test").warning("something a staffer should read")
    logging.getLogger("dpt_pipeline.test").warning("and another")
    sources = [_source("kutim", 1_000, 10, cut=300), _source("kukar", 100, 60)]
    cli._print_run(_result(config, sources=sources), _args("run", config), config)
    out = capsys.readouterr().out
    look = out.split("needs a look:\n", 1)[1].split("\n\n", 1)[0]
    assert "list kutim: 300 NIKs lost their last digit" in look and "formatted as text" in look
    assert "list kukar: 60% of its rows rejected (more than 50%)" in look
    assert "kutim: 1% of" not in look                                  # a list under the share is not named
    assert "2 warnings in the log above" in look


def test_nothing_to_look_at_says_nothing_about_it(config: Config, capsys) -> None:
    cli._setup_logging(_args("run", config))
    result = _result(config, sources=[_source("kutim", 10, 0)])
    result.linkage["nik_conflicts"] = 0
    result.tps["over_cap"] = 0
    cli._print_run(result, _args("run", config), config)
    assert "needs a look" not in capsys.readouterr().out


def test_ingest_and_tps_say_what_comes_next(config: Config, capsys) -> None:
    cli._print_run(_result(config, sources=[_source("kutim", 10, 0)], linkage=False, tps=False),
                   _args("ingest", config), config)
    out = capsys.readouterr().out
    assert f"dpt run --config {config.path}" in out and "review files:" not in out
    cli._print_run(_result(config, sources=[], linkage=False), _args("tps", config), config)
    out = capsys.readouterr().out
    assert "dpt tps finished" in out and "list " not in out
    assert f"check the TPS on the maps: {config.output.dir / 'tps' / 'index.html'}" in out


def test_long_lines_wrap_between_words_and_commands_stay_whole(config: Config, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    cli._print_run(_result(config, sources=[_source("kutim", 1_000, 10, cut=300)]), _args("run", config), config)
    lines = capsys.readouterr().out.splitlines()
    command = f"      dpt review import --config {config.path} {config.output.dir / 'review'}/*/*.xlsx"
    assert command in lines                                             # whole, on its own line
    long = [line for line in lines if len(line) > 80 and line != command and " " in line.strip() and not
            line.startswith(("report:", "review files:", "TPS maps:", "database:", "all counts:"))]
    assert long == []                                                   # (a path alone on its line is not cut)
    said = " ".join(line.strip() for line in lines)
    assert "list kutim: 300 NIKs lost their last digit (the file was saved by Excel with the NIK column as " \
           "numbers): export it again with the column formatted as text" in said           # no word cut


def test_quiet_prints_no_summary(config: Config, capsys) -> None:
    cli._print_run(_result(config, sources=[_source("kutim", 10, 0)]), _args("run", config, quiet=True), config)
    report = ImportReport(files=1, refused=[RowNote("a.xlsx", 3, "keputusan", "unknown word")])
    cli._print_import(report, config.output.dir / "review", quiet=True, config_arg="p.toml")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "refused: file a.xlsx, row 3" in captured.err          # what went wrong still goes to stderr


def test_an_import_with_refused_rows_says_which_files_to_import_again(config: Config, capsys) -> None:
    stored = pl.DataFrame({"keputusan": ["SAMA", "BEDA", "SAMA"]})
    f = "review/kutim/teluk pandan.xlsx"
    report = ImportReport(stored=stored, files=2, refused=[RowNote(f, 3, "keputusan", "x"),
                                                           RowNote(f, 5, "keputusan", "x")])
    cli._print_import(report, config.output.dir / "review", quiet=False, config_arg="config/pipeline.toml")
    out = capsys.readouterr().out
    assert "3 decisions stored (BEDA 1, SAMA 2)" in out and "2 refused" in out
    assert "dpt review import --config config/pipeline.toml 'review/kutim/teluk pandan.xlsx'\n" in out
    assert "dpt tps --config config/pipeline.toml" in out


@pytest.mark.parametrize(("staged", "final"), [
    ("/srv/reports/.staging/report.html", "/srv/reports/report.html"),
    ("/srv/reports/.staging/tps/index.html", "/srv/reports/tps/index.html"),
    ("/srv/reports/report.html", "/srv/reports/report.html"),            # not staged: as it is
    ("/srv/.staging/reports/.staging/dpt.duckdb", "/srv/.staging/reports/dpt.duckdb"),   # the innermost one
])
def test_a_staged_path_is_named_where_it_will_be(staged: str, final: str) -> None:
    assert final_path(Path(staged)) == Path(final)


def test_review_export_says_where_the_files_are_and_how_they_come_back(config: Config, capsys) -> None:
    assert cli.main(["run", "--config", str(config.path), "-q"]) == 0
    capsys.readouterr()
    assert cli.main(["review", "export", "--config", str(config.path)]) == 0
    out = capsys.readouterr().out
    folder = config.output.dir / "review"
    assert f"review files under {folder}/" in out and "camat" in out
    assert f"dpt review import --config {config.path} {folder}/*/*.xlsx" in out
