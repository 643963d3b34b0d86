"""`dpt query`: reads the published database and nothing else, writes nowhere, and never quotes a value.

The database is synthetic: a few voters with names, NIKs and NKKs that must not appear in any message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from ptyrun import in_a_terminal

from dpt_pipeline.cli import main
from dpt_pipeline.errors import ConfigError, DatabaseError, InputError
from dpt_pipeline.outputs.query import connect_read_only, query

ROOT = Path(__file__).resolve().parents[3]

NAMES = ["BAHAR", "SITI AMINAH", "RAHASIA WATI", "Ñoño Ürgen", "=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3",
         "@SUM(A1)", "=cmd|' /C calc'!A0", "\tTAB", "\rCR"]
NIKS = [f"64081345058{i:05d}" for i in range(1, len(NAMES) + 1)]
NKKS = [f"64081300000{i:05d}" for i in range(1, len(NAMES) + 1)]
SECRETS = [*NAMES[:4], *NIKS, *NKKS, "1980"]
FORMULAS = NAMES[4:]


def _make_db(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE voters (voter_id VARCHAR, nik VARCHAR, nkk VARCHAR, nama VARCHAR, "
                "tanggal_lahir VARCHAR, kecamatan VARCHAR)")
    con.executemany("INSERT INTO voters VALUES (?, ?, ?, ?, ?, ?)",
                    [[f"v{i:02d}", nik, nkk, nama, f"1980-0{1 + i % 9}-1{i % 9}", "TELUK PANDAN"]
                     for i, (nik, nkk, nama) in enumerate(zip(NIKS, NKKS, NAMES, strict=True))])
    con.execute("CREATE VIEW v_per_kecamatan AS SELECT kecamatan, count(*) AS n FROM voters GROUP BY kecamatan")
    con.close()
    return path


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A config whose output holds the synthetic database; the working directory is the tmp folder, so a
    relative `COPY ... TO 'x.csv'` would land beside it."""
    (tmp_path / "a.csv").write_text("NAMA;NIK\n")
    (tmp_path / "regions.csv").write_text((ROOT / "dpt_pipeline" / "core" / "regions.csv").read_text())
    cfg = tmp_path / "p.toml"
    cfg.write_text('[output]\ndir = "out"\n[[sources]]\nname = "a"\npath = "a.csv"\n')
    (tmp_path / "out").mkdir()
    db = _make_db(tmp_path / "out" / "dpt.duckdb")
    monkeypatch.chdir(tmp_path)
    return cfg, db


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def _no_secret(text: str) -> None:
    for s in SECRETS:
        assert s not in text, "a value from the data is quoted"


FORBIDDEN = [
    "COPY (SELECT nik, nama FROM voters) TO 'out.csv'",
    "COPY voters TO 'x.parquet' (FORMAT parquet)",
    "COPY voters TO 'out/dpt.duckdb'",
    "select 1; copy voters to 'x.csv'",
    "select 1 /* ; */ ; copy voters to 'x.csv'",
    "/* SELECT */ COPY voters TO 'x.csv'",
    "-- SELECT\nCOPY voters TO 'x.csv'",
    "WITH a AS (SELECT * FROM voters) COPY (SELECT * FROM a) TO 'x.csv'",
    "EXPLAIN ANALYZE COPY voters TO 'x.csv'",
    "EXPORT DATABASE 'dir'",
    "ATTACH 'x.db' AS x",
    "ATTACH ':memory:' AS m",
    "DETACH dpt",
    "USE memory",
    "INSTALL httpfs",
    "LOAD httpfs",
    "FORCE INSTALL httpfs",
    "SET enable_external_access = true",
    "SET autoinstall_known_extensions = true",
    "RESET lock_configuration",
    "SET temp_directory = 'tmpdir'",
    "PRAGMA enable_profiling",
    "SET profiling_output = 'x.json'",
    "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "CREATE TEMP TABLE t AS SELECT * FROM voters",
    "CREATE MACRO m() AS 1",
    "CALL pragma_version()",
    "CHECKPOINT",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_parquet('x.parquet')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM query('COPY voters TO ''x.csv''')",
    "SELECT * FROM query_table('x.csv')",
    "SELECT 1 UNION ALL SELECT count(*) FROM read_text('p.toml')",
    "",
    "-- nothing",
    ";",
]


