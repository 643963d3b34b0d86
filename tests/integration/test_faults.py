"""Faults that must not become wrong data or stop every later night: a list that vanished or is mostly
rejected stops the publish; a full or read-only disk, a database held open by another program or damaged
are named with their own exit codes and keep the previous outputs; SIGTERM and Ctrl-C are recorded as
`interrupted` and leave no worker behind."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dpt_pipeline import cli
from dpt_pipeline.io import runs

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
REGIONS = ROOT / "dpt_pipeline" / "core" / "regions.csv"


def _lists(folder: Path, kutim: int = 400, bontang: int = 300) -> dict[str, Path]:
    """Two small lists cut from the shipped synthetic sample (header + the first rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, n in (("kutim", kutim), ("bontang", bontang)):
        raw = (SAMPLE / f"dpt_{name}.csv").read_bytes().splitlines(keepends=True)
        (folder / f"{name}.csv").write_bytes(b"".join(raw[: n + 1]))
        out[name] = folder / f"{name}.csv"
    return out


def _config(tmp_path: Path, out: Path, lists: dict[str, Path], extra: str = "") -> Path:
    sources = "".join(
        f'[[sources]]\nname = "{n}"\npath = "{p}"\n'
        + ('date_format = "DD|MM|YYYY"\n' if n == "kutim" else 'encoding = "cp1252"\n')
        for n, p in lists.items())
    cfg = tmp_path / "faults.toml"
    cfg.write_text(f'[output]\ndir = "{out}"\n\n{sources}\n[ingest]\nregions = "{REGIONS}"\n'
                   f"reference_date = 2026-12-09\n{extra}")
    return cfg


def _voters(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("SELECT source, count(*) FROM voters GROUP BY source").fetchall())


def _rows_accounted_for(db: Path, lists: dict[str, Path]) -> None:
    """voters + rejects = data rows, per list (data rows: the non-empty lines below the header)."""
    with duckdb.connect(str(db), read_only=True) as con:
        got = dict(con.execute("SELECT source, sum(n) FROM (SELECT source, count(*) n FROM voters GROUP BY 1 "
                               "UNION ALL SELECT source, count(*) FROM rejects GROUP BY 1) GROUP BY 1").fetchall())
    for name, path in lists.items():
        lines = [ln for ln in path.read_bytes().splitlines()[1:] if ln.strip()]
        assert got.get(name, 0) == len(lines), name


def _published(tmp_path: Path, out: Path) -> tuple[Path, Path]:
    """A small published night on `out`: (config, output folder)."""
    cfg = _config(tmp_path, out, _lists(tmp_path / "in", 100, 50))
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 0
    return cfg, out


def _last_run(out: Path) -> dict[str, object]:
    return runs.history(out).tail(1).to_dicts()[0]


# -- a list that vanished ------------------------------------------------------------------------------------

def test_a_list_cut_to_its_header_stops_the_publish_until_accepted(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    lists = _lists(tmp_path / "in")
    out = tmp_path / "out"
    cfg = _config(tmp_path, out, lists)
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 0
    _rows_accounted_for(out / "dpt.duckdb", lists)
    before = _voters(out / "dpt.duckdb")
    header = lists["kutim"].read_bytes().splitlines(keepends=True)[0]
    lists["kutim"].write_bytes(header)
    capsys.readouterr()

    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 6
    err = capsys.readouterr().err
    assert "'kutim'" in err and "0 voters tonight" in err and "--accept-shrink kutim" in err
    assert "bontang" not in err.split("--accept-shrink")[-1]
    assert _voters(out / "dpt.duckdb") == before          # nothing published
    assert _last_run(out)["status"] == "failed" and "exit 6" in str(_last_run(out)["error"])

    assert cli.main(["ingest", "--config", str(cfg), "-q", "--accept-shrink", "kutim"]) == 0
    assert _voters(out / "dpt.duckdb") == {"bontang": before["bontang"]}
    _rows_accounted_for(out / "dpt.duckdb", lists)


def test_a_list_mostly_rejected_stops_even_the_first_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lists = _lists(tmp_path / "in")
    lines = lists["bontang"].read_bytes().splitlines(keepends=True)
    cut = [b",".join(ln.split(b",")[:5]) + b"\r\n" for ln in lines[1:]]   # every row too short
    lists["bontang"].write_bytes(lines[0] + b"".join(cut))
    out = tmp_path / "out"
    cfg = _config(tmp_path, out, lists)
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 6
    err = capsys.readouterr().err
    assert "'bontang'" in err and "300 of its 300 rows were rejected" in err
    assert not (out / "dpt.duckdb").exists()
    assert cli.main(["ingest", "--config", str(cfg), "-q", "--accept-shrink", "all"]) == 0
    _rows_accounted_for(out / "dpt.duckdb", lists)


def test_a_list_dropped_from_the_configuration_stops_the_publish(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    lists = _lists(tmp_path / "in")
    out = tmp_path / "out"
    assert cli.main(["ingest", "--config", str(_config(tmp_path, out, lists)), "-q"]) == 0
    cfg = _config(tmp_path, out, {"kutim": lists["kutim"]})
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 6
    assert "no longer in the configuration" in capsys.readouterr().err
    assert set(_voters(out / "dpt.duckdb")) == {"kutim", "bontang"}


def test_a_small_change_passes_the_guard(tmp_path: Path) -> None:
    lists = _lists(tmp_path / "in")
    out = tmp_path / "out"
    cfg = _config(tmp_path, out, lists)
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 0
    lines = lists["kutim"].read_bytes().splitlines(keepends=True)
    lists["kutim"].write_bytes(b"".join(lines[:-40]))      # 10% fewer: under the default 20%
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 0
    _rows_accounted_for(out / "dpt.duckdb", lists)


# -- the user's environment ----------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A file system of its own (tmpfs, 256 KB unless the test is marked `disk_size`); skipped where this
    user may not mount one."""
    marker = request.node.get_closest_marker("disk_size")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    size = marker.args[0] if marker else "256k"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_is_named_with_its_own_exit_code(tmp_path: Path, small_disk: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    lists = _lists(tmp_path / "in", 1500, 700)
    out = small_disk / "out"
    assert cli.main(["ingest", "--config", str(_config(tmp_path, out, lists)), "-q"]) == 7
    err = capsys.readouterr().err
    assert "disk is full" in err and "internal error" not in err
    assert not (out / "dpt.duckdb").exists() and not (out / runs.STAGING).exists()
    assert _last_run(out)["status"] == "failed" and "StorageError (exit 7)" in str(_last_run(out)["error"])


@pytest.mark.disk_size("16m")
def test_a_read_only_output_folder_is_named_and_the_outputs_kept(tmp_path: Path, small_disk: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg, out = _published(tmp_path, small_disk / "out")
    before = (out / "dpt.duckdb").read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    capsys.readouterr()
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 7
    err = capsys.readouterr().err
    assert "read-only" in err and "internal error" not in err
    assert (out / "dpt.duckdb").read_bytes() == before


def test_a_write_refused_mid_run_is_named_wherever_the_disk_fills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The same without root: the database write fails as a full disk makes it fail."""
    from dpt_pipeline.outputs import publish

    cfg, out = _published(tmp_path, tmp_path / "out")
    before = (out / "dpt.duckdb").read_bytes()

    def full(*args: object, **kwargs: object) -> None:
        raise duckdb.IOException(f'IO Error: Could not write file "{out}/.staging/dpt.duckdb.tmp": '
                                 "No space left on device")

    monkeypatch.setattr(publish, "_update", full)
    capsys.readouterr()
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 7
    assert "disk is full" in capsys.readouterr().err
    assert (out / "dpt.duckdb").read_bytes() == before and not (out / runs.STAGING).exists()

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(out / "report.html"))

    monkeypatch.setattr(publish, "_update", denied)
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 7
    assert f"file {out / 'report.html'}: permission denied" in capsys.readouterr().err


def test_a_database_held_open_by_another_program_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, out = _published(tmp_path, tmp_path / "out")
    db = out / "dpt.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(120)", str(db)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        capsys.readouterr()
        assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 8
        err = capsys.readouterr().err
        assert f"open in another program (process {holder.pid})" in err
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 0


@pytest.mark.parametrize("damage", ["random", "truncated"])
def test_a_damaged_database_is_named_and_left_for_the_staffer(tmp_path: Path, damage: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    cfg, out = _published(tmp_path, tmp_path / "out")
    db = out / "dpt.duckdb"
    data = db.read_bytes()
    db.write_bytes(os.urandom(len(data)) if damage == "random" else data[: len(data) // 3])
    damaged = db.read_bytes()
    capsys.readouterr()
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 8
    err = capsys.readouterr().err
    assert "damaged" in err and "review decisions" in err and "internal error" not in err
    assert db.read_bytes() == damaged                    # kept for the staffer to restore or move aside
    assert cli.main(["status", "--config", str(cfg)]) == 0


# -- SIGTERM and Ctrl-C --------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _session_alive(sid: int) -> list[int]:
    alive = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if os.getsid(int(p.name)) == sid and (p / "stat").read_text().split()[2] != "Z":
                    alive.append(int(p.name))
            except OSError:
                continue
    return alive


def _full_config(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "pipeline.toml").read_text().replace('dir = "../reports"', f'dir = "{tmp_path / "out"}"')
    text = text.replace('"../sample_data/', f'"{SAMPLE}/').replace('regions = "regions.csv"', f'regions = "{REGIONS}"')
    cfg = tmp_path / "full.toml"
    cfg.write_text(text)
    return cfg


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc (Linux)")
def test_sigterm_while_maps_are_drawn_is_recorded_interrupted_and_kills_the_workers(tmp_path: Path) -> None:
    cfg = _full_config(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "dpt_pipeline.cli", "run", "--config", str(cfg), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 180
        workers: list[int] = []
        while proc.poll() is None and time.time() < deadline:
            workers = [c for c in _children(proc.pid)
                       if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")]
            if workers:
                break
            time.sleep(0.05)
        assert workers, "the run started no worker process"
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
        assert proc.stderr is not None and "stopped by SIGTERM" in proc.stderr.read()
        deadline = time.time() + 10
        while _session_alive(proc.pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not _session_alive(proc.pid), "a worker outlived the run"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    out = tmp_path / "out"
    assert _last_run(out)["status"] == "interrupted"
    assert not (out / "dpt.duckdb").exists() and not (out / runs.STAGING).exists()


def test_ctrl_c_is_recorded_interrupted(tmp_path: Path) -> None:
    lists = _lists(tmp_path / "in", 1500, 700)
    out = tmp_path / "out"
    cfg = _config(tmp_path, out, lists)
    proc = subprocess.Popen([sys.executable, "-m", "dpt_pipeline.cli", "run", "--config", str(cfg), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / runs.STAGING).exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert proc.stderr is not None and "interrupted" in proc.stderr.read()
    proc.stderr.close()
    assert _last_run(out)["status"] == "interrupted"
    assert not (out / "dpt.duckdb").exists()


def test_a_trailing_separator_on_every_row_is_an_export_habit_not_a_lost_list(tmp_path: Path) -> None:
    lists = _lists(tmp_path / "in")
    out = tmp_path / "out"
    cfg = _config(tmp_path, out, lists)
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 0
    before = _voters(out / "dpt.duckdb")
    lines = lists["kutim"].read_bytes().splitlines()
    lists["kutim"].write_bytes(lines[0] + b"\r\n" + b"".join(ln + b";\r\n" for ln in lines[1:]))
    assert cli.main(["ingest", "--config", str(cfg), "-q"]) == 0
    assert _voters(out / "dpt.duckdb") == before
    _rows_accounted_for(out / "dpt.duckdb", lists)
