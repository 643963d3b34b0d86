"""Linkage benchmark: generate N voters with the project's generator (three regencies), run the whole
pipeline (`dpt run`) in a fresh process, and report wall time and peak memory of each stage, candidate
pairs per blocking pass, and precision/recall/F1 against the truth file (`dpt evaluate`).

    .venv/bin/python benchmarks/bench_linkage.py --voters 1000000 --seed 7

Writes benchmarks/out/linkage_<N>.json and .md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import textwrap
import time

from common import OUT, config, generate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7, help="generator seed (the model was not tuned on 7)")
    args = ap.parse_args()
    data = OUT / f"linkage_{args.voters}_{args.seed}"
    if generate(data, args.voters, args.seed):
        # Start afresh, so that the peak memory measured below is the run's, not the generator's.
        os.execv(sys.executable, [sys.executable, *sys.argv])
    cfg = config(data)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "run", "--config", str(cfg), "-q"], check=True)
    wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = json.loads((data / "out" / "run_summary.json").read_text())
    ev_path = data / "out" / "evaluation.json"
    subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "evaluate", "--config", str(cfg), "--truth",
                    str(data / "truth.csv"), "--json", str(ev_path), "-q"], check=True, capture_output=True)
    ev = json.loads(ev_path.read_text())
    link = summary["linkage"]
    result = {
        "voters": args.voters, "seed": args.seed, "wall_seconds_dpt_run": round(wall, 1),
        "peak_rss_mb_largest_child": round(peak_mb), "stage_seconds": summary["stage_seconds"],
        "link_seconds": link["seconds"], "candidate_pairs": link["candidate_pairs"],
        "blocking": [{k: b[k] for k in ("name", "pairs", "new_pairs", "largest_blocks", "skipped_blocks")}
                     for b in link["blocking"]],
        "quality_pairs": ev["pairs"], "quality_groups": ev["groups"], "hard_negatives_claimed":
        ev["hard_negatives_claimed"],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"linkage_{args.voters}.json").write_text(json.dumps(result, indent=2) + "\n")
    s, q = result["stage_seconds"], result["quality_pairs"]
    md = textwrap.dedent(f"""
        | {args.voters:,} voters, seed {args.seed} | value |
        |---|---|
        | ingest | {s['ingest']} s |
        | link (standardize, block, compare, fit, score, cluster, tables) | {s['link']} s |
        | ingest + link | {round(s['ingest'] + s['link'], 1)} s |
        | tps (assignment and maps) | {s.get('tps')} s |
        | publish (database, run summary, report) | {s['publish']} s |
        | `dpt run` wall time (process start to exit) | {result['wall_seconds_dpt_run']} s |
        | peak RSS of the run | {result['peak_rss_mb_largest_child']} MB |
        | candidate pairs | {result['candidate_pairs']:,} |
        | precision / recall / F1 (pairs >= 0.5) | {q['precision']} / {q['recall']} / {q['f1']} |
        | hard negatives claimed | {result['hard_negatives_claimed']} |
    """) + "\n| pass | pairs | new | largest blocks | skipped blocks |\n|---|---:|---:|---|---:|\n" + "\n".join(
        f"| {b['name']} | {b['pairs']:,} | {b['new_pairs']:,} | {b['largest_blocks']} | {b['skipped_blocks']} |"
        for b in result["blocking"]) + "\n"
    (OUT / f"linkage_{args.voters}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
