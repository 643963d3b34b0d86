"""Ingest on two nights: a full ingest of the generated lists (keeping its rows in an ingest cache), then 1% of
the rows changed (as bench_incremental.py changes them: 0.5% of the lines dropped, as many copied to the end),
the ingest that reuses the cache, and a full ingest of the changed lists. Each in a fresh process: wall and CPU
seconds, peak memory, and digests of voters, rejects and the summaries, which must be equal between the
incremental and the full ingest of the changed lists (exit 1 otherwise).

    .venv/bin/python benchmarks/bench_ingest_nights.py --data benchmarks/out/data_1000000
    .venv/bin/python benchmarks/bench_ingest_nights.py --data benchmarks/out/data_1000000 --tree /path/to/old/tree

`--tree` runs another tree's code (its dpt_pipeline first on the path; one without the cache reads every night
in full): the digests of the two trees' full ingests must be equal too. `--config` names a config whose
[[sources]] are read instead (the lists are copied to a scratch folder before they are changed). Writes
benchmarks/out/ingest_nights.json. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bench_incremental import _change
from common import OUT, ROOT

CHILD = textwrap.dedent("""
    import dataclasses, hashlib, inspect, json, resource, sys, time
    from pathlib import Path
    from dpt_pipeline import ingest
    from dpt_pipeline.config import load_config
    cfg, last, keep = load_config(sys.argv[1]), sys.argv[2], sys.argv[3]
    t, c = time.perf_counter(), time.process_time()
    if "keep" in inspect.signature(ingest.run).parameters:
        res = ingest.run(cfg, last=Path(last) if last else None, keep=Path(keep) if keep else None)
    else:
        res = ingest.run(cfg)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    def digest(df):   # of the values row by row, in order, and of the schema (not of how the frame is chunked)
        h = hashlib.sha256(repr(df.schema).encode())
        h.update(df.hash_rows(seed=7).to_numpy().tobytes())
        return h.hexdigest()[:16]
    # Not the seconds, nor the path (a scratch folder of its own each time).
    summaries = [{k: v for k, v in dataclasses.asdict(s).items() if k not in ("seconds", "path")}
                 for s in res.summaries]
    print(json.dumps({"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "voters": res.voters.height, "rejects": res.rejects.height,
                      "reused": getattr(res, "reused", {}),
                      "digests": {"voters": digest(res.voters), "rejects": digest(res.rejects),
                                  "summaries": hashlib.sha256(json.dumps(summaries, sort_keys=True).encode())
                                  .hexdigest()[:16]}}))
""")


def _ingest(tree: Path, cfg: Path, last: Path | None, keep: Path | None) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(cfg), str(last or ""), str(keep or "")],
                          capture_output=True, text=True, check=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _config(folder: Path, lists: list[Path], base: Path | None) -> Path:
    text = (base.read_text() if base else textwrap.dedent("""
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
        reference_date = 2026-12-09
    """))
    for p in lists:
        text = text.replace(f'"{p.name}"', f'"{folder / p.name}"').replace(f'"{p}"', f'"{folder / p.name}"')
    cfg = folder / "ingest.toml"
    cfg.write_text(text)
    return cfg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=OUT / "data_1000000", help="folder of the generated dpt_*.csv")
    ap.add_argument("--config", type=Path, help="a config naming the lists (default: the three generated ones)")
    ap.add_argument("--tree", type=Path, default=ROOT, help="the tree whose code runs (default: this one)")
    ap.add_argument("--change", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    lists = sorted(args.data.glob("dpt_*.csv"))
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as scratch:
        folder = Path(scratch)
        for p in lists:
            shutil.copy(p, folder / p.name)
        cfg = _config(folder, lists, args.config)
        out, work = folder / "out", folder / "work"
        work.mkdir()
        first = _ingest(args.tree, cfg, None, work)
        if (work / "ingest_cache").exists():
            out.mkdir()
            shutil.move(work / "ingest_cache", out / "ingest_cache")
        rng = random.Random(args.seed)
        changed = sum(_change(folder / p.name, args.change, rng) for p in lists)
        shutil.rmtree(work)
        work.mkdir()
        incremental = _ingest(args.tree, cfg, out, work)
        full = _ingest(args.tree, cfg, None, None)
    result = {"tree": str(args.tree), "rows_changed": changed, "first_full": first, "incremental": incremental,
              "full_on_changed": full}
    (OUT / "ingest_nights.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    same = incremental["digests"] == full["digests"]
    print("incremental == full on the changed lists:", same, file=sys.stderr)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
