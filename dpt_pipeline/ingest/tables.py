"""XLSX and Parquet files into text cells, one row per sheet (or table) row below the header: the same frame
as a CSV gives (source_row, raw as the row's JSON, reason, c0..cN), with the positions of Parquet columns
that hold no cells (lists, structs, binary) so that such a column is never read as a voter field.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

import polars as pl

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.core.schema import REJECT_EMPTY_ROW
from dpt_pipeline.errors import InputError
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


def read_table_source(cfg: SourceConfig, fmt: str) -> tuple[list[str], pl.DataFrame, dict[int, str]]:
    """XLSX or Parquet: cells as text, one row per sheet row below the header. Also the positions of the
    columns that hold no cells (nested Parquet types), see `_as_text`."""
    path = cfg.path
    data = read_regular(path, "[sources].path")
    try:
        if fmt == "xlsx":
            data = drop_cells_right_of_header(data, cfg.sheet, cfg.name)
            # The header is read as a row of its own, so repeated or empty headers stay as the file has them.
            kwargs: dict[str, object] = {"has_header": False, "infer_schema_length": 0, "drop_empty_rows": False,
                                         "drop_empty_cols": False}
            if cfg.sheet:
                kwargs["sheet_name"] = cfg.sheet
            df = pl.read_excel(io.BytesIO(data), **kwargs)  # type: ignore[call-overload]
        else:
            df = pl.read_parquet(io.BytesIO(data))
    except Exception as e:  # the readers raise many unrelated types for a broken file
        # The reader's own text is not repeated: it may quote a cell.
        sheets = sheet_names(data) if fmt == "xlsx" else None
        if sheets is not None and cfg.sheet and cfg.sheet not in sheets:
            raise InputError(f"has no sheet {cfg.sheet!r} (its sheets: {', '.join(map(repr, sheets))}); fix "
                             "[sources].sheet", path=path) from e
        if sheets is not None and isinstance(e, pl.exceptions.NoDataError):
            raise InputError("the sheet is empty (no header row)", path=path, row=0) from e
        raise InputError(f"cannot be read as {fmt.upper()} ({type(e).__name__})", path=path) from e
    del data
    if fmt == "xlsx":
        if df.height == 0 or df.width == 0:
            raise InputError("the sheet is empty (no header row)", path=path, row=0)
        headers = ["" if v is None else str(v).strip() for v in df.row(0)]
        df = df.slice(1)
        odd: dict[int, str] = {}
    else:
        headers = [str(c).strip() for c in df.columns]
        df, odd = _as_text(df, cfg.name)
    cols = [f"c{i}" for i in range(len(headers))]
    df = df.rename(dict(zip(df.columns, cols, strict=True)))
    # Trailing empty rows (formatted but blank cells) are not data rows.
    filled = [(pl.col(c).str.strip_chars().str.len_chars() > 0) for c in cols]
    nonempty = df.select(pl.any_horizontal(filled).fill_null(False)).to_series() if cols else pl.Series([])
    last = nonempty.arg_true().max()
    df = df.head(0 if last is None else int(last) + 1)  # type: ignore[arg-type]
    raw = pl.struct([pl.col(c).alias(k) for c, k in zip(cols, _raw_keys(headers), strict=True)])
    blank = ~pl.any_horizontal(filled).fill_null(False)
    df = df.with_row_index("source_row", offset=1).with_columns(
        pl.col("source_row").cast(pl.Int64),
        raw.struct.json_encode().alias("raw"),
        pl.when(blank).then(pl.lit(REJECT_EMPTY_ROW)).otherwise(pl.lit(None, dtype=pl.String)).alias("reason"),
    )
    return headers, df.select("source_row", "raw", "reason", *cols), odd


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
