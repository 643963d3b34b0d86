"""The review import fuzzed with what a camat's hands and spreadsheet program make of a review file.

Whatever comes in (any word in the decision column, edited pair_ids, rows deleted, doubled, shuffled or
pasted from another file, decisions sorted apart from their pairs, renamed or dropped headers, another
format, random bytes), the import raises nothing but a DptError, accounts for every decided row once
(stored, unchanged, superseded, stale or refused, in the report and in review_import_log), and no message
quotes a NIK, an NKK or a name.

One small night is run once for the module (the sample generator, 500 voters): three exports, two imports
between them, so that rows of older files meet newer decisions; and a copy of its database where records
shown in the files have changed since, so that rows go stale.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import logging
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from dpt_pipeline import pipeline, review
from dpt_pipeline.config import Config, load_config
from dpt_pipeline.errors import DptError
from dpt_pipeline.io.spreadsheet import write_csv_for_excel
from dpt_pipeline.synth import generate

ROOT = Path(__file__).resolve().parents[3]
WHEN = dt.datetime(2026, 12, 3, 1, 0)
OUTCOMES = {review.STORED, review.UNCHANGED, review.SUPERSEDED, review.STALE, review.REFUSED}
Rows = list[list[str | None]]


@dataclass(repr=False)
class Night:
    config: Config
    pool: list[tuple[str, list[str], Rows]]   # every file of the three exports: (stem, header, rows)
    changed: Path                              # the database with a shown record changed since export
    secrets: list[str]                         # NIKs, NKKs and names of the data
    others: list[str]                          # cells of the files, to paste elsewhere

    def __repr__(self) -> str:     # short: Hypothesis prints the arguments of a failing example
        return f"Night({self.config.output.dir}, {len(self.pool)} files)"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:   # what Hypothesis' printer calls
        p.text(repr(self))


def _config(base: Path, data: Path) -> Path:
    text = (ROOT / "config" / "pipeline.toml").read_text().replace('dir = "../reports"', f'dir = "{base}/out"')
    text = text.replace('"../sample_data/', f'"{data}/').replace(
        'regions = "regions.csv"', f'regions = "{ROOT / "dpt_pipeline" / "core" / "regions.csv"}"').replace(
        "[tps]\n", "[tps]\nmaps = false\n")
    path = base / "p.toml"
    path.write_text(text)
    return path


def _exported(cfg: Config) -> list[tuple[str, list[str], Rows]]:
    out = []
    for f in sorted((cfg.output.dir / "review").glob("*/*.csv")):
        frame = pl.read_csv(f, separator=";", infer_schema=False)
        out.append((f.stem, frame.columns, [list(r) for r in frame.rows()]))
    return out


def _decide(cfg: Config, files: list[tuple[str, list[str], Rows]], inbox: Path, words: list[str | None]) -> None:
    """A camat's answer to an export: `words` in turn down the decision column, a note beside RAGU."""
    paths = []
    for n, (stem, header, rows) in enumerate(files):
        frame = pl.DataFrame(rows, schema=header, orient="row")
        k = [words[(i + n) % len(words)] for i in range(frame.height)]
        frame = frame.with_columns(pl.Series("keputusan", k, dtype=pl.String),
                                   pl.Series("catatan", ["tanya kades" if w == "RAGU" else None for w in k],
                                             dtype=pl.String))
        paths.append(write_csv_for_excel(frame, inbox / f"{n}" / f"{stem}.csv"))
    pipeline.review_import(cfg, paths)


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Night:
    base = tmp_path_factory.mktemp("fuzz")
    generate(base / "data", 500, 11)
    cfg = load_config(_config(base, base / "data"))
    pipeline.run(cfg)
    first = _exported(cfg)
    _decide(cfg, first, base / "in1", ["SAMA", "RAGU", None, "BEDA"])
    second = _exported(cfg)                  # the RAGU pairs come back: decided in a newer export
    _decide(cfg, second, base / "in2", ["BEDA", None])
    pool = first + second + _exported(cfg)
    assert sum(len(r) for _, _, r in pool) >= 30
    changed = base / "changed.duckdb"
    shutil.copyfile(cfg.output.database_path, changed)
    with duckdb.connect(str(changed)) as con:
        # Records shown in the files (one in ten), corrected in their lists since: a new voter_id, another
        # address, as the next run would make them.
        con.execute("UPDATE voters SET voter_id = voter_id || '-baru', alamat = 'JL. BARU NO. 9' WHERE voter_id IN "
                    "(SELECT DISTINCT voter_id_l FROM review_exports ORDER BY voter_id_l) AND hash(voter_id) % 10 = 0")
        secrets = {v for col in ("nik", "nkk", "nama") for (v,) in
                   con.execute(f"SELECT DISTINCT {col} FROM voters WHERE length({col}) >= 4").fetchall()}
    others = sorted({str(c) for _, _, rows in pool for r in rows for c in r[:12] if c})[:200]
    return Night(cfg, pool, changed, sorted(secrets), others)