@pytest.mark.parametrize("sql", FORBIDDEN)
def test_statements_that_write_or_reach_outside_are_refused(published: tuple[Path, Path], sql: str) -> None:
    cfg, db = published
    before = _files(cfg.parent)
    stamp = db.stat().st_mtime_ns
    with pytest.raises(ConfigError) as e:
        query(db, sql)
    assert "refused" in str(e.value)
    assert "root:" not in str(e.value)
    _no_secret(str(e.value))
    assert _files(cfg.parent) == before, "the refused statement created a file"
    assert db.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("sql", ["COPY voters TO 'x.csv'", "select 1; copy voters to 'x.csv'", "INSTALL httpfs",
                                 "SELECT * FROM read_text('/etc/passwd')"])
def test_the_cli_exits_2_and_writes_nothing(published: tuple[Path, Path], sql: str, capsys) -> None:
    cfg, _ = published
    before = _files(cfg.parent)
    assert main(["query", "--config", str(cfg), sql]) == 2
    err = capsys.readouterr().err
    assert "refused" in err
    _no_secret(err)
    assert _files(cfg.parent) == before


def test_a_copy_names_the_statement_and_points_to_csv(published: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigError, match=r"COPY statements are not allowed.*--csv FILE"):
        query(published[1], "COPY voters TO 'x.csv'")
    with pytest.raises(ConfigError, match="2 statements"):
        query(published[1], "SELECT 1; SELECT 2")


@pytest.mark.parametrize("sql", ["COPY voters TO 'x.csv'", "EXPORT DATABASE 'dir'", "ATTACH 'x.db' AS x",
                                 "INSTALL httpfs", "LOAD httpfs", "SET enable_external_access = true",
                                 "SELECT * FROM read_text('/etc/passwd')", "SELECT * FROM glob('*')"])
def test_the_connection_itself_is_locked_down(published: tuple[Path, Path], sql: str) -> None:
    """The second wall: were a statement to slip past the parse check, the connection still refuses it."""
    cfg, db = published
    before = _files(cfg.parent)
    con = connect_read_only(db)
    try:
        with pytest.raises(duckdb.Error):
            con.execute(sql).fetchall()
        assert con.execute("SELECT current_setting('enable_external_access')").fetchone() == (False,)
    finally:
        con.close()
    assert _files(cfg.parent) == before


@pytest.mark.parametrize(("sql", "rows"), [
    ("SELECT count(*) AS n FROM voters", 1),
    ("SELECT nama FROM voters WHERE nik = '6408134505800001';", 1),
    ("select kecamatan, count(*) n from voters group by all -- per kecamatan", 1),
    ("/* the view */ SELECT * FROM v_per_kecamatan", 1),
    ("WITH v AS (SELECT * FROM voters) SELECT count(DISTINCT nkk) AS n FROM v", 1),
    ("FROM voters", len(NAMES)),
    ("DESCRIBE voters", 6),
    ("SHOW TABLES", 2),
    ("SUMMARIZE voters", 6),
    ("VALUES (1), (2)", 2),
    ("SELECT 'a;b' AS x", 1),
    ("SELECT * FROM duckdb_tables()", 1),
])
def test_reading_queries_work(published: tuple[Path, Path], sql: str, rows: int) -> None:
    assert query(published[1], sql).height == rows


def test_the_cli_prints_a_table(published: tuple[Path, Path], capsys) -> None:
    assert main(["query", "--config", str(published[0]), "SELECT kecamatan, n FROM v_per_kecamatan"]) == 0
    assert "TELUK PANDAN" in capsys.readouterr().out


