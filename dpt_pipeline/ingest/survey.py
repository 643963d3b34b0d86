"""What a voter list looks like before any config names it (for `dpt init`): its format, encoding and
separator (`io.text`, through the readers ingest uses), its headers and which field each maps to
(`headers`), what ingest would refuse, a date format guess, and the region names its file name carries.

Nothing of a cell leaves here but counts and format names: a header is shown only when `quotable_headers`
says it looks like one, so a data line taken for the header line never reaches a config or a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.core.schema import ALIAS_INDEX, CANONICAL_FIELDS, header_key
from dpt_pipeline.errors import InputError
from dpt_pipeline.ingest.csvfile import read_csv_source
from dpt_pipeline.ingest.headers import map_headers, quotable_headers
from dpt_pipeline.ingest.read import FORMATS
from dpt_pipeline.ingest.regions import RegionTable
from dpt_pipeline.ingest.tables import read_table_source
from dpt_pipeline.ingest.validate import DATE_FORMATS
from dpt_pipeline.ingest.xlsx import sheet_names
from dpt_pipeline.io.files import read_regular

# Suffixes that look like a voter list but that ingest cannot read: named, so that the staffer converts them.
UNREADABLE: dict[str, str] = {".xls": "an old Excel workbook (.xls): open it and save it as .xlsx",
                              ".ods": "a LibreOffice sheet (.ods): save it as .xlsx"}
DATE_SAMPLE = 2000


@dataclass(frozen=True)
class Survey:
    """One file as ingest would read it, with no config. `fields[i]` is the field header i maps to (None:
    unused); `shown[i]` whether header i may be quoted. `refusal` is why ingest refuses the file as it
    stands (None: it reads it)."""

    path: Path
    format: str | None
    encoding: str | None = None
    delimiter: str | None = None
    headers: list[str] = field(default_factory=list)
    shown: list[bool] = field(default_factory=list)
    fields: list[str | None] = field(default_factory=list)
    rows: int = 0
    refusal: str | None = None
    date_format: str | None = None     # the known format (DD|MM|YYYY style) most sampled dates read with
    date_share: float = 0.0            # the share of the sample it reads
    from_file_name: dict[str, str] = field(default_factory=dict)
    sheets: list[str] = field(default_factory=list)
    header_row: int = 1                # the header's line (row), 1-based: the lines above it are a title

    @property
    def mapped(self) -> set[str]:
        return {f for f in self.fields if f}

    @property
    def missing(self) -> list[str]:
        """Canonical fields no column holds, in SIDALIH's order."""
        return [f for f in CANONICAL_FIELDS if f not in self.mapped]


def _message(e: InputError) -> str:
    """The error's text without the file (the config names it) and cut at its first sentence."""
    where = ", ".join([*([f"file {e.path}"] if e.path is not None else []),
                       *([f"row {e.row}"] if e.row is not None else []),
                       *([f"field {e.field!r}"] if e.field is not None else [])])
    text = str(e).removeprefix(f"{where}: ")
    return text.split(". ", 1)[0].rstrip(".")


def guess_date_format(values: pl.Series) -> tuple[str | None, float]:
    """The format of `DATE_FORMATS` that reads most of a sample of `values`, written DD|MM|YYYY style, and the
    share of the sample it reads; (None, 0.0) when none reads any."""
    sample = values.str.strip_chars().drop_nulls()
    sample = sample.filter(sample.str.len_chars() > 0).head(DATE_SAMPLE)
    if sample.len() == 0:
        return None, 0.0
    counts = {f: int(sample.str.strptime(pl.Date, f, strict=False).is_not_null().sum()) for f in DATE_FORMATS}
    best = max(DATE_FORMATS, key=lambda f: counts[f])   # the first on a tie, as ingest orders them
    if counts[best] == 0:
        return None, 0.0
    written = best.replace("%d", "DD").replace("%m", "MM").replace("%Y", "YYYY")
    return (best if "%" in written else written), counts[best] / sample.len()


def survey(path: Path, regions: RegionTable) -> Survey:
    """Read `path` as ingest would with no setting, and say what it found. A file ingest cannot read at all
    comes back with its `refusal` and no headers."""
    suffix = path.suffix.lower()
    if suffix in UNREADABLE:
        return Survey(path, None, refusal=UNREADABLE[suffix])
    fmt = FORMATS.get(suffix)
    if fmt is None:
        return Survey(path, None, refusal=f"not a voter list format ({suffix or 'no suffix'})")
    cfg = SourceConfig(name=path.stem, path=path)
    encoding = delimiter = None
    sheets: list[str] = []
    header_row = 1
    try:
        if fmt == "csv":
            headers, frame, encoding, delimiter, header_row = read_csv_source(cfg)
        else:
            if fmt == "xlsx":
                sheets = sheet_names(read_regular(path, "dpt init")) or []
            table = read_table_source(cfg, fmt)
            headers, frame, header_row = table.headers, table.frame, table.header_row
    except InputError as e:
        return Survey(path, fmt, refusal=_message(e))
    shown = quotable_headers(headers, cfg)
    refusal = None
    try:
        mapping, _ = map_headers(headers, cfg)
        fields: list[str | None] = [None] * len(headers)
        for f, i in mapping.items():
            fields[i] = f
    except InputError as e:
        refusal = _message(e)
        fields = [ALIAS_INDEX.get(header_key(h)) for h in headers]
    date_format, share = None, 0.0
    if "tanggal_lahir" in fields:
        column = frame[f"c{fields.index('tanggal_lahir')}"].filter(frame["reason"].is_null())
        date_format, share = guess_date_format(column)
    return Survey(path, fmt, encoding, delimiter, headers, shown, fields, frame.height, refusal, date_format,
                  share, regions.infer_from_file_name(path), sheets, header_row)