# -- what a file can hold ---------------------------------------------------------------------------------

WORDS = ("SAMA", "BEDA", "RAGU")
JUNK = ("YA", "TIDAK", "=SAMA", '=HYPERLINK("http://x","SAMA")', "+BEDA", "@RAGU", "-RAGU", "'SAMA", "SAMA/BEDA",
        "SAMA;BEDA", 'SAMA"', "\x00", "SA\x00MA", "1", "0", "1.0", "45.0", "nan", "NULL", "TRUE", "#N/A", "✓",
        "ｓａｍａ", "SAMA\r\nBEDA", "\ufeffSAMA", "SAMA\u200b", "BEDA\u00a0", "")


def _word_variants(w: str) -> st.SearchStrategy[str]:
    return st.sampled_from([w, w.lower(), w.capitalize(), f" {w} ", f"{w}\t", f"\u00a0{w}", " ".join(w), f"\n{w}",
                            f"{w}.", w[:3], w + w])


def _cells(secrets: list[str], others: list[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(), st.sampled_from(JUNK), st.text(max_size=12), st.integers().map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.integers(1, 12).map(lambda n: "SAMA" * 1000 * n),                    # up to 48,000 characters
        st.sampled_from(secrets),                                               # a NIK, NKK or name pasted in
        st.sampled_from(others))                                                # a cell of another row


def _decisions(secrets: list[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.sampled_from(WORDS).flatmap(_word_variants), st.sampled_from(WORDS),
                     _cells(secrets, list(WORDS)))


def _headers(header: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(header), st.sampled_from(header).map(str.upper),
                     st.sampled_from(header).map(lambda h: f" {h.capitalize()} "),
                     st.sampled_from(header).map(lambda h: "\ufeff" + h), st.text(max_size=10),
                     st.sampled_from(["", "keputusan", "pair_id", "nama_1", "Keputusan;", "a,b,c", "'="]))


@dataclass(repr=False)
class Made:
    path: Path
    rows: Rows | None       # what the file holds as written (None: not a table, e.g. random bytes)
    header: list[str]

    def __repr__(self) -> str:     # bounded: a failing example is printed, its cells may be 48,000 characters
        rows = "not a table" if self.rows is None else f"{len(self.rows)} rows: {self.rows!r:.4000}"
        return f"Made({self.path.name!r}, header={self.header!r:.2000}, {rows})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def _mutate(draw: st.DrawFn, night: Night) -> tuple[str, list[str], Rows]:
    stem, header, rows = draw(st.sampled_from(night.pool))
    header, rows = list(header), [list(r) for r in rows]
    k = header.index("keputusan")
    for r in rows:        # mostly a word, as a camat writes it; some rows left open; some junk
        kind = draw(st.sampled_from(["word"] * 5 + ["variant"] * 2 + ["open"] * 3 + ["junk"] * 2))
        r[k] = (draw(st.sampled_from(WORDS)) if kind == "word" else None if kind == "open" else
                draw(st.sampled_from(WORDS).flatmap(_word_variants)) if kind == "variant" else
                draw(_cells(night.secrets, list(WORDS))))
    others = night.others
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["cell", "cell", "cell", "delete", "duplicate", "shuffle", "sort_one_column",
                                   "paste", "clear", "rename", "drop_column", "add_column"]))
        n = len(rows)
        if op == "cell" and n:
            c = draw(st.integers(0, len(header) - 1))
            rows[draw(st.integers(0, n - 1))][c] = draw(
                _decisions(night.secrets) if c == k else _cells(night.secrets, others))
        elif op == "delete" and n:
            del rows[draw(st.integers(0, n - 1))]
        elif op == "duplicate" and n:
            rows.insert(draw(st.integers(0, n)), list(rows[draw(st.integers(0, n - 1))]))
        elif op == "shuffle" and n:
            rows = [rows[i] for i in draw(st.permutations(range(n)))]
        elif op == "sort_one_column" and n:        # Excel's "sort the selection only": decisions leave their pairs
            c = draw(st.integers(0, len(header) - 1))
            column = sorted((r[c] for r in rows), key=lambda v: (v is None, str(v)))
            for r, v in zip(rows, column, strict=True):
                r[c] = v
        elif op == "clear":                        # a row's cells emptied, or an empty row inserted
            if n and draw(st.booleans()):
                rows[draw(st.integers(0, n - 1))] = [None] * len(header)
            else:
                rows.insert(draw(st.integers(0, n)), [None] * len(header))
        elif op == "paste":
            _, h2, rows2 = draw(st.sampled_from(night.pool))
            if rows2:
                src = dict(zip(h2, draw(st.sampled_from(rows2)), strict=True))
                rows.insert(draw(st.integers(0, n)), [src.get(h) for h in header])
        elif op == "rename":
            header[draw(st.integers(0, len(header) - 1))] = draw(_headers(header))
        elif op == "drop_column" and len(header) > 1:
            c = draw(st.integers(0, len(header) - 1))
            header.pop(c)
            for r in rows:
                r.pop(c)
            k = header.index("keputusan") if "keputusan" in header else -1
        elif op == "add_column":
            header.append(draw(_headers(header)))
            for r in rows:
                r.append(draw(_cells(night.secrets, others)))
    return stem, header, rows


