"""The `dpt` command: a thin layer over `pipeline`; it parses arguments, sets up logging, prints results
and turns errors into exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dpt_pipeline import __version__
from dpt_pipeline.core.thresholds import CLAIM
from dpt_pipeline.errors import DptError

if TYPE_CHECKING:
    from rich.console import Console

    from dpt_pipeline.config import Config
    from dpt_pipeline.pipeline import RunResult
    from dpt_pipeline.review import ImportReport

EXIT_CODES = """exit codes:
  0  success
  1  unexpected internal error (a bug: please report it with the log)
  2  bad configuration or arguments (unknown key, wrong type, missing file, a query DuckDB refuses)
  3  bad input data (a file that cannot be read as a voter list at all)
  4  another dpt run is active on the same output folder (nothing was changed)
  5  review import: some rows were refused (the good ones were stored; fix the rows listed and import again)
  6  publish stopped: a voter list lost many voters or is mostly rejected (nothing was published; pass
     --accept-shrink NAME if the change is real)
  7  storage: the disk is full, the folder is read-only or not ours to write, a source is not a regular file
  8  database: the published DuckDB file is open for writing in another program, or damaged
130  interrupted by Ctrl-C; 143 stopped by SIGTERM (recorded as `interrupted`; the previous outputs are kept)
"""
ROWS_REFUSED = 5


def _print_import(report: ImportReport, folder: Path, *, quiet: bool, config_arg: str) -> None:
    """What `dpt review import` did with every decided row: stored, stale, refused (each refused or stale
    row with its file, row and what to do), conflicts; then what to do next."""
    c = report.counts()
    by_word = report.stored.group_by("keputusan").len().sort("keputusan")
    words = ", ".join(f"{k} {n}" for k, n in by_word.iter_rows())
    if not quiet:
        print(f"review import: {c['files']} files; {c['stored']} decisions stored ({words or 'none'}), "
              f"{c['unchanged']} unchanged, {c['superseded']} older than a decision already stored (kept in the "
              f"history), {c['stale']} stale (a record changed since export: reopened), {c['refused']} refused")
    for note in report.stale:
        print(f"stale:   {note}", file=sys.stderr)
    for note in report.superseded:
        print(f"older:   {note}", file=sys.stderr)
    for note in report.refused:
        print(f"refused: {note}", file=sys.stderr)
    if c["conflicts"]:
        print(f"warning: {c['conflicts']} pairs have conflicting decisions (two files disagree, or a SAMA chain "
              "crosses a BEDA); nobody in them is struck and they are back in the review files", file=sys.stderr)
    if c["refused"]:
        print(f"warning: {c['refused']} rows were refused and not stored; fix them in their files and import "
              "those files again (the stored rows are not stored twice)", file=sys.stderr)
    if quiet:
        return
    print(f"review files written again under {_shown(folder)} (the decided pairs have left them)")
    print("\nnext:")
    if report.refused:
        files = " ".join(_quote(_shown(Path(f))) for f in sorted({n.file for n in report.refused}))
        print("  - fix the refused rows listed above (file, row, field) and import those files again:\n"
              f"      dpt review import --config {_quote(config_arg)} {files}")
    print("  - the decisions count from the next run: `dpt run` strikes the voters confirmed SAMA from their TPS "
          f"(or now, TPS only: dpt tps --config {_quote(config_arg)})")
    print(f"  - pairs still open, in conflict or reopened are in the review files under {_shown(folder)}: send "
          "those files to the camat again")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dpt",
        description="Clean the voter roll (DPT) of Kutai Timur and its neighbours, find voters registered "
                    "twice, and map voters to polling stations (TPS).",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"dpt-pipeline {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, *, config: bool = True, writes: bool = False) -> None:
        if config:
            sp.add_argument("--config", required=True, type=Path, metavar="FILE",
                            help="pipeline TOML file, e.g. config/pipeline.toml")
        if writes:
            sp.add_argument("--wait", action="store_true",
                            help="wait for a run active on the same output folder instead of exiting (code 4)")
        sp.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")
        sp.add_argument("-v", "--verbose", action="store_true", help="print debug messages")

    for name, help_text in (
        ("run", "run every stage on the configured sources and publish the DuckDB database"),
        ("ingest", "read and validate the configured sources only (publishes voters and rejects)"),
        ("tps", "map the last published voters to TPS again (tps_assignments, tps_summary, tps_quality, maps)"),
    ):
        sp = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        common(sp, writes=True)
        if name in ("run", "ingest"):
            sp.add_argument("--accept-shrink", action="append", default=[], metavar="NAME",
                            help="publish even though the list NAME lost many voters since the last run or is "
                                 "mostly rejected (repeat for several lists; 'all' for every list)")
        if name == "run":
            sp.add_argument("--full", action="store_true",
                            help="compare every candidate pair and fit the model afresh, instead of reusing "
                                 "the last run's comparisons and model (incremental, the default when possible)")

    sp = sub.add_parser("evaluate", help="score the published duplicates against a truth file",
                        description="Precision, recall and F1 of the published duplicate pairs (probability "
                                    f">= {CLAIM}) and groups against a truth file with columns source, source_row, "
                                    "person_id (and case), such as the one `dpt sample` writes; the share of "
                                    "true pairs listed for review, blocking recall and candidate pairs per "
                                    "record (from the run's cache in <output>/cache), the review load, and "
                                    "all of it per case of the truth file.",
                        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    truth = sp.add_mutually_exclusive_group(required=True)
    truth.add_argument("--truth", type=Path, metavar="CSV", help="truth file (source, source_row, person_id)")
    truth.add_argument("--decisions", action="store_true",
                       help="against every reviewer decision so far (SAMA/BEDA) instead of a truth file")
    sp.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    common(sp)

    rv = sub.add_parser("review", help="the camat's review files: export them, import their decisions",
                        description="Review files per kecamatan (reports/review/<kabupaten>/<kecamatan>.csv) "
                                    "and the decisions written in them (SAMA, BEDA, RAGU).",
                        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    rsub = rv.add_subparsers(dest="review_command", required=True, metavar="ACTION")
    ex = rsub.add_parser("export", help="write the review files again from the published database",
                         description="Write the review files of the undecided pairs from the published database.")
    ex.add_argument("--format", choices=("csv", "xlsx"), default=None,
                    help="xlsx writes .xlsx files beside the .csv (the default unless [review] xlsx = false)")
    common(ex, writes=True)
    im = rsub.add_parser("import", help="read decisions back from review files (.csv or .xlsx)",
                         description="Check review files and store every good decision in review_decisions "
                                     "(one transaction). A row with an unknown word or pair, two decisions for one "
                                     "pair, or record columns that do not match its pair is refused and listed "
                                     "with its file, row and fix (exit code 5); a row whose record changed since "
                                     "export is reported as stale and its pair reopened. The review files are "
                                     "written again afterwards.")
    im.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="review files")
    common(im, writes=True)

    sp = sub.add_parser("status", help="the last runs on the configured output folder",
                        description="The last runs recorded for the output folder (runs.jsonl): status, times, "
                                    "rows per stage; and whether a run is active now.",
                        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("-n", type=int, default=10, metavar="N", help="how many runs (default 10)")
    common(sp)

    sp = sub.add_parser("query", help="run a SQL query on the published database",
                        description="Run one SQL query (DuckDB) on the published database, read-only, and print "
                                    "the result as DuckDB's CLI does (a table wider than the terminal has its "
                                    "middle columns folded into …; COLUMNS sets the width), or write it for "
                                    "Excel with --xlsx or --csv. Views: v_pairs, v_review_progress, v_tps_load, "
                                    "v_rejects_by_reason, v_border_residents, pair_evidence (why a pair scored "
                                    "what it did).",
                        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("sql", metavar="SQL", help='e.g. "SELECT * FROM v_tps_load LIMIT 20"')
    sp.add_argument("--csv", type=Path, metavar="FILE",
                    help="write the result here for Excel: ; separated, UTF-8 with BOM, decimal comma; a NIK or "
                         "other long digit string keeps a leading ' so Excel leaves it text")
    sp.add_argument("--xlsx", type=Path, metavar="FILE",
                    help="write the result here as an Excel workbook: text (NIK, NKK) as text, numbers as "
                         "numbers, dates as dates, lists as joined text")
    common(sp)

    sp = sub.add_parser("init", help="write a commented config for the voter lists in a folder",
                        description="Look at the voter lists in FOLDER (.csv, .txt, .tsv, .xlsx, .parquet) and write a "
                                    "commented config for them: a [[sources]] block per list with its detected "
                                    "format, encoding, separator and header mapping, and every setting with its "
                                    "default. Only headers are written, never a cell.",
                        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("folder", type=Path, metavar="FOLDER", help="the folder holding the voter lists")
    sp.add_argument("--out", type=Path, metavar="PATH", help="where to write the config (default FOLDER/pipeline.toml)")
    sp.add_argument("--force", action="store_true", help="replace the file at --out if it exists")
    common(sp, config=False)

    sp = sub.add_parser("sample", help="generate synthetic voter lists, a truth file and RT coordinates",
                        description="Generate synthetic DPT lists (Kutim, Bontang, Kukar border areas) with "
                                    "duplicates, hard negatives and malformed rows, plus truth.csv and "
                                    "rt_coordinates.csv. Deterministic for a given seed.")
    sp.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write into")
    sp.add_argument("--voters", type=int, default=5000, metavar="N", help="data rows in total (default 5000)")
    sp.add_argument("--seed", type=int, default=20261128, metavar="S", help="random seed (default 20261128)")
    common(sp, config=False)
    return p


def _interactive(args: argparse.Namespace) -> bool:
    """Progress bars and coloured logs on a terminal; plain timestamped lines for cron and pipes."""
    return not args.quiet and sys.stderr.isatty()


class _WarningTally(logging.Handler):
    """Counts the warnings and errors logged, for the closing summary's pointer to them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose else logging.INFO)
    if _interactive(args):
        from rich.console import Console
        from rich.highlighter import NullHighlighter
        from rich.logging import RichHandler

        # The progress display draws on this same console (_progress), so a log line is printed above the
        # bar, which is drawn again below it, instead of the two writing over each other.
        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=False,
                                               log_time_format="%H:%M:%S", highlighter=NullHighlighter())
        logging.basicConfig(level=level, handlers=[handler, _WarningTally()], force=True, format="%(message)s")
    else:
        plain = logging.StreamHandler(sys.stderr)
        plain.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(level=level, handlers=[plain, _WarningTally()], force=True)


