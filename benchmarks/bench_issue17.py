"""Issue 17 in one command: the whole run at each size, a 1% change, a camat's import and Splink, in one run,
each measure beside its target, so the figures are comparable on a noisy machine.

    .venv/bin/python benchmarks/bench_issue17.py              # 1,000,000, 3,000,000 and 10,000,000; Splink at 1,000,000
    .venv/bin/python benchmarks/bench_issue17.py --sizes 20000 50000 --at 20000     # a quick check

For each size (`--sizes`) the voters are generated once with the project's generator (three regencies, seed
7, kept under benchmarks/out/scale_<N>_<seed>; generating is not counted in any timing) and `dpt run --full`
runs in a fresh process on a fresh output folder (`out_issue17`). Recorded: wall time and peak RSS of the
process (/usr/bin/time) and of its process tree (sampled every 0.5 s), each stage's seconds and peak memory
so far, the seconds of each linkage and TPS step (run_summary.json), candidate pairs, and precision / recall /
F1 of the pairs against the truth (`dpt evaluate`).

At the size given by `--at` (default 1,000,000), from the state that full run published:

- **Splink** (benchmarks/splink_dpt.py, Splink 5 with DuckDB, in its own virtualenv, by default
  benchmarks/out/splink-venv: see that file) on the same voters, read from our database; the ratio of its wall
  time to our whole run's;
- **the review loop**: a simulated camat (`evaluate.simulated_reviewer`: half the rows of each file decided
  from the truth, 5% wrongly) decides in the review files; `dpt review import` of the largest kecamatan's file
  (one camat in the afternoon: the target), then of every other file, each timed with the review files it
  writes again;
- **a 1% change**: 0.5% of each list's lines removed and 0.5% registered again at the end (as
  bench_incremental.py does; the lists are changed in place, their originals kept in `originals/` and put
  back afterwards), then `dpt run` (incremental) and, beside it, `dpt run --full` with the first run's model
  pinned (`[linkage] model`); every published table of the two is compared (benchmarks/digests.py).

A command that fails (an exit code, a signal such as the kernel's out-of-memory kill, `--timeout`, or the
process tree above `--max-gb`, where this benchmark stops it to spare the machine) is recorded as failed with
the reason and the peak it reached, and the benchmark goes on. Parts can be left out (`--only-sizes`,
`--skip-full` to reuse the runs already published, `--skip-splink`, `--skip-review`, `--skip-incremental`);
the results of earlier runs of this command are kept for parts not measured now (`--fresh` starts anew), each
with its time and commit.

Writes benchmarks/out/issue17.json and issue17.md (every measure beside its target, "met" or "missed", the
machine and the commit measured); each command's output is in benchmarks/out/issue17_logs/. Peak memory in
MB is MiB (/usr/bin/time's KB / 1024); GB = 1024 MB. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import OUT, ROOT, change_list, config, keep_originals
from digests import digests

Rec = dict[str, Any]    # a measure as JSON

# The targets of issue 17 (this machine: 2 cores, 24 GB), in one place.
RUN_TARGETS = {1_000_000: (25.0, 2.0), 3_000_000: (90.0, 6.0), 10_000_000: (480.0, 20.0)}  # seconds, GB
TARGET_SIZE = 1_000_000        # the size the change, review and Splink targets are stated at
CHANGE_TARGET_S = 10.0         # `dpt run` after a 1% change
REVIEW_TARGET_S = 5.0          # `dpt review import` of one camat's file, the review files written again
SPLINK_RATIO = 10.0            # at least this many times faster than Splink in the same run

OUT_DIR = "out_issue17"        # the output folder of the full run in each data folder
LOGS = OUT / "issue17_logs"
DPT = [sys.executable, "-m", "dpt_pipeline.cli"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}   # the tree this script is in is the one measured


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return head + (" with uncommitted changes" if dirty else "")


def _machine() -> Rec:
    mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                  if ln.startswith("MemTotal:"))
    return {"cores": os.cpu_count(), "ram_gb": round(mem_kb / 1024 / 1024, 1), "platform": platform.platform(),
            "python": platform.python_version(), "date": subprocess.run(["date"], capture_output=True,
                                                                        text=True).stdout.strip(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def _tree_rss_mb(pgid: int, skip: int) -> tuple[int, list[int]]:
    """Summed RSS (MB) of the processes in group `pgid` other than `skip`, and their pids."""
    total, pids = 0, []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == skip:
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            total += int(Path(f"/proc/{entry}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            pids.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return total // 2**20, pids


def _measure(label: str, cmd: list[str], *, timeout: float, max_mb: int) -> Rec:
    """Run `cmd` in its own process group under /usr/bin/time: wall seconds, peak RSS of the largest
    process and of the whole tree (sampled), and, if it failed, why. Its output goes to LOGS/<label>.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{label}.log"
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf, log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-o", tf.name, "-f", "%e %M", *cmd], stdout=out,
                                stderr=subprocess.STDOUT, env=ENV, start_new_session=True)
        tree_peak, stopped = 0, None
        while proc.poll() is None:
            rss, pids = _tree_rss_mb(proc.pid, proc.pid)
            tree_peak = max(tree_peak, rss)
            over = rss > max_mb
            if over or time.perf_counter() - t0 > timeout:
                stopped = (f"stopped by the benchmark: the process tree reached {rss:,} MB (--max-gb)" if over
                           else f"stopped by the benchmark after {timeout:.0f} s (--timeout)")
                for pid in pids:   # the children of /usr/bin/time, so that it still reports their peak
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        lines = Path(tf.name).read_text().strip().splitlines()
    try:
        wall, kb = lines[-1].split()
        seconds, peak = float(wall), int(kb) // 1024
    except (IndexError, ValueError):
        seconds, peak = round(time.perf_counter() - t0, 1), tree_peak
    result: Rec = {"ok": proc.returncode == 0, "wall_seconds": seconds, "peak_mb": peak,
                                 "tree_peak_mb": max(tree_peak, peak), "log": str(log)}
    if proc.returncode != 0:
        rc = proc.returncode
        if stopped:
            reason = stopped
        elif rc > 128:
            sig = signal.Signals(rc - 128).name if rc - 128 in signal.Signals._value2member_map_ else rc - 128
            reason = f"killed by signal {sig}" + (" (most likely the kernel's out-of-memory killer)"
                                                   if rc - 128 == signal.SIGKILL else "")
        else:
            reason = f"exit code {rc}"
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-3:]
        result |= {"returncode": rc, "reason": reason, "output_tail": tail}
    return result