def _write_csv(header: list[str], rows: Rows, *, sep: str, encoding: str, bom: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    w.writerow(header)
    w.writerows([["" if v is None else v for v in r] for r in rows])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode(encoding, errors="replace")


def _as_read(rows: Rows, encoding: str) -> Rows:
    """The cells as the file will hold them once written in `encoding` (unencodable characters become ?)."""
    return [[None if v is None else v.encode(encoding, errors="replace").decode(encoding) for v in r] for r in rows]


@st.composite
def files(draw: st.DrawFn, night: Night, folder: Path) -> Made:
    stem, header, rows = _mutate(draw, night)
    how = draw(st.sampled_from(["csv"] * 6 + ["comma", "cp1252", "xlsx", "xlsx", "bytes", "truncated", "empty"]))
    name = draw(st.sampled_from([stem, stem, stem, f"salinan {stem}", "x", stem.upper()]))
    ext = ".csv"
    if how == "xlsx":
        ext = ".xlsx"
    elif how in ("bytes", "empty"):
        ext = draw(st.sampled_from([".csv", ".csv", ".CSV", ".txt", ".xlsx"]))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{len(list(folder.iterdir()))}-{name}{ext}"
    table: Rows | None = rows
    if how in ("csv", "comma", "cp1252", "truncated"):
        sep, encoding = ("," if how == "comma" else ";"), ("cp1252" if how == "cp1252" else "utf-8")
        data = _write_csv(header, rows, sep=sep, encoding=encoding, bom=how == "csv")
        table = _as_read(rows, encoding)
        if how == "truncated":
            data, table = data[:draw(st.integers(0, len(data)))], None
        path.write_bytes(data)
    elif how == "xlsx":
        clean = [[None if v is None else ILLEGAL_CHARACTERS_RE.sub("", v) for v in r] for r in rows]
        wb = openpyxl.Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = draw(st.sampled_from(["periksa", "periksa", "Sheet1"]))
        typed = draw(st.booleans())      # saved by a spreadsheet program: numbers, dates, booleans typed
        for i, r in enumerate([[ILLEGAL_CHARACTERS_RE.sub("", h) for h in header], *clean], start=1):
            for j, v in enumerate(r, start=1):
                if v is None:
                    continue
                if typed and i > 1 and (number := _number(v)) is not None:
                    ws.cell(i, j, number)
                elif typed and i > 1 and v.upper() in ("TRUE", "FALSE"):
                    ws.cell(i, j, v.upper() == "TRUE")
                else:
                    ws.cell(i, j, v).data_type = "s"   # text, even when it starts with `=`
        if typed and clean:
            for _ in range(draw(st.integers(0, 3))):
                at = draw(st.integers(0, len(clean) - 1))
                col = draw(st.integers(0, len(header) - 1))
                when = draw(st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)))
                ws.cell(at + 2, col + 1, when)
                clean[at][col] = str(when)
        wb.save(path)
        table = clean
    elif how == "bytes":
        path.write_bytes(draw(st.binary(max_size=300)))
        table = None
    else:
        path.write_bytes(b"")
        table = None
    return Made(path, table, header)