@pytest.mark.parametrize("sql", [
    "SELECT CAST(nama AS INTEGER) FROM voters",
    "SELECT CAST(nik AS TINYINT) FROM voters",
    "SELECT * FROM voters WHERE nik = 1",
    "SELECT CAST(nama AS DATE) FROM voters",
    "SELECT nama::TIMESTAMP FROM voters",
    "SELECT nama::JSON FROM voters",
    "SELECT json_extract('{\"a\":' || nama || '}', '$.a') FROM voters",
    "SELECT strptime(nama, '%d') FROM voters",
    "SELECT error(nama) FROM voters",
    "SELECT error(nik || ' ' || nkk) FROM voters",
    "SELECT from_base64(nama) FROM voters",
    "SELECT regexp_matches('a', nama || '(') FROM voters",
    "SELECT make_date(nik::BIGINT, 1, 1) FROM voters",
    "SELECT nik::HUGEINT * nik::HUGEINT * nik::HUGEINT FROM voters",
    "SELECT nama::STRUCT(a INT) FROM voters",
    "SELECT nama::ENUM('x', 'y') FROM voters",
    "SELECT nama::UUID FROM voters",
    "SELECT CAST(tanggal_lahir AS INTEGER) FROM voters",
    "SELECT * FROM read_text((SELECT nama FROM voters LIMIT 1))",
])
def test_a_failing_query_quotes_no_value(published: tuple[Path, Path], sql: str, capsys) -> None:
    cfg, db = published
    with pytest.raises(ConfigError) as e:
        query(db, sql)
    msg = str(e.value)
    _no_secret(msg)
    assert "Error" in msg, msg
    assert main(["query", "--config", str(cfg), sql]) == 2
    _no_secret(capsys.readouterr().err)


def test_a_cast_error_keeps_its_type_and_shape(published: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigError) as e:
        query(published[1], "SELECT CAST(nama AS INTEGER) FROM voters")
    msg = str(e.value)
    assert "Conversion Error" in msg and "INT32" in msg and "column nama" in msg and "'…'" in msg, msg
    with pytest.raises(ConfigError) as e:    # what the user wrote may be shown back
        query(published[1], "SELECT 'KATA'::INTEGER")
    assert "'KATA'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        query(published[1], "SELECT * FROM no_such_table")
    assert "no_such_table" in str(e.value) and "Catalog Error" in str(e.value)
    with pytest.raises(ConfigError) as e:
        query(published[1], "SELECT namx FROM voters")
    assert '"namx"' in str(e.value)


def _hold_open(db: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                             "c.execute('create table t(a int)'); print('ready', flush=True); time.sleep(60)",
                             str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_database_held_open_by_another_program_exits_8(published: tuple[Path, Path], capsys) -> None:
    cfg, db = published
    proc = _hold_open(db)
    try:
        with pytest.raises(DatabaseError) as e:
            query(db, "SELECT 1")
        assert f"process {proc.pid}" in str(e.value) and str(db) in str(e.value)
        assert "close that program's connection and try again" in str(e.value)
        assert main(["query", "--config", str(cfg), "SELECT count(*) FROM voters"]) == 8
        assert "open in another program" in capsys.readouterr().err
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert query(db, "SELECT count(*) AS n FROM voters")["n"].item() == len(NAMES)


def _damage(db: Path, how: str) -> None:
    data = bytearray(db.read_bytes())
    if how == "random bytes":
        db.write_bytes(os.urandom(len(data)))
    elif how == "empty":
        db.write_bytes(b"")
    elif how.startswith("truncated"):
        db.write_bytes(data[: int(len(data) * float(how.split()[1]))])
    elif how == "header block":
        data[4096 + 16: 4096 + 80] = os.urandom(64)
        db.write_bytes(data)


@pytest.mark.parametrize("how", ["random bytes", "empty", "truncated 0.01", "truncated 0.5", "truncated 0.9",
                                 "header block"])
def test_a_damaged_database_exits_8(published: tuple[Path, Path], how: str, capsys) -> None:
    cfg, db = published
    _damage(db, how)
    with pytest.raises(DatabaseError) as e:
        query(db, "SELECT * FROM voters")
    assert str(db) in str(e.value) and "damaged" in str(e.value) and "dpt run" in str(e.value)
    assert main(["query", "--config", str(cfg), "SELECT * FROM voters"]) == 8
    err = capsys.readouterr().err
    assert "damaged" in err
    _no_secret(err)


def test_no_database_yet_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="run `dpt run` first"):
        connect_read_only(tmp_path / "dpt.duckdb")


def test_csv_export_neutralises_formulas_and_duckdb_keeps_them(published: tuple[Path, Path], capsys) -> None:
    cfg, db = published
    out = cfg.parent / "hasil.csv"
    assert main(["query", "--config", str(cfg), "SELECT nik, nama FROM voters ORDER BY voter_id",
                 "--csv", str(out), "-q"]) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert oct(out.stat().st_mode & 0o777) == "0o640"
    got = pl.read_csv(out, separator=";", infer_schema=False)["nama"].to_list()
    for value in FORMULAS:
        assert f"'{value}" in got, f"{value!r} would run as a formula"
    for value in NAMES[:4]:
        assert value in got
    assert query(db, "SELECT nama FROM voters ORDER BY voter_id")["nama"].to_list() == NAMES


