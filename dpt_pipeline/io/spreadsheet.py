"""CSV files a spreadsheet opens: Indonesian Excel settings, and no cell taken for a formula (OWASP)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl

from dpt_pipeline.io.files import FILE_MODE

# A cell a spreadsheet program would run as a formula (OWASP, CSV injection): = + - @, tab, carriage return.
FORMULA_START = r"^[=+\-@\t\r]"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would take for a formula get a leading `'` (shown as text, the value
    otherwise intact). Only for files a spreadsheet opens: DuckDB keeps the original value."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns([pl.when(pl.col(c).str.contains(FORMULA_START)).then(pl.lit("'") + pl.col(c))
                               .otherwise(pl.col(c)).alias(c) for c in text])


def unneutralised(e: pl.Expr) -> pl.Expr:
    """A cell as its writer meant it: the `'` that `neutralise_formulas` put before a formula start taken off
    again (a reviewer's note read back)."""
    return pl.when(e.str.contains("^'" + FORMULA_START.removeprefix("^"))).then(e.str.slice(1)).otherwise(e)


# A text of digits that Excel opening a CSV would take for a number and damage: 12 digits or more (shown,
# and saved back, in scientific notation; past 15 digits the rest become 0: a NIK's 16th) or a leading 0.
DAMAGED_AS_NUMBER = r"^(?:\d{12,}|0\d+)$"


def keep_digits_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that Excel would read as a damaged number get a leading `'`: Excel and Calc then keep them
    as text, every digit intact (the `'` shows; dpt's ingest reads a NIK so written as the NIK). Not the
    `="..."` trick, which is a formula."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns([pl.when(pl.col(c).str.contains(DAMAGED_AS_NUMBER)).then(pl.lit("'") + pl.col(c))
                               .otherwise(pl.col(c)).alias(c) for c in text])


def write_csv_for_excel(frame: pl.DataFrame, path: Path, *, digits_as_text: bool = False,
                        decimal_comma: bool = False) -> Path:
    """A CSV that Excel in Indonesian regional settings opens as it is: ';' separated, UTF-8 with BOM, no
    cell taken for a formula (and, with `digits_as_text`, no NIK taken for a number; with `decimal_comma`,
    float columns written 3,25 as numbers, a negative one too); readable by owner and group only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = neutralise_formulas(frame)
    # The header row too: a column named by whoever wrote the query (`AS "=HYPERLINK(...)"`).
    out = out.rename({c: "'" + c for c in out.columns if re.match(FORMULA_START, c)})
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf")
        (keep_digits_as_text(out) if digits_as_text else out).write_csv(f, separator=";", decimal_comma=decimal_comma)
    os.chmod(path, FILE_MODE)
    return path