def _number(text: str) -> int | float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    if not math.isfinite(value) or abs(value) > 1e15:
        return None
    return int(value) if value.is_integer() else value


# -- what must hold ---------------------------------------------------------------------------------------

def _decided(made: Made) -> set[int] | None:
    """The spreadsheet rows (2 = the first under the header) with a word in the decision column, when the
    file is a table with one decision column; None when that cannot be told from outside."""
    if made.rows is None:
        return None
    cols = [i for i, h in enumerate(made.header) if h.strip().lower().lstrip("\ufeff") == "keputusan"]
    if len(cols) != 1:
        return None
    values = pl.Series([r[cols[0]] for r in made.rows], dtype=pl.String)
    blank = values.str.to_uppercase().str.replace_all(r"\s", "").fill_null("") == ""
    return {i + 2 for i, b in enumerate(blank.to_list()) if not b}


def _no_secret(texts: list[str], secrets: list[str]) -> None:
    text = "\n".join(texts)
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"{len(leaked)} NIKs, NKKs or names in a message"


def _check(report: review.ImportReport | None, error: DptError | None, made: list[Made], log: pl.DataFrame,
           messages: list[str], secrets: list[str]) -> None:
    notes = [] if report is None else [*report.refused, *report.stale, *report.superseded, *report.same_again]
    _no_secret([*messages, *(str(n) for n in notes), *(str(error),) * (error is not None),
                *log["pesan"].drop_nulls().to_list(), *log["kolom"].drop_nulls().to_list()], secrets)
    if report is None:
        event("the import refused a file")
        assert log.height == 0, "a refused import logged rows"
        return
    for outcome in set(log["hasil"]):
        event(f"rows {outcome}")
    assert set(log["hasil"]) <= OUTCOMES
    c = report.counts()
    assert log.height == c["stored"] + c["unchanged"] + c["stale"] + c["refused"], c
    assert log.select("file", "baris").is_unique().all(), "a row is logged twice"
    for m in made:
        want = _decided(m)
        if want is not None:
            got = set(log.filter(pl.col("file") == str(m.path))["baris"].to_list())
            assert got == want, f"{m.path.name}: rows {sorted(want ^ got)[:5]} not accounted for once"


def _import_log(db: Path, work: Path) -> pl.DataFrame:
    """The rows review_import_log holds for files under `work` (this import's)."""
    with duckdb.connect(str(db), read_only=True) as con:
        log = review.table(con, "review_import_log", review.LOG_SCHEMA)
    return log.filter(pl.col("file").str.starts_with(str(work)))


