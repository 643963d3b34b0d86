"""The review XLSX, cell by cell, as a reader sees it: over random frames (formula-like names, control
characters, emoji, text past Excel's limit, nulls, empty text, numbers, NaN) every cell reads back as the
same value and type as xlsxwriter writing that cell on its own gives, in the style the layout promises
(banded rows, the decision column, the marked differing fields, the quote prefix on formula-like text), and
the sheet keeps its drop-down, conditional format, panes and filter over exactly its rows."""

from __future__ import annotations

import math
import re
from pathlib import Path

import openpyxl
import polars as pl
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpt_pipeline.io.spreadsheet import FORMULA_START
from dpt_pipeline.review import sheet as review_sheet

COLS = review_sheet.columns()
TEXT_COLS = [c for c in COLS if c not in review_sheet.NUMERIC]
INT_COLS = [c for c in COLS if c in review_sheet.NUMERIC and c != "skor"]
NONE, BAND, DECIDE, MARKED = "00000000", "FFF2F2F2", "FFFFF2CC", "FFFFD8A8"

_chars = st.characters(blacklist_categories=("Cs",))
_text = st.one_of(
    st.none(), st.just(""),
    st.builds(lambda a, b: a + b, st.sampled_from(["", "=", "+", "-", "@", "\t", "\r", " ", "'", "<r>", "_x0041_",
                                                   "\x00", "\x1f", "\ufffe", "😀", "&<>\""]),
              st.text(_chars, max_size=12)),
    st.sampled_from(["=HYPERLINK(\"http://x\")", "+62 812", "@SUM(A1)", "0012", "6408134505800001", "x ",
                     "a\nb", "<r>x</r>", "x" * 32_800, "😀" * 16_400, "é" * 16_390 + "😀😀"]))
_int = st.one_of(st.none(), st.integers(-10**15, 10**15))
_score = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                   st.floats(0, 100).map(lambda x: round(x, 1)))


@st.composite
def frames(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = draw(st.integers(1, 6))
    data: dict[str, list[object]] = {}
    for c in COLS:
        gen = _score if c == "skor" else _int if c in INT_COLS else _text
        data[c] = [draw(gen) for _ in range(n)]
    schema = {c: pl.Float64 if c == "skor" else pl.Int64 if c in INT_COLS else pl.String for c in COLS}
    differ = pl.DataFrame({f: [draw(st.booleans()) for _ in range(n)] for f in review_sheet.COMPARED})
    return pl.DataFrame(data, schema=schema), differ


def _rich_looking(value: object) -> bool:
    return isinstance(value, str) and value.startswith("<r>") and value.endswith("</r>")


def _one_by_one(frame: pl.DataFrame, path: Path) -> Path:
    """The oracle: xlsxwriter writing each cell on its own, text as text, numbers as numbers, an empty cell
    as a blank cell with a style (as a review file's empty cells are)."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False, "nan_inf_to_errors": True})
    ws = wb.add_worksheet(review_sheet.SHEET)
    blank = wb.add_format({"bottom": 1})
    ws.write_row(0, 0, frame.columns)
    for r, row in enumerate(frame.iter_rows(), start=1):
        for c, value in enumerate(row):
            if isinstance(value, str) and value:
                ws.write_string(r, c, value)
            elif isinstance(value, int | float):
                ws.write_number(r, c, value)
            else:
                ws.write_blank(r, c, None, blank)
    wb.close()
    return path


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                                HealthCheck.data_too_large])
@given(frames())
def test_every_cell_reads_back_as_written(tmp_path_factory, case) -> None:
    frame, differ = case
    tmp = tmp_path_factory.mktemp("cells")
    path = review_sheet.write_xlsx(frame, tmp / "a.xlsx", differ)
    ws = openpyxl.load_workbook(path)[review_sheet.SHEET]
    want = openpyxl.load_workbook(_one_by_one(frame, tmp / "oracle.xlsx"))[review_sheet.SHEET]
    n = frame.height
    assert (ws.max_row, ws.max_column) == (n + 1, len(COLS))
    assert [c.value for c in ws[1]] == COLS
    for i in range(n):
        r = i + 2
        for j, col in enumerate(COLS, start=1):
            got, ref = ws.cell(row=r, column=j), want.cell(row=r, column=j)
            where = (r, col)
            value = frame[col][i]
            if _rich_looking(value):   # xlsxwriter writes such a text as raw XML; here it stays the text
                assert (got.value, got.data_type) == (value, "s"), where
            elif isinstance(value, int | float) and math.isfinite(value):
                # the number itself (xlsxwriter keeps 16 digits of a float, here it reads back exactly)
                assert (got.value, got.data_type) == (value, "n") and type(got.value) is type(value), where
            else:
                assert (got.value, got.data_type) == (ref.value, ref.data_type), where
            quoted = isinstance(value, str) and re.match(FORMULA_START, value) is not None
            assert got.quotePrefix == quoted, where
            stem = col.removesuffix("_1").removesuffix("_2")
            marked = stem != col and stem in differ.columns and differ[stem][i]
            fill = (MARKED if marked else BAND if i % 2 else NONE)
            if col == "keputusan" and not quoted:
                fill = DECIDE
            elif col == "skor":
                fill = NONE
                assert got.number_format == "0.0", where
            assert got.fill.fgColor.rgb == fill, where
    last = ws.cell(1, len(COLS)).column_letter
    assert ws.freeze_panes == review_sheet.FROZEN and ws.auto_filter.ref == f"A1:{last}{n + 1}"
    [dv] = ws.data_validations.dataValidation
    assert str(dv.sqref) == ("A2" if n == 1 else f"A2:A{n + 1}") and "SAMA,BEDA,RAGU" in dv.formula1
    assert dv.showErrorMessage and dv.errorStyle in (None, "stop") and dv.prompt      # None: stop, the default
    [rule_range] = [str(r.sqref) for r in ws.conditional_formatting]
    assert rule_range == ("E2" if n == 1 else f"E2:E{n + 1}") and COLS[4] == "status"
    # What the import reads (calamine): the same text as the oracle in every text cell.
    got_df = pl.read_excel(path, sheet_name=review_sheet.SHEET, infer_schema_length=0, drop_empty_rows=False)
    want_df = pl.read_excel(tmp / "oracle.xlsx", sheet_name=review_sheet.SHEET, infer_schema_length=0,
                            drop_empty_rows=False)
    def unrich(df: pl.DataFrame) -> pl.DataFrame:   # the rich-looking texts left out (see above)
        def rich(c: str) -> pl.Series:
            flags = [_rich_looking(v) for v in frame[c].head(df.height)] + [False] * (df.height - n)
            return pl.Series(flags, dtype=pl.Boolean)
        return df.with_columns(pl.when(~rich(c)).then(pl.col(c)).alias(c) for c in COLS)
    assert unrich(got_df).select(TEXT_COLS).equals(unrich(want_df).select(TEXT_COLS))


def test_an_empty_review_file_is_its_header_and_instructions(tmp_path) -> None:
    frame = pl.DataFrame(schema={c: pl.Float64 if c == "skor" else pl.Int64 if c in INT_COLS else pl.String
                                 for c in COLS})
    wb = openpyxl.load_workbook(review_sheet.write_xlsx(frame, tmp_path / "a.xlsx"))
    assert wb[review_sheet.SHEET].max_row == 1 and "petunjuk" in wb.sheetnames