# -- the result for Excel and on the terminal ----------------------------------------------------------------

NESTED = "SELECT [1,2] AS l, {'a':1} AS s, ['x', NULL, 'y'] AS ls, [[1],[2,3]] AS ll, [{'b': 'c'}] AS lst"
TYPED = ("SELECT nik, nkk, nama, tanggal_lahir::DATE AS tgl, nik::BIGINT AS nik_angka, 1.5 AS skor, "
         "2::INTEGER AS rt, TIMESTAMP '2026-12-09 07:30:00' AS jam, true AS ok, NULL AS kosong, "
         "'0012' AS kode, [nik, nkk] AS ids FROM voters ORDER BY voter_id")


def _xlsx_rows(path: Path) -> tuple[list[str], list[list[object]], list[list[object]]]:
    import openpyxl

    ws = openpyxl.load_workbook(path).active
    cells = list(ws.iter_rows())
    return [c.value for c in cells[0]], [[c.value for c in r] for r in cells[1:]], [list(r) for r in cells[1:]]


def test_xlsx_types_cells_as_excel_should_read_them(published: tuple[Path, Path]) -> None:
    import datetime as dt

    import openpyxl
    from openpyxl.utils.escape import unescape

    cfg, db = published
    out = cfg.parent / "hasil.xlsx"
    assert main(["query", "--config", str(cfg), TYPED, "--xlsx", str(out), "-q"]) == 0
    assert oct(out.stat().st_mode & 0o777) == "0o640"
    header, values, cells = _xlsx_rows(out)
    assert header == ["nik", "nkk", "nama", "tgl", "nik_angka", "skor", "rt", "jam", "ok", "kosong", "kode", "ids"]
    col = {h: i for i, h in enumerate(header)}
    assert [r[col["nik"]] for r in values] == NIKS and [r[col["nkk"]] for r in values] == NKKS
    for r in cells:
        assert r[col["nik"]].data_type == "s" and r[col["nkk"]].data_type == "s"
        assert r[col["nik_angka"]].data_type == "s"          # 16 digits: an identifier, not a number
        assert r[col["skor"]].value == 1.5 and r[col["rt"]].value == 2 and r[col["rt"]].data_type == "n"
        assert isinstance(r[col["tgl"]].value, dt.datetime) and r[col["tgl"]].number_format == "yyyy-mm-dd"
        assert r[col["jam"]].value == dt.datetime(2026, 12, 9, 7, 30)
        assert r[col["ok"]].value is True and r[col["kosong"]].value is None
        assert r[col["kode"]].value == "0012" and r[col["kode"]].data_type == "s"
        assert r[col["nik"]].value in r[col["ids"]].value and ", " in r[col["ids"]].value
    assert [r[col["nik_angka"]] for r in values] == NIKS
    # Names as they are, formulas never live: every cell a value, the formula-like ones with the quote prefix.
    # (openpyxl leaves OOXML's escape of a carriage return, `_x000D_`, as it is; Excel reads it back as \r)
    assert [unescape(r[col["nama"]]) for r in values] == NAMES
    for r in cells:
        c = r[col["nama"]]
        assert c.data_type == "s"
        assert c.quotePrefix == (unescape(c.value)[0] in "=+-@\t\r")
    ws = openpyxl.load_workbook(out).active
    assert ws.freeze_panes == "A2" and ws["A1"].font.b and ws.auto_filter.ref == f"A1:L{len(NAMES) + 1}"


def test_list_and_struct_columns_are_text_in_csv_and_xlsx_and_shown_on_the_terminal(
        published: tuple[Path, Path], capsys) -> None:
    cfg, _ = published
    assert main(["query", "--config", str(cfg), NESTED]) == 0
    shown = capsys.readouterr().out
    assert "[1, 2]" in shown and "{'a': 1}" in shown
    csv, xlsx = cfg.parent / "n.csv", cfg.parent / "n.xlsx"
    assert main(["query", "--config", str(cfg), NESTED, "--csv", str(csv), "--xlsx", str(xlsx)]) == 0
    expected = ["1, 2", "{'a': 1}", "x, y", "[[1], [2, 3]]", "[{'b': c}]"]
    got = pl.read_csv(csv, separator=";", infer_schema=False).row(0)
    assert list(got) == expected
    assert _xlsx_rows(xlsx)[1] == [expected]


