"""The review loop at scale: generate N voters, run, let a perfect reviewer decide every listed pair from
the truth file in the review files themselves (review threshold lowered so that BEDA pairs are listed
too), import, run again; print what
learning from the decisions changed on the held-out fifth, and `dpt evaluate --decisions`.

    .venv/bin/python benchmarks/bench_review_loop.py --voters 20000 --seed 101
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from common import OUT, config, generate

from dpt_pipeline import pipeline
from dpt_pipeline.config import load_config
from dpt_pipeline.evaluate import evaluate_decisions, simulated_reviewer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voters", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=101)
    args = ap.parse_args()
    data = OUT / f"review_{args.voters}_{args.seed}"
    generate(data, args.voters, args.seed)
    shutil.rmtree(data / "out", ignore_errors=True)
    cfg = load_config(config(data, "review.toml", {"review_threshold = 0.05": "review_threshold = 1e-12"}))
    pipeline.run(cfg)
    files = sorted((cfg.output.dir / "review").glob("*/*.csv"))
    report = pipeline.review_import(cfg, simulated_reviewer(files, data / "truth.csv", data / "inbox"))
    second = pipeline.run(cfg)
    result = {"voters": args.voters, "seed": args.seed, "import": report.counts(),
              "learning_from_decisions": second.linkage["learning_from_decisions"],
              "evaluate_decisions": evaluate_decisions(second.database).__dict__}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"review_loop_{args.voters}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
