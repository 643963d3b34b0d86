"""The review loop over several nights at scale, with reviewers as they are: each camat decides a random
share of the rows of their file (some wrongly), border pairs are decided in two files independently (so
camats disagree), records are corrected in the lists between nights, and one night's files are imported two
nights late (stale rows, and words older than a newer file's). A few rows are damaged on purpose (an
unknown word, a decision moved to another pair's row). After every run the rule is audited on the published
tables (`decisions.audit`: every count must be 0; an import changes who is struck only at the next run).

    .venv/bin/python benchmarks/bench_review_nights.py --voters 1000000 --seed 7

Writes benchmarks/out/review_nights_<voters>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
from common import OUT, config, generate

from dpt_pipeline import pipeline
from dpt_pipeline.config import Config, load_config
from dpt_pipeline.core import decisions
from dpt_pipeline.evaluate import evaluate_decisions, simulated_reviewer


def _audit(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        def q(sql: str) -> pl.DataFrame:
            return con.sql(sql).pl()
        has = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
        history = q("SELECT * FROM review_decisions") if "review_decisions" in has else None
        return decisions.audit(decisions.standing(history), q("SELECT * FROM struck_voters"),
                               q("SELECT * FROM duplicate_groups"), q("SELECT voter_id FROM tps_assignments"),
                               q("SELECT voter_id FROM voters"))


def _files(cfg: Config) -> list[Path]:
    return sorted((cfg.output.dir / "review").glob("*/*.csv"))


def _correct_records(data: Path, db: Path, n: int, rng: random.Random) -> int:
    """Correct the address of `n` Kutim rows that are in a listed pair (as a Pantarlih would), in place."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = [r[0] for r in con.sql("SELECT DISTINCT v.source_row FROM review_exports e JOIN voters v "
                                      "ON v.voter_id IN (e.voter_id_l, e.voter_id_r) WHERE v.source = 'kutim'"
                                      ).fetchall()]
    path = data / "dpt_kutim.csv"
    lines = path.read_bytes().split(b"\r\n")
    picked = rng.sample(rows, min(n, len(rows)))
    for r in picked:
        cells = lines[r].split(b";")
        cells[8] = cells[8] + b" (PERBAIKAN)"
        lines[r] = b";".join(cells)
    path.write_bytes(b"\r\n".join(lines))
    return len(picked)


def _damage(files: list[Path], rng: random.Random) -> int:
    """An unknown word in one row of one file, and in another file a decision moved to the next pair's row."""
    damaged = 0
    for f, how in zip(rng.sample(files, min(2, len(files))), ("word", "shift"), strict=False):
        rows = pl.read_csv(f, separator=";", infer_schema=False)
        if rows.height < 3:
            continue
        if how == "word":
            rows = rows.with_columns(pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("YA"))
                                     .otherwise(pl.col("keputusan")).alias("keputusan"))
        else:   # the pair_id of row 2 pasted into row 3, with row 2's decision
            rows = rows.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.col("pair_id").shift(1))
                                     .otherwise(pl.col("pair_id")).alias("pair_id"),
                                     pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("SAMA"))
                                     .otherwise(pl.col("keputusan")).alias("keputusan"))
        rows.write_csv(f, separator=";")
        damaged += 1
    return damaged


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--nights", type=int, default=5)
    ap.add_argument("--share", type=float, default=0.5, help="share of the rows a camat decides each night")
    ap.add_argument("--wrong", type=float, default=0.05, help="share of those decided wrongly")
    args = ap.parse_args()
    data = OUT / f"review_nights_{args.voters}_{args.seed}"
    generate(data, args.voters, args.seed)
    shutil.copy(data / "dpt_kutim.csv", data / "dpt_kutim.orig") if not (data / "dpt_kutim.orig").exists() else None
    shutil.copy(data / "dpt_kutim.orig", data / "dpt_kutim.csv")
    shutil.rmtree(data / "out", ignore_errors=True)
    shutil.rmtree(data / "inbox", ignore_errors=True)
    cfg = load_config(config(data, "nights.toml", {"[tps]\n": "[tps]\nmaps = false\n"}))
    rng = random.Random(args.seed)
    nights: list[dict[str, object]] = []
    late: list[Path] = []
    try:
        for night in range(1, args.nights + 1):
            entry: dict[str, object] = {"night": night}
            t = time.perf_counter()
            result = pipeline.run(cfg, full=night == 1)
            entry["run_s"] = round(time.perf_counter() - t, 1)
            entry["listed_pairs"] = result.linkage["listed_pairs"]
            entry["struck"] = result.linkage["struck"]
            entry["attention"] = result.linkage["review_attention"]
            entry["audit_after_run"] = _audit(result.database)
            files = _files(cfg)
            entry["review_files"] = len(files)
            inbox = simulated_reviewer(files, data / "truth.csv", data / "inbox" / f"night{night}", share=args.share,
                                       wrong=args.wrong, seed=args.seed * 100 + night)
            if night == 1:
                late = inbox             # night 1's files come back two nights late
                entry["damaged_files"] = _damage(late, rng)
            else:
                t = time.perf_counter()
                report = pipeline.review_import(cfg, inbox)
                entry["import_s"] = round(time.perf_counter() - t, 1)
                entry["import"] = report.counts()
            if night == 3 and late:
                t = time.perf_counter()
                report = pipeline.review_import(cfg, late)
                entry["late_import_s"] = round(time.perf_counter() - t, 1)
                entry["late_import"] = report.counts()
                entry["late_refused"] = [f"row {n.row}, field {n.field}: {n.problem}" for n in report.refused]
            if night == 2:
                entry["records_corrected"] = _correct_records(data, cfg.output.database_path, 300, rng)
            nights.append(entry)
            print(json.dumps(entry), flush=True)
        final = pipeline.run(cfg)
        with duckdb.connect(str(final.database), read_only=True) as con:
            history = con.sql("SELECT count(*) FROM review_decisions").fetchall()[0][0]
            standing = decisions.standing(con.sql("SELECT * FROM review_decisions").pl())
            outcomes = dict(con.sql("SELECT hasil, count(*) FROM review_import_log GROUP BY 1").fetchall())
        stored = sum(int(e[k]["stored"]) for e in nights for k in ("import", "late_import") if k in e)  # type: ignore[index]
        out = {"voters": args.voters, "seed": args.seed, "share": args.share, "wrong": args.wrong, "nights": nights,
               "final": {"decisions_in_history": history, "stored_by_imports": stored,
                         "standing": dict(standing.group_by("keputusan").len().iter_rows()),
                         "import_log": outcomes, "struck": final.linkage["struck"],
                         "audit": _audit(final.database),
                         "evaluate_decisions": evaluate_decisions(final.database).__dict__}}
    finally:
        shutil.copy(data / "dpt_kutim.orig", data / "dpt_kutim.csv")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"review_nights_{args.voters}.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["final"], indent=2))
    return 0 if set(out["final"]["audit"].values()) == {0} else 1  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
