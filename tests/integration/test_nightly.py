"""Running unattended: one run at a time, all-or-nothing outputs (a run killed with SIGKILL), a record of
every run, repeatable results, analysts' views and queries, logs without personal data."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from ptyrun import in_a_terminal

from dpt_pipeline import cli
from dpt_pipeline.io import runs
from dpt_pipeline.io.files import FILE_MODE

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"


def _config(tmp_path: Path, out: str = "out", **tps: str) -> Path:
    text = (ROOT / "config" / "pipeline.toml").read_text().replace('dir = "../reports"', f'dir = "{tmp_path / out}"')
    text = text.replace('"../sample_data/', f'"{SAMPLE}/').replace(
        'regions = "regions.csv"', f'regions = "{ROOT / "dpt_pipeline" / "core" / "regions.csv"}"')
    for k, v in tps.items():
        text = text.replace("[tps]\n", f"[tps]\n{k} = {v}\n")
    path = tmp_path / f"{out}.toml"
    path.write_text(text)
    return path


def _dpt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", *args], capture_output=True, text=True,
                          timeout=300)


def _tables(db: Path, *names: str) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {n: con.sql(f'SELECT * FROM "{n}"').pl() for n in names}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One published run (maps off, to keep the suite quick); tests that change it work on a copy."""
    tmp = tmp_path_factory.mktemp("nightly")
    cfg = _config(tmp, maps="false")
    assert cli.main(["run", "--config", str(cfg), "-q"]) == 0
    return cfg, tmp / "out"


def test_a_second_run_meanwhile_exits_at_once_with_code_4(first_run: tuple[Path, Path]) -> None:
    cfg, out = first_run
    with runs.lock(out, "run"):
        t = time.perf_counter()
        done = _dpt("run", "--config", str(cfg))
        assert time.perf_counter() - t < 30
    assert done.returncode == 4
    assert "another dpt run is active" in done.stderr and f"pid {os.getpid()}" in done.stderr
    assert runs.history(out)["status"].to_list()[-1] == "ok"     # the refused run changed nothing


def test_wait_waits_for_the_active_run(first_run: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, out = first_run
    script = f"""
import time
from pathlib import Path
from dpt_pipeline.io import runs
with runs.lock(Path({str(out)!r}), "test"):
    print("held", flush=True)
    time.sleep(3)
"""
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        t = time.perf_counter()
        done = _dpt("status", "--config", str(cfg))     # status reads without the lock
        assert done.returncode == 0 and "a run is active now" in done.stdout
        done = _dpt("tps", "--config", str(cfg), "--wait", "-q")
        assert done.returncode == 0, done.stderr
        assert time.perf_counter() - t >= 2.5
        holder.wait(10)


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / runs.LOCK_FILE).write_text(json.dumps({"pid": int(dead.stdout), "command": "run"}))
    with caplog.at_level("WARNING"), runs.lock(tmp_path, "run"):
        assert runs.is_locked(tmp_path)
    assert "no longer running" in caplog.text
    assert not runs.is_locked(tmp_path)


