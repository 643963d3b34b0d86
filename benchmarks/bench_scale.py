"""Scale benchmark: the whole pipeline as staff run it, at several sizes, beside Splink.

For each size it generates the voters with the project's generator (three regencies; once, kept under
benchmarks/out/scale_<N>_<seed>), runs `dpt run --full` in a fresh process on a fresh output folder, and
records wall time and peak memory of the process (/usr/bin/time), the seconds and the peak memory so far of
each stage (run_summary.json), candidate pairs per blocking pass, and precision / recall / F1 of the pairs
against the truth file (`dpt evaluate`). With --splink-python it also runs benchmarks/splink_dpt.py (Splink,
DuckDB backend, installed in its own virtualenv: see that file) on the same voters at the size given by
--splink-size, and puts both side by side.

    .venv/bin/python benchmarks/bench_scale.py --sizes 100000 1000000 3000000 \\
        --splink-python benchmarks/out/splink-venv/bin/python

Writes benchmarks/out/scale.json and scale.md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from common import OUT, ROOT, config, generate


def _timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one command in its own process."""
    done = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], check=True, capture_output=True, text=True)
    wall, kb = done.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kb) // 1024


def _size(n: int, seed: int) -> dict[str, object]:
    data = OUT / f"scale_{n}_{seed}"
    generate(data, n, seed)
    cfg = config(data)
    shutil.rmtree(data / "out", ignore_errors=True)
    wall, peak = _timed([sys.executable, "-m", "dpt_pipeline.cli", "run", "--config", str(cfg), "--full", "-q"])
    summary = json.loads((data / "out" / "run_summary.json").read_text())
    ev_path = data / "out" / "evaluation.json"
    subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "evaluate", "--config", str(cfg), "--truth",
                    str(data / "truth.csv"), "--json", str(ev_path), "-q"], check=True, capture_output=True)
    ev = json.loads(ev_path.read_text())
    link = summary["linkage"]
    return {"voters_generated": n, "voters": sum(s["voters"] for s in summary["sources"]),
            "wall_seconds": wall, "peak_mb": peak, "stage_seconds": summary["stage_seconds"],
            "stage_peak_mb": summary["stage_peak_mb"], "link_seconds": link["seconds"],
            "tps_seconds": summary["tps"]["seconds"], "candidate_pairs": link["candidate_pairs"],
            "blocking": {b["name"]: b["pairs"] for b in link["blocking"]},
            "precision": ev["pairs"]["precision"], "recall": ev["pairs"]["recall"], "f1": ev["pairs"]["f1"],
            "database": str(data / "out" / "dpt.duckdb"), "truth": str(data / "truth.csv")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--splink-python", type=Path, help="python of a virtualenv with splink installed")
    ap.add_argument("--splink-size", type=int, default=1_000_000)
    args = ap.parse_args()
    rows = [_size(n, args.seed) for n in args.sizes]
    splink = None
    if args.splink_python:
        at = next((r for r in rows if r["voters_generated"] == args.splink_size), None)
        if at is None:
            raise SystemExit(f"--splink-size {args.splink_size} is not among --sizes")
        js = OUT / f"splink_{args.splink_size}.json"
        wall, peak = _timed([str(args.splink_python), str(ROOT / "benchmarks" / "splink_dpt.py"), "--database",
                             str(at["database"]), "--truth", str(at["truth"]), "--json", str(js)])
        splink = {**json.loads(js.read_text()), "wall_seconds_process": wall, "peak_mb_process": peak}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "scale.json").write_text(json.dumps({"sizes": rows, "splink": splink}, indent=2) + "\n")
    head = "| measure | " + " | ".join(f"{r['voters_generated']:,}" for r in rows) + " |\n"
    head += "|---|" + "---:|" * len(rows) + "\n"

    def line(label: str, get: object) -> str:
        return f"| {label} | " + " | ".join(str(get(r)) for r in rows) + " |\n"  # type: ignore[operator]

    md = head + line("voters accepted", lambda r: f"{r['voters']:,}")
    md += line("`dpt run --full` wall time (s)", lambda r: r["wall_seconds"])
    md += line("peak memory (MB)", lambda r: f"{r['peak_mb']:,}")
    for st in rows[-1]["stage_seconds"]:  # type: ignore[attr-defined]
        md += line(f"{st} (s; peak MB so far)",
                   lambda r, st=st: f"{r['stage_seconds'].get(st)}; {r['stage_peak_mb'].get(st)}")
    for st in rows[-1]["link_seconds"]:  # type: ignore[attr-defined]
        md += line(f"link: {st} (s)", lambda r, st=st: r["link_seconds"].get(st))
    for st in rows[-1]["tps_seconds"]:  # type: ignore[attr-defined]
        md += line(f"tps: {st} (s)", lambda r, st=st: r["tps_seconds"].get(st))
    md += line("candidate pairs", lambda r: f"{r['candidate_pairs']:,}")
    for p in rows[-1]["blocking"]:  # type: ignore[attr-defined]
        md += line(f"pairs from pass {p}", lambda r, p=p: f"{r['blocking'].get(p, 0):,}")
    md += line("precision / recall / F1", lambda r: f"{r['precision']} / {r['recall']} / {r['f1']}")
    if splink:
        md += (f"\nSplink {splink.get('splink_version')} on the same {args.splink_size:,} generated voters: "
               f"precision {splink['pairs_at_0_5']['precision']}, recall {splink['pairs_at_0_5']['recall']}, "
               f"F1 {splink['pairs_at_0_5']['f1']} at 0.5; "
               f"{splink['wall_seconds_process']} s, peak {splink['peak_mb_process']:,} MB.\n")
    (OUT / "scale.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
