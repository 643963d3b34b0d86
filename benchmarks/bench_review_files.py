"""The review files and `dpt review import` on a finished run: how long the review files take to write
(XLSX and CSV, every kecamatan), and how long an import of a simulated camat's decisions takes, review
files written again included. Works on a copy of the run's output folder (`--run`), made afresh each time.

    .venv/bin/python benchmarks/bench_review_files.py --config bench17.toml --run out17 --truth truth.csv

`--config` is the run's config with its `[output] dir` pointing where the copy goes (emptied first);
`--share` of each file's rows is decided (from the truth file); `--files` limits how many kecamatan files
the camats send back (all by default); `--profile` writes pyinstrument's profile of the import. Prints
seconds (wall and CPU, summed over threads) as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from dpt_pipeline import pipeline
from dpt_pipeline.config import load_config
from dpt_pipeline.evaluate import simulated_reviewer
from dpt_pipeline.review import sheet


def _timed(module: object, name: str, bucket: dict[str, float]) -> None:
    """Wrap module.name so that its seconds add up in bucket[name]."""
    inner = getattr(module, name)

    def wrapper(*a: object, **k: object) -> object:
        t = time.perf_counter()
        try:
            return inner(*a, **k)
        finally:
            bucket[name] = bucket.get(name, 0.0) + time.perf_counter() - t
    setattr(module, name, wrapper)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--run", type=Path, required=True, help="a finished run's output folder (copied, never changed)")
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--share", type=float, default=0.3)
    ap.add_argument("--files", type=int, default=0)
    ap.add_argument("--profile", type=Path, help="write pyinstrument's text profile of the import here")
    args = ap.parse_args()
    cfg = load_config(args.config)
    out = cfg.output.dir
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(args.run, out, symlinks=True)
    (out / ".dpt.lock").unlink(missing_ok=True)
    writers: dict[str, float] = {}
    for name in ("write_xlsx", "write_csv"):
        _timed(sheet, name, writers)
    t, cpu = time.perf_counter(), time.process_time()
    pipeline.review_export(cfg)
    export_s, export_cpu = time.perf_counter() - t, time.process_time() - cpu
    export_writers = dict(writers)
    writers.clear()
    files = sorted((out / "review").glob("*/*.csv"))
    if args.files:
        files = files[:args.files]
    with tempfile.TemporaryDirectory() as inbox:
        decided = simulated_reviewer(files, args.truth, Path(inbox), share=args.share, seed=1)
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        t, cpu = time.perf_counter(), time.process_time()
        report = pipeline.review_import(cfg, decided)
        import_s, import_cpu = time.perf_counter() - t, time.process_time() - cpu
        if profiler is not None:
            profiler.stop()
            args.profile.write_text(profiler.output_text(show_all=False))
    result = {"review_export_seconds": round(export_s, 2), "review_export_cpu_seconds": round(export_cpu, 2),
              "export_writers_seconds": {k: round(v, 2) for k, v in export_writers.items()},
              "review_import_seconds": round(import_s, 2), "review_import_cpu_seconds": round(import_cpu, 2),
              "import_writers_seconds": {k: round(v, 2) for k, v in writers.items()},
              "import": report.counts()}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
