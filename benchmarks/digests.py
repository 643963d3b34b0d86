"""Digests of the tables a run publishes, to show that a change of code leaves the results as they were.

    .venv/bin/python benchmarks/digests.py reports/dpt.duckdb > before.json
    ... change the code, run again ...
    .venv/bin/python benchmarks/digests.py reports/dpt.duckdb | diff before.json -

Each table is read in a fixed order (every column, sorted), without the columns that name the run or its
time (run_id, export_id, *_at), and hashed; the row count is printed beside the hash. Not part of the suite.
"""

from __future__ import annotations

import hashlib
import json
import sys

import duckdb

TABLES = ("voters", "rejects", "duplicate_pairs", "duplicate_groups", "nik_conflicts", "border_residents",
          "review_pairs", "review_summary", "tps_assignments", "tps_summary", "tps_quality", "struck_voters")
VOLATILE = ("run_id", "export_id")


def digests(path: str) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    with duckdb.connect(path, read_only=True) as con:
        present = {r[0] for r in con.sql("show tables").fetchall()}
        for table in TABLES:
            if table not in present:
                continue
            cols = [r[0] for r in con.sql(f'describe "{table}"').fetchall()
                    if r[0] not in VOLATILE and not r[0].endswith("_at")]
            select = ", ".join(f'"{c}"' for c in cols)
            h = hashlib.sha256()
            rows = 0
            cur = con.execute(f'select {select} from "{table}" order by all')
            while batch := cur.fetchmany(100_000):
                for row in batch:
                    h.update(repr(row).encode())
                rows += len(batch)
            out[table] = {"rows": rows, "sha256": h.hexdigest()[:16]}
    return out


if __name__ == "__main__":
    print(json.dumps(digests(sys.argv[1]), indent=1))
