"""TPS benchmark: generate N voters with the project's generator, publish them (`dpt ingest`), then run
`dpt tps` as staff would, in fresh processes, on two nights:

1. night 1: the roll without a random 1% of voters (set A): a cold start;
2. night 2: set A added back and another 1% (set B) removed: a warm start from night 1's TPS.

Reports wall time and peak memory of each night, the stage's own seconds (assignment, maps), the hard rules
(TPS over the cap, split households, extra TPS), balance, distances, RTs cut between TPS and the churn of
night 2 (voters on the roll both nights whose TPS changed).

    .venv/bin/python benchmarks/bench_tps.py --voters 1000000 --seed 7

Writes benchmarks/out/tps_<N>.json and .md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
from common import OUT, config, generate


def _dpt(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", *args, "-q"], check=True)
    return time.perf_counter() - t


def _night(db: Path, cfg: Path, drop: str) -> dict[str, object]:
    """Publish the roll without the voters whose id hash falls in `drop`, then run `dpt tps` on it."""
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE OR REPLACE TABLE voters AS SELECT * FROM voters_all WHERE NOT (" + drop + ")")
        con.execute("CHECKPOINT")
    wall = _dpt("tps", "--config", str(cfg))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    info = json.loads((cfg.parent / "out" / "tps_summary.json").read_text())
    with duckdb.connect(str(db), read_only=True) as con:
        q = con.sql("SELECT * FROM tps_quality").pl()
    return {"wall_seconds_dpt_tps": round(wall, 1), "peak_rss_mb_so_far": round(peak),
            "stage_seconds": info["stage_seconds"], "tps_seconds": info["tps"]["seconds"],
            "voters": info["tps"]["voters"], "desa": q.height, "tps": int(q["tps"].sum()),
            "over_cap": int(q["over_cap"].sum()), "split_households": int(q["split_households"].sum()),
            "desa_with_extra_tps": int(q["extra_tps"].sum()),
            "max_deviation": round(float(q["max_deviation"].max()), 2),
            "median_desa_max_deviation": round(float(q["max_deviation"].median()), 2),
            "desa_over_10_from_ideal": int((q["max_deviation"] > 10).sum()),
            "mean_distance_m": round(info["tps"]["mean_distance_m"], 1),
            "p95_distance_m": round(info["tps"]["p95_distance_m"], 1),
            "rts_split": int(q["rts_split"].sum()), "rts_fallback": int(q["rts_fallback"].sum()),
            "moved": info["tps"]["moved"], "churn": info["tps"]["churn"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    data = OUT / f"tps_{args.voters}_{args.seed}"
    generate(data, args.voters, args.seed)
    cfg = config(data)
    db = data / "out" / "dpt.duckdb"
    shutil.rmtree(data / "out", ignore_errors=True)   # night 1 starts cold: no TPS of an earlier benchmark
    _dpt("ingest", "--config", str(cfg))
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE voters_all AS SELECT * FROM voters")
    # 1% sets by a hash of the voter id: A = bucket 0, B = bucket 1 of 100.
    bucket = "hash(voter_id) % 100"
    nights = [_night(db, cfg, f"{bucket} = 0"), _night(db, cfg, f"{bucket} = 1")]
    result = {"voters_generated": args.voters, "seed": args.seed, "night_1_cold": nights[0],
              "night_2_warm_after_1pct_added_and_1pct_removed": nights[1]}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"tps_{args.voters}.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = [("voters with a TPS", "voters"), ("desa", "desa"), ("TPS", "tps"), ("`dpt tps` wall time (s)",
            "wall_seconds_dpt_tps"), ("peak RSS so far (MB)", "peak_rss_mb_so_far"),
            ("TPS over the cap", "over_cap"), ("households split", "split_households"),
            ("desa given one more TPS", "desa_with_extra_tps"), ("largest gap from n/k (voters)", "max_deviation"),
            ("median over desa of the largest gap", "median_desa_max_deviation"),
            ("desa with a TPS more than 10 from n/k", "desa_over_10_from_ideal"),
            ("mean distance RT to TPS (m)", "mean_distance_m"), ("p95 distance (m)", "p95_distance_m"),
            ("RTs cut between two TPS", "rts_split"), ("RTs placed by fallback", "rts_fallback"),
            ("voters moved since the night before", "moved"), ("churn", "churn")]
    md = textwrap.dedent(f"""
        | {args.voters:,} generated voters, seed {args.seed} | night 1 (cold) | night 2 (warm, 1% in, 1% out) |
        |---|---:|---:|
    """).lstrip() + "\n".join(f"| {label} | {nights[0][key]} | {nights[1][key]} |" for label, key in rows)
    md += "\n| stage seconds (assign, maps) | {} | {} |\n".format(*(
        ", ".join(f"{k} {v}" for k, v in n["tps_seconds"].items()) for n in nights))  # type: ignore[attr-defined]
    (OUT / f"tps_{args.voters}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
