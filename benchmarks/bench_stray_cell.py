"""An 8 KB XLSX of 30 voters with one stray cell at XFD20000 (issue 13): time and peak memory of ingesting
it, in a fresh process. Before the used-range read (commit 5637471) this took 889 s and 14.5 GB.

    .venv/bin/python benchmarks/bench_stray_cell.py

Not part of the test suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import datetime as dt, json, resource, sys, time
    from pathlib import Path
    from dpt_pipeline import ingest
    from dpt_pipeline.config import SourceConfig
    from dpt_pipeline.ingest.regions import RegionTable
    regions = RegionTable.load(Path(sys.argv[2]))
    t = time.perf_counter()
    v, r, s = ingest.ingest_source(SourceConfig(name="stray", path=Path(sys.argv[1])), regions,
                                   dt.date(2026, 12, 9), 17)
    print(json.dumps({"seconds": round(time.perf_counter() - t, 3), "voters": v.height, "rejects": r.height,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
""")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stray.xlsx"
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["NO", "NIK", "NAMA", "TGL LAHIR"])
        for i in range(30):
            ws.append([i + 1, f"64081305058{i:05d}", f"PEMILIH {chr(65 + i % 26)}", "05-05-1980"])
        ws.cell(row=20000, column=16384, value="x")
        wb.save(path)
        regions = ROOT / "dpt_pipeline" / "core" / "regions.csv"
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), str(regions)],
                              capture_output=True, text=True, check=True)
        result = {"file_bytes": path.stat().st_size, **json.loads(done.stdout.strip().splitlines()[-1])}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
