"""A CSV file into text cells: decoded and its separator sniffed (`dpt_pipeline.io.text`), records that span
lines joined, records without a quote split in bulk, RFC 4180 records parsed in bulk and those with a stray
quote one by one, each row's field count checked against the header's (trailing empty fields allowed as
`read_csv_source` says).

The frame it returns has source_row, raw, reason (null = readable, else why the row is a reject) and one
String column c0..cN per header.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import polars as pl

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.core.schema import REJECT_EMPTY_ROW, REJECT_TOO_FEW, REJECT_TOO_MANY, REJECT_UNREADABLE
from dpt_pipeline.errors import InputError
from dpt_pipeline.ingest.headers import HEADER_SEARCH_ROWS, find_header_row
from dpt_pipeline.io.files import read_regular
from dpt_pipeline.io.text import decode, separator


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


def read_csv_source(cfg: SourceConfig) -> tuple[list[str], pl.DataFrame, str, str, int]:
    """Read a CSV into (headers, frame of source_row/raw/reason/c0..cN, encoding, delimiter, the header's
    line, 1-based).

    The header is the line `[sources].header_row` names, else the one of the first lines that maps most
    fields (`headers.find_header_row`); lines above it (a title) are not data rows. A data row's source_row
    is its line less one, as when the header is the first line.

    Trailing empty fields: a header line ending in the delimiter (`A;B;C;`) has its empty last header(s)
    dropped, and a row may carry, beyond the header's fields, as many empty (or blank) fields as the header
    line had empty ones at its end plus one (`a;b;c;` under `A;B;C`, an export habit). A row with more
    fields than that, or with a value among them, is `kolom lebih`.
    """
    path = cfg.path
    data = read_regular(path, "[sources].path")
    text, encoding = decode(data, path, encoding=cfg.encoding, setting="[sources].encoding")
    text = text.removeprefix("\ufeff")
    # The file's bytes are the text's UTF-8 but for byte-order marks: the lines are cut from them.
    same = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") and "\r" not in text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    first = _first_lines(text, max(HEADER_SEARCH_ROWS, cfg.header_row or 0))
    if cfg.header_row is not None:
        if cfg.header_row > len(first):
            raise InputError(f"[sources].header_row = {cfg.header_row}, but the file has {len(first)} lines",
                             path=path)
        at = cfg.header_row - 1
    else:
        at = find_header_row([_split(line, cfg.delimiter) for line in first], cfg)
    header_line = first[at] if first else ""
    start = min(len(text), sum(len(line) + 1 for line in first[:at + 1]))
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
    last = _rstripped(text, start)
    end = text.find("\n", last)
    end = len(text) if end == -1 else end
    raw = (_lines(_utf8(data if same else None, text, start, end)) if last > start
           else pl.Series("raw", [], dtype=pl.String))
    del data, text
    quoted = raw.str.contains('"', literal=True)
    if quoted.any() and (raw.filter(quoted).str.count_matches('"', literal=True) % 2 == 1).any():
        raw = _join_multiline(raw, delimiter)
        quoted = raw.str.contains('"', literal=True)
    n = len(headers)
    cols = [f"c{i}" for i in range(n)]
    frame = pl.DataFrame([raw, quoted.alias("_q")]).with_row_index("source_row", offset=at + 1).with_columns(
        pl.col("source_row").cast(pl.Int64)
    )
    del raw, quoted
    # Most records hold no quote at all: their fields are the text between separators, split in bulk
    # (`_split_plain`). The others are checked for RFC 4180 quoting, and parsed as the rule says.
    if not frame["_q"].any():
        return headers, _split_plain(frame.drop("_q"), delimiter, n, spare), encoding, delimiter, at + 1
    plain = _split_plain(frame.filter(~pl.col("_q")).drop("_q"), delimiter, n, spare)
    rest = frame.filter(pl.col("_q")).drop("_q")
    del frame
    out = pl.concat([plain, *_parse_quoted(rest, delimiter, cols, spare, path)]).sort("source_row")
    return headers, out, encoding, delimiter, at + 1


def _rstripped(text: str, start: int) -> int:
    """len(text[:start] + text[start:].rstrip()), without a copy of the text: from its end, in growing pieces."""
    end, piece = len(text), 4096
    while end > start:
        lo = max(start, end - piece)
        kept = text[lo:end].rstrip()
        if kept:
            return lo + len(kept)
        end, piece = lo, piece * 2
    return start


def _utf8(data: bytes | None, text: str, start: int, end: int) -> bytes:
    """text[start:end] as UTF-8: cut from the file's bytes `data` when given (`text` is their UTF-8 decoding,
    after a byte-order mark or two), else encoded."""
    if data is None:
        return text[start:end].encode("utf-8")
    for skip in (0, 3, 6):   # the marks `decode` and read_csv_source drop
        head = text[:start].encode("utf-8")
        if data.startswith(head, skip) and data.startswith(text[start:start + 4096].encode("utf-8"), skip + len(head)):
            tail = len(text[end:].encode("utf-8"))
            if len(data) - tail >= skip + len(head) and data.endswith(text[max(end - 4096, start):].encode("utf-8")):
                return data[skip + len(head):len(data) - tail]
    return text[start:end].encode("utf-8")


def _lines(data: bytes) -> pl.Series:
    """The lines of UTF-8 `data` (split at each newline), as the String series `raw`. Read by polars' CSV reader
    with a separator the text does not hold and no quoting, which keeps every line as it is (an empty one
    too)."""
    unused = next((c for c in ("\x01", "\x02", "\x03", "\x04", "\x05", "\x06") if c.encode() not in data), None)
    if unused is None:   # pragma: no cover - a text holding every one of them is no voter list
        return pl.Series("raw", [data.decode("utf-8")], dtype=pl.String).str.split("\n").explode()
    lines = pl.read_csv(data, has_header=False, separator=unused, quote_char=None, schema={"raw": pl.String},
                        empty_string_is_null=False, raise_if_empty=False).to_series()
    if lines.len() != data.count(b"\n") + 1:   # pragma: no cover - guards the reader's line splitting
        raise InputError("the file's lines could not be split; please report this file to the maintainers")
    return lines.fill_null("")


def _split_plain(frame: pl.DataFrame, delimiter: str, n: int, spare: int) -> pl.DataFrame:
    """Records without a quote (source_row, raw) into reason and c0..cN: their fields are the text between the
    separators, an empty one null. The rule for trailing empty fields is `read_csv_source`'s."""
    sep = _re_escape(delimiter)
    cols = [f"c{i}" for i in range(n)]
    # n + 1 parts: the header's n fields and what follows them (null when nothing does).
    parts = frame.select(pl.col("raw").str.splitn(delimiter, n + 1).struct.rename_fields([*cols, "_more"])
                         .struct.unnest())
    more = parts["_more"]
    n_fields = pl.col("raw").str.count_matches(delimiter, literal=True) + 1
    extra = n_fields - n
    empty_tail = (pl.col("raw").str.extract(rf"((?:{sep}[ \t]*)+)$", 1).str.count_matches(delimiter, literal=True)
                  .fill_null(0))
    too_many = pl.lit(False)
    if more.is_not_null().any():
        # Only the few records with fields beyond the header's are looked at again.
        over = frame.filter(more.is_not_null()).filter((extra > spare + 1) | (empty_tail < extra))["source_row"]
        too_many = pl.col("source_row").is_in(over.implode())
    blank = pl.col("raw").str.strip_chars(f' \t"{delimiter}').str.len_chars() == 0
    reason = (pl.when(blank).then(pl.lit(REJECT_EMPTY_ROW))
              .when(pl.col("raw").str.contains("\x00", literal=True)).then(pl.lit(REJECT_UNREADABLE))
              .when(pl.col(cols[-1]).is_null()).then(pl.lit(REJECT_TOO_FEW))
              .when(too_many).then(pl.lit(REJECT_TOO_MANY))
              .otherwise(pl.lit(None, dtype=pl.String)))
    out = pl.concat([frame, parts.drop("_more")], how="horizontal").with_columns(reason.alias("reason"))
    ok = pl.col("reason").is_null()
    return out.select("source_row", "raw", "reason",
                      *[pl.when(ok & (pl.col(c) != "")).then(pl.col(c)).alias(c) for c in cols])


