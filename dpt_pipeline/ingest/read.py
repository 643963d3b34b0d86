"""Stage 1, ingest: read every voter list, map its headers, validate every row, lose none.

Output: `voters` (VOTER_SCHEMA) and `rejects` (REJECT_SCHEMA). Every data row of every file ends in
exactly one of them. A row is rejected only when it cannot be a voter: no name, too few or too many
columns, unreadable, the header line again. Everything else (a broken NIK, an impossible date, an unknown
desa) is a voter with a flag. A file that cannot be read as a voter list at all is refused (InputError, or
StorageError when it is not a regular file or the system cannot read it) before any row is counted.

voter_id: `<source>-<first 16 hex digits of md5(source, the row's mapped field values)>`, with `-2`,
`-3`... appended to the second and later copies of a byte-identical row. It depends on the content of
the row only, so the same rows give the same ids whatever their order in the file, whatever the file's
separator, encoding or column order; a changed row gets a new id.

Messages and log lines never quote a cell. A header may be quoted when it looks like one (see
`_quotable_headers`); otherwise a column is named by its position.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import logging
import posixpath
import re
import time
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from dpt_pipeline.config import Config, SourceConfig
from dpt_pipeline.core.schema import (
    ALIAS_INDEX,
    CANONICAL_FIELDS,
    HEADER_ALIASES,
    IGNORED_HEADERS,
    REGION_FIELDS,
    REJECT_EMPTY_ROW,
    REJECT_HEADER_AGAIN,
    REJECT_NO_NAME,
    REJECT_SCHEMA,
    REJECT_TOO_FEW,
    REJECT_TOO_MANY,
    REJECT_UNREADABLE,
    VOTER_SCHEMA,
    header_key,
)
from dpt_pipeline.errors import InputError
from dpt_pipeline.ingest import nik as nikmod
from dpt_pipeline.ingest.regions import RegionTable
from dpt_pipeline.io.files import read_regular
from dpt_pipeline.io.hashing import md5_hex
from dpt_pipeline.io.text import decode, separator

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

log = logging.getLogger(__name__)

# Tried in order; the first that parses wins. DD-MM before MM-DD: Indonesian offices write day first.
DATE_FORMATS: tuple[str, ...] = (
    "%d|%m|%Y", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S", "%Y%m%d",
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_SEX = {"L": "L", "LK": "L", "LAKI": "L", "LAKILAKI": "L", "PRIA": "L", "M": "L",
        "P": "P", "PR": "P", "PEREMPUAN": "P", "WANITA": "P", "W": "P", "F": "P"}
_MARITAL = {"B": "B", "BK": "B", "BELUM": "B", "BELUMKAWIN": "B", "BELUMMENIKAH": "B",
            "S": "S", "K": "S", "SK": "S", "SUDAH": "S", "KAWIN": "S", "SUDAHKAWIN": "S", "MENIKAH": "S",
            "P": "P", "PERNAH": "P", "PERNAHKAWIN": "P", "CERAI": "P", "CERAIHIDUP": "P", "CERAIMATI": "P",
            "JANDA": "P", "DUDA": "P"}
# A header longer than this, or on a line where some field holds a digit, is not quoted in messages.
_QUOTABLE_HEADER_LEN = 30
# XLSX: a header cell further right than this many empty header cells is a stray, not a column.
_XLSX_HEADER_GAP = 16
_XLSX_CHUNK = 1 << 24


@dataclass
class RawSource:
    """A source read into text cells: `rows` has source_row, raw, reason (null = readable) and one
    String column per canonical field that the file (or its defaults) provides."""

    name: str
    path: Path
    headers: list[str]
    mapping: dict[str, int]          # canonical field -> position (0-based) of its column in `headers`
    ignored_headers: list[str]
    rows: pl.DataFrame


@dataclass
class SourceSummary:
    source: str
    path: str
    format: str
    encoding: str | None
    delimiter: str | None
    data_rows: int
    voters: int
    rejects: int
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    nik_invalid_by_problem: dict[str, int] = field(default_factory=dict)
    wilayah_by_status: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    ignored_headers: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class IngestResult:
    voters: pl.DataFrame
    rejects: pl.DataFrame
    summaries: list[SourceSummary]


# ---------------------------------------------------------------------------------------------- reading

def _join_multiline(raw: pl.Series, delimiter: str, max_lines: int = 20) -> pl.Series:
    """Join physical lines that belong to one record: a line whose last field opens a quote (RFC 4180: at
    the start of the field) that a following line closes. A stray quote inside a field (JL MERDEKA 5")
    opens nothing, so that line stays a record of its own."""
    sep = _re_escape(delimiter)
    quoted = r'"(?:[^"]|"")*"'
    opens = re.compile(rf'^(?:(?:{quoted}|[^"{sep}]*){sep})*"(?:[^"]|"")*$')
    odd = (raw.str.count_matches('"', literal=True) % 2 == 1).arg_true().to_list()
    lines = raw.to_list()
    merges: list[tuple[int, int]] = []
    end = -1
    for i in odd:  # only lines with an odd number of quotes, a handful
        if i <= end or not opens.match(lines[i]):
            continue
        quotes, j = lines[i].count('"'), i
        while quotes % 2 == 1 and j + 1 < len(lines) and j - i < max_lines:
            j += 1
            quotes += lines[j].count('"')
        if quotes % 2 == 0:
            merges.append((i, j))
            end = j
    if not merges:
        return raw
    out: list[str] = []
    start = 0
    for i, j in merges:
        out.extend(lines[start:i])
        out.append(" ".join(lines[i:j + 1]))
        start = j + 1
    out.extend(lines[start:])
    return pl.Series("raw", out, dtype=pl.String)


def read_csv_source(cfg: SourceConfig) -> tuple[list[str], pl.DataFrame, str, str]:
    """Read a CSV into (headers, frame of source_row/raw/reason/c0..cN, encoding, delimiter).

    Trailing empty fields: a header line ending in the delimiter (`A;B;C;`) has its empty last header(s)
    dropped, and a row may carry, beyond the header's fields, as many empty (or blank) fields as the header
    line had empty ones at its end plus one (`a;b;c;` under `A;B;C`, an export habit). A row with more
    fields than that, or with a value among them, is `kolom lebih`.
    """
    path = cfg.path
    data = read_regular(path, "[sources].path")
    text, encoding = decode(data, path, encoding=cfg.encoding, setting="[sources].encoding")
    del data
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    header_line, _, body = text.partition("\n")
    del text
    if not header_line.strip():
        raise InputError("the first line (the header) is empty", path=path, row=0)
    delimiter = cfg.delimiter or separator(header_line)
    try:
        headers = [h.strip() for h in next(csv.reader([header_line], delimiter=delimiter), [])]
    except csv.Error as e:
        raise InputError("the first line (the header) cannot be split into fields", path=path, row=0) from e
    spare = 0  # empty headers at the end of the header line
    while len(headers) > 1 and headers[-1] == "":
        headers.pop()
        spare += 1
    if not any(headers):
        raise InputError("the first line (the header) holds no column names", path=path, row=0)
    # Trailing blank lines are not data rows. The split happens in polars, without a Python string a line.
    # Cut at the newline that ends the last line holding data; its own trailing tabs are empty fields.
    end = body.find("\n", len(body.rstrip()))
    if end != -1:
        body = body[:end]
    raw = (pl.Series("raw", [body], dtype=pl.String).str.split("\n").explode()
           if body.strip() else pl.Series("raw", [], dtype=pl.String))
    del body
    if raw.len() and (raw.str.count_matches('"', literal=True) % 2 == 1).any():
        raw = _join_multiline(raw, delimiter)
    n = len(headers)
    cols = [f"c{i}" for i in range(n)]
    frame = pl.DataFrame(raw).with_row_index("source_row", offset=1).with_columns(
        pl.col("source_row").cast(pl.Int64)
    )
    del raw
    # Records whose quoting is RFC 4180 (quotes only around whole fields) are counted and parsed in
    # bulk; the rare record with a stray quote goes through Python's csv module, so that the same
    # parser that splits a record also decides whether it has the right number of fields.
    sep = _re_escape(delimiter)
    quoted = r'"(?:[^"]|"")*"'
    rfc = rf'^(?:{quoted}|[^"{sep}]*)(?:{sep}(?:{quoted}|[^"{sep}]*))*$'
    frame = frame.with_columns(pl.col("raw").str.contains(rfc).alias("_rfc"))
    unquoted = pl.col("raw").str.replace_all(quoted, "Q")  # a quoted field counts as one non-empty field
    n_fields = unquoted.str.count_matches(delimiter, literal=True) + 1
    empty_tail = (unquoted.str.extract(rf"((?:{sep}[ \t]*)+)$", 1).str.count_matches(delimiter, literal=True)
                  .fill_null(0))
    extra = n_fields - n
    blank = pl.col("raw").str.strip_chars(f' \t"{delimiter}').str.len_chars() == 0
    frame = frame.with_columns(
        pl.when(blank).then(pl.lit(REJECT_EMPTY_ROW))
        .when(pl.col("raw").str.contains("\x00", literal=True)).then(pl.lit(REJECT_UNREADABLE))
        .when(~pl.col("_rfc")).then(pl.lit(None, dtype=pl.String))
        .when(n_fields < n).then(pl.lit(REJECT_TOO_FEW))
        .when((extra > 0) & ((extra > spare + 1) | (empty_tail < extra))).then(pl.lit(REJECT_TOO_MANY))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("reason")
    )
    bulk = frame.filter(pl.col("reason").is_null() & pl.col("_rfc"))
    if bulk.height:
        blob = bulk["raw"].str.join("\n").item().encode("utf-8")
        # The empty fields beyond the header's (checked above) are dropped by the parser.
        try:
            parsed = pl.read_csv(io.BytesIO(blob), has_header=False, separator=delimiter, quote_char='"',
                                 schema=dict.fromkeys(cols, pl.String), truncate_ragged_lines=True,
                                 extra_columns="ignore")
        except pl.exceptions.PolarsError as e:  # pragma: no cover - the records were checked above
            # The parser's text is not repeated: it may quote a cell.
            raise InputError(f"the CSV parser failed ({type(e).__name__}); please report this file to the "
                             "maintainers", path=path) from e
        del blob
        if parsed.height != bulk.height:  # pragma: no cover - guards the alignment of rows
            raise InputError(f"parser returned {parsed.height} rows for {bulk.height} records; "
                             "please report this file to the maintainers", path=path)
        bulk = pl.concat([bulk, parsed], how="horizontal")
    else:
        bulk = bulk.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in cols])
    stray = frame.filter(pl.col("reason").is_null() & ~pl.col("_rfc"))
    parts = [bulk, _parse_stray_quotes(stray, delimiter, cols, spare)]
    bad = frame.filter(pl.col("reason").is_not_null()).with_columns(
        [pl.lit(None, dtype=pl.String).alias(c) for c in cols]
    )
    out = pl.concat([*parts, bad]).drop("_rfc").sort("source_row")
    return headers, out, encoding, delimiter


def _parse_stray_quotes(stray: pl.DataFrame, delimiter: str, cols: list[str], spare: int) -> pl.DataFrame:
    """Records with quotes inside unquoted fields, parsed one by one (there are few of them). The same rule
    for trailing empty fields as in the bulk path (see `read_csv_source`)."""
    n = len(cols)
    reasons: list[str | None] = []
    cells: list[list[str | None]] = []
    for record in stray["raw"].to_list():
        try:
            fields = next(csv.reader([record], delimiter=delimiter), [])
        except csv.Error:  # a field over the csv module's size limit
            reasons.append(REJECT_UNREADABLE)
            cells.append([None] * n)
            continue
        extra = fields[n:]
        too_many = bool(extra) and (len(extra) > spare + 1 or any(f.strip() for f in extra))
        reasons.append(REJECT_TOO_FEW if len(fields) < n else REJECT_TOO_MANY if too_many else None)
        cells.append([f if f != "" else None for f in fields[:n]] + [None] * max(0, n - len(fields)))
    values = pl.DataFrame(cells, schema=dict.fromkeys(cols, pl.String), orient="row")
    return pl.concat([stray.with_columns(pl.Series("reason", reasons, dtype=pl.String)), values],
                     how="horizontal").with_columns(
        [pl.when(pl.col("reason").is_null()).then(pl.col(c)).alias(c) for c in cols])


def _re_escape(ch: str) -> str:
    return "\\t" if ch == "\t" else ("\\" + ch if ch in "|.^$*+?()[]{}\\" else ch)


# ---- XLSX: cells right of the header

_X_NS = rb"(?:[A-Za-z_][\w.-]{0,64}:)?"  # an optional namespace prefix (<x:c ...>)
# Tags are matched with bounded attribute runs ({0,512}): a cell's or a row's attributes are short, and an
# unbounded run would make a malformed file (a tag never closed) cost a quadratic scan.


def _x_content(tag: bytes) -> bytes:
    """An element's content up to its end tag, stopping at the next element of the same kind, so that a
    malformed file (an end tag missing) costs a linear scan, never a quadratic one."""
    return rb"(?:[^<]++|<(?!/?" + _X_NS + tag + rb"\b))*+"


_X_ROW = re.compile(rb"<" + _X_NS + rb"row\b[^<>]{0,1024}?(?:/>|>(" + _x_content(b"row") + rb")</" + _X_NS + rb"row>)")
_X_CELL = re.compile(rb"<" + _X_NS + rb"c\b([^<>]{0,512}?)(?:/>|>(" + _x_content(b"c") + rb")</" + _X_NS + rb"c>)")
_X_REF = re.compile(rb'\sr="([A-Z]{1,3})[0-9]+"')
_X_VALUE = re.compile(rb"<" + _X_NS + rb"(?:v|is)\b")
_X_ROW_END = re.compile(rb"</" + _X_NS + rb"row>")


def _column_letters(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _columns_right_of(n: int) -> bytes | None:
    """A regex for the letters (1 to 3) of any column right of column n (1-based)."""
    letters = _column_letters(n)
    alts = [f"[A-Z]{{{len(letters) + 1},3}}"] if len(letters) < 3 else []
    for i, ch in enumerate(letters):
        if ch != "Z":
            alts.append(letters[:i] + f"[{chr(ord(ch) + 1)}-Z]" + "[A-Z]" * (len(letters) - i - 1))
    return ("(?:" + "|".join(alts) + ")").encode() if alts else None


def _sheet_member(zf: zipfile.ZipFile, sheet: str | None) -> str | None:
    """The zip member holding the sheet that pl.read_excel reads: the named one, else the first."""
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    book = ET.fromstring(zf.read("xl/workbook.xml"))
    sheets = [e for e in book.iter() if e.tag.rsplit("}", 1)[-1] == "sheet"]
    chosen = next((e for e in sheets if sheet is None or e.get("name") == sheet), None)
    if chosen is None or chosen.get(rel_ns) is None:
        return None
    rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    for r in rels.iter():
        if r.tag.rsplit("}", 1)[-1] == "Relationship" and r.get("Id") == chosen.get(rel_ns):
            target = r.get("Target") or ""
            member = target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
            return member if member in zf.namelist() else None
    return None


def _sheet_names(data: bytes) -> list[str] | None:
    """The workbook's sheet names, None when it is no readable XLSX."""
    try:
        book = ET.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml"))
    except (zipfile.BadZipFile, KeyError, ET.ParseError, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError, ValueError):
        return None
    return [e.get("name") or "" for e in book.iter() if e.tag.rsplit("}", 1)[-1] == "sheet"]


def _pieces(zf: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The sheet's XML in pieces of whole rows (cut after a </row>), read as a stream."""
    with zf.open(member) as f:
        buf = b""
        while chunk := f.read(_XLSX_CHUNK):
            buf += chunk
            cut = _last_row_end(buf, max(0, len(buf) - len(chunk) - 64))
            if cut > 0:
                yield buf[:cut]
                buf = buf[cut:]
            elif len(buf) >= 16 * _XLSX_CHUNK:  # no row end in 256 MB: no sheet of rows; bound the memory
                yield buf
                buf = b""
        if buf:
            yield buf


def _last_row_end(buf: bytes, start: int) -> int:
    """Offset just after the last </row> (or </x:row>) in buf[start:], -1 if none."""
    i = len(buf)
    while (i := buf.rfind(b"row>", start, i)) != -1:
        j = buf.rfind(b"</", max(start, i - 40), i)
        if j != -1 and _X_ROW_END.fullmatch(buf, j, i + 4):
            return i + 4
    return -1


def _header_columns(piece: bytes) -> list[int] | None:
    """Columns (1-based) of the valued cells of the first row that has one, or None if the piece has none."""
    for row in _X_ROW.finditer(piece):
        cols: list[int] = []
        col = 0
        for c in _X_CELL.finditer(row.group(1) or b""):
            ref = _X_REF.search(c.group(1))
            col = _column_number(ref.group(1)) if ref else col + 1
            if c.group(2) and _X_VALUE.search(c.group(2)):
                cols.append(col)
        if cols:
            return sorted(cols)
    return None


def _drop_cells_right_of_header(data: bytes, sheet: str | None, name: str) -> bytes:
    """An XLSX whose sheet holds a value right of the header's last column (one stray cell at XFD20000 is
    enough) makes the reader build a grid of the whole width: minutes and gigabytes for a few rows. Such
    cells have no header and are no data: they are removed (with a warning) before the sheet is read.

    The header's columns are the valued cells of the sheet's first row that has one, up to the first gap
    of more than _XLSX_HEADER_GAP empty cells. The XML is only scanned (streamed, regex) unless there is
    such a cell; then the sheet is rewritten without them. Cells without a position (`r`) are left as they
    are. When the file is no zip of the usual layout, it goes to the reader unchanged (which refuses it).
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        member = _sheet_member(zf, sheet)
        if member is None:
            return data
        strays = 0
        right: re.Pattern[bytes] | None = None
        last = 0
        for piece in _pieces(zf, member):
            if right is None:
                cols = _header_columns(piece)
                if cols is None:
                    continue
                last = cols[0]
                for c in cols[1:]:
                    if c - last > _XLSX_HEADER_GAP:
                        break
                    last = c
                letters = _columns_right_of(last)
                if letters is None:
                    return data
                # ' r="' as every writer puts it (a literal start keeps the scan fast); another spacing is
                # missed, which costs time, not data.
                right = re.compile(rb' r="' + letters + rb'[0-9]+"')
            for m in right.finditer(piece):
                # The end of the tag: not <c .../>, so a cell with content, a value. find() rather than a
                # regex: many hits inside one never-closed tag must not each scan far.
                end = piece.find(b">", m.end(), m.end() + 512)
                if end != -1 and piece[end - 1] != 0x2F and piece.find(b"<", m.end(), end) == -1:
                    strays += 1
        if not strays or right is None:
            return data
        cell_right = re.compile(rb"<(" + _X_NS + rb")c\b[^<>]{0,512}?" + right.pattern + rb"[^<>]{0,512}?(?:/>|>"
                                + _x_content(b"c") + rb"</\1c>)")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
            for info in zf.infolist():
                if info.filename == member:
                    with zout.open(member, "w") as w:
                        for piece in _pieces(zf, member):
                            w.write(cell_right.sub(b"", piece))
                else:
                    zout.writestr(copy.copy(info), zf.read(info.filename))  # writestr changes its info
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ET.ParseError, zlib.error, EOFError, OSError,
            NotImplementedError, RuntimeError, ValueError):
        return data
    log.warning("source %s: %d cells right of the header's last column (%s) were not read: they have no "
                "header. Delete them in the sheet if they are not needed.", name, strays, _column_letters(last))
    return out.getvalue()


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


def _read_table_source(cfg: SourceConfig, fmt: str) -> tuple[list[str], pl.DataFrame, dict[int, str]]:
    """XLSX or Parquet: cells as text, one row per sheet row below the header. Also the positions of the
    columns that hold no cells (nested Parquet types), see `_as_text`."""
    path = cfg.path
    data = read_regular(path, "[sources].path")
    try:
        if fmt == "xlsx":
            data = _drop_cells_right_of_header(data, cfg.sheet, cfg.name)
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
        sheets = _sheet_names(data) if fmt == "xlsx" else None
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


# ---- headers

def _known_header_keys(cfg: SourceConfig) -> dict[str, str | None]:
    """header_key -> canonical field (None for the ignored NO) of every header the project knows."""
    return {**{header_key(h): None for h in IGNORED_HEADERS}, **ALIAS_INDEX,
            **{header_key(h): f for f, h in cfg.columns.items()}}


def _quotable_headers(headers: list[str], cfg: SourceConfig) -> list[bool]:
    """Which headers a message may quote. The rule: a known header (an alias, NO, a [sources.columns]
    header) always; any other header only when it is at most _QUOTABLE_HEADER_LEN characters long and no
    field of the header line holds a digit. A data line taken for the header (the header line is missing,
    or the path points at another file) holds a NIK, a date, an RT or a number somewhere, so none of its
    fields is quoted; such a column is named by its position."""
    known = _known_header_keys(cfg)
    digits = any(re.search(r"\d", h) for h in headers)
    return [header_key(h) in known or (not digits and len(h) <= _QUOTABLE_HEADER_LEN) for h in headers]


def _column_name(i: int, headers: list[str], quotable: list[bool]) -> str:
    return f"column {i + 1} ({headers[i]!r})" if quotable[i] else f"column {i + 1}"


def map_headers(headers: list[str], cfg: SourceConfig) -> tuple[dict[str, int], list[str]]:
    """canonical field -> position (0-based) of its column, and the headers left unused. Fails when the
    file cannot be a voter list, or when two columns claim one field.

    A header is a field's column when it is the field's [sources.columns] header or one of its aliases;
    a configured header wins over the aliases (the alias columns of that field are then unused). Two
    columns for one field (NAMA twice, NAMA and NAMA LENGKAP, a configured header twice) are refused: which
    one holds the names cannot be told.
    """
    overrides = {header_key(h): f for f, h in cfg.columns.items()}
    keys = [header_key(h) for h in headers]
    configured = {overrides[k] for k in keys if k in overrides}
    ignore = {header_key(x) for x in IGNORED_HEADERS}
    quotable = _quotable_headers(headers, cfg)
    claims: dict[str, list[int]] = {}
    ignored: list[str] = []
    for i, (h, k) in enumerate(zip(headers, keys, strict=True)):
        fld = overrides.get(k)
        if fld is None:
            fld = ALIAS_INDEX.get(k)
            if fld in configured:  # [sources.columns] chose another column for this field
                fld = None
        if fld:
            claims.setdefault(fld, []).append(i)
        elif h and k not in ignore:
            ignored.append(h)
    for fld, pos in claims.items():
        if len(pos) > 1:
            named = " and ".join(_column_name(i, headers, quotable) for i in pos)
            fix = ("rename or delete all but one of them in the file" if len({keys[i] for i in pos}) == 1 else
                   f'rename or delete all but one of them, or choose one with [sources.columns] {fld} = "<header>"')
            both = "both" if len(pos) == 2 else "all"
            raise InputError(f"{named} are {both} headers for {fld}; which one holds the {fld} cannot be told: "
                             f"{fix}.", path=cfg.path, row=0, field=fld)
    mapping = {fld: pos[0] for fld, pos in claims.items()}
    if "nama" not in mapping or ("nik" not in mapping and "tanggal_lahir" not in mapping):
        accepted = "; ".join(f"{f}: {', '.join(a)}" for f, a in HEADER_ALIASES.items())
        lacking = "nama" if "nama" not in mapping else "both nik and tanggal_lahir"
        shown = [repr(h) for h, q in zip(headers, quotable, strict=True) if q and h]
        hidden = sum(1 for h, q in zip(headers, quotable, strict=True) if h and not q)
        found = ", ".join(shown) if shown else "none that can be shown"
        if hidden:
            found += f" ({'and ' if shown else ''}{hidden} not shown: they do not look like headers)"
        with_digits = sum(1 for h in headers if re.search(r"\d", h))
        hint = ""
        if with_digits or not mapping:
            fields = f"{len(headers)} field{'s' if len(headers) != 1 else ''}"
            hint = (f" The first line does not look like a header (it holds {fields}, {with_digits} of them "
                    "with digits); is the header line missing, or is this not a voter list?")
        raise InputError(
            f"no column for {lacking}. Headers found: {found}.{hint} Accepted headers (case, spaces and "
            f"punctuation ignored): {accepted}. Map other headers with [sources.columns], e.g. "
            f'nama = "NAMA ANDA".', path=cfg.path, row=0)
    return mapping, ignored


def _cell_key(e: pl.Expr) -> pl.Expr:
    """header_key of a cell."""
    return e.str.to_uppercase().str.replace_all(r"[^0-9A-Z]", "")


def _mark_repeated_headers(frame: pl.DataFrame, headers: list[str], mapping: dict[str, int],
                           cfg: SourceConfig) -> pl.DataFrame:
    """Rows that are the header line again (two exports pasted into one file) become rejects
    `baris judul berulang`. Such a row has, in the nama column, a known header or the column's own header,
    and at least two cells, and at least half of its non-empty cells, that are known headers or their
    column's own header. If one holds a field's header in another field's column, the lists pasted together
    have different column orders and the rows after it would be shifted: the file is refused."""
    known = _known_header_keys(cfg)
    own = [header_key(h) for h in headers]
    field_at = {pos: f for f, pos in mapping.items()}
    nama = mapping["nama"]
    first_keys = list(set(known) | {own[nama]})
    candidate = (pl.col("reason").is_null() & _cell_key(pl.col(f"c{nama}")).is_in(first_keys)).fill_null(False)
    sub = frame.filter(candidate)
    if sub.height == 0:
        return frame
    field_of = {k: f for k, f in known.items() if f is not None}
    headerish, filled, shifted = [], [], []
    for i in range(len(headers)):
        k = _cell_key(pl.col(f"c{i}"))
        headerish.append(k.is_in(list(set(known) | ({own[i]} if own[i] else set()))).fill_null(False))
        filled.append((pl.col(f"c{i}").str.strip_chars().str.len_chars() > 0).fill_null(False))
        cell_field = k.replace_strict(field_of, default=None, return_dtype=pl.String)
        other = cell_field.is_not_null() & (k != own[i])
        if i in field_at:
            other = other & (cell_field != field_at[i])
        shifted.append(other.fill_null(False).alias(f"_s{i}"))
    n_head = pl.sum_horizontal([h.cast(pl.Int32) for h in headerish])
    n_filled = pl.sum_horizontal([f.cast(pl.Int32) for f in filled])
    sub = sub.select("source_row", ((n_head >= 2) & (n_head * 2 >= n_filled)).alias("_h"), *shifted)
    sub = sub.filter("_h")
    if sub.height == 0:
        return frame
    bad = sub.filter(pl.any_horizontal([pl.col(f"_s{i}") for i in range(len(headers))]))
    if bad.height:
        row = bad.row(0, named=True)
        col = next(i for i in range(len(headers)) if row[f"_s{i}"])
        quotable = _quotable_headers(headers, cfg)
        raise InputError(
            f"the header line comes again here with other columns ({_column_name(col, headers, quotable)} "
            "holds another field's header); the file looks like two lists pasted together and the rows "
            "after it would be read into the wrong fields. Split it into two sources.",
            path=cfg.path, row=int(row["source_row"]))
    log.warning("source %s: %d rows repeat the header line; rejected as %r", cfg.name, sub.height,
                REJECT_HEADER_AGAIN)
    return frame.with_columns(
        pl.when(pl.col("source_row").is_in(sub["source_row"].implode()))
        .then(pl.lit(REJECT_HEADER_AGAIN)).otherwise(pl.col("reason")).alias("reason"))


def read_source(cfg: SourceConfig, regions: RegionTable) -> tuple[RawSource, str, str | None, str | None]:
    """Read one source into canonical text columns. Returns (raw source, format, encoding, delimiter)."""
    suffix = cfg.path.suffix.lower()
    encoding: str | None = None
    delimiter: str | None = None
    odd: dict[int, str] = {}
    if suffix in (".xlsx", ".xlsm"):
        fmt = "xlsx"
        headers, frame, odd = _read_table_source(cfg, fmt)
    elif suffix in (".parquet", ".pq"):
        fmt = "parquet"
        headers, frame, odd = _read_table_source(cfg, fmt)
    elif suffix in (".csv", ".txt", ".tsv", ""):
        fmt = "csv"
        headers, frame, encoding, delimiter = read_csv_source(cfg)
    else:
        raise InputError(f"unknown file type {suffix!r}; use .csv, .txt, .tsv, .xlsx or .parquet",
                         path=cfg.path)
    mapping, ignored = map_headers(headers, cfg)
    for fld, pos in mapping.items():
        if pos in odd:
            quotable = _quotable_headers(headers, cfg)
            raise InputError(f"{_column_name(pos, headers, quotable)} holds {odd[pos]} values, not text; "
                             f"{fld} cannot be read from it. Write it as a text column.",
                             path=cfg.path, field=fld)
    frame = _mark_repeated_headers(frame, headers, mapping, cfg)
    defaults = {**regions.infer_from_file_name(cfg.path), **cfg.defaults}
    exprs = []
    for f in CANONICAL_FIELDS:
        if f in mapping:
            e = pl.col(f"c{mapping[f]}").str.strip_chars()
            e = pl.when(e.str.len_chars() > 0).then(e)
            if f in defaults:
                e = e.fill_null(pl.lit(defaults[f]))
        elif f in defaults:
            e = pl.lit(defaults[f], dtype=pl.String)
        else:
            e = pl.lit(None, dtype=pl.String)
        exprs.append(e.alias(f))
    rows = frame.select("source_row", "raw", "reason", *exprs)
    return RawSource(cfg.name, cfg.path, headers, mapping, ignored, rows), fmt, encoding, delimiter


# ------------------------------------------------------------------------------------------- validating

def parse_dates(text: pl.Series, date_format: str | None) -> pl.Series:
    """Text to Date: the source's own format when configured, else every known format; Excel serial numbers
    (1927-2064, so that a bare year such as 1980 is not read as a serial) in every case.

    The format that parses most of a sample goes first over the whole column; the others only see the
    rows still unparsed, so a list written in one format costs one pass.
    """
    c = text.str.strip_chars()
    formats = [_user_format(date_format)] if date_format else list(DATE_FORMATS)
    sample = c.drop_nulls().head(2000)
    formats.sort(key=lambda f: -int(sample.str.strptime(pl.Date, f, strict=False).is_not_null().sum()))
    parsed = c.str.strptime(pl.Date, formats[0], strict=False)
    todo = parsed.is_null() & c.is_not_null()
    if todo.any():
        rest = c.filter(todo).to_frame("t").select(pl.coalesce(
            [*(pl.col("t").str.strptime(pl.Date, f, strict=False) for f in formats[1:]), _excel_serial("t")]))
        parsed = parsed.scatter(todo.arg_true(), rest.to_series())
    return parsed


def _excel_serial(col: str) -> pl.Expr:
    digits = pl.col(col).str.replace(r"\.0+$", "")
    serial = pl.when(digits.str.contains(r"^[0-9]{5}$")).then(digits.cast(pl.Int32, strict=False))
    serial = pl.when(serial.is_between(10_000, 60_000)).then(serial)
    return (pl.lit(_EXCEL_EPOCH) + pl.duration(days=serial)).cast(pl.Date)


def _user_format(fmt: str) -> str:
    """'DD|MM|YYYY' style (or a strftime pattern, kept as it is)."""
    if "%" in fmt:
        return fmt
    return fmt.upper().replace("YYYY", "%Y").replace("DD", "%d").replace("MM", "%m")


def _code_map(col: str, table: dict[str, str]) -> pl.Expr:
    key = pl.col(col).str.to_uppercase().str.replace_all(r"[^A-Z]", "")
    return key.replace_strict(table, default=None, return_dtype=pl.String)


def validate(raw: RawSource, cfg: SourceConfig, regions: RegionTable, reference: dt.date, min_age: int
             ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a read source into (voters, rejects)."""
    rows = raw.rows.with_columns(
        pl.when(pl.col("reason").is_null() & ~pl.col("nama").str.contains(r"[A-Za-z\p{L}]").fill_null(False))
        .then(pl.lit(REJECT_NO_NAME)).otherwise(pl.col("reason")).alias("reason"),
        pl.lit(raw.name).alias("source"),
    )
    rejects = rows.filter(pl.col("reason").is_not_null()).select(
        "source", "source_row", "reason", pl.col("raw")
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    v = rows.filter(pl.col("reason").is_null())
    provinces = regions.province_codes

    v = v.with_columns(
        pl.col("nama").str.replace_all(r"\s+", " "),
        nikmod.clean_number("nik").alias("nik"),
        nikmod.clean_number("nkk").alias("nkk"),
        parse_dates(v["tanggal_lahir"], cfg.date_format).alias("_tgl"),
        _code_map("jenis_kelamin", _SEX).alias("_jk"),
        _code_map("status_kawin", _MARITAL).alias("_sk"),
        *[pl.col(c).str.extract(r"([0-9]+)").cast(pl.Int32, strict=False).alias(f"_{c}")
          for c in ("rt", "rw", "tps")],
    )
    v = v.with_columns(
        pl.when(pl.col("_tgl").dt.year().is_between(1900, reference.year)).then(pl.col("_tgl")).alias("_tgl"),
        nikmod.number_problem(pl.col("nik"), provinces, is_nik=True).alias("nik_masalah"),
        nikmod.number_problem(pl.col("nkk"), provinces, is_nik=False).alias("nkk_masalah"),
    )
    v = v.with_columns(
        pl.col("nik_masalah").is_null().alias("nik_valid"),
        pl.col("nkk_masalah").is_null().alias("nkk_valid"),
    )
    nik_date, nik_sex = nikmod.decode_nik(pl.col("nik"), pl.col("nik_valid"), pl.col("_tgl"),
                                          reference.year, min_age)
    v = v.with_columns(
        nik_date.alias("nik_tanggal_lahir"),
        nik_sex.alias("nik_jenis_kelamin"),
        nikmod.region_code(pl.col("nik"), pl.col("nik_valid")).alias("nik_kode_wilayah"),
    )
    age_years = pl.lit(reference.year) - pl.col("_tgl").dt.year() - (
        (pl.col("_tgl").dt.month() * 100 + pl.col("_tgl").dt.day()) > reference.month * 100 + reference.day
    ).cast(pl.Int32)
    v = v.with_columns(
        (pl.col("nik_tanggal_lahir") == pl.col("_tgl")).alias("nik_tanggal_cocok"),
        (pl.col("nik_jenis_kelamin") == pl.col("_jk")).alias("nik_jenis_kelamin_cocok"),
        pl.col("_tgl").is_not_null().alias("tanggal_lahir_valid"),
        pl.col("_jk").is_not_null().alias("jenis_kelamin_valid"),
        ((age_years < min_age) & (pl.col("_sk") == "B")).fill_null(False).alias("di_bawah_umur"),
    )
    v = regions.resolve_frame(v)
    v = _with_ids(v, raw.name)
    v = v.select(
        "voter_id", "source", "source_row", "nkk", "nik", "nama", "tempat_lahir",
        pl.col("_tgl").alias("tanggal_lahir"), pl.col("_jk").alias("jenis_kelamin"),
        pl.col("_sk").alias("status_kawin"), "alamat", pl.col("_rt").alias("rt"), pl.col("_rw").alias("rw"),
        "disabilitas", "keterangan", pl.col("_tps").alias("tps"), "desa", "kecamatan", "kabupaten",
        "kode_kabupaten", "kode_kecamatan", "kode_desa", "wilayah_status", "nik_valid", "nik_masalah",
        "nik_tanggal_lahir", "nik_jenis_kelamin", "nik_kode_wilayah", "nik_tanggal_cocok",
        "nik_jenis_kelamin_cocok", "nkk_valid", "nkk_masalah", "tanggal_lahir_valid",
        pl.col("tanggal_lahir").alias("tanggal_lahir_asli"), "jenis_kelamin_valid", "di_bawah_umur",
        "row_hash",
    )
    return v.cast(VOTER_SCHEMA), rejects  # type: ignore[arg-type]


def _with_ids(v: pl.DataFrame, source: str) -> pl.DataFrame:
    """row_hash = md5 of the mapped text fields; voter_id from it (see the module docstring)."""
    content = pl.concat_str(
        [pl.lit(source), *[pl.col(f).fill_null("") for f in CANONICAL_FIELDS]], separator="\x1f"
    ).alias("_content")
    hashes = md5_hex(v.select(content).to_series())
    v = v.with_columns(
        hashes.alias("row_hash"),
        pl.format("{}-{}", pl.lit(source), hashes.str.slice(0, 16)).alias("voter_id"),
    )
    dup = v["row_hash"].is_duplicated()
    if not dup.any():
        return v
    # Only the few identical rows are ranked; a window over a million hashes would cost seconds.
    copies = (v.filter(dup).select("source_row", "row_hash")
              .with_columns(pl.col("source_row").rank("ordinal").over("row_hash").alias("_occ")))
    v = v.join(copies.select("source_row", "_occ"), on="source_row", how="left", maintain_order="left")
    return v.with_columns(
        pl.when(pl.col("_occ") > 1).then(pl.format("{}-{}", pl.col("voter_id"), pl.col("_occ")))
        .otherwise(pl.col("voter_id")).alias("voter_id")
    ).drop("_occ")


# ----------------------------------------------------------------------------------------------- stage

def _summary(name: str, path: Path, fmt: str, enc: str | None, delim: str | None, voters: pl.DataFrame,
             rejects: pl.DataFrame, ignored: list[str], seconds: float) -> SourceSummary:
    def counts(df: pl.DataFrame, col: str) -> dict[str, int]:
        if df.height == 0:
            return {}
        g = df.filter(pl.col(col).is_not_null()).group_by(col).len().sort(col)
        return {str(k): int(n) for k, n in g.iter_rows()}

    flags = {
        "nik_tidak_valid": int((~voters["nik_valid"]).sum()),
        "nkk_tidak_valid": int((~voters["nkk_valid"]).sum()),
        "tanggal_lahir_tidak_valid": int((~voters["tanggal_lahir_valid"]).sum()),
        "nik_tanggal_tidak_cocok": int((voters["nik_tanggal_cocok"] == False).sum()),  # noqa: E712
        "nik_jenis_kelamin_tidak_cocok": int((voters["nik_jenis_kelamin_cocok"] == False).sum()),  # noqa: E712
        "jenis_kelamin_tidak_valid": int((~voters["jenis_kelamin_valid"]).sum()),
        "di_bawah_umur": int(voters["di_bawah_umur"].sum()),
        "wilayah_tidak_dikenal": int(voters["kode_desa"].is_null().sum()),
    }
    return SourceSummary(
        source=name, path=str(path), format=fmt, encoding=enc, delimiter=delim,
        data_rows=voters.height + rejects.height, voters=voters.height, rejects=rejects.height,
        rejects_by_reason=counts(rejects, "reason"), nik_invalid_by_problem=counts(voters, "nik_masalah"),
        wilayah_by_status=counts(voters, "wilayah_status"), flags=flags, ignored_headers=ignored,
        seconds=round(seconds, 3),
    )


def ingest_source(cfg: SourceConfig, regions: RegionTable, reference: dt.date, min_age: int
                  ) -> tuple[pl.DataFrame, pl.DataFrame, SourceSummary]:
    t0 = time.perf_counter()
    raw, fmt, enc, delim = read_source(cfg, regions)
    voters, rejects = validate(raw, cfg, regions, reference, min_age)
    if voters.height + rejects.height != raw.rows.height:  # pragma: no cover - the stage's invariant
        raise InputError(f"{raw.rows.height} data rows became {voters.height} voters and {rejects.height} "
                         "rejects; please report this file to the maintainers", path=cfg.path)
    s = _summary(cfg.name, cfg.path, fmt, enc, delim, voters, rejects, raw.ignored_headers,
                 time.perf_counter() - t0)
    log.info("ingest %s: %d data rows -> %d voters, %d rejects (%.2fs)", cfg.name, s.data_rows, s.voters,
             s.rejects, s.seconds)
    return voters, rejects, s


def run(config: Config) -> IngestResult:
    """Ingest every configured source."""
    regions = RegionTable.load(config.ingest.regions)
    reference = config.ingest.reference_date or dt.date.today()
    parts = [ingest_source(s, regions, reference, config.ingest.min_age) for s in config.sources]
    voters = pl.concat([p[0] for p in parts]) if parts else pl.DataFrame(schema=VOTER_SCHEMA)
    rejects = pl.concat([p[1] for p in parts]) if parts else pl.DataFrame(schema=REJECT_SCHEMA)
    return IngestResult(voters=voters, rejects=rejects, summaries=[p[2] for p in parts])


__all__ = ["IngestResult", "SourceSummary", "run", "ingest_source", "read_source", "validate",
           "map_headers", "DATE_FORMATS", "REGION_FIELDS"]