def _failed(step: Rec) -> bool:
    return not step.get("ok")


def _restore_lists(data: Path) -> None:
    """Put back the generated lists if a 1% change left them changed (a benchmark killed half way)."""
    originals = data / "originals"
    for p in sorted(originals.glob("dpt_*.csv")) if originals.exists() else []:
        shutil.copy(p, data / p.name)


def _config(data: Path, out: str, name: str, extra_linkage: str = "") -> Path:
    """The benchmarks' config for `data` writing to `data`/`out` (with lines added under [linkage])."""
    swaps = {'dir = "out"': f'dir = "{out}"'}
    if extra_linkage:
        swaps["[linkage]\n"] = f"[linkage]\n{extra_linkage}\n"
    return config(data, name, swaps)


def _generate(n: int, seed: int, args: argparse.Namespace) -> tuple[Path, Rec | None]:
    """The data folder for `n` voters, generated now unless it is there; the generation's measure if it was."""
    data = OUT / f"scale_{n}_{seed}"
    if (data / "truth.csv").exists():
        return data, None
    if data.exists() and any(data.glob("dpt_*.csv")):
        return data, {"ok": False, "reason": f"{data} holds lists but no truth.csv: being generated by another "
                                             "process, or a generation that stopped (remove the folder)"}
    partial = data.with_name(data.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    gen = _measure(f"generate_{n}", [*DPT, "sample", "--out", str(partial), "--voters", str(n), "--seed", str(seed),
                                     "-q"], timeout=args.timeout, max_mb=args.max_mb)
    if gen["ok"]:
        partial.rename(data)
    return data, gen


def _summary(out: Path) -> Rec:
    s = json.loads((out / "run_summary.json").read_text())
    link, tps = s["linkage"], s.get("tps") or {}
    return {"voters": sum(src["voters"] for src in s["sources"]), "stage_seconds": s["stage_seconds"],
            "stage_peak_mb": s.get("stage_peak_mb", {}), "link_seconds": link.get("seconds", {}),
            "tps_seconds": tps.get("seconds", {}), "mode": link.get("mode"),
            "candidate_pairs": link["candidate_pairs"], "claimed_pairs": link.get("claimed_pairs"),
            "listed_pairs": link.get("listed_pairs"), "reused_pairs": link.get("reused_pairs"),
            "compared_pairs": link.get("compared_pairs"),
            "blocking": {b["name"]: b["pairs"] for b in link.get("blocking", [])}}


def _evaluate(label: str, cfg: Path, truth: Path, args: argparse.Namespace) -> Rec:
    js = cfg.parent / f"evaluation_{label}.json"
    js.unlink(missing_ok=True)
    ev = _measure(f"evaluate_{label}", [*DPT, "evaluate", "--config", str(cfg), "--truth", str(truth), "--json",
                                        str(js), "-q"], timeout=args.timeout, max_mb=args.max_mb)
    if _failed(ev):
        return {"evaluate": ev}
    pairs = json.loads(js.read_text())["pairs"]
    return {"precision": pairs["precision"], "recall": pairs["recall"], "f1": pairs["f1"],
            "true_pairs": pairs["true_pairs"], "evaluate_seconds": ev["wall_seconds"]}


def _size(n: int, args: argparse.Namespace) -> Rec:
    data, gen = _generate(n, args.seed, args)
    row: Rec = {"voters_generated": n, "data": str(data), "measured_at": _now(), "commit": COMMIT, "call": CALL}
    if gen is not None:
        row["generation_not_counted"] = gen
        if _failed(gen):
            return row | {"ok": False, "reason": f"generation failed: {gen.get('reason')}"}
    _restore_lists(data)
    cfg = _config(data, OUT_DIR, "issue17.toml")
    shutil.rmtree(data / OUT_DIR, ignore_errors=True)
    run = _measure(f"run_{n}", [*DPT, "run", "--config", str(cfg), "--full", "-q"], timeout=args.timeout,
                   max_mb=args.max_mb)
    row |= run
    if _failed(run):
        return row
    row |= _summary(data / OUT_DIR)
    row["quality"] = _evaluate(str(n), cfg, data / "truth.csv", args)
    return row


def _splink(n: int, args: argparse.Namespace) -> Rec:
    data = OUT / f"scale_{n}_{args.seed}"
    entry: Rec = {"voters_generated": n, "measured_at": _now(), "commit": COMMIT, "call": CALL}
    db = data / OUT_DIR / "dpt.duckdb"
    if not args.splink_python.exists():
        return entry | {"ok": False, "reason": f"no Splink virtualenv at {args.splink_python} (see splink_dpt.py)"}
    if not db.exists():
        return entry | {"ok": False, "reason": f"no full run published at {n:,} to read the voters from"}
    js = OUT / f"splink_{n}.json"
    js.unlink(missing_ok=True)
    run = _measure(f"splink_{n}", [str(args.splink_python), str(ROOT / "benchmarks" / "splink_dpt.py"), "--database",
                                   str(db), "--truth", str(data / "truth.csv"), "--json", str(js)],
                   timeout=args.timeout, max_mb=args.max_mb)
    entry |= run
    if not _failed(run):
        s = json.loads(js.read_text())
        entry |= {"splink_version": s["splink_version"], "duckdb_version": s["duckdb_version"],
                  "records": s["records"], "predictions": s["predictions"], "seconds": s["seconds"],
                  "precision": s["pairs_at_0_5"]["precision"], "recall": s["pairs_at_0_5"]["recall"],
                  "f1": s["pairs_at_0_5"]["f1"]}
    return entry


def _fresh_copy(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)


def _import_log(db: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.sql("SELECT hasil, count(*) FROM review_import_log GROUP BY 1 ORDER BY 1").fetchall())


def _review_files(out: Path) -> list[Path]:
    """The kecamatan review files (CSV and XLSX) in the output folder `out`."""
    return sorted(p for p in (out / "review").glob("*/*") if p.suffix in (".csv", ".xlsx"))


def _review(n: int, args: argparse.Namespace) -> Rec:
    from dpt_pipeline.evaluate import simulated_reviewer

    data = OUT / f"scale_{n}_{args.seed}"
    entry: Rec = {"voters_generated": n, "measured_at": _now(), "commit": COMMIT, "call": CALL}
    if not (data / OUT_DIR / "dpt.duckdb").exists():
        return entry | {"ok": False, "reason": f"no full run published at {n:,}"}
    out = data / "out_issue17_review"
    _fresh_copy(data / OUT_DIR, out)
    cfg = _config(data, out.name, "issue17_review.toml")
    files = sorted((out / "review").glob("*/*.csv"))
    inbox = data / "inbox_issue17"
    shutil.rmtree(inbox, ignore_errors=True)
    decided = simulated_reviewer(files, data / "truth.csv", inbox, share=0.5, wrong=0.05, seed=args.seed)
    if not decided:
        return entry | {"ok": False, "reason": "no review file with rows to decide"}
    sizes = {p: sum(1 for _ in p.open("rb")) - 1 for p in decided}
    largest = max(decided, key=lambda p: (sizes[p], str(p)))
    entry |= {"kecamatan_files": len(files), "rows_in_largest_file": sizes[largest],
              "rows_in_all_files": sum(sizes.values())}
    for name, paths in (("one_camat", [largest]), ("every_other_file", [p for p in decided if p != largest])):
        if not paths:
            continue
        before = {p: p.stat().st_mtime_ns for p in _review_files(out)}
        step = _measure(f"review_import_{name}_{n}", [*DPT, "review", "import", "--config", str(cfg),
                                                      *map(str, paths), "-q"], timeout=args.timeout,
                        max_mb=args.max_mb)
        # Exit code 5 (some rows refused) is an outcome of the import, not a failed measure.
        if step.get("returncode") == 5:
            step = {k: v for k, v in step.items() if k not in ("returncode", "reason", "output_tail")} | {
                "ok": True, "some_rows_refused": True}
        after = _review_files(out)
        step["files_imported"] = len(paths)
        step["review_files"] = len(after)
        step["review_files_written_again"] = sum(1 for p in after if before.get(p) != p.stat().st_mtime_ns)
        if not _failed(step):
            step["outcomes_so_far"] = _import_log(out / "dpt.duckdb")
        entry[name] = step
    return entry


def _incremental(n: int, args: argparse.Namespace) -> Rec:
    data = OUT / f"scale_{n}_{args.seed}"
    entry: Rec = {"voters_generated": n, "change": args.change, "measured_at": _now(),
                  "commit": COMMIT, "call": CALL}
    published = data / OUT_DIR
    if not (published / "dpt.duckdb").exists():
        return entry | {"ok": False, "reason": f"no full run published at {n:,}"}
    model = data / "issue17_model_fit.json"
    shutil.copy(published / "cache" / "model_fit.json", model)
    inc_out, full_out = data / "out_issue17_incremental", data / "out_issue17_full_same_model"
    _fresh_copy(published, inc_out)
    _fresh_copy(published, full_out)
    lists, originals = keep_originals(data)
    try:
        rng = random.Random(args.seed)
        entry["rows_changed"] = sum(change_list(p, args.change, rng) for p in lists)
        inc = _measure(f"incremental_{n}", [*DPT, "run", "--config", str(_config(data, inc_out.name,
                                            "issue17_incremental.toml")), "-q"],
                       timeout=args.timeout, max_mb=args.max_mb)
        full = _measure(f"full_same_model_{n}",
                        [*DPT, "run", "--full", "-q", "--config",
                         str(_config(data, full_out.name, "issue17_full_same_model.toml", f'model = "{model}"'))],
                        timeout=args.timeout, max_mb=args.max_mb)
    finally:
        _restore_lists(data)
    entry["incremental"] = inc | ({} if _failed(inc) else _summary(inc_out))
    entry["full_same_model"] = full | ({} if _failed(full) else _summary(full_out))
    if not _failed(inc) and not _failed(full):
        a, b = digests(str(inc_out / "dpt.duckdb")), digests(str(full_out / "dpt.duckdb"))
        entry["tables_compared"] = sorted(set(a) | set(b))
        entry["tables_differing"] = sorted(t for t in set(a) | set(b) if a.get(t) != b.get(t))
        entry["equal_to_full"] = not entry["tables_differing"]
    return entry


# --- the report ------------------------------------------------------------------------------------------


def _gb(mb: object) -> str:
    return f"{int(mb) / 1024:.2f} GB" if isinstance(mb, int | float) else "–"


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def _quality(q: object) -> str:
    if not isinstance(q, dict) or "f1" not in q:
        return "–"
    return f"{q['precision']:.4f} / {q['recall']:.4f} / {q['f1']:.4f}"


def _peak(step: Rec) -> int:
    return max(int(step.get("peak_mb") or 0), int(step.get("tree_peak_mb") or 0))


def _why(step: Rec) -> str:
    return f"failed: {step.get('reason')}; peak reached {_gb(_peak(step))}"


def _targets(res: Rec) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    sizes: dict[str, Rec] = res["sizes"]
    for key in sorted(sizes, key=int):
        r, n = sizes[key], int(key)
        seconds, gb = RUN_TARGETS.get(n, (None, None))
        q = _quality(r.get("quality"))
        if _failed(r):
            rows.append((f"{n:,}: `dpt run --full`", "completes", _why(r), "**missed**"))
            continue
        rows.append((f"{n:,}: `dpt run --full` wall time (P / R / F1 {q})",
                     "–" if seconds is None else f"<= {seconds:g} s", f"{r['wall_seconds']:.1f} s",
                     _verdict(None if seconds is None else r["wall_seconds"] <= seconds)))
        rows.append((f"{n:,}: peak memory", "–" if gb is None else f"<= {gb:g} GB", _gb(_peak(r)),
                     _verdict(None if gb is None else _peak(r) <= gb * 1024)))
    at_target = lambda e: e.get("voters_generated") == TARGET_SIZE  # noqa: E731
    sp = res.get("splink")
    if isinstance(sp, dict):
        n = int(sp["voters_generated"])
        ours = sizes.get(str(n), {})
        if _failed(sp):
            rows.append((f"{n:,}: Splink on the same voters", f">= {SPLINK_RATIO:g}x slower than ours", _why(sp),
                         "–"))
        elif not _failed(ours) and "wall_seconds" in ours:
            ratio = float(sp["wall_seconds"]) / float(ours["wall_seconds"])
            apart = "" if sp.get("call") == ours.get("call") else "; NOT measured in the same call"
            rows.append((f"{n:,}: Splink {sp.get('splink_version')} / ours, wall time (Splink P / R / F1 "
                         f"{_quality(sp)}; {sp['wall_seconds']:.1f} s, {_gb(_peak(sp))}{apart})",
                         f">= {SPLINK_RATIO:g}x" + ("" if at_target(sp) else f" (at {TARGET_SIZE:,})"),
                         f"{ratio:.1f}x", _verdict(ratio >= SPLINK_RATIO if at_target(sp) else None)))
    inc = res.get("incremental")
    if isinstance(inc, dict):
        n = int(inc["voters_generated"])
        step = inc.get("incremental", {})
        where = "" if at_target(inc) else f" (at {TARGET_SIZE:,})"
        if "reason" in inc:
            rows.append((f"{n:,}: `dpt run` after a 1% change", f"<= {CHANGE_TARGET_S:g} s{where}",
                         f"not measured: {inc['reason']}", "–"))
        elif _failed(step):
            rows.append((f"{n:,}: `dpt run` after a 1% change", f"<= {CHANGE_TARGET_S:g} s{where}",
                         _why(step), "**missed**"))
        else:
            rows.append((f"{n:,}: `dpt run` after a 1% change ({inc['rows_changed']:,} rows; mode "
                         f"{step.get('mode')}; peak {_gb(_peak(step))})",
                         f"<= {CHANGE_TARGET_S:g} s{where}", f"{step['wall_seconds']:.1f} s",
                         _verdict(step["wall_seconds"] <= CHANGE_TARGET_S if at_target(inc) else None)))
        if "equal_to_full" in inc:
            diff = inc["tables_differing"]
            rows.append((f"{n:,}: its tables against `dpt run --full` with the same model",
                         f"equal ({len(inc['tables_compared'])} tables)",
                         "equal" if not diff else "differ: " + ", ".join(diff),
                         _verdict(not diff)))
    rv = res.get("review")
    if isinstance(rv, dict):
        n = int(rv["voters_generated"])
        where = "" if at_target(rv) else f" (at {TARGET_SIZE:,})"
        one = rv.get("one_camat")
        if not isinstance(one, dict):
            rows.append((f"{n:,}: `dpt review import` of one camat's file", f"<= {REVIEW_TARGET_S:g} s{where}",
                         f"not measured: {rv.get('reason')}", "–"))
        elif _failed(one):
            rows.append((f"{n:,}: `dpt review import` of one camat's file", f"<= {REVIEW_TARGET_S:g} s{where}",
                         _why(one), "**missed**"))
        else:
            rows.append((f"{n:,}: `dpt review import` of one camat's file ({rv['rows_in_largest_file']:,} rows) "
                         f"and the review files written again ({one['review_files_written_again']} of "
                         f"{one.get('review_files', '?')})",
                         f"<= {REVIEW_TARGET_S:g} s{where}", f"{one['wall_seconds']:.1f} s",
                         _verdict(one["wall_seconds"] <= REVIEW_TARGET_S if at_target(rv) else None)))
    return rows


def _markdown(res: Rec) -> str:
    m: Rec = res["machine"]
    md = ["# Issue 17 benchmark (`benchmarks/bench_issue17.py`)", "",
          f"Machine: {m['cores']} cores, {m['ram_gb']} GB RAM, {m['platform']}, Python {m['python']}; "
          f"`date`: {m['date']}; load average at start {m['load_average_at_start']}. Commit measured: "
          f"{COMMIT}, call started {CALL}. Generating the voters is not counted. Peak memory: the larger of "
          "/usr/bin/time's maximum RSS and the process tree's summed RSS sampled every 0.5 s; GB = 1024 MB.", ""]
    earlier = sorted({(str(e.get("call")), str(e.get("commit"))) for e in _entries(res)} - {(CALL, COMMIT)})
    if earlier:
        md += ["**Not all from one call**: some figures were kept from earlier calls of this command ("
               + "; ".join(f"started {c}, commit {k}" for c, k in earlier)
               + "): see `call` and `commit` of each entry in issue17.json.", ""]
    md += ["| measure | target | figure | |", "|---|---|---:|---|"]
    md += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _targets(res)]
    sizes: dict[str, Rec] = res["sizes"]
    rows = [sizes[k] for k in sorted(sizes, key=int)]
    if rows:
        md += ["", "Per size, `dpt run --full` in a fresh process:", "",
               "| measure | " + " | ".join(f"{int(r['voters_generated']):,}" for r in rows) + " |",
               "|---|" + "---:|" * len(rows)]

        def line(label: str, get: Callable[[Rec], object]) -> None:
            cells = []
            for r in rows:
                try:
                    cells.append(str(get(r)))
                except (KeyError, TypeError, ValueError):
                    cells.append("–")
            md.append(f"| {label} | " + " | ".join(cells) + " |")

        def keys(field: str) -> list[str]:
            seen: dict[str, None] = {}
            for r in rows:
                seen |= dict.fromkeys(r.get(field) or {})
            return list(seen)

        line("outcome", lambda r: "ok" if r.get("ok") else f"failed: {r.get('reason')}")
        line("voters accepted", lambda r: f"{r['voters']:,}")
        line("wall time (s)", lambda r: f"{r['wall_seconds']:.1f}")
        line("peak memory (MB): largest process / process tree",
             lambda r: f"{r['peak_mb']:,} / {r['tree_peak_mb']:,}")
        line("precision / recall / F1", lambda r: _quality(r["quality"]))
        for st in keys("stage_seconds"):
            line(f"{st}: s; peak MB so far", lambda r, st=st: f"{r['stage_seconds'][st]}; {r['stage_peak_mb'][st]:,}")
        for st in keys("link_seconds"):
            line(f"link: {st} (s)", lambda r, st=st: r["link_seconds"][st])
        for st in keys("tps_seconds"):
            line(f"tps: {st} (s)", lambda r, st=st: r["tps_seconds"][st])
        line("candidate pairs", lambda r: f"{r['candidate_pairs']:,}")
        for p in keys("blocking"):
            line(f"pairs from pass {p}", lambda r, p=p: f"{r['blocking'][p]:,}")
        line("data generation, not counted (s; peak MB)",
             lambda r: (f"{r['generation_not_counted']['wall_seconds']:.1f}; "
                        f"{_peak(r['generation_not_counted']):,}") if "generation_not_counted" in r else "cached")
    inc = res.get("incremental")
    if isinstance(inc, dict) and isinstance(inc.get("incremental"), dict):
        a, b = inc["incremental"], inc.get("full_same_model", {})
        md += ["", f"A {inc['change']:.0%} change at {int(inc['voters_generated']):,} "
               f"({inc.get('rows_changed', 0):,} rows):", "",
               "| measure | `dpt run` (incremental) | `dpt run --full`, same model |", "|---|---:|---:|"]

        def both(label: str, get: Callable[[Rec], object]) -> None:
            cells = []
            for s in (a, b):
                try:
                    cells.append(str(get(s)))
                except (KeyError, TypeError, ValueError):
                    cells.append("–")
            md.append(f"| {label} | " + " | ".join(cells) + " |")

        both("outcome", lambda s: "ok" if s.get("ok") else f"failed: {s.get('reason')}")
        both("mode", lambda s: s["mode"])
        both("wall time (s)", lambda s: f"{s['wall_seconds']:.1f}")
        both("peak memory (MB)", lambda s: f"{_peak(s):,}")
        both("pairs reused / compared", lambda s: f"{s['reused_pairs'] or 0:,} / "
                                                  f"{s['compared_pairs'] or s['candidate_pairs']:,}")
        for st in dict.fromkeys([*a.get("stage_seconds", {}), *b.get("stage_seconds", {})]):
            both(f"{st} (s)", lambda s, st=st: s["stage_seconds"][st])
        for st in dict.fromkeys([*a.get("link_seconds", {}), *b.get("link_seconds", {})]):
            both(f"link: {st} (s)", lambda s, st=st: s["link_seconds"][st])
        for st in dict.fromkeys([*a.get("tps_seconds", {}), *b.get("tps_seconds", {})]):
            both(f"tps: {st} (s)", lambda s, st=st: s["tps_seconds"][st])
    rv = res.get("review")
    if isinstance(rv, dict) and "kecamatan_files" in rv:
        md += ["", f"The review loop at {int(rv['voters_generated']):,}: {rv['kecamatan_files']} kecamatan files "
               "(CSV), "
               f"{rv['rows_in_all_files']:,} rows, half of them decided (5% wrongly) by a simulated camat.", "",
               "| import | files | wall time (s) | peak MB | review files written again | outcomes so far |",
               "|---|---:|---:|---:|---:|---|"]
        for name in ("one_camat", "every_other_file"):
            s = rv.get(name)
            if isinstance(s, dict):
                outcome = (", ".join(f"{k} {v:,}" for k, v in s.get("outcomes_so_far", {}).items())
                           if s.get("ok") else f"failed: {s.get('reason')}")
                md.append(f"| {name.replace('_', ' ')} | {s['files_imported']} | {s['wall_seconds']:.1f} | "
                          f"{_peak(s):,} | {s['review_files_written_again']} of {s.get('review_files', '?')} | "
                          f"{outcome} |")
    sp = res.get("splink")
    if isinstance(sp, dict) and sp.get("ok"):
        md += ["", f"Splink {sp['splink_version']} (DuckDB {sp['duckdb_version']}) on the same "
               f"{int(sp['records']):,} voters: {sp['wall_seconds']:.1f} s, peak {_peak(sp):,} MB; "
               f"precision / recall / F1 at 0.5: {_quality(sp)}; steps (s): "
               + ", ".join(f"{k} {v}" for k, v in sp["seconds"].items()) + "."]
    return "\n".join(md) + "\n"


