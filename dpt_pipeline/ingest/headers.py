"""Headers: which column holds which canonical field (aliases, [sources.columns], the ignored NO), rows that
are the header line again (two exports pasted into one file), and how a message names a column.

Messages and log lines never quote a cell. A header may be quoted when it looks like one (see
`quotable_headers`); otherwise a column is named by its position.
"""

from __future__ import annotations

import logging
import re

import polars as pl

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.core.schema import ALIAS_INDEX, HEADER_ALIASES, IGNORED_HEADERS, REJECT_HEADER_AGAIN, header_key
from dpt_pipeline.errors import InputError

log = logging.getLogger(__name__)

# A header longer than this, or on a line where some field holds a digit, is not quoted in messages.
_QUOTABLE_HEADER_LEN = 30
# The header is looked for among the file's first this many lines (rows): a KPU export may open with a title
# ("DAFTAR PEMILIH TETAP ..."), a subtitle and a blank line.
HEADER_SEARCH_ROWS = 20
# The fields a header must name (see `map_headers`): the row naming most of them is the header.
_REQUIRED = frozenset({"nama", "nik", "tanggal_lahir"})


def _known_header_keys(cfg: SourceConfig) -> dict[str, str | None]:
    """header_key -> canonical field (None for the ignored NO) of every header the project knows."""
    return {**{header_key(h): None for h in IGNORED_HEADERS}, **ALIAS_INDEX,
            **{header_key(h): f for f, h in cfg.columns.items()}}


def find_header_row(rows: list[list[str]], cfg: SourceConfig) -> int:
    """Which of the file's first rows (their cells as text) is the header, 0-based: the row whose cells map the
    most of the required fields (nama, nik, tanggal_lahir), then the most fields; the first on a tie. 0 when
    none maps any, so that `map_headers` explains why the first row is no header."""
    known = _known_header_keys(cfg)
    best, best_score = 0, (0, 0)
    for i, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        fields = {known[k] for k in map(header_key, cells) if known.get(k)}
        score = (len(fields & _REQUIRED), len(fields))
        if score > best_score:
            best, best_score = i, score
    return best


def quotable_headers(headers: list[str], cfg: SourceConfig) -> list[bool]:
    """Which headers a message may quote. The rule: a known header (an alias, NO, a [sources.columns]
    header) always; any other header only when it is at most _QUOTABLE_HEADER_LEN characters long and no
    field of the header line holds a digit. A data line taken for the header (the header line is missing,
    or the path points at another file) holds a NIK, a date, an RT or a number somewhere, so none of its
    fields is quoted; such a column is named by its position."""
    known = _known_header_keys(cfg)
    digits = any(re.search(r"\d", h) for h in headers)
    return [header_key(h) in known or (not digits and len(h) <= _QUOTABLE_HEADER_LEN) for h in headers]


def column_name(i: int, headers: list[str], quotable: list[bool]) -> str:
    """How a message names column i (0-based): its position, and its header when that may be quoted."""
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
    quotable = quotable_headers(headers, cfg)
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
            named = " and ".join(column_name(i, headers, quotable) for i in pos)
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


def mark_repeated_headers(frame: pl.DataFrame, headers: list[str], mapping: dict[str, int],
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
        quotable = quotable_headers(headers, cfg)
        raise InputError(
            f"the header line comes again here with other columns ({column_name(col, headers, quotable)} "
            "holds another field's header); the file looks like two lists pasted together and the rows "
            "after it would be read into the wrong fields. Split it into two sources.",
            path=cfg.path, row=int(row["source_row"]))
    log.warning("source %s: %d rows repeat the header line; rejected as %r", cfg.name, sub.height,
                REJECT_HEADER_AGAIN)
    return frame.with_columns(
        pl.when(pl.col("source_row").is_in(sub["source_row"].implode()))
        .then(pl.lit(REJECT_HEADER_AGAIN)).otherwise(pl.col("reason")).alias("reason"))
