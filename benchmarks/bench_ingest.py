"""Ingest benchmark: generate N voters in three CSVs with the project's generator, then measure the
ingest stage alone and `dpt ingest` (ingest + publish) in fresh processes: wall time and peak memory.

    .venv/bin/python benchmarks/bench_ingest.py --voters 1000000

Writes benchmarks/out/ingest_<N>.json and .md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    from dpt_pipeline import ingest
    from dpt_pipeline.config import load_config
    t = time.perf_counter()
    res = ingest.run(load_config(sys.argv[1]))
    secs = time.perf_counter() - t
    print(json.dumps({"seconds": secs, "voters": res.voters.height, "rejects": res.rejects.height,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def _config(data: Path) -> Path:
    cfg = data / "bench.toml"
    cfg.write_text(textwrap.dedent(f"""
        [output]
        dir = "out"
        [[sources]]
        name = "kutim"
        path = "dpt_kutim.csv"
        [[sources]]
        name = "bontang"
        path = "dpt_bontang.csv"
        [[sources]]
        name = "kukar"
        path = "dpt_kukar.csv"
        [sources.defaults]
        kabupaten = "KUTAI KARTANEGARA"
        [ingest]
        regions = "{ROOT / 'dpt_pipeline' / 'core' / 'regions.csv'}"
        reference_date = 2026-12-09
    """))
    return cfg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the ingest stage; the median is reported")
    args = ap.parse_args()

    data = OUT / f"data_{args.voters}"
    if not (data / "truth.csv").exists():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "sample", "--out", str(data), "--voters",
                        str(args.voters), "--seed", str(args.seed), "-q"], check=True)
        print(f"generated {args.voters} voters in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    cfg = _config(data)
    sizes = {p.name: p.stat().st_size for p in sorted(data.glob("dpt_*.csv"))}

    runs = []
    for _ in range(args.repeat):
        proc = subprocess.run([sys.executable, "-c", CHILD, str(cfg)], capture_output=True, text=True, check=True)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    runs.sort(key=lambda r: r["seconds"])
    stage = runs[len(runs) // 2]

    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "ingest", "--config", str(cfg), "-q"], check=True)
    cli_seconds = time.perf_counter() - t
    cli_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far

    result = {
        "voters_requested": args.voters, "files": sizes, "machine": f"{platform.machine()} "
        f"{__import__('os').cpu_count()} cores", "python": platform.python_version(),
        "ingest_stage_seconds_median": round(stage["seconds"], 2),
        "ingest_stage_seconds_all": [round(r["seconds"], 2) for r in runs],
        "ingest_stage_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
        "data_rows": stage["voters"] + stage["rejects"], "voters": stage["voters"], "rejects": stage["rejects"],
        "dpt_ingest_cli_seconds": round(cli_seconds, 2), "peak_rss_mb_any_child": round(cli_rss),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"ingest_{args.voters}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = textwrap.dedent(f"""
        | measure | value |
        |---|---|
        | data rows (3 CSVs) | {result['data_rows']:,} |
        | ingest stage, median of {args.repeat} | {result['ingest_stage_seconds_median']} s |
        | ingest stage peak RSS | {result['ingest_stage_peak_rss_mb']} MB |
        | `dpt ingest` (ingest + publish, whole process) | {result['dpt_ingest_cli_seconds']} s |
        | peak RSS of any child process | {result['peak_rss_mb_any_child']} MB |
    """)
    (OUT / f"ingest_{args.voters}.md").write_text(md)
    print(json.dumps(result, indent=2))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
