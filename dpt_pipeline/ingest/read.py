"""One source's file (CSV, XLSX or Parquet, by its suffix) into canonical text columns: its cells read
(`csvfile`, `tables`), its headers mapped and repeated header rows marked (`headers`), and the fields the
file lacks filled from the source's defaults and its file name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.core.schema import CANONICAL_FIELDS
from dpt_pipeline.errors import InputError
from dpt_pipeline.ingest.csvfile import read_csv_source
from dpt_pipeline.ingest.headers import column_name, map_headers, mark_repeated_headers, quotable_headers
from dpt_pipeline.ingest.regions import RegionTable
from dpt_pipeline.ingest.tables import read_table_source

log = logging.getLogger(__name__)

# Fields whose XLSX number cells are marked (Excel keeps 15 digits of a number, a NIK has 16), and the column
# of `RawSource.rows` that says so.
NUMBER_FIELDS = ("nik", "nkk")
NUMBER_CELL = {f: f"{f}_sel_angka" for f in NUMBER_FIELDS}


@dataclass
class RawSource:
    """A source read into text cells: `rows` has source_row, raw, reason (null = readable), one String column
    per canonical field that the file (or its defaults) provides, and NUMBER_CELL (Boolean) for nik and nkk:
    the cell was a number cell of an XLSX (Excel keeps 15 digits of a number)."""

    name: str
    path: Path
    headers: list[str]
    mapping: dict[str, int]          # canonical field -> position (0-based) of its column in `headers`
    ignored_headers: list[str]
    rows: pl.DataFrame
    header_row: int = 1              # the header's line (row) in the file, 1-based; those above are titles


# The suffixes a voter list may have, and the format each is read as (`ingest.survey` names them too).
FORMATS: dict[str, str] = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
                           ".parquet": "parquet", ".pq": "parquet"}


def read_source(cfg: SourceConfig, regions: RegionTable) -> tuple[RawSource, str, str | None, str | None]:
    """Read one source into canonical text columns. Returns (raw source, format, encoding, delimiter)."""
    suffix = cfg.path.suffix.lower()
    encoding: str | None = None
    delimiter: str | None = None
    odd: dict[int, str] = {}
    numeric = None
    fmt = FORMATS.get(suffix, "csv" if suffix == "" else "")   # a file with no suffix is read as CSV
    if fmt in ("xlsx", "parquet"):
        table = read_table_source(cfg, fmt)
        headers, frame, odd, header_row, numeric = (table.headers, table.frame, table.odd, table.header_row,
                                                    table.numeric)
    elif fmt == "csv":
        headers, frame, encoding, delimiter, header_row = read_csv_source(cfg)
    else:
        raise InputError(f"unknown file type {suffix!r}; use .csv, .txt, .tsv, .xlsx or .parquet",
                         path=cfg.path)
    mapping, ignored = map_headers(headers, cfg)
    for fld, pos in mapping.items():
        if pos in odd:
            quotable = quotable_headers(headers, cfg)
            raise InputError(f"{column_name(pos, headers, quotable)} holds {odd[pos]} values, not text; "
                             f"{fld} cannot be read from it. Write it as a text column.",
                             path=cfg.path, field=fld)
    if header_row > 1:
        log.info("source %s: header found on row %d (%d title rows skipped)", cfg.name, header_row, header_row - 1)
    frame = mark_repeated_headers(frame, headers, mapping, cfg)
    number_cells = [f for f in NUMBER_FIELDS if f in mapping]
    if numeric is not None and number_cells:
        cells = numeric([mapping[f] for f in number_cells])
        frame = pl.concat([frame, cells.select(pl.col(f"c{mapping[f]}").alias(f"_{f}_angka") for f in number_cells)],
                          how="horizontal")
    defaults = {**regions.infer_from_file_name(cfg.path), **cfg.defaults}
    exprs = []
    for f in CANONICAL_FIELDS:
        if f in mapping:
            e = pl.col(f"c{mapping[f]}").str.strip_chars()
            e = pl.when(e.str.len_bytes() > 0).then(e)
            if f in defaults:
                e = e.fill_null(pl.lit(defaults[f]))
        elif f in defaults:
            e = pl.lit(defaults[f], dtype=pl.String)
        else:
            e = pl.lit(None, dtype=pl.String)
        exprs.append(e.alias(f))
    for f in NUMBER_FIELDS:
        e = pl.col(f"_{f}_angka") if f"_{f}_angka" in frame.columns else pl.lit(False)
        exprs.append(e.alias(NUMBER_CELL[f]))
    rows = frame.select("source_row", "raw", "reason", *exprs)
    return (RawSource(cfg.name, cfg.path, headers, mapping, ignored, rows, header_row), fmt, encoding,
            delimiter)
