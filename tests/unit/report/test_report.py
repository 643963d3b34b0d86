"""The run report: one HTML page of aggregates from the published database, checked against SQL on a real run
of the sample data, for privacy, and on databases that lack tables."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import matplotlib.image
import polars as pl
import pytest
from pagetables import page_tables as tables

from dpt_pipeline import pipeline
from dpt_pipeline.config import Config, OutputConfig, load_config
from dpt_pipeline.evaluate import simulated_reviewer
from dpt_pipeline.io.files import FILE_MODE
from dpt_pipeline.outputs.report import EVIDENCE_BELOW, EVIDENCE_CLAIMED, EVIDENCE_HELD, write_report

ROOT = Path(__file__).resolve().parents[3]
HEADINGS = ("Laporan proses DPT", "Informasi proses", "Jumlah per tahap", "Penolakan per alasan",
            "Calon ganda per kecamatan", "Bukti pasangan yang paling meragukan", "Wilayah perbatasan",
            "Kemajuan pemeriksaan", "Kualitas TPS", "Perubahan sejak proses sebelumnya",
            "Perubahan karena impor keputusan")
SHA = "0123456789abcdef" * 4
PREVIOUS_STAGES: dict[str, dict[str, Any]] = {
    "ingest": {"seconds": 0.5, "rows": {"data_rows": 4990, "voters": 4970, "rejects": 20, "rejects: nama kosong": 8}},
    "link": {"seconds": 2.25, "rows": {"claimed_pairs": 180, "groups": 170}},
    "tps": {"seconds": 3.0, "rows": {"tps": 55}},
}
CURRENT_STAGES: dict[str, dict[str, Any]] = {
    "ingest": {"seconds": 0.4, "rows": {"data_rows": 5000, "voters": 4988, "rejects": 12, "rejects: kolom kurang": 3}},
    "link": {"seconds": 1.5, "rows": {"claimed_pairs": 192, "groups": 170}},
    "tps": {"seconds": 4.75, "rows": {"tps": 56}},
    "publish": {"seconds": 0.125, "rows": {"tables": 14}},
}
OLDEST_STAGES = {"ingest": {"seconds": 9.0, "rows": {"voters": 1}}}
INPUTS = [{"source": "kutim", "path": "/data/dpt_kutim.csv", "sha256": SHA, "rows": 1552},
          {"source": "bontang", "path": "/data/dpt_bontang.csv", "sha256": "f" * 64, "rows": 740}]
RUNS_DDL = """CREATE OR REPLACE TABLE runs (run_id VARCHAR, command VARCHAR, started_at TIMESTAMP,
    finished_at TIMESTAMP, status VARCHAR, mode VARCHAR, config_hash VARCHAR, inputs VARCHAR, stages VARCHAR,
    version VARCHAR, error VARCHAR)"""
# Not in time order: the report orders by started_at. The newest is a failed run, the previous ok run has an
# interrupted one after it, and an older ok run must not count as the previous one.
RUNS = [
    ("run-cur", "run", "2026-11-28 01:00:00", "2026-11-28 01:02:05", "ok", "full", "hash-cur",
     json.dumps(INPUTS), json.dumps(CURRENT_STAGES), "0.2.0", None),
    ("run-failed", "run", "2026-11-28 03:00:00", "2026-11-28 03:00:10", "failed", "full", "hash-cur",
     json.dumps(INPUTS), None, "0.2.0", "disk penuh <sda>"),
    ("run-oldest", "run", "2026-11-20 01:00:00", "2026-11-20 01:01:00", "ok", "full", "hash-old",
     "[]", json.dumps(OLDEST_STAGES), "0.1.0", None),
    ("run-prev", "run", "2026-11-26 01:00:00", "2026-11-26 01:01:00", "ok", "incremental", "hash-prev",
     "[]", json.dumps(PREVIOUS_STAGES), "0.1.0", None),
    ("run-interrupted", "ingest", "2026-11-27 01:00:00", None, "interrupted", "full", "hash-prev",
     "[]", None, "0.1.0", None),
]


def _set_runs(database: Path, rows: list[tuple] | None) -> None:
    """Replace the runs table (None: drop it)."""
    with duckdb.connect(str(database)) as con:
        if rows is None:
            con.execute("DROP TABLE IF EXISTS runs")
            return
        con.execute(RUNS_DDL)
        con.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


@pytest.fixture(scope="module")
def run_config(tmp_path_factory) -> Config:
    cfg = load_config(ROOT / "config" / "pipeline.toml")
    out = tmp_path_factory.mktemp("run")
    return dataclasses.replace(cfg, output=OutputConfig(dir=out), tps=dataclasses.replace(cfg.tps, maps=False))


@pytest.fixture(scope="module")
def database(run_config: Config) -> Path:
    db = pipeline.run(run_config).database
    _set_runs(db, RUNS)
    return db


@pytest.fixture(scope="module")
def imported(run_config: Config, database: Path, tmp_path_factory) -> Path:
    """The run's folder copied and a camat's decisions imported (one unknown word): the report it wrote."""
    out = tmp_path_factory.mktemp("imported") / "out"
    shutil.copytree(run_config.output.dir, out, symlinks=True)
    cfg = dataclasses.replace(run_config, output=OutputConfig(dir=out))
    inbox = simulated_reviewer(sorted((out / "review").glob("*/*.csv")), ROOT / "sample_data" / "truth.csv",
                               out.parent / "inbox", share=0.8, wrong=0.1, seed=2)
    rows = pl.read_csv(inbox[0], separator=";", infer_schema=False)
    rows.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("MUNGKIN")).otherwise("keputusan")
                      .alias("keputusan")).write_csv(inbox[0], separator=";")
    pipeline.review_import(cfg, inbox)
    return out / "report.html"


@pytest.fixture(scope="module")
def report(database: Path, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report")
    (out / "tps").mkdir()
    (out / "tps" / "index.html").write_text("<html></html>", encoding="utf-8")
    path = write_report(database, out / "report.html")
    return path, path.read_text(encoding="utf-8")


@pytest.fixture
def page(report: tuple[Path, str]) -> str:
    return report[1]


def _q(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


def _copy(database: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(database, copy)
    return copy


def fmt(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def num(text: str) -> int:
    return int(text.replace(".", ""))


def section(page: str, key: str) -> str:
    m = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert m, key
    return m.group(1)


def without_images(page: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)


# -- the full run ------------------------------------------------------------------------------------------

def test_every_section_is_there_in_order(page: str) -> None:
    positions = [page.index(h) for h in HEADINGS]
    assert positions == sorted(positions)
    keys = re.findall(r'<section id="([a-z]+)">', page)
    assert keys == ["proses", "tahap", "penolakan", "ganda", "bukti", "perbatasan", "pemeriksaan", "tps", "perubahan",
                    "impor"]
    assert "dilewati" not in page          # nothing skipped on a full run


def test_header_is_the_last_ok_run_with_its_inputs(page: str) -> None:
    info = {row[0]: row[1] for row in tables(page)["tabel-proses"][1:]}
    assert info["ID proses (run id)"] == "run-cur"
    assert info["Mulai (started)"] == "2026-11-28 01:00:00"
    assert info["Selesai (finished)"] == "2026-11-28 01:02:05"
    assert info["Lama (duration)"] == "0:02:05"
    assert info["Status"] == "ok"
    assert info["Versi perangkat lunak (version)"] == "0.2.0"
    assert info["Hash konfigurasi (config hash)"] == "hash-cur"
    inputs = tables(page)["tabel-masukan"][1:]
    assert inputs == [["kutim", "/data/dpt_kutim.csv", "1.552", SHA[:12]],
                      ["bontang", "/data/dpt_bontang.csv", "740", "f" * 12]]
    assert SHA[:13] not in page
    # The failed run after it is flagged, its message escaped.
    head = section(page, "proses")
    assert "run-failed" in head and "failed" in head and "disk penuh &lt;sda&gt;" in head
    assert "<sda>" not in page


def test_stage_table_and_chart(page: str) -> None:
    got: dict[tuple[str, str], int] = {}
    seconds: dict[str, str] = {}
    stage = ""
    for row in tables(page)["tabel-tahap"][1:]:
        stage = row[0] or stage
        if row[1]:
            seconds[stage] = row[1]
        got[(stage, row[2])] = num(row[3])
    assert got == {(s, k): v for s, info in CURRENT_STAGES.items() for k, v in info["rows"].items()}
    assert seconds == {"ingest": "0,400", "link": "1,500", "tps": "4,750", "publish": "0,125"}
    assert section(page, "tahap").count("data:image/png;base64,") == 1


def test_rejects_per_reason_and_source_equal_sql(database: Path, page: str) -> None:
    table = tables(page)["tabel-penolakan"]
    sources = table[0][1:-1]
    got = {(row[0], src): num(v) for row in table[1:-1] for src, v in zip(sources, row[1:-1], strict=True)
           if num(v)}
    expected = {(r, s): n for r, s, n in _q(database, "SELECT reason, source, count(*) FROM rejects GROUP BY ALL")}
    assert expected and got == expected
    (total,) = _q(database, "SELECT count(*) FROM rejects")[0]
    assert table[-1][0] == "Jumlah" and num(table[-1][-1]) == total
    assert section(page, "penolakan").count("data:image/png;base64,") == 1


def test_duplicates_per_kecamatan_equal_sql(database: Path, page: str) -> None:
    table = tables(page)["tabel-ganda"]
    got = {row[1]: (num(row[2]) + num(row[3]), num(row[4]) + num(row[5])) for row in table[1:-1]}
    expected = {k: (c, r) for k, c, r in _q(database, """
        SELECT r.nama, count(*) FILTER (p.match_probability >= 0.5),
               count(*) FILTER (p.match_probability < 0.5)
        FROM duplicate_pairs p JOIN voters v ON v.voter_id = p.voter_id_l
        JOIN regions r ON r.kode = v.kode_kecamatan GROUP BY 1""")}
    assert got == expected
    claimed, check, within = _q(database, """SELECT count(*) FILTER (match_probability >= 0.5),
        count(*) FILTER (match_probability < 0.5),
        count(*) FILTER (match_probability >= 0.5 AND scope = 'dalam') FROM duplicate_pairs""")[0]
    assert claimed > 0
    total = table[-1]
    assert num(total[2]) == within and num(total[2]) + num(total[3]) == claimed
    assert num(total[4]) + num(total[5]) == check
    (groups,), (conflicts,) = (_q(database, "SELECT count(DISTINCT group_id) FROM duplicate_groups")[0],
                               _q(database, "SELECT count(*) FROM nik_conflicts")[0])
    text = section(page, "ganda")
    assert f"Kelompok ganda (groups): {fmt(groups)}," in text
    assert f"nik_conflicts): {fmt(conflicts)}." in text
    assert f"Pasangan diklaim satu orang (peluang ≥ 0,5): {fmt(claimed)};" in text
    assert text.count("data:image/png;base64,") == 1


def test_border_counts_equal_sql(database: Path, page: str) -> None:
    table = tables(page)["tabel-perbatasan"]
    statuses = table[0][3:-1]
    got = {(row[0], row[1], st): num(v) for row in table[1:-1] for st, v in zip(statuses, row[3:-1], strict=True)
           if num(v)}
    expected = {(a, k, s): n for a, k, s, n in
                _q(database, "SELECT area, kode_desa, status, count(*) FROM border_residents GROUP BY ALL")}
    assert expected and got == expected
    assert {row[2] for row in table[1:-1]} == {"MARTADINATA", "GUNTUNG"}
    assert "voter_id" not in section(page, "perbatasan")


def test_review_progress_equals_sql(database: Path, page: str) -> None:
    table = tables(page)["tabel-pemeriksaan"]
    got = {(row[0], row[1]): tuple(num(v) for v in row[2:6]) for row in table[1:-1]}
    expected = {(r[0], r[1]): tuple(r[2:]) for r in
                _q(database, "SELECT kabupaten, kecamatan, terbuka, sama, beda, ragu FROM review_summary")}
    assert got == expected
    (open_pairs,) = _q(database, "SELECT sum(terbuka) FROM review_summary")[0]
    assert open_pairs > 0 and num(table[-1][2]) == open_pairs
    assert section(page, "pemeriksaan").count("data:image/png;base64,") == 1


def test_tps_quality_totals_and_link(database: Path, page: str) -> None:
    totals = {row[0]: row[1] for row in tables(page)["tabel-tps-total"][1:]}
    desa, voters, tps, over, moved, both = _q(database, """SELECT count(*), sum(voters), sum(tps), sum(over_cap),
        sum(moved), sum(voters_both_nights) FROM tps_quality""")[0]
    (stations,) = _q(database, "SELECT count(*) FROM tps_summary")[0]
    assert num(totals["TPS"]) == tps == stations
    assert num(totals["Desa"]) == desa
    assert num(totals["Pemilih (voters)"]) == voters
    assert num(totals["TPS melebihi kapasitas (over cap)"]) == over
    churn = totals["Pindah TPS sejak malam sebelumnya (moved)"]
    assert churn.startswith(f"{fmt(moved)} dari {fmt(both)} (") if both else "proses pertama" in churn
    assert len(tables(page)["tabel-tps"]) - 1 == desa
    assert '<a href="tps/index.html">' in section(page, "tps")


def test_change_since_the_previous_ok_run(page: str) -> None:
    text = section(page, "perubahan")
    assert "run-prev" in text and "run-cur" in text and "run-oldest" not in text
    rows = {(r[0], r[1]): r[2:] for r in tables(page)["tabel-perubahan"][1:]}
    assert rows == {
        ("ingest", "data_rows"): ["4.990", "5.000", "+10"],
        ("ingest", "voters"): ["4.970", "4.988", "+18"],
        ("ingest", "rejects"): ["20", "12", "-8"],
        ("ingest", "rejects: kolom kurang"): ["–", "3", "–"],
        ("ingest", "rejects: nama kosong"): ["8", "–", "–"],
        ("link", "claimed_pairs"): ["180", "192", "+12"],
        ("link", "groups"): ["170", "170", "0"],
        ("tps", "tps"): ["55", "56", "+1"],
        ("publish", "tables"): ["–", "14", "–"],
    }


def test_no_personal_data_in_the_page(database: Path, page: str) -> None:
    text = without_images(page)
    assert not re.search(r"(kutim|bontang|kukar)-[0-9a-f]{16}", text)     # no voter_id at all
    sample = _q(database, """SELECT voter_id, nik, nkk, nama, strftime(tanggal_lahir, '%Y-%m-%d'),
        strftime(tanggal_lahir, '%d-%m-%Y') FROM voters USING SAMPLE 300 ROWS (reservoir, 7)""")
    checked = 0
    for voter_id, nik, nkk, nama, born_iso, born in sample:
        assert voter_id not in text
        for value in (nik, nkk):
            if value and len(value) >= 10:
                assert value not in text
        if nama and " " in nama.strip():       # a one-word name may also be a place (LESTARI: Bontang Lestari)
            assert nama not in text and nama.upper() not in text
            checked += 1
        for value in (born_iso, born):
            if value:
                assert value not in text
    assert checked > 100
    raws = [raw for (raw,) in _q(database, "SELECT raw FROM rejects") if raw and raw.strip(" ;,|\t")]
    assert raws
    for raw in raws:
        assert raw not in text
        for piece in re.findall(r"\d{16}|\d{1,2}[-|/.]\d{1,2}[-|/.]\d{4}", raw):
            assert piece not in text


def test_charts_are_embedded_png(database: Path, page: str) -> None:
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" width="(\d+)" height="(\d+)"', page)
    (claimed, held, below), = _q(database, f"""
        SELECT least(count(*) FILTER (match_probability >= 0.5), {EVIDENCE_CLAIMED}),
        least(count(*) FILTER (tahan IS NOT NULL), {EVIDENCE_HELD}),
        least(count(*) FILTER (match_probability < 0.5 AND tahan IS NULL), {EVIDENCE_BELOW}) FROM duplicate_pairs""")
    assert claimed and held and below
    assert len(images) == 4 + claimed + held + below      # stages, rejects, duplicates, review; the waterfalls
    for data, width, height in images:
        png = base64.b64decode(data, validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = struct.unpack(">II", png[16:24])
        assert (w, h) == (int(width), int(height)) and w >= 400 and h >= 200


def test_file_mode_and_return_value(report: tuple[Path, str]) -> None:
    path, _ = report
    assert path.name == "report.html"
    assert os.stat(path).st_mode & 0o777 == FILE_MODE == 0o640


# -- databases that lack tables ----------------------------------------------------------------------------

def test_ingest_only_database_without_runs(database: Path, tmp_path: Path) -> None:
    small = tmp_path / "ingest.duckdb"
    with duckdb.connect(str(small)) as con:
        con.execute(f"ATTACH '{database}' AS full_db (READ_ONLY)")
        for name in ("voters", "rejects", "ingest_summary", "regions"):
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM full_db.{name}")
    page = write_report(small, tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    for heading in HEADINGS:
        assert heading in page
    assert "<strong>tidak tercatat</strong>" in page
    for key, table in (("ganda", "duplicate_pairs"), ("perbatasan", "border_residents"),
                       ("pemeriksaan", "review_summary"), ("tps", "tps_quality")):
        assert f"Bagian ini dilewati: tabel {table} tidak ada" in section(page, key)
    assert "tabel runs tidak ada" in section(page, "perubahan")
    assert "tabel-penolakan" in tables(page)                  # rejects are still reported
    assert 'href="tps/index.html"' not in page                # no maps beside this report
    assert page.count("data:image/png;base64,") == 1


def test_database_without_runs_table(database: Path, tmp_path: Path) -> None:
    copy = _copy(database, tmp_path)
    _set_runs(copy, None)
    page = write_report(copy, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<strong>tidak tercatat</strong>" in section(page, "proses")
    assert "tabel runs tidak ada" in section(page, "perubahan")
    assert "tabel-ganda" in tables(page) and "tabel-tps" in tables(page)
    assert "tabel-perubahan" not in tables(page)


def test_first_run_escaped_and_damaged_json(database: Path, tmp_path: Path) -> None:
    copy = _copy(database, tmp_path)
    _set_runs(copy, [("x&y", "run", "2026-11-28 01:00:00", None, "ok", "full", "h", "not json", "{broken",
                      "<b>0.3</b>", None)])
    page = write_report(copy, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Belum ada proses sebelumnya" in section(page, "perubahan")
    assert "&lt;b&gt;0.3&lt;/b&gt;" in page and "<b>0.3" not in page
    assert "x&amp;y" in page
    assert "Tahap tidak tercatat" in section(page, "tahap")
    assert "Berkas masukan tidak tercatat" in section(page, "proses")


def test_values_reach_the_page_escaped_by_the_templates(database: Path, tmp_path: Path) -> None:
    """The templates' autoescaping is the only escaping: a reason, a file name, a source and a run id with
    markup in them arrive as text. Fails if autoescaping is switched off."""
    copy = _copy(database, tmp_path)
    evil = "<script>alert(1)</script> & co"
    inputs = [{"source": "kutim", "path": f"/data/{evil}.csv", "sha256": SHA, "rows": 3}]
    _set_runs(copy, [(f"run {evil}", "run", "2026-11-28 01:00:00", "2026-11-28 01:00:05", "ok", "full", "h",
                      json.dumps(inputs), json.dumps(CURRENT_STAGES), "0.2.0", None)])
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE rejects SET reason = ? WHERE reason = (SELECT min(reason) FROM rejects)", [evil])
    page = write_report(copy, tmp_path / "report.html").read_text(encoding="utf-8")
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    assert "<script" not in page and "& co" not in page
    assert f"/data/{escaped}.csv" in section(page, "proses")          # a file name
    assert f"Proses run {escaped}," in page                           # the run id, in the page's heading
    assert [evil] in [row[:1] for row in tables(page)["tabel-penolakan"]]   # a reason, read back as text
    assert escaped in section(page, "penolakan")


def test_a_table_of_another_shape_costs_its_section_only(database: Path, tmp_path: Path) -> None:
    copy = _copy(database, tmp_path)
    with duckdb.connect(str(copy)) as con:
        con.execute("CREATE OR REPLACE TABLE review_summary AS SELECT kabupaten, kecamatan FROM review_summary")
    page = write_report(copy, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Bagian ini tidak dapat dibuat (BinderException)" in section(page, "pemeriksaan")
    assert "tabel-ganda" in tables(page) and "tabel-perubahan" in tables(page)


# -- rendering ---------------------------------------------------------------------------------------------

def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.mark.skipif(_chromium() is None and not os.environ.get("CI"),
                    reason="needs Chromium; .ci/run installs it, and in CI it is never skipped")
def test_page_renders_in_headless_chromium(report: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = report
    shot = tmp_path / "shot.png"
    subprocess.run([str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1200,3000", path.resolve().as_uri()],
                   check=True, timeout=60, capture_output=True)
    assert shot.stat().st_size > 20_000
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (3000, 1200)
    rgb = pixels[..., :3]
    assert (rgb.min(axis=2) < 0.9).mean() > 0.02          # text, tables and charts, not a blank page
    assert rgb.std() > 0.05


SECTION_RULE = (204, 204, 204)      # report.css: the 2px line above every section


def _shot(url: str, tmp_path: Path, name: str, height: int) -> Any:
    shot = tmp_path / f"{name}.png"
    subprocess.run([str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    f"--window-size=1200,{height}", url], check=True, timeout=90, capture_output=True)
    return (matplotlib.image.imread(shot)[..., :3] * 255).round().astype(int)


def _dom(url: str, tmp_path: Path) -> str:
    return subprocess.run([str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
                          check=True, timeout=90, capture_output=True, text=True).stdout


def _sections(rgb: Any) -> list[Any]:
    """The page's sections as Chromium drew them: the bands between the full-width lines above each."""
    rule = (rgb == SECTION_RULE).all(axis=2).mean(axis=1) > 0.9
    starts = [y for y in range(1, len(rule)) if rule[y] and not rule[y - 1]]
    return [rgb[a:b] for a, b in zip(starts, [*starts[1:], len(rgb)], strict=True)]