def _parse_quoted(frame: pl.DataFrame, delimiter: str, cols: list[str], spare: int, path: Path
                  ) -> list[pl.DataFrame]:
    """Records holding a quote (source_row, raw) into reason and c0..cN, in parts: those whose quoting is
    RFC 4180 (quotes only around whole fields) counted and parsed in bulk, the rare record with a stray quote
    through Python's csv module (so that the parser that splits a record also decides whether it has the
    right number of fields), and the rejects."""
    n = len(cols)
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
    bad = frame.filter(pl.col("reason").is_not_null()).with_columns(
        [pl.lit(None, dtype=pl.String).alias(c) for c in cols]
    )
    return [p.drop("_rfc") for p in (bulk, _parse_stray_quotes(stray, delimiter, cols, spare), bad)]


def _first_lines(text: str, n: int) -> list[str]:
    """The text's first n lines (fewer when it has fewer), without their newline."""
    lines: list[str] = []
    start = 0
    while len(lines) < n and start <= len(text):
        end = text.find("\n", start)
        if end == -1:
            if start < len(text):
                lines.append(text[start:])
            break
        lines.append(text[start:end])
        start = end + 1
    return lines


def _split(line: str, delimiter: str | None) -> list[str]:
    """A line's fields, split by the configured delimiter or the one it holds most (for the header search)."""
    try:
        return next(csv.reader([line], delimiter=delimiter or separator(line)), [])
    except csv.Error:
        return []


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
