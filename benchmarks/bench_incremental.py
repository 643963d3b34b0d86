"""Incremental benchmark: a full run on N generated voters, then 1% of the rows changed (0.5% of the lines
of each list removed, 0.5% registered again at the end of the list, as a double registration would be), then
`dpt run` (incremental) and, on the same changed lists, `dpt run --full`, each in a fresh process.

    .venv/bin/python benchmarks/bench_incremental.py --voters 1000000 --seed 7

Reports wall time, peak memory and stage seconds of each run, and the pairs reused and compared. Writes
benchmarks/out/incremental_<N>.json and .md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import OUT, change_list, config, generate, keep_originals


def _run(cfg: Path, *extra: str) -> dict[str, object]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "run", "--config", str(cfg), "-q", *extra], check=True)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    s = json.loads((cfg.parent / "out" / "run_summary.json").read_text())
    link = s["linkage"]
    return {"wall_seconds": round(wall, 1), "peak_rss_mb_so_far": round(max(peak, before) / 1024),
            "stage_seconds": s["stage_seconds"], "link_seconds": link["seconds"], "mode": link["mode"],
            "reused_pairs": link.get("reused_pairs"), "compared_pairs": link.get("compared_pairs"),
            "candidate_pairs": link["candidate_pairs"], "claimed_pairs": link["claimed_pairs"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--change", type=float, default=0.01, help="share of rows changed (default 0.01)")
    args = ap.parse_args()
    data = OUT / f"incremental_{args.voters}_{args.seed}"
    generate(data, args.voters, args.seed)
    lists, originals = keep_originals(data)
    for p in lists:                      # start from the generated lists every time
        shutil.copy(originals / p.name, p)
    cfg = config(data)
    shutil.rmtree(data / "out", ignore_errors=True)
    first = _run(cfg, "--full")
    rng = random.Random(args.seed)
    changed = sum(change_list(p, args.change, rng) for p in lists)
    keep = data / "out_after_full"
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(data / "out", keep)
    inc = _run(cfg)
    shutil.rmtree(data / "out")
    shutil.copytree(keep, data / "out")
    full = _run(cfg, "--full")
    result = {"voters_generated": args.voters, "seed": args.seed, "rows_changed": changed, "first_full": first,
              "incremental": inc, "full_on_changed": full}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"incremental_{args.voters}.json").write_text(json.dumps(result, indent=2) + "\n")
    stages = sorted({*inc["stage_seconds"], *full["stage_seconds"]})  # type: ignore[arg-type]
    md = (f"| {args.voters:,} voters, {changed:,} rows changed | incremental | full |\n|---|---:|---:|\n"
          f"| `dpt run` wall time (s) | {inc['wall_seconds']} | {full['wall_seconds']} |\n"
          f"| peak RSS so far (MB) | {inc['peak_rss_mb_so_far']} | {full['peak_rss_mb_so_far']} |\n"
          f"| pairs reused / compared | {inc['reused_pairs']:,} / {inc['compared_pairs']:,} | – / "
          f"{full['candidate_pairs']:,} |\n"
          f"| claimed pairs | {inc['claimed_pairs']:,} | {full['claimed_pairs']:,} |\n")
    for st in stages:
        md += f"| {st} (s) | {inc['stage_seconds'].get(st)} | {full['stage_seconds'].get(st)} |\n"  # type: ignore[attr-defined]
    for st in inc["link_seconds"]:  # type: ignore[attr-defined]
        md += f"| link: {st} (s) | {inc['link_seconds'][st]} | {full['link_seconds'].get(st)} |\n"  # type: ignore[index,attr-defined]
    (OUT / f"incremental_{args.voters}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
