"""Publish and report seconds on a published database: the tables of a run handed to `publish` as the
pipeline hands them, for a night that changed nothing, a night that changed 1% of the voters, a night
that changed every voter, and a first run (no database yet); then several 1% nights in a row, to show
how the file grows. Each figure is wall and CPU seconds (the machine is shared: CPU is the steadier).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_publish.py --database benchmarks/out/data_1000000/out/dpt.duckdb

The database is read, never written; the work is done in --work (default /tmp/bench_publish).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from dpt_pipeline.outputs import publish, report

PERSISTENT = set(publish.PERSISTENT_TABLES)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(fn: Callable[[], object]) -> dict[str, float]:
    t0, c0 = time.perf_counter(), _cpu()
    fn()
    return {"wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(_cpu() - c0, 2)}


def run_tables(db: Path) -> dict[str, pl.DataFrame]:
    """The tables a run makes (every table but the persistent ones and the digests), as frames."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_type = 'BASE TABLE'").fetchall()]
        return {n: con.sql(f'SELECT * FROM "{n}"').pl() for n in names if n not in PERSISTENT and n != "table_digests"}


def changed(tables: dict[str, pl.DataFrame], share: float, seed: int) -> dict[str, pl.DataFrame]:
    """`tables` with `share` of the voters touched: half of them edited (nama), a quarter gone, a quarter
    new; the TPS assignments and the runs table follow (a run always adds its row)."""
    v = tables["voters"]
    rng = np.random.default_rng(seed)
    n = int(v.height * share)
    pick = rng.permutation(v.height)
    edit, gone = pick[: n // 2], pick[n // 2: n // 2 + n // 4]
    new = v.sample(n // 4, seed=seed).with_columns(pl.col("voter_id") + f"-n{seed}")
    voters = pl.concat([
        v.with_row_index("_i").with_columns(
            pl.when(pl.col("_i").is_in(edit)).then(pl.col("nama") + "A").otherwise(pl.col("nama")).alias("nama"))
        .filter(~pl.col("_i").is_in(gone)).drop("_i"), new])
    out = dict(tables, voters=voters)
    if "tps_assignments" in tables:
        t = tables["tps_assignments"]
        out["tps_assignments"] = pl.concat([t.join(voters.select("voter_id"), on="voter_id", how="semi"),
                                            t.head(new.height).with_columns(new["voter_id"])]).sort(
            "kode_desa", "tps", "voter_id")
    out["runs"] = pl.concat([tables["runs"], tables["runs"].with_columns(pl.col("run_id") + f"-{seed}")])
    return out


def night(tables: dict[str, pl.DataFrame], published: Path, work: Path) -> dict[str, float]:
    """One publish as `pipeline._finish` does it, then the report, then the commit's move into place."""
    staging = work / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    staged = staging / published.name
    out = {f"publish_{k}": v for k, v in _timed(lambda: publish.publish(tables, staged, previous=published)).items()}
    out |= {f"report_{k}": v for k, v in _timed(lambda: report.write_report(staged, staging / "report.html")).items()}
    staged.replace(published)
    (staging / "report.html").replace(work / "report.html")    # the next report takes unchanged charts from it
    with duckdb.connect(str(published), read_only=True) as con:
        total, free = con.execute("SELECT total_blocks, free_blocks FROM pragma_database_size()").fetchall()[0]
    out |= {"file_mb": round(published.stat().st_size / 2**20, 1), "free_blocks_share": round(free / total, 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--database", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_publish"))
    ap.add_argument("--nights", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tables = run_tables(args.database)
    published = work / "dpt.duckdb"
    results: dict[str, object] = {"voters": tables["voters"].height}

    base = work / "base.duckdb"          # the database as this version publishes it (its digests recorded)
    publish.publish(tables, base, previous=args.database)
    report.write_report(base, work / "report.html.base")

    def fresh_copy() -> None:
        shutil.copyfile(base, published)
        shutil.copyfile(work / "report.html.base", work / "report.html")

    fresh_copy()
    results["same tables"] = night(dict(tables), published, work)
    fresh_copy()
    results["1% of the voters changed"] = night(changed(tables, 0.01, 1), published, work)
    fresh_copy()
    results["every voter changed"] = night(changed(tables, 1.0, 2), published, work)
    published.unlink()
    (work / "report.html").unlink()
    results["first run (no database)"] = night(tables, published, work)
    fresh_copy()
    current = tables
    for i in range(args.nights):
        current = changed(current, 0.01, 10 + i)
        results[f"1% night {i + 1} in a row"] = night(current, published, work)
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
