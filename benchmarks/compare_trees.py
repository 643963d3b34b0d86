"""Same results, same speed? A full `dpt run` of this tree and of an earlier commit on the same voters, back
to back, compared by the digests of every published table (benchmarks/digests.py) and of the review files,
with wall time and peak memory of each run.

    .venv/bin/python benchmarks/compare_trees.py --before 233c7cb                          # the sample
    .venv/bin/python benchmarks/compare_trees.py --before 233c7cb --data benchmarks/out/data_1000000 --rounds 2

The earlier commit is checked out as a git worktree under benchmarks/out/trees/ and run with this venv
(its code first on the path). Writes benchmarks/out/compare_trees.json; exits 1 when any digest differs.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common import OUT, ROOT
from digests import digests


def _config(data: Path, out: Path) -> Path:
    """config/pipeline.toml reading the lists in `data`, writing to `out`."""
    text = ((ROOT / "config" / "pipeline.toml").read_text()
            .replace("../sample_data/", f"{data.resolve()}/").replace('dir = "../reports"', f'dir = "{out}"')
            .replace('regions = "regions.csv"', f'regions = "{ROOT / "dpt_pipeline" / "core" / "regions.csv"}"'))
    path = out.with_suffix(".toml")
    path.write_text(text)
    return path


def _review_digests(out: Path, run_id: str) -> dict[str, str]:
    """Each review CSV's sha256 with the run id (the export id) taken out."""
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes().replace(run_id.encode(), b"")).hexdigest()[:16]
            for p in sorted((out / "review").rglob("*.csv"))}


def _run(tree: Path, data: Path, out: Path) -> dict[str, object]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cfg = _config(data, out)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "dpt_pipeline.cli", "run", "--full",
                           "--config", str(cfg), "-q"], cwd=tree, env=env, check=True, capture_output=True, text=True)
    wall, kb = done.stderr.strip().splitlines()[-1].split()
    run_id = json.loads((out / "run_summary.json").read_text())["run_id"]
    return {"seconds": float(wall), "peak_mb": int(kb) // 1024, "tables": digests(str(out / "dpt.duckdb")),
            "review_files": _review_digests(out, run_id)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the earlier commit")
    ap.add_argument("--data", type=Path, default=ROOT / "sample_data", help="folder with the lists (dpt sample)")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    rev = subprocess.run(["git", "rev-parse", args.before], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    before = OUT / "trees" / rev[:12]
    if not before.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(before), rev], cwd=ROOT, check=True,
                       capture_output=True)
    runs: dict[str, list[dict[str, object]]] = {"before": [], "after": []}
    for r in range(args.rounds):
        for name, tree in (("before", before), ("after", ROOT)):
            result = _run(tree, args.data, OUT / "trees" / f"out_{name}_{r}")
            runs[name].append(result)
            print(f"round {r + 1} {name}: {result['seconds']:.1f} s, {result['peak_mb']:,} MB", flush=True)
    reference = runs["before"][0]
    differ = sorted({f"{kind}:{key}" for rs in runs.values() for res in rs for kind in ("tables", "review_files")
                     for key in set(res[kind]) | set(reference[kind])  # type: ignore[arg-type]
                     if res[kind].get(key) != reference[kind].get(key)})  # type: ignore[attr-defined]
    summary = {"before": rev, "data": str(args.data), "differ": differ,
               "seconds": {k: [r["seconds"] for r in v] for k, v in runs.items()},
               "peak_mb": {k: [r["peak_mb"] for r in v] for k, v in runs.items()},
               "tables": {k: v["rows"] for k, v in reference["tables"].items()}}  # type: ignore[attr-defined]
    (OUT / "compare_trees.json").write_text(json.dumps(summary, indent=1) + "\n")
    print("identical: every table and review file" if not differ else f"DIFFERENT: {', '.join(differ)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