def _colour(band: Any, rgb: tuple[int, int, int]) -> int:
    return int((abs(band - rgb) <= 3).all(axis=2).sum())


@pytest.mark.skipif(_chromium() is None and not os.environ.get("CI"),
                    reason="needs Chromium; .ci/run installs it, and in CI it is never skipped")
def test_waterfalls_and_the_import_section_render_in_headless_chromium(imported: Path, tmp_path: Path) -> None:
    """The report after an import, the whole page in one screenshot: the evidence section shows its
    waterfalls (the prior's blue, green and red steps, a held pair's hatched grey) and the import section
    its tables; the DOM Chromium parsed holds both."""
    url = imported.resolve().as_uri()
    dom = _dom(url, tmp_path)
    bukti = re.search(r'<section id="bukti">(.*?)</section>', dom, re.S)
    impor = re.search(r'<section id="impor">(.*?)</section>', dom, re.S)
    assert bukti and impor
    assert len(re.findall(r'<img [^>]*alt="Air terjun bobot pasangan', bukti.group(1))) >= 3
    assert len(re.findall(r'<table id="tabel-bukti-', bukti.group(1))) >= 3
    for table in ("tabel-impor-berkas", "tabel-impor-ditolak", "tabel-impor-akibat", "tabel-impor-perubahan",
                  "tabel-impor-review"):
        assert f'id="{table}"' in impor.group(1), table
    rgb = _shot(url, tmp_path, "whole", 16000)
    sections = _sections(rgb)
    keys = re.findall(r'<section id="([a-z]+)">', dom)
    assert len(sections) == len(keys) == 10
    ink = (rgb.min(axis=2) < 128).any(axis=1)
    assert not ink[-200:].any(), "the page is longer than the screenshot"
    by = dict(zip(keys, sections, strict=True))
    band = by["bukti"]
    assert band.shape[0] > 2000
    assert _colour(band, (76, 114, 176)) > 2000              # the prior's bar, in every waterfall
    assert _colour(band, (44, 160, 44)) > 2000               # the comparisons that add
    assert _colour(band, (214, 39, 40)) > 200                # and those that take away
    assert _colour(band, (187, 187, 187)) > 500              # a held pair's hatched bar
    assert _colour(band, (204, 0, 0)) > 100                  # the held pair's line of text in red (.alert)
    band = by["impor"]
    assert band.shape[0] > 600
    text = (band.min(axis=2) < 100).mean()
    assert text > 0.01 and band.std() > 20                   # tables of text, not a blank band