def _log_console() -> Console | None:
    """The console the log lines are drawn on, when they are drawn by rich (on a terminal)."""
    from rich.logging import RichHandler

    return next((h.console for h in logging.getLogger().handlers if isinstance(h, RichHandler)), None)


def _warnings_logged() -> int:
    return sum(h.count for h in logging.getLogger().handlers if isinstance(h, _WarningTally))


# What each step of pipeline.steps() is called on the progress bar.
STEP_LABELS = {"ingest": "reading lists", "standardize": "preparing", "block": "finding pairs",
               "compare": "comparing", "score": "scoring", "cluster": "grouping", "tables": "review files",
               "tps": "TPS", "publish": "publishing"}


@contextmanager
def _progress(args: argparse.Namespace, steps: list[str]) -> Iterator[Callable[[str], None]]:
    """A progress bar over the run's steps on a terminal, on the console of the log lines (so that they
    print above it); nothing otherwise (the log lines say it all)."""
    console = _log_console() if _interactive(args) else None
    if console is None:
        yield lambda step: None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description:<13}"), BarColumn(),
                  TextColumn("step {task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("starting", total=len(steps))

        def step(name: str) -> None:
            bar.update(task, description=STEP_LABELS.get(name, name),
                       completed=steps.index(name) if name in steps else 0)

        yield step
        bar.update(task, description="done", completed=len(steps))


def _shown(path: Path) -> str:
    """A path as the staffer can type it from here: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _say(text: str, indent: int = 12) -> None:
    """Print a line of the closing summary wrapped at the terminal's width between words, the following lines
    indented under its text (a command to type is printed on its own line instead, never wrapped)."""
    import shutil
    import textwrap

    width = max(shutil.get_terminal_size().columns, 60)
    print(textwrap.fill(text, width, subsequent_indent=" " * indent, break_long_words=False,
                        break_on_hyphens=False))


def _n(value: object) -> int:
    """A count from a run's summary dict (typed `object` there)."""
    return int(value)  # type: ignore[call-overload]


def _rows(info: dict[str, object], key: str) -> list[dict[str, object]]:
    """A list of rows from a run's summary dict, empty when absent."""
    rows = info.get(key)
    return rows if isinstance(rows, list) else []


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _print_run(result: RunResult, args: argparse.Namespace, config: Config) -> None:
    """The closing summary of `dpt run`, `dpt ingest` and `dpt tps`: what ran, where the report and the
    review files are, what needs a look, and what to do next. Nothing with -q."""
    if args.quiet:
        return
    out = config.output.dir
    took = sum(result.stage_seconds.values())
    print()
    _say(f"dpt {args.command} finished: run {result.run_id}, {took:.1f} s "
         f"({', '.join(f'{k} {v:.1f} s' for k, v in result.stage_seconds.items())})", 4)
    look: list[str] = []
    if result.sources:
        _print_sources(result, config, look)
    link = result.linkage
    if link:
        _print_linkage(link, look)
    if result.tps:
        _print_tps(result.tps, look)

    print()
    report = out / "report.html"
    print(f"report:       {_shown(report)}")
    review = out / "review"
    if link:
        kec = len(_rows(link, "review_summary"))
        kinds = ".xlsx and .csv" if config.review.xlsx else ".csv"
        print(f"review files: {_shown(review)}/ ({kec} kecamatan, {kinds}; one file per kecamatan)")
    if result.tps.get("maps"):
        print(f"TPS maps:     {_shown(Path(str(result.tps['maps'])))}")
    if result.tps.get("gpkg"):
        _say(f"GIS layers:   {_shown(Path(str(result.tps['gpkg'])))} (QGIS)", 14)
    lists = result.tps.get("lists")
    if isinstance(lists, dict):
        _say(f"TPS lists:    {_shown(Path(str(lists['folder'])))}/ (XLSX per desa, PDF per TPS)", 14)
    print(f"database:     {_shown(result.database)}")
    print(f"all counts:   {_shown(result.summary_file)}")

    warned = _warnings_logged()
    if warned or look:
        print("\nneeds a look:")
        for line in look:
            _say(f"  - {line}", 4)
        if warned:
            _say(f"  - {warned} warning{'s' if warned > 1 else ''} in the log above (the lines marked WARNING)", 4)

    cfg = _quote(str(args.config))
    print("\nnext:")
    _say(f"  - read the report: {_shown(report)}", 4)
    if link:
        ext = "xlsx" if config.review.xlsx else "csv"
        open_pairs = sum(_n(r["terbuka"]) for r in _rows(link, "review_summary"))
        if open_pairs:
            _say(f"  - send the review files in {_shown(review)}/ to the camat of each kecamatan (the open "
                 "pairs per kecamatan are above); each pair is decided SAMA, BEDA or RAGU", 4)
            print("  - when they come back, import them:")
            print(f"      dpt review import --config {cfg} {_shown(review)}/*/*.{ext}")
        else:
            print("  - no pair is waiting for a camat's decision")
    elif args.command == "ingest":
        print("  - find the duplicates and map the TPS:")
        print(f"      dpt run --config {cfg}")
    if result.tps.get("maps"):
        _say(f"  - check the TPS on the maps: {_shown(Path(str(result.tps['maps'])))}", 4)


def _print_sources(result: RunResult, config: Config, look: list[str]) -> None:
    from dpt_pipeline.ingest.nik import MASALAH_DIGIT_EXCEL

    print(f"\n{'list':<12} {'format':<7} {'rows':>9} {'voters':>9} {'rejects':>8} {'NIK invalid':>12} "
          f"{'region unknown':>15}")
    for s in result.sources:
        print(f"{s.source:<12} {s.format:<7} {s.data_rows:>9,} {s.voters:>9,} {s.rejects:>8,} "
              f"{s.flags['nik_tidak_valid']:>12,} {s.flags['wilayah_tidak_dikenal']:>15,}")
    print(f"{'total':<20} {result.voters + result.rejects:>9,} {result.voters:>9,} {result.rejects:>8,}")
    for s in result.sources:
        if s.rejects_by_reason:
            reasons = ", ".join(f"{k} {v:,}" for k, v in s.rejects_by_reason.items())
            _say(f"rejected in {s.source}: {reasons}", 4)
        cut = s.nik_invalid_by_problem.get(MASALAH_DIGIT_EXCEL, 0)
        if cut:
            look.append(f"list {s.source}: {cut:,} NIKs lost their last digit (the file was saved by Excel with "
                        "the NIK column as numbers): export it again with the column formatted as text")
        if s.data_rows and s.rejects / s.data_rows > config.ingest.max_reject_share:
            look.append(f"list {s.source}: {s.rejects / s.data_rows:.0%} of its rows rejected (more than "
                        f"{config.ingest.max_reject_share:.0%}); the reasons are in the report")


def _print_linkage(link: dict[str, object], look: list[str]) -> None:
    n = {k: _n(link[k]) for k in ("candidate_pairs", "claimed_pairs", "groups", "listed_pairs", "nik_conflicts")}
    print()
    _say(f"duplicates: {n['candidate_pairs']:,} pairs compared ({link['mode']} run); {n['claimed_pairs']:,} "
         f"claimed as one person (probability >= {CLAIM}), {n['groups']:,} people registered more than once; "
         f"{n['listed_pairs']:,} pairs listed for review")
    rows = _rows(link, "review_summary")
    if rows:
        print("to review, pairs per kecamatan:")
        print(f"  {'kabupaten':<18} {'kecamatan':<20} {'open':>6} {'SAMA':>5} {'BEDA':>5} {'RAGU':>5} {'conflict':>9}")
        for r in rows:
            print(f"  {r['kabupaten']!s:<18} {r['kecamatan']!s:<20} {_n(r['terbuka']):>6,} {_n(r['sama']):>5,} "
                  f"{_n(r['beda']):>5,} {_n(r['ragu']):>5,} {_n(r.get('konflik', 0)):>9,}")
    if link.get("struck"):
        _say(f"struck:     {_n(link['struck']):,} voters confirmed SAMA lose their TPS "
             "(the record kept for them keeps its own)")
    areas: dict[str, dict[str, int]] = {}
    for b in _rows(link, "border"):
        status = areas.setdefault(str(b["area"]), {})
        status[str(b["status"])] = status.get(str(b["status"]), 0) + _n(b["residents"])
    for area, counts in areas.items():
        _say(f"border:     {area} (records per status): " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    for f in _rows(link, "border_files"):
        print(f"            {_shown(Path(str(f)))}")
    if link.get("border_areas") == 0:
        print("border:     no border area configured ([linkage] border_areas = [])")
    if n["nik_conflicts"]:
        look.append(f"{n['nik_conflicts']:,} NIKs are shared by two people who look different (table "
                    "nik_conflicts, and the report)")


def _print_tps(t: dict[str, object], look: list[str]) -> None:
    churn = "" if t["churn"] is None else f"; {_n(t['moved']):,} voters moved since the last run ({t['churn']:.1%})"
    print()
    _say(f"TPS:        {_n(t['voters']):,} voters in {_n(t['tps']):,} TPS over {_n(t['desa']):,} desa; "
         f"{_n(t['over_cap']):,} TPS over the cap, {_n(t['split_households']):,} households split, "
         f"{_n(t['rts_fallback']):,} RTs placed by fallback{churn}")
    if _n(t.get("rts_split", 0)):
        _say(f"            {_n(t['rts_split']):,} RTs split between two or more TPS, where the cap left no other "
             "way (table tps_rt_splits)")
    extra = t["desa_with_extra_tps"]
    if isinstance(extra, list) and extra:
        _say("            one more TPS than ceil(n/C), forced by household sizes, in desa " + ", ".join(extra))
    if _n(t["over_cap"]):
        look.append(f"{_n(t['over_cap']):,} TPS hold more voters than the cap; see TPS in the report")


def _print_status(out: Path, n: int) -> None:
    import json

    from dpt_pipeline.io import runs

    h = runs.history(out).tail(n)
    print(f"output folder {out}: " + ("a run is active now" if runs.is_locked(out) else "no run active"))
    if h.height == 0:
        print("no runs recorded yet")
    for r in h.iter_rows(named=True):
        took = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] else None
        stages = json.loads(r["stages"] or "{}")
        rows = stages.get("ingest", {}).get("rows", {})
        pairs = stages.get("link", {}).get("rows", {}).get("claimed_pairs")
        tps_n = stages.get("tps", {}).get("rows", {}).get("tps")
        print(f"{r['run_id']}  {r['command']:<13} {r['status']:<11} {r['mode'] or '':<11} "
              f"started {r['started_at']:%Y-%m-%d %H:%M:%S} UTC"
              + (f", {took:.0f}s" if took is not None else "")
              + (f"; voters {rows.get('voters')}, rejects {rows.get('rejects')}" if rows else "")
              + (f"; claimed pairs {pairs}" if pairs is not None else "")
              + (f"; TPS {tps_n}" if tps_n is not None else "")
              + (f"; error: {r['error']}" if r["error"] else ""))


def _on_sigterm(signum: int, frame: object) -> None:
    """A scheduler's SIGTERM stops the run like Ctrl-C: the run is recorded `interrupted`, outputs kept."""
    from dpt_pipeline.errors import Interrupted

    raise Interrupted("SIGTERM", 128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    import signal
    import threading

    args = _parser().parse_args(argv)
    _setup_logging(args)
    if threading.current_thread() is not threading.main_thread():   # signals reach the main thread only
        return _main(args)
    previous_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(args)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)


def _main(args: argparse.Namespace) -> int:
    try:
        if args.command in ("run", "ingest"):
            from dpt_pipeline import pipeline
            from dpt_pipeline.config import load_config

            config = load_config(args.config)
            stages = ("ingest",) if args.command == "ingest" else pipeline.ALL_STAGES
            with _progress(args, pipeline.steps(stages)) as step:
                result = pipeline.run(config, stages=stages, wait=args.wait, progress=step,
                                      full=getattr(args, "full", False), accept_shrink=tuple(args.accept_shrink))
            _print_run(result, args, config)
        elif args.command == "tps":
            from dpt_pipeline import pipeline
            from dpt_pipeline.config import load_config

            config = load_config(args.config)
            with _progress(args, ["tps", "publish"]) as step:
                result = pipeline.run_tps(config, wait=args.wait, progress=step)
            _print_run(result, args, config)
        elif args.command == "evaluate":
            import json

            from dpt_pipeline.config import load_config
            from dpt_pipeline.evaluate import evaluate, format_report

            config = load_config(args.config)
            if args.decisions:
                from dpt_pipeline.evaluate import evaluate_decisions

                s = evaluate_decisions(config.output.database_path)
                print(f"against {s.true_pairs} SAMA decisions and the BEDA ones: {s.claimed} claimed, "
                      f"{s.true_positives} correct; precision {s.precision:.4f}, recall {s.recall:.4f}, "
                      f"F1 {s.f1:.4f}")
                if args.json:
                    args.json.write_text(json.dumps(s.__dict__, indent=2) + "\n")
            else:
                from dpt_pipeline.linkage.incremental import CACHE_DIR

                ev = evaluate(config.output.database_path, args.truth, cache_dir=config.output.dir / CACHE_DIR,
                              border_areas=config.linkage.border_areas)
                print(format_report(ev))
                if args.json:
                    args.json.write_text(json.dumps(ev.to_dict(), indent=2) + "\n")
        elif args.command == "review":
            from dpt_pipeline import pipeline
            from dpt_pipeline.config import load_config

            config = load_config(args.config)
            if args.review_command == "export":
                paths = pipeline.review_export(config, xlsx=None if args.format is None else args.format == "xlsx",
                                               wait=args.wait)
                if not args.quiet:
                    folder = _shown(config.output.dir / "review")
                    ext = "xlsx" if config.review.xlsx else "csv"
                    print(f"{len(paths)} review files under {folder}/\nnext: send them to the camat of each "
                          f"kecamatan; when they come back: dpt review import --config {_quote(str(args.config))} "
                          f"{folder}/*/*.{ext}")
            else:
                report = pipeline.review_import(config, args.paths, wait=args.wait)
                _print_import(report, config.output.dir / "review", quiet=args.quiet, config_arg=str(args.config))
                if report.refused:
                    return ROWS_REFUSED
        elif args.command == "status":
            from dpt_pipeline.config import load_config

            _print_status(load_config(args.config).output.dir, args.n)
        elif args.command == "query":
            from dpt_pipeline.config import load_config
            from dpt_pipeline.outputs import query as q

            rows = q.query(load_config(args.config).output.database_path, args.sql)
            for path, write in ((args.csv, q.write_csv), (args.xlsx, q.write_xlsx)):
                if path:
                    write(rows, path)
                    if not args.quiet:
                        print(f"{rows.height} rows written to {path}")
            if not (args.csv or args.xlsx):
                print(q.render(rows), end="")
                if rows.height > q.MAX_ROWS:
                    print(f"{rows.height} rows; use --xlsx FILE or --csv FILE for all of them")
        elif args.command == "init":
            from dpt_pipeline.starter import init

            w = init(args.folder, args.out, force=args.force)
            if not args.quiet:
                print(f"wrote {w.path}: {len(w.sources)} voter lists"
                      + (f", RT coordinates {w.coordinates.name}" if w.coordinates else "")
                      + "".join(f"\nleft commented out: {p.name} ({why})" for p, why in w.skipped)
                      + f"\ncheck it, then: dpt run --config {w.path}")
        elif args.command == "sample":
            from dpt_pipeline import synth as sample

            info = sample.generate(args.out, args.voters, args.seed)
            if not args.quiet:
                for k, v in info.items():
                    print(f"{k}: {v}")
        return 0
    except DptError as e:
        print(f"dpt: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        from dpt_pipeline.errors import Interrupted

        how = f"stopped by {e.signal_name}" if isinstance(e, Interrupted) else "interrupted"
        print(f"dpt: {how}; the previous outputs are unchanged", file=sys.stderr)
        return e.exit_code if isinstance(e, Interrupted) else 130
    except Exception as e:  # a bug: say where, but not the message, which may quote personal data
        import traceback

        from dpt_pipeline.errors import environment_error

        if (cause := environment_error(e)) is not None:
            print(f"dpt: error: {cause}", file=sys.stderr)
            return cause.exit_code

        where = "".join(traceback.format_tb(e.__traceback__)[-3:])
        print(f"dpt: internal error {type(e).__name__} (a bug: please report it with this text; the previous "
              f"outputs are unchanged)\n{where}", file=sys.stderr)
        if args.verbose:
            traceback.print_exception(e)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