def _entries(res: Rec) -> list[Rec]:
    out = list(res["sizes"].values())
    out += [res[k] for k in ("splink", "review", "incremental") if isinstance(res.get(k), dict)]
    return out


COMMIT = _commit()
CALL = _now()        # when this call of the benchmark started: figures of one call are comparable


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--at", "--splink-size", dest="at", type=int, default=TARGET_SIZE,
                    help="the size for Splink, the review import and the 1%% change (default 1,000,000)")
    ap.add_argument("--change", type=float, default=0.01, help="share of rows changed (default 0.01)")
    ap.add_argument("--splink-python", type=Path, default=OUT / "splink-venv" / "bin" / "python",
                    help="python of the virtualenv with splink (default benchmarks/out/splink-venv)")
    ap.add_argument("--only-sizes", action="store_true", help="only the full runs at each size")
    ap.add_argument("--skip-full", action="store_true",
                    help="no full runs: the other parts use the runs published by an earlier call")
    ap.add_argument("--skip-splink", action="store_true")
    ap.add_argument("--skip-review", action="store_true")
    ap.add_argument("--skip-incremental", action="store_true")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before a command is stopped (default 3600)")
    ap.add_argument("--max-gb", type=float, default=22.0,
                    help="stop a command whose process tree holds more than this (default 22)")
    ap.add_argument("--fresh", action="store_true", help="forget the figures of earlier calls")
    args = ap.parse_args()
    args.max_mb = int(args.max_gb * 1024)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "issue17.json"
    res: Rec = {"sizes": {}}
    if path.exists() and not args.fresh:
        res = json.loads(path.read_text())
    res |= {"machine": _machine(), "commit": COMMIT, "call": CALL, "command": sys.argv[1:]}

    def save() -> None:
        path.write_text(json.dumps(res, indent=2) + "\n")
        (OUT / "issue17.md").write_text(_markdown(res))

    def say(what: str, step: Rec) -> None:
        how = "ok" if step.get("ok", True) and "reason" not in step else f"FAILED ({step.get('reason')})"
        print(f"{_now()}  {what}: {how}" + (f", {step['wall_seconds']:.1f} s, {_peak(step):,} MB"
                                             if "wall_seconds" in step else ""), flush=True)

    for n in args.sizes:
        if not args.skip_full:
            res["sizes"][str(n)] = row = _size(n, args)
            say(f"dpt run --full at {n:,}", row)
            save()
        if n != args.at or args.only_sizes:
            continue
        for part, skip, fn in (("splink", args.skip_splink, _splink), ("review", args.skip_review, _review),
                               ("incremental", args.skip_incremental, _incremental)):
            if not skip:
                res[part] = entry = fn(n, args)
                say(f"{part} at {n:,}", entry.get(part, entry) if part == "incremental" else entry)
                save()
    if args.at not in args.sizes and not args.only_sizes:
        print(f"--at {args.at:,} is not among --sizes: no Splink, review or change measured", file=sys.stderr)
    save()
    print((OUT / "issue17.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
