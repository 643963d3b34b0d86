"""The `dpt` command line: help, exit codes, and output of a run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dpt_pipeline.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("run", "ingest", "sample", "evaluate", "review"):
        assert cmd in out
    assert "exit codes" in out


@pytest.mark.parametrize("cmd", ["run", "ingest", "sample", "evaluate", "review export", "review import"])
def test_each_subcommand_has_help(capsys, cmd: str) -> None:
    with pytest.raises(SystemExit):
        main([*cmd.split(), "--help"])
    out = capsys.readouterr().out
    assert "--quiet" in out
    assert ("--config" in out) or ("--out" in out)


def test_bad_config_exits_2_with_the_key_named(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('[output]\ndir = "out"\nfoo = 1\n[[sources]]\nname = "a"\npath = "p.toml"\n')
    assert main(["run", "--config", str(cfg)]) == 2
    assert "unknown key output.foo" in capsys.readouterr().err


def test_unreadable_list_exits_3(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.csv").write_text("FOO;BAR\n1;2\n")
    (tmp_path / "regions.csv").write_text((ROOT / "dpt_pipeline" / "core" / "regions.csv").read_text())
    cfg = tmp_path / "p.toml"
    cfg.write_text('[output]\ndir = "out"\n[[sources]]\nname = "a"\npath = "a.csv"\n')
    assert main(["ingest", "--config", str(cfg)]) == 3
    err = capsys.readouterr().err
    assert "a.csv" in err and "no column for nama" in err
    assert not (tmp_path / "out" / "dpt.duckdb").exists()


def test_ingest_publishes_and_logs_no_personal_data(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("NAMA;NIK;TGL LAHIR\nRAHASIA WATI;6408134505800001;05-05-1980\n;1;x\n")
    (tmp_path / "regions.csv").write_text((ROOT / "dpt_pipeline" / "core" / "regions.csv").read_text())
    cfg = tmp_path / "p.toml"
    cfg.write_text('[output]\ndir = "out"\n[[sources]]\nname = "a"\npath = "a.csv"\n')
    proc = subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "ingest", "--config", str(cfg)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "RAHASIA" not in proc.stderr and "6408134505800001" not in proc.stderr
    assert "dpt.duckdb" in proc.stdout
    db = tmp_path / "out" / "dpt.duckdb"
    assert oct(db.stat().st_mode & 0o777) == "0o640"
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from voters").fetchone() == (1,)
    assert con.execute("select reason from rejects").fetchone() == ("nama kosong",)
    assert con.execute("select voters, rejects from ingest_summary").fetchone() == (1, 1)


def test_a_list_with_no_voters_runs_to_the_end(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("NAMA;NIK\n")
    (tmp_path / "regions.csv").write_text((ROOT / "dpt_pipeline" / "core" / "regions.csv").read_text())
    cfg = tmp_path / "p.toml"
    cfg.write_text('[output]\ndir = "out"\n[[sources]]\nname = "a"\npath = "a.csv"\n')
    assert main(["run", "--config", str(cfg), "-q"]) == 0
    assert main(["review", "export", "--config", str(cfg), "-q"]) == 0
    with duckdb.connect(str(tmp_path / "out" / "dpt.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from duplicate_pairs").fetchone() == (0,)
        assert con.execute("select count(*) from tps_assignments").fetchone() == (0,)
        cols = [r[0] for r in con.execute("describe tps_quality").fetchall()]
    assert {"over_cap", "split_households", "churn"} <= set(cols)
    assert main(["tps", "--config", str(cfg), "-q"]) == 0


def test_review_after_ingest_only_says_what_to_do(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.csv").write_text("NAMA;NIK\nANI;6408134505800001\n")
    (tmp_path / "regions.csv").write_text((ROOT / "dpt_pipeline" / "core" / "regions.csv").read_text())
    cfg = tmp_path / "p.toml"
    cfg.write_text('[output]\ndir = "out"\n[[sources]]\nname = "a"\npath = "a.csv"\n')
    assert main(["ingest", "--config", str(cfg), "-q"]) == 0
    assert main(["review", "export", "--config", str(cfg)]) == 3
    assert "run `dpt run` first" in capsys.readouterr().err