def test_a_run_killed_mid_way_leaves_the_previous_outputs_whole(first_run: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    _, published = first_run
    out = tmp_path / "out"
    shutil.copytree(published, out)
    cfg = _config(tmp_path, maps="false")
    before = _tables(out / "dpt.duckdb", "runs", "duplicate_pairs", "tps_assignments")
    review_before = sorted(p.relative_to(out) for p in (out / "review").rglob("*.csv"))
    proc = subprocess.Popen([sys.executable, "-m", "dpt_pipeline.cli", "run", "--config", str(cfg), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / runs.STAGING / "review").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    after = _tables(out / "dpt.duckdb", "runs", "duplicate_pairs", "tps_assignments")
    for name in before:
        assert after[name].equals(before[name]), name
    assert sorted(p.relative_to(out) for p in (out / "review").rglob("*.csv")) == review_before
    assert runs.history(out)["status"].to_list()[-1] == "interrupted"
    done = _dpt("run", "--config", str(cfg), "-q")
    assert done.returncode == 0, done.stderr
    assert not (out / runs.STAGING).exists()
    statuses = _tables(out / "dpt.duckdb", "runs")["runs"]["status"].to_list()
    assert statuses[-2:] == ["interrupted", "ok"]


def test_a_run_killed_while_moving_outputs_is_finished_by_the_next(tmp_path: Path) -> None:
    (tmp_path / "review").mkdir()
    (tmp_path / "review" / "old.csv").write_text("old")
    (tmp_path / "dpt.duckdb").write_text("old db")
    staging = tmp_path / runs.STAGING
    (staging / "review").mkdir(parents=True)
    (staging / "review" / "new.csv").write_text("new")
    (staging / "report.html").write_text("new report")
    # COMMIT was written and dpt.duckdb already moved when the process died.
    (staging / runs.COMMIT).write_text(json.dumps(["dpt.duckdb", "report.html", "review"]))
    (tmp_path / "dpt.duckdb").write_text("new db")
    runs.recover(tmp_path)
    assert (tmp_path / "dpt.duckdb").read_text() == "new db"
    assert (tmp_path / "report.html").read_text() == "new report"
    assert [p.name for p in (tmp_path / "review").iterdir()] == ["new.csv"]
    assert not staging.exists() and not (tmp_path / runs.OLD).exists()


def test_the_same_inputs_give_identical_tables(first_run: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = first_run
    cfg = _config(tmp_path, "again", maps="false")
    assert cli.main(["run", "--config", str(cfg), "-q"]) == 0
    names = ("voters", "rejects", "duplicate_pairs", "duplicate_groups", "nik_conflicts", "border_residents",
             "tps_assignments", "tps_summary")
    a, b = _tables(out / "dpt.duckdb", *names), _tables(tmp_path / "again" / "dpt.duckdb", *names)
    for n in names:
        assert a[n].equals(b[n]), n


def test_ids_survive_when_unrelated_records_are_added(first_run: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = first_run
    # A fourth list with voters of a desa of its own: nothing in it concerns the pairs found so far.
    extra = tmp_path / "dpt_baru.csv"
    rows = ["NKK;NIK;NAMA;TEMPAT LAHIR;TANGGAL LAHIR;JENIS KELAMIN;ALAMAT;RT;RW;DESA;KECAMATAN;KABUPATEN"]
    for i in range(40):
        rows.append(f"64080{i:011d};64081{i % 28 + 1:02d}0{i % 9 + 1}89{i:04d};WARGA BARU {chr(65 + i % 26)}{i};"
                    f"SANGATTA;{i % 28 + 1:02d}-0{i % 9 + 1}-1989;L;JL BARU {i};1;1;SANGATTA UTARA;SANGATTA UTARA;"
                    "KUTAI TIMUR")
    extra.write_text("\n".join(rows) + "\n")
    cfg = _config(tmp_path, "more", maps="false")
    cfg.write_text(cfg.read_text() + f'\n[[sources]]\nname = "baru"\npath = "{extra}"\n')
    import shutil

    shutil.copytree(out, tmp_path / "more", dirs_exist_ok=True)
    before = _tables(out / "dpt.duckdb", "duplicate_pairs", "duplicate_groups", "tps_assignments")
    assert cli.main(["run", "--config", str(cfg), "-q"]) == 0
    after = _tables(tmp_path / "more" / "dpt.duckdb", "duplicate_pairs", "duplicate_groups", "tps_assignments")
    for name, key in (("duplicate_pairs", "pair_id"), ("duplicate_groups", "group_id")):
        old = before[name].select(key, "voter_id_l" if name == "duplicate_pairs" else "voter_id").sort(pl.all())
        new = after[name].select(old.columns).sort(pl.all())
        assert old.join(new, on=old.columns, how="anti").height == 0, name
    tps_before, tps_after = before["tps_assignments"], after["tps_assignments"]
    both = tps_before.join(tps_after, on="voter_id")
    assert both.height == tps_before.height
    assert (both["tps"] != both["tps_right"]).sum() == 0


def test_runs_are_recorded_in_the_database_and_shown_by_status(first_run: tuple[Path, Path]) -> None:
    cfg, out = first_run
    r = _tables(out / "dpt.duckdb", "runs")["runs"].row(-1, named=True)
    assert r["status"] == "ok" and r["command"] in ("run", "tps") and r["finished_at"] >= r["started_at"]
    assert len(r["config_hash"]) == 64 and r["version"]
    first = _tables(out / "dpt.duckdb", "runs")["runs"].filter(pl.col("command") == "run").row(0, named=True)
    inputs = json.loads(first["inputs"])
    assert {i["source"] for i in inputs} == {"kutim", "bontang", "kukar"}
    assert all(len(i["sha256"]) == 64 and i["rows"] > 0 for i in inputs)
    stages = json.loads(first["stages"])
    assert set(stages) == {"ingest", "link", "tps", "publish"}
    assert stages["ingest"]["rows"]["voters"] + stages["ingest"]["rows"]["rejects"] == sum(i["rows"] for i in inputs)
    done = _dpt("status", "--config", str(cfg), "-n", "50")
    assert done.returncode == 0 and first["run_id"] in done.stdout
    assert re.search(r"\d{8}T\d{6}-\w{6}\s+run\s+ok", done.stdout)


def test_query_prints_a_table_or_writes_csv_and_refuses_bad_sql(first_run: tuple[Path, Path],
                                                               tmp_path: Path) -> None:
    cfg, out = first_run
    done = _dpt("query", "--config", str(cfg), "SELECT reason, sum(rows) AS n FROM v_rejects_by_reason GROUP BY 1")
    assert done.returncode == 0 and "reason" in done.stdout
    csv = tmp_path / "q.csv"
    done = _dpt("query", "--config", str(cfg), "SELECT * FROM v_tps_load", "--csv", str(csv))
    assert done.returncode == 0
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf") and oct(csv.stat().st_mode & 0o777) == oct(FILE_MODE)
    got = pl.read_csv(csv, separator=";")
    assert got.height == _tables(out / "dpt.duckdb", "tps_summary")["tps_summary"].height
    done = _dpt("query", "--config", str(cfg), "SELECT * FROM no_such_table")
    assert done.returncode == 2 and "refused" in done.stderr


def test_views_answer_the_common_questions(first_run: tuple[Path, Path]) -> None:
    _, out = first_run
    with duckdb.connect(str(out / "dpt.duckdb"), read_only=True) as con:
        pairs = con.sql("SELECT count(*) FROM v_pairs").fetchall()[0][0]
        assert pairs == con.sql("SELECT count(*) FROM duplicate_pairs").fetchall()[0][0] > 0
        assert con.sql("SELECT sum(rows) FROM v_rejects_by_reason").fetchall()[0][0] == \
            con.sql("SELECT count(*) FROM rejects").fetchall()[0][0]
        assert con.sql("SELECT sum(voters) FROM v_tps_load").fetchall()[0][0] == \
            con.sql("SELECT count(*) FROM tps_assignments").fetchall()[0][0]
        assert con.sql("SELECT count(*) FROM v_review_progress").fetchall()[0][0] > 0
        assert con.sql("SELECT count(*) FROM v_border_residents").fetchall()[0][0] == \
            con.sql("SELECT count(*) FROM border_residents").fetchall()[0][0]


def test_outputs_are_private_and_logs_hold_no_nik_or_name(tmp_path: Path) -> None:
    cfg = _config(tmp_path, maps="true")
    done = _dpt("run", "--config", str(cfg), "-v")
    assert done.returncode == 0, done.stderr
    # Not a terminal: plain lines, each with a timestamp.
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert lines and all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", ln) for ln in lines)
    out = tmp_path / "out"
    with duckdb.connect(str(out / "dpt.duckdb"), read_only=True) as con:
        people = con.sql("SELECT nik, nkk, nama FROM voters WHERE nik_valid AND length(nama) > 5 LIMIT 300").pl()
    text = done.stderr + done.stdout
    for nik, nkk, nama in people.iter_rows():
        assert nik not in text and nkk not in text and nama not in text
    for p in out.rglob("*"):
        mode = p.stat().st_mode & 0o777
        assert mode & 0o007 == 0, f"{p} is readable by others ({oct(mode)})"


def test_on_a_terminal_a_progress_bar_is_drawn(first_run: tuple[Path, Path]) -> None:
    cfg, _ = first_run
    code, text = in_a_terminal([sys.executable, "-m", "dpt_pipeline.cli", "tps", "--config", str(cfg), "--wait"])
    assert code == 0
    assert "━" in text and "publish" in text


def test_dpt_tps_strikes_confirmed_duplicates_without_duplicate_groups(first_run: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    """Who loses a TPS follows from the decisions alone (decisions.resolve), so `dpt tps` after an
    ingest-only run still strikes exactly one record of a SAMA pair."""
    import shutil

    _, published = first_run
    out = tmp_path / "out"
    shutil.copytree(published, out)
    cfg = _config(tmp_path, maps="false")
    with duckdb.connect(str(out / "dpt.duckdb")) as con:   # an ingest-only run after decisions were made
        pair = con.sql("SELECT pair_id, voter_id_l, voter_id_r FROM duplicate_pairs LIMIT 1").fetchall()[0]
        con.execute("CREATE OR REPLACE TABLE review_decisions AS SELECT ? AS pair_id, ? AS voter_id_l, "
                    "? AS voter_id_r, 'SAMA' AS keputusan, NULL AS catatan, 'x.csv' AS file, 2::BIGINT AS baris, "
                    "now()::TIMESTAMP AS imported_at", list(pair))
        con.execute("DROP TABLE duplicate_groups")
    done = _dpt("tps", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(out / "dpt.duckdb"), read_only=True) as con:
        placed = {r[0] for r in con.sql("SELECT voter_id FROM tps_assignments").fetchall()}
        struck = con.sql("SELECT voter_id, kept_voter_id FROM struck_voters").fetchall()
    assert len({pair[1], pair[2]} & placed) == 1 and len(struck) == 1 and set(struck[0]) == {pair[1], pair[2]}


def _changed_lists(tmp_path: Path) -> Path:
    """The sample lists with Kutim's changed: 3 names corrected, 5 rows gone, 5 rows added (registrations
    of people already on a list, their names slightly altered)."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    path = data / "dpt_kutim.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header, rows = lines[0], lines[1:]
    for i in (10, 200, 700):
        cells = rows[i].split(";")
        cells[3] = cells[3] + " A"
        rows[i] = ";".join(cells)
    added = []
    for i in (20, 300, 900, 1200, 1400):
        cells = rows[i].split(";")
        cells[0], cells[3] = "9" + cells[0], cells[3].replace("A", "AH", 1)
        added.append(";".join(cells))
    rows = [r for j, r in enumerate(rows) if j not in (5, 50, 500, 1000, 1500)] + added
    path.write_text("\ufeff" + "\n".join([header, *rows]) + "\n", encoding="utf-8")
    return data


def test_an_incremental_run_equals_a_full_run_with_the_same_model(first_run: tuple[Path, Path],
                                                                  tmp_path: Path) -> None:
    import shutil

    _, published = first_run
    data = _changed_lists(tmp_path)
    model = tmp_path / "model_fit.json"
    shutil.copy(published / "cache" / "model_fit.json", model)
    outs = {}
    for name, extra in (("incremental", []), ("full", ["--full"])):
        out = tmp_path / name
        shutil.copytree(published, out)
        cfg = _config(tmp_path, name, maps="false")
        text = cfg.read_text().replace(str(SAMPLE), str(data))
        if name == "full":
            text = text.replace("[linkage]\n", f'[linkage]\nmodel = "{model}"\n')
        cfg.write_text(text)
        assert cli.main(["run", "--config", str(cfg), "-q", *extra]) == 0
        outs[name] = out
    summary = json.loads((outs["incremental"] / "run_summary.json").read_text())["linkage"]
    assert summary["mode"] == "incremental" and summary["reused_pairs"] > 0 and summary["compared_pairs"] > 0
    assert summary["compared_pairs"] < summary["reused_pairs"] / 5
    assert json.loads((outs["full"] / "run_summary.json").read_text())["linkage"]["mode"] == "full"
    names = ("voters", "duplicate_pairs", "duplicate_groups", "nik_conflicts", "border_residents",
             "review_summary", "tps_assignments", "tps_summary")
    a, b = _tables(outs["incremental"] / "dpt.duckdb", *names), _tables(outs["full"] / "dpt.duckdb", *names)
    for n in names:
        assert a[n].equals(b[n]), n
    # The change did reach the tables: new pairs from the added rows.
    before = _tables(published / "dpt.duckdb", "duplicate_pairs")["duplicate_pairs"]
    assert a["duplicate_pairs"].join(before, on="pair_id", how="anti").height > 0
    runs_row = _tables(outs["incremental"] / "dpt.duckdb", "runs")["runs"].row(-1, named=True)
    assert runs_row["mode"] == "incremental"


def test_the_cache_is_ignored_when_settings_or_the_region_table_change(first_run: tuple[Path, Path],
                                                                       tmp_path: Path) -> None:
    import shutil

    _, published = first_run
    regions = tmp_path / "regions.csv"
    regions.write_text((ROOT / "dpt_pipeline" / "core" / "regions.csv").read_text() + "\n")
    for name, change in (("threshold", ("review_threshold = 0.05", "review_threshold = 0.25")),
                         ("regions", ("[ingest]\n", f'[ingest]\nregions = "{regions}"\n'))):
        out = tmp_path / name
        shutil.copytree(published, out)
        cfg = _config(tmp_path, name, maps="false")
        cfg.write_text(cfg.read_text().replace(*change))
        assert cli.main(["run", "--config", str(cfg), "-q"]) == 0
        assert json.loads((out / "run_summary.json").read_text())["linkage"]["mode"] == "full", name


def test_a_half_written_commit_marker_means_not_committed(tmp_path: Path) -> None:
    (tmp_path / "dpt.duckdb").write_text("old db")
    staging = tmp_path / runs.STAGING
    staging.mkdir()
    (staging / "dpt.duckdb").write_text("partial")
    (staging / runs.COMMIT).write_text("")            # killed while writing the marker
    runs.recover(tmp_path)
    assert (tmp_path / "dpt.duckdb").read_text() == "old db" and not staging.exists()


def test_a_damaged_cache_falls_back_to_a_full_run(first_run: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    _, published = first_run
    out = tmp_path / "out"
    shutil.copytree(published, out)
    (out / "cache" / "model_fit.json").write_text("")
    cfg = _config(tmp_path, maps="false")
    assert cli.main(["run", "--config", str(cfg), "-q"]) == 0
    assert json.loads((out / "run_summary.json").read_text())["linkage"]["mode"] == "full"


def test_a_night_with_changes_updates_the_database_as_a_fresh_write_would(first_run: tuple[Path, Path],
                                                                          tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The published database is copied and updated in place (voters merged): it holds the same tables,
    rows and views as a database written from scratch from the same tables."""
    import shutil

    from dpt_pipeline.io.database import read_previous
    from dpt_pipeline.outputs import publish

    _, out = first_run
    shutil.copytree(out, tmp_path / "night2", dirs_exist_ok=True)
    lines = (SAMPLE / "dpt_kutim.csv").read_bytes().split(b"\r\n")
    end = len(lines) - 1 if lines[-1] == b"" else len(lines)
    # The last seven voters gone (a row gone higher up would move every row below it: another source_row),
    # one name in fifty edited.
    kept = [*lines[:end - 7], *lines[end:]]
    edited = [b";".join([*f[:3], f[3] + b" A", *f[4:]]) if i % 50 == 1 and len(f := line.split(b";")) > 4 else line
              for i, line in enumerate(kept)]
    (tmp_path / "dpt_kutim.csv").write_bytes(b"\r\n".join(edited))
    cfg = _config(tmp_path, "night2", maps="false")
    cfg.write_text(cfg.read_text().replace(f"{SAMPLE}/dpt_kutim.csv", f"{tmp_path}/dpt_kutim.csv"))
    real = publish._update
    fresh = tmp_path / "fresh" / "dpt.duckdb"

    def both(tables: dict[str, pl.DataFrame], source: Path, target: Path, keep: object) -> None:
        carried = {n: f for n in (keep or ()) if n not in tables and (f := read_previous(source, n)) is not None}
        fresh.parent.mkdir()
        real({**tables, **carried}, fresh, fresh, set())
        real(tables, source, target, keep)

    merges: list[object] = []
    merge = publish.merge_table
    monkeypatch.setattr(publish, "_update", both)
    monkeypatch.setattr(publish, "merge_table", lambda *a, **k: merges.append(merge(*a, **k)) or merges[-1])
    assert cli.main(["run", "--config", str(cfg), "-q"]) == 0
    assert len(merges) == 1 and merges[0] is not None and merges[0][0] >= 7   # merged, not written again
    db = tmp_path / "night2" / "dpt.duckdb"

    def dump(path: Path) -> dict[str, object]:
        with duckdb.connect(str(path), read_only=True) as con:
            names = sorted(r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                                     "WHERE table_type = 'BASE TABLE'").fetchall())
            found: dict[str, object] = {n: con.sql(f'SELECT * FROM "{n}"').pl() for n in names}
            found["voters"] = found["voters"].sort("voter_id")              # type: ignore[attr-defined]
            found["table_digests"] = found["table_digests"].sort("table_name")  # type: ignore[attr-defined]
            for name, sql in con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall():
                found[name] = (sql, con.execute(f'SELECT count(*), hash(list(t ORDER BY t)) FROM (SELECT "{name}" '
                                                f'AS t FROM "{name}")').fetchall())
        return found

    merged, expected = dump(db), dump(fresh)
    assert sorted(merged) == sorted(expected)
    for name, value in merged.items():
        assert value.equals(expected[name]) if isinstance(value, pl.DataFrame) else value == expected[name], name
