"""CSV files a spreadsheet opens: Indonesian Excel settings, and no cell taken for a formula (OWASP)."""

from __future__ import annotations

import os
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


def write_csv_for_excel(frame: pl.DataFrame, path: Path) -> Path:
    """A CSV that Excel in Indonesian regional settings opens as it is: ';' separated, UTF-8 with BOM, no
    cell taken for a formula; readable by owner and group only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf")
        neutralise_formulas(frame).write_csv(f, separator=";")
    os.chmod(path, FILE_MODE)
    return path
