"""The tps stage alone at scale, night to night (`dpt tps` in a fresh process each time), on the voters of a
published database (e.g. benchmarks/out/data_1000000/out17/dpt.duckdb after bench_scale / bench17):

1. full: no TPS published yet (the tps tables dropped, no tps folder): every desa solved and drawn;
2. 1% of the voters changed (0.5% removed, 0.5% registered again under a new voter id, as
   bench_incremental changes its lists), then `dpt tps`: the incremental night;
3. the same changed voters on a copy without the tps folder: everything drawn again (`full on changed`);
   its tps folder is compared file by file with the incremental night's.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_tps_nights.py --db benchmarks/out/data_1000000/out17/dpt.duckdb \\
        --coordinates benchmarks/out/data_1000000/rt_coordinates.csv --work /tmp/tps_nights

Prints the stage seconds (tps_summary.json), wall time and CPU time (the run and its workers) of each
night. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

TPS_TABLES = ("tps_assignments", "tps_summary", "tps_quality", "tps_rt_splits", "struck_voters")


def _folder(work: Path, name: str, db: Path | None, cfg_extra: str) -> Path:
    out = work / name
    out.mkdir(parents=True)
    (out / ".dpt-output").write_text("benchmark\n")
    if db is not None:
        shutil.copyfile(db, out / "dpt.duckdb")
    cfg = work / f"{name}.toml"
    cfg.write_text(f'[output]\ndir = "{out}"\n[[sources]]\nname = "x"\npath = "{work / "unused.csv"}"\n'
                   f'[tps]\ncoordinates = "{cfg_extra}"\n')
    return cfg


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)   # the run and its worker processes, once waited for
    return r.ru_utime + r.ru_stime


def _tps(cfg: Path) -> dict[str, object]:
    t, c = time.perf_counter(), _cpu()
    subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "tps", "--config", str(cfg), "-q"], check=True)
    wall, cpu = time.perf_counter() - t, _cpu() - c
    out = Path(cfg.read_text().split('dir = "')[1].split('"')[0])
    s = json.loads((out / "tps_summary.json").read_text())
    return {"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "tps_seconds": s["stage_seconds"]["tps"],
            "parts": s["tps"]["seconds"],
            "reused": s["tps"].get("reused")}


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--coordinates", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--change", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--resume", action="store_true", help="the full night of --work is done: go on from it")
    args = ap.parse_args()
    coords = str(args.coordinates.resolve())
    a = args.work / "a.toml"
    if not args.resume:
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        (args.work / "unused.csv").write_text("")
        a = _folder(args.work, "a", args.db, coords)
        with duckdb.connect(str(args.work / "a" / "dpt.duckdb")) as con:
            for t in TPS_TABLES:
                con.execute(f"DROP TABLE IF EXISTS {t}")
        result: dict[str, object] = {"full": _tps(a)}
    else:
        s = json.loads((args.work / "a" / "tps_summary.json").read_text())
        result = {"full": {"tps_seconds": s["stage_seconds"]["tps"], "parts": s["tps"]["seconds"]}}
    with duckdb.connect(str(args.work / "a" / "dpt.duckdb")) as con:
        n = con.execute("SELECT count(*) FROM voters").fetchone()[0]  # type: ignore[index]
        k = int(n * args.change / 2)
        # The same voters on every run (random() is not, over several threads): by a hash of id and seed.
        pick = f"ORDER BY md5(voter_id || '|{args.seed}|' || {{}}), voter_id LIMIT {k}"
        con.execute(f"CREATE TEMP TABLE gone AS SELECT voter_id FROM voters {pick.format(1)}")
        con.execute(f"CREATE TEMP TABLE again AS SELECT * FROM voters {pick.format(2)}")
        con.execute("DELETE FROM voters WHERE voter_id IN (SELECT voter_id FROM gone)")
        con.execute("UPDATE again SET voter_id = voter_id || '-lagi'")
        con.execute("INSERT INTO voters SELECT * FROM again")
    result["voters_changed"] = 2 * k
    b = _folder(args.work, "b", None, coords)
    shutil.copyfile(args.work / "a" / "dpt.duckdb", args.work / "b" / "dpt.duckdb")
    result["incremental"] = _tps(a)
    result["full_on_changed"] = _tps(b)
    ha, hb = _hashes(args.work / "a" / "tps"), _hashes(args.work / "b" / "tps")
    result["tps_folders_equal"] = ha == hb
    result["files_differing"] = sorted(n for n in set(ha) | set(hb) if ha.get(n) != hb.get(n))[:20]
    print(json.dumps(result, indent=2))
    (args.work / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