def test_csv_keeps_nik_as_text_for_excel_and_libreoffice(published: tuple[Path, Path], tmp_path: Path) -> None:
    """16-digit NIKs (as text or cast to numbers) and codes with a leading zero get a leading `'`, which Excel
    and Calc keep as text; decimals get a decimal comma; a short number stays a number."""
    import shutil

    cfg, _ = published
    out = cfg.parent / "hasil.csv"
    assert main(["query", "--config", str(cfg), TYPED + " LIMIT 2", "--csv", str(out), "-q"]) == 0
    got = pl.read_csv(out, separator=";", infer_schema=False)
    assert got["nik"].to_list() == [f"'{n}" for n in NIKS[:2]] == got["nik_angka"].to_list()
    assert got["kode"].to_list() == ["'0012"] * 2 and got["rt"].to_list() == ["2"] * 2
    assert got["skor"].to_list() == ["1,5"] * 2
    if shutil.which("soffice") is None and not os.environ.get("CI"):
        pytest.skip("needs LibreOffice (it opens the CSV as a staffer would); .ci/run installs it, and in CI it is "
                    "never skipped")
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--infilter=CSV:59,34,76,1",
                    "--convert-to", "xlsx", "--outdir", str(tmp_path), str(out)], check=True, capture_output=True,
                   timeout=180)
    header, values, _ = _xlsx_rows(tmp_path / "hasil.xlsx")
    niks = [str(r[header.index("nik")]) for r in values]
    assert [n.lstrip("'") for n in niks] == NIKS[:2]      # every digit kept: text, not 6.40813E+15


WIDE = "SELECT voter_id, nik, nkk, nama, tanggal_lahir, kecamatan, voter_id AS a, nik AS b, nkk AS c FROM voters"


