"""XLSX and Parquet files into text cells, one row per sheet (or table) row below the header: the same frame
as a CSV gives (source_row, raw as the row's JSON, reason, c0..cN), with the positions of Parquet columns
that hold no cells (lists, structs, binary) so that such a column is never read as a voter field.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import fastexcel
import polars as pl

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.core.schema import REJECT_EMPTY_ROW, REJECT_TOO_MANY
from dpt_pipeline.errors import InputError
from dpt_pipeline.ingest.headers import HEADER_SEARCH_ROWS, find_header_row
from dpt_pipeline.ingest.xlsx import drop_cells_right_of_header, sheet_names
from dpt_pipeline.io.files import read_regular

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

log = logging.getLogger(__name__)


def _json_encodable(dtype: PolarsDataType) -> bool:
    if isinstance(dtype, pl.Binary | pl.Object):
        return False
    if isinstance(dtype, pl.List | pl.Array):
        return _json_encodable(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return all(_json_encodable(f.dtype) for f in dtype.fields)
    return True


def _as_text(df: pl.DataFrame, name: str) -> tuple[pl.DataFrame, dict[int, str]]:
    """Every column as text. Dates as YYYY-MM-DD; binary as hex; lists and structs as their JSON text; a
    nested column that has no JSON form (binary inside) becomes empty, with a warning. Returns also the
    positions of the columns that are no cell (lists, structs, binary...) with their type: such a column
    cannot be a voter field (read_source refuses the file if one is mapped)."""
    exprs = []
    odd: dict[int, str] = {}
    for i, c in enumerate(df.columns):
        t = df.schema[c]
        e = pl.col(c)
        if isinstance(t, pl.Date | pl.Datetime):
            e = e.dt.strftime("%Y-%m-%d")
        elif isinstance(t, pl.Binary):
            odd[i] = "binary"
            e = e.bin.encode("hex")
        elif isinstance(t, pl.List | pl.Array | pl.Struct | pl.Duration | pl.Object):
            odd[i] = str(t)
            if _json_encodable(t) and not isinstance(t, pl.Object):
                e = pl.when(e.is_not_null()).then(
                    pl.struct(e.alias("v")).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}"))
            else:
                log.warning("source %s: column %d (%s) has no text form; left empty in the rejects' raw",
                            name, i + 1, t)
                e = pl.lit(None, dtype=pl.String)
        exprs.append(e.cast(pl.String).alias(c))
    return df.select(exprs), odd


@dataclass
class Table:
    """A sheet or table read as text cells (the frame of source_row, raw, reason, c0..cN); `header_row` is the
    header's row in the file (1-based); `numeric`, for XLSX, tells which cells of the given columns are number
    cells, row for row with `frame` (see `_numeric_cells`); `odd` as `_as_text` says."""

    headers: list[str]
    frame: pl.DataFrame
    odd: dict[int, str]
    header_row: int = 1
    numeric: Callable[[list[int]], pl.DataFrame] | None = None


def read_table_source(cfg: SourceConfig, fmt: str) -> Table:
    """XLSX or Parquet: cells as text, one row per sheet row below the header. For XLSX the header is the row
    `[sources].header_row` names, else the one of the first rows that maps most fields
    (`headers.find_header_row`); rows above it are no data rows, and a data row's source_row is its row in the
    sheet less one. A row holding a value right of the header's last column is `kolom lebih`, as in a CSV."""
    path = cfg.path
    data = read_regular(path, "[sources].path")
    first_row, right_rows, long_numbers = 1, frozenset[int](), True
    try:
        if fmt == "xlsx":
            data, first_row, right_rows, long_numbers = drop_cells_right_of_header(data, cfg.sheet, cfg.name,
                                                                                    cfg.header_row)
            reader = fastexcel.read_excel(data)
            sheet: str | int = cfg.sheet if cfg.sheet else 0
            # The header is read as a row of its own, so repeated or empty headers stay as the file has them.
            df = pl.DataFrame(reader.load_sheet(sheet, header_row=None, dtypes="string").to_arrow())
        else:
            df = pl.read_parquet(io.BytesIO(data))
    except Exception as e:  # the readers raise many unrelated types for a broken file
        # The reader's own text is not repeated: it may quote a cell.
        sheets = sheet_names(data) if fmt == "xlsx" else None
        if sheets is not None and cfg.sheet and cfg.sheet not in sheets:
            raise InputError(f"has no sheet {cfg.sheet!r} (its sheets: {', '.join(map(repr, sheets))}); fix "
                             "[sources].sheet", path=path) from e
        raise InputError(f"cannot be read as {fmt.upper()} ({type(e).__name__})", path=path) from e
    if fmt != "xlsx":
        headers = [str(c).strip() for c in df.columns]
        df, odd = _as_text(df, cfg.name)
        return Table(headers, _rows(df, headers, 1), odd)
    del data
    if df.height == 0 or df.width == 0:
        raise InputError("the sheet is empty (no header row)", path=path, row=0)
    # frame row i is the sheet's row first_row + i: the reader starts at the first row holding a value.
    if cfg.header_row is not None:
        at = cfg.header_row - first_row
        if not 0 <= at < df.height:
            raise InputError(f"[sources].header_row = {cfg.header_row}, but the sheet's rows with values are "
                             f"{first_row} to {first_row + df.height - 1}", path=path)
    else:
        top = df.head(HEADER_SEARCH_ROWS).rows()
        at = find_header_row([["" if v is None else str(v).strip() for v in r] for r in top], cfg)
    row = df.row(at)
    headers = ["" if v is None else str(v).strip() for v in row]
    # Columns right of the header's last one are no fields: a value there shifts its row (`kolom lebih`).
    width = max((i + 1 for i, h in enumerate(headers) if h), default=len(headers))
    df = df.slice(at + 1)
    beyond = (pl.any_horizontal([pl.col(c).str.strip_chars().str.len_chars() > 0 for c in df.columns[width:]])
              .fill_null(False) if df.width > width else pl.lit(False))
    df = df.with_columns(beyond.alias("_beyond"))
    sheet_rows = {r - first_row - at - 1 for r in right_rows if r > first_row + at}
    if sheet_rows:
        df = df.with_columns(pl.col("_beyond") | pl.int_range(pl.len()).is_in(sorted(sheet_rows)))
    offset = first_row + at
    frame = _rows(df, headers, offset, width)
    del df
    # Without a number of 15 or 16 digits in the sheet no NIK is a number cell: the pass is not needed.
    numeric = functools.partial(_numeric_cells, reader, sheet, at + 1, frame.height) if long_numbers else None
    return Table(headers[:width], frame, {}, offset, numeric)


