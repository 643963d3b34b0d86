"""Fuzzing ingest (issue 13): random bytes, random cells, random header sets, as CSV and as XLSX.

Whatever the file, ingest either reads it with voters + rejects = data rows (counted here from what the
test wrote, not from the code) or refuses it with InputError / StorageError; nothing else escapes, and no
message or log line holds a generated NIK or name.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import tempfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from reuse import assert_reuse_is_exact

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.core.schema import HEADER_ALIASES
from dpt_pipeline.errors import InputError, StorageError
from dpt_pipeline.ingest import SourceSummary, ingest_source
from dpt_pipeline.ingest.regions import RegionTable

REFERENCE = dt.date(2026, 12, 9)
FUZZ = settings(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def fuzz(max_examples: int) -> settings:
    return settings(FUZZ, max_examples=max_examples)

# Personal values: a NIK-like number and a name that cannot be mistaken for a word of a message.
niks = st.from_regex(r"64[0-9]{14}", fullmatch=True)
names = st.from_regex(r"Q[A-Z]{5,8} Z[A-Z]{5,8}", fullmatch=True)
junk = st.text(alphabet=st.sampled_from(list('ab1 ;,|\t"\'=+-@.\n\r\x00\u00e9\u4e2d\U0001f600')), max_size=10)
formulas = st.sampled_from(["=1+1", "+62", "-5", "@SUM(A1)", '=HYPERLINK("x")'])
dates = st.sampled_from(["05-05-1980", "1980-05-05", "05|05|1980", "31118", "99-99-9999", ""])
cells = st.one_of(niks, names, dates, junk, formulas, st.just(""))
header_junk = st.text(alphabet=st.sampled_from(list("abc1 ./-_")), max_size=8)


@st.composite
def headers_st(draw: st.DrawFn) -> list[str]:
    """Mostly a usable header line (a name column and a NIK or birth-date column, in any order and
    spelling, with other fields and junk); sometimes one with a field twice or without a needed field."""
    core = ["nama", draw(st.sampled_from(["nik", "tanggal_lahir"]))]
    others = draw(st.lists(st.sampled_from(list(HEADER_ALIASES)), unique=True, max_size=4))
    fields = list(dict.fromkeys(core + others))
    if draw(st.integers(0, 9)) == 0:
        fields = fields[1:]
    spell = st.sampled_from(["as-listed", "lower"])
    headers = [a if draw(spell) == "as-listed" else a.lower()
               for a in (draw(st.sampled_from(HEADER_ALIASES[f])) for f in fields)]
    headers += draw(st.lists(st.one_of(header_junk, st.just("NO"), st.just("")), max_size=2))
    if draw(st.integers(0, 9)) == 0:
        headers.append(draw(st.sampled_from(headers)))
    return draw(st.permutations(headers))


@pytest.fixture(scope="module")
def regions_table() -> RegionTable:
    return RegionTable.load(Path(__file__).resolve().parents[3] / "dpt_pipeline" / "core" / "regions.csv")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _ingest(content: bytes, file_name: str, regions: RegionTable, personal: set[str], **options: object
            ) -> tuple[pl.DataFrame, pl.DataFrame, SourceSummary] | None:
    """Ingest; None when refused. Checks that nothing but a refusal escapes and that no message or log
    line quotes a personal value."""
    handler = _Records()
    logger = logging.getLogger("dpt_pipeline")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / file_name
            path.write_bytes(content)
            cfg = SourceConfig(name="fz", path=path, **options)  # type: ignore[arg-type]
            try:
                result: tuple[pl.DataFrame, pl.DataFrame, SourceSummary] | None = ingest_source(
                    cfg, regions, REFERENCE, 17)
            except (InputError, StorageError) as e:
                handler.messages.append(str(e))
                event(f"refused: {type(e).__name__}")
                result = None
            if result is not None:   # and the same again reusing its own kept rows
                assert_reuse_is_exact(cfg, regions, result)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    for message in handler.messages:
        leaked = [p for p in personal if p and p in message]
        assert not leaked, f"a personal value in a message: {message!r}"
    if result is not None:
        voters, rejects, summary = result
        event("read, with voters" if voters.height else "read, no voter")
        assert voters.height + rejects.height == summary.data_rows
        seen = sorted(voters["source_row"].to_list() + rejects["source_row"].to_list())
        assert seen == list(range(1, summary.data_rows + 1))
    return result


def _personal(rows: list[list[str]]) -> set[str]:
    return {c for r in rows for c in r if (c.isdigit() and len(c) == 16) or c[:1] == "Q" and " Z" in c}


@fuzz(100)
@given(st.binary(max_size=1500), st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"NAMA;NIK\n",
                                                  b"NIK,NAMA,TGL LAHIR\r\n"]),
       st.sampled_from(["list.csv", "list.txt", "list.xlsx", "list.parquet"]))
def test_random_bytes(regions_table, data: bytes, prefix: bytes, file_name: str) -> None:
    _ingest(prefix + data, file_name, regions_table, set())


@fuzz(80)
@given(headers_st(), st.lists(st.lists(cells, min_size=0, max_size=9), max_size=12),
       st.sampled_from([";", ",", "\t", "|"]), st.booleans(), st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
       st.booleans())
def test_random_csv(regions_table, headers: list[str], rows: list[list[str]], sep: str, configured: bool,
                    encoding: str, ragged: bool) -> None:
    n = len(headers)
    if not ragged:  # every record as wide as the header
        rows = [(r + [""] * n)[:n] for r in rows]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    writer.writerow(headers)
    lines = []
    for r in rows:
        one = io.StringIO()
        csv.writer(one, delimiter=sep, lineterminator="\r\n").writerow(r)
        lines.append(one.getvalue())
    text = buf.getvalue() + "".join(lines)
    result = _ingest(text.encode(encoding), "list.csv", regions_table, _personal(rows),
                     **({"delimiter": sep} if configured else {}))
    if result is None or not configured:
        return
    # (CRLF: the writer quotes a field holding a CR or LF only when both are its line end.)
    # Records written, less those at the end that are blank lines (blank lines at the end are no data).
    # A record's own line breaks are joined back only up to 20 lines; the generator writes far fewer.
    expected = len(rows)
    while expected and not lines[expected - 1].strip():
        expected -= 1
    assert result[2].data_rows == expected


@fuzz(25)
@given(headers_st(), st.lists(st.lists(cells, min_size=0, max_size=8), max_size=8))
def test_random_xlsx(regions_table, headers: list[str], rows: list[list[str]]) -> None:
    def printable(s: str) -> str:  # what a sheet cell can hold
        return "".join(ch for ch in s if ch in "\t\n\r" or ord(ch) >= 32)

    headers = [printable(h) for h in headers]
    rows = [[printable(c) for c in r] for r in rows]
    wb = openpyxl.Workbook()
    ws = wb.active
    for i, values in enumerate([headers, *rows], start=1):
        for j, v in enumerate(values, start=1):
            if v:
                cell = ws.cell(row=i, column=j, value=v)
                cell.data_type = "s"  # text, also when it starts with '='
    out = io.BytesIO()
    wb.save(out)
    result = _ingest(out.getvalue(), "list.xlsx", regions_table, _personal(rows))
    if result is None or not headers[0]:
        return  # an empty first header cell moves where the sheet starts
    # Rows below the header, up to the last one holding a value in the header's columns.
    width = max(j for j, h in enumerate(headers, start=1) if h)
    expected = max((i for i, r in enumerate(rows, start=1) if any(c.strip() for c in r[:width])), default=0)
    assert result[2].data_rows == expected