@pytest.mark.parametrize(("width", "fits_in"), [(100, 100), (130, 130), (60, 80), (400, 400)])
def test_a_wide_result_is_folded_to_the_terminal_width(published: tuple[Path, Path], capsys,
                                                       monkeypatch: pytest.MonkeyPatch, width: int,
                                                       fits_in: int) -> None:
    """Like DuckDB's CLI: the middle columns give way, the first and last stay; DuckDB keeps 80 characters
    at least, so a narrower terminal wraps its lines."""
    cfg, _ = published
    monkeypatch.setenv("COLUMNS", str(width))
    assert main(["query", "--config", str(cfg), WIDE]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert max(len(line) for line in lines) <= fits_in
    cells = [c.strip() for c in lines[1].split("│")[1:-1]]
    assert cells[0] == "voter_id" and cells[-1] == "c"
    assert ("…" in cells) == (width < 200)
    assert "…" not in lines[1] or "columns (" in lines[-1]
    assert lines[-1].lstrip().startswith(f"{len(NAMES)} rows")


def test_a_short_wide_result_on_a_narrow_terminal_is_turned(published: tuple[Path, Path], capsys,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, _ = published
    monkeypatch.setenv("COLUMNS", "60")
    assert main(["query", "--config", str(cfg), WIDE + " ORDER BY voter_id LIMIT 1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert [line.split("│")[1].strip() for line in lines if line.startswith("│")][1:] == [
        "voter_id", "nik", "nkk", "nama", "tanggal_lahir", "kecamatan", "a", "b", "c"]


def test_a_long_result_shows_its_first_and_last_rows(published: tuple[Path, Path], capsys) -> None:
    cfg, _ = published
    assert main(["query", "--config", str(cfg), "SELECT range AS n FROM range(1000)"]) == 0
    out = capsys.readouterr().out
    shown = [int(line.strip("│ ")) for line in out.splitlines() if line.strip("│ ").isdigit()]
    assert shown == [*range(100), *range(900, 1000)]      # the first and last MAX_ROWS / 2
    assert "·" in out and "1000 rows" in out and "use --xlsx FILE or --csv FILE" in out


def test_the_terminal_table_through_a_pty(published: tuple[Path, Path]) -> None:
    """As a staffer sees it: the dpt command on a terminal 90 columns wide."""
    cfg, _ = published
    _, text = in_a_terminal([sys.executable, "-m", "dpt_pipeline.cli", "query", "--config", str(cfg),
                             "SELECT voter_id, nik, nkk, nama, tanggal_lahir, kecamatan FROM voters"],
                            width=90, env={"COLUMNS": "90"})
    lines = [line for line in text.splitlines() if line.strip()]
    assert max(len(line) for line in lines) <= 90, [line for line in lines if len(line) > 90]
    assert "…" in lines[1] and "voter_id" in lines[1] and "kecamatan" in lines[1]
    assert "11 rows" in text


def test_an_empty_result_and_a_folder_as_file(published: tuple[Path, Path], capsys) -> None:
    cfg, _ = published
    assert main(["query", "--config", str(cfg), "SELECT nama FROM voters WHERE false"]) == 0
    assert "0 rows" in capsys.readouterr().out
    assert main(["query", "--config", str(cfg), "SELECT nama FROM voters WHERE false", "--xlsx",
                 str(cfg.parent / "kosong.xlsx"), "-q"]) == 0
    assert _xlsx_rows(cfg.parent / "kosong.xlsx")[0] == ["nama"]
    assert main(["query", "--config", str(cfg), "SELECT nama FROM voters", "--xlsx", str(cfg.parent)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err
    _no_secret(err)


EXOTIC = ("SELECT 170141183460469231731687303715884105727::HUGEINT AS h, INTERVAL 3 DAY AS i, "
          "'a'::ENUM('a', 'b') AS e, "
          "union_value(k := 1) AS u, MAP {'k': 1} AS m, TIME '07:30' AS t, "
          "TIMESTAMPTZ '2026-12-09 07:30:00+08' AS tz, 'x'::BLOB AS b, 123.456::DECIMAL(10,3) AS d, "
          "[1,2]::INT[2] AS arr, 1 AS a, 2 AS a")


def test_types_polars_or_excel_cannot_hold_are_text_not_a_crash(published: tuple[Path, Path], capsys,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    monkeypatch.setenv("COLUMNS", "400")   # every column shown, whatever terminal the tests run under
    cfg, _ = published
    assert main(["query", "--config", str(cfg), EXOTIC]) == 0
    shown = capsys.readouterr().out
    assert "3 days" in shown and "{k=1}" in shown and "a_1" in shown
    csv, xlsx = cfg.parent / "x.csv", cfg.parent / "x.xlsx"
    assert main(["query", "--config", str(cfg), EXOTIC, "--csv", str(csv), "--xlsx", str(xlsx), "-q"]) == 0
    header, values, _ = _xlsx_rows(xlsx)
    row = dict(zip(header, values[0], strict=True))
    assert row["h"] == "170141183460469231731687303715884105727"      # all 39 digits: text
    assert row["i"] == "3 days" and row["u"] == "1" and row["m"] == "{k=1}" and row["arr"] == "1, 2"
    assert row["tz"] == dt.datetime(2026, 12, 8, 23, 30) and row["d"] == 123.456 and row["a_1"] == 2
    got = pl.read_csv(csv, separator=";", infer_schema=False).row(0, named=True)
    assert got["h"] == "'170141183460469231731687303715884105727" and got["d"] == "123,456"
    assert got["tz"] == "2026-12-08 23:30:00" and got["t"] == "07:30:00" and got["i"] == "3 days"


def test_a_negative_decimal_in_csv_is_a_number_not_text(published: tuple[Path, Path]) -> None:
    """A waterfall's weights are often negative: -3,25 is a number for Excel in Indonesian settings, so it is
    not given the formula guard's `'` (a text starting with - still is)."""
    cfg, _ = published
    out = cfg.parent / "bobot.csv"
    sql = "SELECT -3.25::DOUBLE AS w, 2.5::DOUBLE AS v, -2 AS n, '-1+2' AS teks"
    assert main(["query", "--config", str(cfg), sql, "--csv", str(out), "-q"]) == 0
    got = pl.read_csv(out, separator=";", infer_schema=False)
    assert got.row(0) == ("-3,25", "2,5", "-2", "'-1+2")


def test_a_column_named_like_a_formula_is_text_in_the_csv_header(published: tuple[Path, Path]) -> None:
    cfg, _ = published
    out = cfg.parent / "judul.csv"
    assert main(["query", "--config", str(cfg), "SELECT 1 AS \"=HYPERLINK(1)\", 2 AS biasa", "--csv", str(out),
                 "-q"]) == 0
    assert out.read_text(encoding="utf-8-sig").splitlines()[0] == "'=HYPERLINK(1);biasa"
