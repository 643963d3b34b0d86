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


def _print_import(report: ImportReport, folder: Path, *, quiet: bool) -> None:
    """What `dpt review import` did with every decided row: stored, stale, refused (each refused or stale
    row with its file, row and what to do), conflicts."""
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
    if not quiet:
        print(f"review files written again under {folder}")


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
                                    "v_rejects_by_reason, v_border_residents.",
                        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("sql", metavar="SQL", help='e.g. "SELECT * FROM v_tps_load LIMIT 20"')
    sp.add_argument("--csv", type=Path, metavar="FILE",
                    help="write the result here for Excel: ; separated, UTF-8 with BOM, decimal comma; a NIK or "
                         "other long digit string keeps a leading ' so Excel leaves it text")
    sp.add_argument("--xlsx", type=Path, metavar="FILE",
                    help="write the result here as an Excel workbook: text (NIK, NKK) as text, numbers as "
                         "numbers, dates as dates, lists as joined text")
    common(sp)

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


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose else logging.INFO)
    if _interactive(args):
        from rich.console import Console
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=False,
                                               log_time_format="%H:%M:%S")
        logging.basicConfig(level=level, handlers=[handler], force=True, format="%(message)s")
    else:
        logging.basicConfig(level=level, stream=sys.stderr, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@contextmanager
def _progress(args: argparse.Namespace, steps: list[str]) -> Iterator[Callable[[str], None]]:
    """A progress bar over the run's steps on a terminal; nothing otherwise (the log lines say it all)."""
    if not _interactive(args):
        yield lambda step: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description:<12}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=Console(stderr=True)) as bar:
        task = bar.add_task("start", total=len(steps))

        def step(name: str) -> None:
            bar.update(task, description=name, completed=steps.index(name) if name in steps else 0)

        yield step
        bar.update(task, description="done", completed=len(steps))


def _print_run(result: object, quiet: bool) -> None:
    from dpt_pipeline.pipeline import RunResult

    assert isinstance(result, RunResult)
    if quiet:
        return
    if result.sources:
        print(f"{'source':<12} {'format':<8} {'rows':>9} {'voters':>9} {'rejects':>8} {'NIK invalid':>12} "
              f"{'region unknown':>15}")
    for s in result.sources:
        print(f"{s.source:<12} {s.format:<8} {s.data_rows:>9} {s.voters:>9} {s.rejects:>8} "
              f"{s.flags['nik_tidak_valid']:>12} {s.flags['wilayah_tidak_dikenal']:>15}")
    if result.sources:
        print(f"{'total':<21} {result.voters + result.rejects:>9} {result.voters:>9} {result.rejects:>8}")
    for s in result.sources:
        if s.rejects_by_reason:
            reasons = ", ".join(f"{k}: {v}" for k, v in s.rejects_by_reason.items())
            print(f"rejects in {s.source}: {reasons}")
    link = result.linkage
    if link:
        print(f"duplicates: {link['candidate_pairs']} candidate pairs compared, {link['listed_pairs']} listed for "
              f"review (>= review threshold), {link['claimed_pairs']} claimed as one person (>= {CLAIM}) in "
              f"{link['groups']} groups; {link['nik_conflicts']} NIKs shared by two people (nik_conflicts)")
        rows = link.get("review_summary", [])
        if rows:
            print(f"review:   {link['review_files']} files under {result.database.parent / 'review'} "
                  "(open / SAMA / BEDA / RAGU / in conflict per kecamatan)")
            for r in rows:  # type: ignore[attr-defined]
                print(f"          {r['kabupaten']:<20} {r['kecamatan']:<22} {r['terbuka']:>5} {r['sama']:>5} "
                      f"{r['beda']:>5} {r['ragu']:>5} {r.get('konflik', 0):>5}")
        if link.get("struck"):
            print(f"struck:   {link['struck']} voters confirmed SAMA with a record kept for them lose their TPS "
                  "(struck_voters)")
        for f in link.get("border_files", []):  # type: ignore[attr-defined]
            print(f"border:   {f}")
        print(f"model:    {link['model']}")
    t = result.tps
    if t:
        churn = "" if t["churn"] is None else f"; {t['moved']} voters moved since the last run ({t['churn']:.2%})"
        print(f"tps:      {t['voters']} voters in {t['tps']} TPS over {t['desa']} desa; {t['struck_duplicates']} "
              f"confirmed duplicates without a TPS; {t['over_cap']} TPS over the cap, {t['split_households']} "
              f"households split, largest gap from n/k {t['max_deviation']:.1f}; {t['rts_fallback']} RTs placed "
              f"by fallback{churn}")
        extra = t["desa_with_extra_tps"]
        if isinstance(extra, list) and extra:
            print("          one more TPS than ceil(n/C), forced by household sizes, in: " + ", ".join(extra))
        if t.get("maps"):
            print(f"maps:     {t['maps']}")
    print(f"database: {result.database}")
    print(f"summary:  {result.summary_file}")
    print("stages:   " + ", ".join(f"{k} {v:.2f}s" for k, v in result.stage_seconds.items()))


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
            _print_run(result, args.quiet)
        elif args.command == "tps":
            from dpt_pipeline import pipeline
            from dpt_pipeline.config import load_config

            with _progress(args, ["tps", "publish"]) as step:
                result = pipeline.run_tps(load_config(args.config), wait=args.wait, progress=step)
            _print_run(result, args.quiet)
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
                    print(f"{len(paths)} review files under {config.output.dir / 'review'}")
            else:
                report = pipeline.review_import(config, args.paths, wait=args.wait)
                _print_import(report, config.output.dir / "review", quiet=args.quiet)
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