FUZZ = settings(max_examples=55, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@FUZZ
@given(data=st.data())
def test_any_file_is_stored_refused_or_reported_row_by_row(night: Night, data: st.DataObject,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        made = [data.draw(files(night, work / "in")) for _ in range(data.draw(st.sampled_from([1, 1, 2, 3])))]
        staged = work / "dpt.duckdb"
        shutil.copyfile(night.changed, staged)
        report: review.ImportReport | None = None
        error: DptError | None = None
        try:
            report, _ = review.import_files([m.path for m in made], staged, imported_at=WHEN)
        except DptError as e:
            error = e
        _check(report, error, made, _import_log(staged, work), [caplog.text], night.secrets)


@settings(FUZZ, max_examples=22)
@given(data=st.data())
def test_the_review_import_command_survives_any_file(night: Night, data: st.DataObject,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """The whole command: the import, the review files written again from its decisions (a RAGU note of
    any content comes back in them), the files moved into place; some files saved over the published ones."""
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out = work / "out"
        shutil.copytree(night.config.output.dir, out, symlinks=True)
        cfg = dataclasses.replace(night.config, output=dataclasses.replace(night.config.output, dir=out))
        made = [data.draw(files(night, work / "in")) for _ in range(data.draw(st.integers(1, 2)))]
        published = sorted((out / "review").glob("*/*.csv"))
        over: bool = data.draw(st.booleans()) if published else False
        if over:                                           # saved over the published file, imported from there
            target = data.draw(st.sampled_from(published))
            shutil.copyfile(made[0].path, target)
            made[0] = dataclasses.replace(made[0], path=target)
        report: review.ImportReport | None = None
        error: DptError | None = None
        try:
            report = pipeline.review_import(cfg, [m.path for m in made])
        except DptError as e:
            error = e
        _check(report, error, made, _import_log(cfg.output.database_path, work), [caplog.text], night.secrets)
        if report is not None:   # the review files were written again (none when no pair is left open)
            assert (out / "review" / review.MANIFEST).is_file()


# -- what the fuzzing found, kept as plain cases ----------------------------------------------------------

def _import(night: Night, tmp_path: Path, paths: list[Path]) -> tuple[review.ImportReport, pl.DataFrame]:
    staged = tmp_path / "dpt.duckdb"
    shutil.copyfile(night.changed, staged)
    report, _ = review.import_files(paths, staged, imported_at=WHEN)
    return report, _import_log(staged, tmp_path)


def _first_file(night: Night) -> tuple[str, list[str], Rows]:
    stem, header, rows = next(f for f in night.pool if len(f[2]) >= 3)
    k = header.index("keputusan")
    return stem, list(header), [[*r[:k], "BEDA", *r[k + 1:]] for r in rows]


def test_two_headers_that_read_the_same_refuse_the_file_by_name(night: Night, tmp_path: Path) -> None:
    stem, header, rows = _first_file(night)
    path = tmp_path / f"{stem}.csv"
    path.write_bytes(_write_csv([*header, " Keputusan "], [[*r, "SAMA"] for r in rows], sep=";",
                                encoding="utf-8", bom=True))
    with pytest.raises(DptError, match=r"\['keputusan'\] appear more than once"):
        _import(night, tmp_path, [path])
    # A column the import does not read may be doubled: it is left out.
    path.write_bytes(_write_csv([*header, "SKOR"], [[*r, "1"] for r in rows], sep=";", encoding="utf-8", bom=True))
    report, log = _import(night, tmp_path, [path])
    assert log.height == len(rows)


def test_a_doubled_row_is_reported_not_dropped(night: Night, tmp_path: Path) -> None:
    stem, header, row = night.pool[-1][0], night.pool[-1][1], list(night.pool[-1][2][0])   # the latest export
    pair, owner = row[header.index("pair_id")], row[header.index("berkas")]
    with duckdb.connect(str(night.changed), read_only=True) as con:
        now = con.execute("SELECT keputusan FROM review_decisions WHERE pair_id = ? AND berkas = ? "
                          "ORDER BY imported_at DESC LIMIT 1", [pair, owner]).fetchall()
    row[header.index("keputusan")] = "BEDA" if now == [("SAMA",)] else "SAMA"   # a new word on the pair
    path = tmp_path / f"{stem}.csv"
    path.write_bytes(_write_csv(header, [row, row], sep=";", encoding="utf-8", bom=True))
    report, log = _import(night, tmp_path, [path])
    assert sorted(log["baris"]) == [2, 3] and report.stored.height == 1
    assert [(n.row, "stored once" in n.problem) for n in report.same_again] == [(3, True)]


def test_rows_of_an_xlsx_keep_their_numbers_below_a_cleared_row(night: Night, tmp_path: Path) -> None:
    stem, header, rows = _first_file(night)
    path = tmp_path / f"{stem}.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "periksa"
    for r in [header, rows[0], [None] * len(header), *rows[1:]]:
        ws.append(r)
    wb.save(path)
    _, log = _import(night, tmp_path, [path])
    assert sorted(log["baris"]) == [2, *range(4, len(rows) + 3)]
