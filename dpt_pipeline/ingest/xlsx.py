"""XLSX cells right of the header: a stray value far right of the header's last column (one cell at XFD20000)
makes the reader build a grid of the whole width, so such cells are found by a streamed scan of the sheet's
XML and removed before the sheet is read. Also the workbook's sheet names, for the messages of a file that
cannot be read.
"""

from __future__ import annotations

import copy
import io
import logging
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from typing import NamedTuple

from dpt_pipeline.core.schema import REJECT_TOO_MANY
from dpt_pipeline.ingest.headers import HEADER_SEARCH_ROWS

log = logging.getLogger(__name__)

# XLSX: a header cell further right than this many empty header cells is a stray, not a column.
_XLSX_HEADER_GAP = 16
_XLSX_CHUNK = 1 << 24

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


def sheet_names(data: bytes) -> list[str] | None:
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


_X_ROW_NUMBER = re.compile(rb'\sr="([0-9]+)"')


def _header_columns(piece: bytes, rows: int) -> tuple[list[int], int] | None:
    """The columns (1-based) of the valued cells of the first `rows` rows that have one (the header and the
    title rows above it, which are further left), with the first such row's number; None if the piece has
    none."""
    cols: set[int] = set()
    first = 0
    seen = 0
    for number, row in enumerate(_X_ROW.finditer(piece), 1):
        found = False
        col = 0
        for c in _X_CELL.finditer(row.group(1) or b""):
            ref = _X_REF.search(c.group(1))
            col = _column_number(ref.group(1)) if ref else col + 1
            if c.group(2) and _X_VALUE.search(c.group(2)):
                cols.add(col)
                found = True
        if found:
            if not first:
                r = _X_ROW_NUMBER.search(piece, row.start(), piece.find(b">", row.start()) + 1)
                first = int(r.group(1)) if r else number
            seen += 1
            if seen == rows:
                break
    return (sorted(cols), first) if cols else None


class Scan(NamedTuple):
    """What `drop_cells_right_of_header` found: the workbook (without the cells right of the header), the
    number of the sheet's first row holding a value (where the reader starts), the rows of the removed cells,
    and whether any cell value is a number of 15 or 16 digits (else no NIK can be a number cell)."""

    data: bytes
    first_row: int
    right_rows: frozenset[int]
    long_numbers: bool


# A cell value of 15 or 16 digits (as written, or 6.4081345058E+15): `v>` matches <v> and <x:v>, never </v>.
_X_LONG_NUMBER = re.compile(rb"v>[ \t]*[1-9](?:[0-9]{14}|\.[0-9]*[eE]\+?1[45])")


def drop_cells_right_of_header(data: bytes, sheet: str | None, name: str, header_row: int | None = None
                               ) -> Scan:
    """An XLSX whose sheet holds a value right of the header's last column (one stray cell at XFD20000 is
    enough) makes the reader build a grid of the whole width: minutes and gigabytes for a few rows. Such
    cells have no header and are no data: they are removed (with a warning) before the sheet is read.
    Returns what `Scan` says (the removed cells' rows are `kolom lebih`); when in doubt (a file of another
    layout), `long_numbers` is True.

    The header's columns are the valued cells of the sheet's first HEADER_SEARCH_ROWS rows that have one (or
    up to `header_row`: the header is among them, the title rows above it are further left), up to the
    first gap of more than _XLSX_HEADER_GAP empty cells. The XML is only scanned (streamed, regex) unless there is
    such a cell; then the sheet is rewritten without them. Cells without a position (`r`) are left as they
    are. When the file is no zip of the usual layout, it goes to the reader unchanged (which refuses it).
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        member = _sheet_member(zf, sheet)
        if member is None:
            return Scan(data, 1, frozenset(), True)
        strays = 0
        first = 1
        rows: set[int] = set()
        right: re.Pattern[bytes] | None = None
        last = 0
        long_numbers = False
        for piece in _pieces(zf, member):
            long_numbers = long_numbers or _X_LONG_NUMBER.search(piece) is not None
            if right is None:
                found = _header_columns(piece, max(HEADER_SEARCH_ROWS, header_row or 0))
                if found is None:
                    continue
                cols, first = found
                last = cols[0]
                for c in cols[1:]:
                    if c - last > _XLSX_HEADER_GAP:
                        break
                    last = c
                letters = _columns_right_of(last)
                if letters is None:
                    return Scan(data, first, frozenset(), True)
                # ' r="' as every writer puts it (a literal start keeps the scan fast); another spacing is
                # missed, which costs time, not data.
                right = re.compile(rb' r="' + letters + rb'([0-9]+)"')
            for m in right.finditer(piece):
                # The end of the tag: not <c .../>, so a cell with content, a value. find() rather than a
                # regex: many hits inside one never-closed tag must not each scan far.
                end = piece.find(b">", m.end(), m.end() + 512)
                if end != -1 and piece[end - 1] != 0x2F and piece.find(b"<", m.end(), end) == -1:
                    strays += 1
                    rows.add(int(m.group(1)))
        if not strays or right is None:
            return Scan(data, first, frozenset(), long_numbers)
        cell_right = re.compile(rb"<(" + _X_NS + rb")c\b[^<>]{0,512}?" + right.pattern.replace(b"([0-9]+)", b"[0-9]+")
                                + rb"[^<>]{0,512}?(?:/>|>"
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
        return Scan(data, 1, frozenset(), True)
    log.warning("source %s: %d cells right of column %s (the last the header, or a row near it, fills) were not "
                "read: they have no header (a data row holding one is rejected as %r). Delete them in the sheet "
                "if they are not needed.", name, strays, _column_letters(last), REJECT_TOO_MANY)
    return Scan(out.getvalue(), first, frozenset(rows), long_numbers)