def _rows(df: pl.DataFrame, headers: list[str], offset: int, width: int | None = None) -> pl.DataFrame:
    """The frame of source_row (from `offset`), raw, reason, c0..cN: trailing empty rows cut, empty rows and
    (with `_beyond`) rows with a value right of the header's last column rejected."""
    width = len(headers) if width is None else width
    headers = headers[:width]
    cols = [f"c{i}" for i in range(width)]
    beyond = pl.col("_beyond") if "_beyond" in df.columns else pl.lit(False)
    df = df.select(*[pl.col(c).alias(k) for c, k in zip(df.columns[:width], cols, strict=True)], beyond.alias("_b"))
    # Trailing empty rows (formatted but blank cells) are not data rows.
    filled = [(pl.col(c).str.strip_chars().str.len_chars() > 0) for c in cols]
    nonempty = df.select(pl.any_horizontal(filled).fill_null(False) | pl.col("_b")).to_series() if cols else (
        pl.Series([], dtype=pl.Boolean))
    last = nonempty.arg_true().max()
    df = df.head(0 if last is None else int(last) + 1)  # type: ignore[arg-type]
    raw = pl.struct([pl.col(c).alias(k) for c, k in zip(cols, _raw_keys(headers), strict=True)])
    blank = ~pl.any_horizontal(filled).fill_null(False)
    df = df.with_row_index("source_row", offset=offset).with_columns(
        pl.col("source_row").cast(pl.Int64),
        raw.struct.json_encode().alias("raw"),
        pl.when(pl.col("_b")).then(pl.lit(REJECT_TOO_MANY))
        .when(blank).then(pl.lit(REJECT_EMPTY_ROW)).otherwise(pl.lit(None, dtype=pl.String)).alias("reason"),
    )
    return df.select("source_row", "raw", "reason", *cols)


def _numeric_cells(reader: fastexcel.ExcelReader, sheet: str | int, skip: int, height: int, columns: list[int]
                   ) -> pl.DataFrame:
    """For each of `columns` (positions in the sheet's frame), whether the cell of each data row is a number
    cell (not text): read as booleans, a number gives a value and text none. One more pass over the sheet,
    of those columns only (200,000 rows of 15 columns: 3 s of CPU)."""
    wanted = set(columns)
    sheet_obj = reader.load_sheet(sheet, header_row=None, use_columns=lambda c: c.index in wanted, dtypes="boolean")
    cells = pl.DataFrame(sheet_obj.to_arrow()).slice(skip, height)
    if cells.height != height or cells.width != len(wanted):  # pragma: no cover - guards the alignment
        raise InputError("the sheet's cell types could not be read row for row; please report this file to the "
                         "maintainers")
    return cells.select([pl.col(c).is_not_null().alias(f"c{i}")
                         for c, i in zip(cells.columns, sorted(wanted), strict=True)])


def _raw_keys(headers: list[str]) -> list[str]:
    """Keys of a row's cells in `raw`: the header, `kolom_<n>` for an empty one, and unique."""
    keys: list[str] = []
    seen: set[str] = set()
    for i, h in enumerate(headers):
        k = h if h and h not in seen else f"kolom_{i + 1}"
        while k in seen:
            k = "_" + k
        seen.add(k)
        keys.append(k)
    return keys