def _charts(page: str) -> dict[str, str]:
    """The page's charts: key -> base64 PNG."""
    return {key: data for data, key in re.findall(
        r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" width="\d+" height="\d+" data-chart="([0-9a-f]{64})"',
        page)}


def test_charts_the_previous_report_holds_are_taken_from_it_not_drawn(database: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from dpt_pipeline.outputs import report as module

    db = _copy(database, tmp_path)
    out = tmp_path / "out"
    (out / ".staging").mkdir(parents=True)
    first = write_report(db, out / "report.html").read_text(encoding="utf-8")
    with duckdb.connect(str(db)) as con:       # one figure changes: a reject's reason
        con.execute("UPDATE rejects SET reason = reason || ' (lain)' WHERE source_row = (SELECT min(source_row) "
                    "FROM rejects)")
    (tmp_path / "alone").mkdir()
    alone = write_report(db, tmp_path / "alone" / "report.html").read_text(encoding="utf-8")
    drawn: list[object] = []
    real = module.Figure

    def counted(*args: object, **kwargs: object) -> object:
        drawn.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "Figure", counted)
    staged = write_report(db, out / ".staging" / "report.html").read_text(encoding="utf-8")
    assert len(drawn) == 1                                   # the rejects chart alone is drawn again
    assert _charts(staged) == _charts(alone)                 # the same page as drawing every chart
    assert len(set(_charts(first)) - set(_charts(staged))) == 1 and len(_charts(first)) == len(_charts(staged)) > 5
    assert section(staged, "penolakan").count("data:image/png;base64,") == 1
