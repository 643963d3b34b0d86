"""`dpt query`: an analyst's SQL on the published database, which it can read and nothing else.

A read-only DuckDB connection still writes files (`COPY ... TO`, `EXPORT DATABASE`), reads any file the
user can (`read_csv`, `read_text`, `glob`), attaches other databases and installs extensions. So the query
is parsed by DuckDB itself and must be one SELECT (FROM, VALUES, DESCRIBE, SHOW and SUMMARIZE parse as
SELECT too), and the connection is locked down as well: no external access, no extension loading, and a
configuration no statement can change. The first check gives a clear refusal, the second holds if the
first misses a form.

DuckDB's error messages quote the values they failed on ("Could not convert string 'BAHAR' to INT32"):
a refusal keeps DuckDB's error type and the shape of its message, never a value from the data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import polars as pl

from dpt_pipeline.errors import ConfigError, DatabaseError, DptError, InputError, environment_error
from dpt_pipeline.io.files import check_regular

# The connection's settings: the database file itself is the only thing it reaches, for good.
LOCKED_DOWN: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only, locked-down connection to the published database at `path` (SELECTs on it only).

    Raises InputError when there is no database yet, DatabaseError when another program holds it open for
    writing or the file is damaged, StorageError when the machine refuses to read it."""
    if not path.exists():
        raise InputError("no published database yet: run `dpt run` first", path=path)
    check_regular(path, "[output] database")
    try:
        return duckdb.connect(str(path), read_only=True, config=dict(LOCKED_DOWN))
    except duckdb.Error as e:
        raise database_error(path, e) from None


def database_error(path: Path, e: duckdb.Error) -> DptError:
    """The plain-words error for a database DuckDB cannot open or read: held open, damaged, unreadable
    (`errors.environment_error` tells which)."""
    return environment_error(e, path) or DatabaseError(
        f"{path}: the database cannot be opened ({_kind(e)}); if it keeps failing, move it aside and run "
        "`dpt run` to publish it anew")


def query(path: Path, sql: str) -> pl.DataFrame:
    """An analyst's query on the published database: one SELECT, read-only, nothing outside the database."""
    con = connect_read_only(path)
    try:
        statement = _one_select(con, sql)
        return _as_text_where_polars_cannot(con.sql(statement)).pl()
    except duckdb.Error as e:
        if (cause := environment_error(e, path)) is not None:   # held open, damaged, unreadable
            raise cause from None
        raise ConfigError(f"the query was refused: {safe_message(e, sql, con)}") from None
    finally:
        con.close()


# DuckDB types polars cannot hold (an interval, a union, or anything holding one): shown as DuckDB writes them.
_NOT_IN_POLARS = re.compile(r"\b(?:INTERVAL|UNION)\b")


def _as_text_where_polars_cannot(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """The result with every column of a type polars cannot hold cast to text (positional, so that two
    columns of one name stay two)."""
    kinds = [str(t).upper() for t in rel.types]
    if not any(_NOT_IN_POLARS.search(k) for k in kinds):
        return rel
    return rel.project(", ".join(
        f"CAST(#{i} AS VARCHAR) AS {_quoted(name)}" if _NOT_IN_POLARS.search(k) else f"#{i} AS {_quoted(name)}"
        for i, (name, k) in enumerate(zip(rel.columns, kinds, strict=True), start=1)))


# StatementType names as the user writes them.
_SHOWN = {"LOAD": "INSTALL/LOAD", "COPY_DATABASE": "COPY FROM DATABASE", "VARIABLE_SET": "SET VARIABLE",
          "CREATE_FUNC": "CREATE FUNCTION", "MERGE_INTO": "MERGE INTO", "MULTI": "PIVOT/multi-part"}


def _one_select(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """The query as DuckDB parses it, when it is exactly one SELECT; a ConfigError otherwise."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as e:
        raise ConfigError(f"the query was refused: {safe_message(e, sql, con)}") from None
    if not statements:
        raise ConfigError("the query was refused: it is empty")
    if len(statements) > 1:
        raise ConfigError(f"the query was refused: it holds {len(statements)} statements; `dpt query` runs one "
                          "SELECT at a time")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = _SHOWN.get(kind.name, kind.name)
        hint = "; use --csv FILE to write a result for Excel" if kind.name in ("COPY", "EXPORT") else ""
        raise ConfigError(f"the query was refused: `dpt query` only reads the published database, so {name} "
                          f"statements are not allowed (SELECT, FROM, DESCRIBE, SHOW and SUMMARIZE are){hint}")
    return statements[0]


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# What each kind of DuckDB error means, in words that do not need the (hidden) value.
_MEANING = {
    "ParserException": "the SQL cannot be read",
    "SyntaxException": "the SQL cannot be read",
    "BinderException": "a name or type in the SQL does not fit the tables",
    "CatalogException": "no such table, view, column, type or function",
    "ConversionException": "a value in the data cannot be converted to the type asked for",
    "OutOfRangeException": "a value is out of range for its type",
    "InvalidInputException": "a function or setting was given something it cannot use",
    "PermissionException": "`dpt query` reads the published database only: files, extensions and settings "
                           "are out of its reach",
    "NotImplementedException": "DuckDB cannot do this",
    "InterruptException": "the query was interrupted",
    "OutOfMemoryException": "the query needs more memory than there is",
}

# Words of DuckDB's error messages, kept in a refusal (with a capital too); any other word not in the
# user's SQL or the database's catalog may be a value from the data and is shown as `…`.
_VOCABULARY = _wordset("""
    a about accepted according after all allowed an and any are argument arguments as at be because been before
    between binary bindings but by bytes can can't candidate cannot cast casting character characters clause
    column columns configuration contain could data date day decimal decode destination did digit disabled
    division does exist exists expected expression failed field file for format from function functions given
    has have hex in input into invalid is it its length list malformed match matches maximum mean minimum
    missing more multiple must no not null number numerical of on only operation or out overflow parse per
    precision provided range reached referenced result return returns scale should source specifier statement
    string subtraction addition subqueries table than that the there this time timestamp to too type types
    unexpected unimplemented unknown use used valid value values when where which while with within without
    zero byte error character encountered conversion locked change option parameters following width
    negative positive integer exceeds limit fit larger smaller bit offset index array struct map union key
    keys duplicate entry empty unterminated quoted escape via selected selection group aggregate window t s
    convert syntax found single multiplication formatting operations system explicit casts might need you scalar
    name names near
""")

# DuckDB's internal type names, which conversion messages use.
_TYPE_NAMES = _wordset("""
    INT8 INT16 INT32 INT64 INT128 UINT8 UINT16 UINT32 UINT64 UINT128 FLOAT DOUBLE BOOL BOOLEAN VARCHAR BLOB
    BIGNUM VARINT DATE TIME TIMESTAMP TIMESTAMP_NS TIMESTAMP_MS TIMESTAMP_S INTERVAL UUID DECIMAL STRUCT MAP
    LIST ARRAY UNION ENUM BIT JSON HUGEINT UHUGEINT BIGINT INTEGER SMALLINT TINYINT UBIGINT UINTEGER USMALLINT
    UTINYINT REAL NULL SQL SELECT FROM TRY SET ISO UTF ZONE YYYY MM DD HH SS US MS TZ LINE
""")

_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_WORD = re.compile(r"\w+")
_TYPE_PREFIX = re.compile(r"^([A-Z][A-Za-z ]{0,40}? Error): ")


def _kind(e: duckdb.Error) -> str:
    first = str(e).split("\n", 1)[0]
    m = _TYPE_PREFIX.match(first)
    return m.group(1) if m else type(e).__name__


def _catalog_words(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the database's tables, views, columns, functions, types, settings and SQL keywords: schema,
    not data, so a message may show them."""
    words: set[str] = set()
    for sql in ("SELECT table_name, column_name FROM duckdb_columns()", "SELECT view_name, NULL FROM duckdb_views()",
                "SELECT function_name, NULL FROM duckdb_functions()", "SELECT type_name, logical_type FROM "
                "duckdb_types()", "SELECT name, NULL FROM duckdb_settings()", "SELECT keyword_name, "
                "upper(keyword_name) FROM duckdb_keywords()"):
        try:
            for row in con.execute(sql).fetchall():
                words.update(str(w) for w in row if w is not None)
        except duckdb.Error:   # a damaged or closed connection: fewer words kept, nothing shown that should not be
            pass
    return words


def safe_message(e: duckdb.Error, sql: str, con: duckdb.DuckDBPyConnection | None = None) -> str:
    """DuckDB's error type, what it means, and the first line of its message with every value that may come
    from the data replaced by `…`: a quoted text or a word is kept only when it is in the user's SQL, in the
    database's catalog or in DuckDB's message vocabulary; a number of three digits or more only when it is in
    the SQL."""
    first = str(e).split("\n", 1)[0]
    kind = _kind(e)
    body = first[len(kind) + 2:] if first.startswith(kind + ": ") else first
    names = _catalog_words(con) if con is not None else set()
    sql_words = set(_WORD.findall(sql))

    def quoted(m: re.Match[str]) -> str:
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        return m.group(0) if inner and (inner in sql or inner in names) else "'…'"

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        if w in sql_words or w in names or w in _TYPE_NAMES:
            return w
        if w.isdigit():
            return w if len(w) < 3 else "…"
        return w if w.lower() in _VOCABULARY and w in (w.lower(), w.capitalize()) else "…"

    body = _WORD.sub(word, _QUOTED.sub(quoted, body))
    body = re.sub(r"…(?:[\s…]*…)?", "…", body)
    meaning = _MEANING.get(type(e).__name__, "DuckDB could not run it")
    return f"{kind} ({meaning}): {body}" if body.strip() else f"{kind} ({meaning})"


# -- the result: on the terminal, as CSV and XLSX for Excel ---------------------------------------------------

MAX_ROWS = 200            # rows printed on the terminal (the first and last half); --csv or --xlsx for all
NOT_A_TERMINAL_WIDTH = 200
LIST_SEPARATOR = ", "
EXCEL_ROWS = 1_048_576    # rows in one Excel sheet, the header included
# An integer this large is an identifier (a NIK or NKK cast to a number), not a quantity: Excel would keep
# only 15 significant digits of it, so it is written as text.
EXCEL_DIGITS = 15


def terminal_width() -> int:
    """The terminal's width in characters (COLUMNS first, as `shutil` reads it), NOT_A_TERMINAL_WIDTH in a
    pipe or a file."""
    import shutil

    return shutil.get_terminal_size((NOT_A_TERMINAL_WIDTH, 24)).columns


def render(frame: pl.DataFrame, width: int | None = None, max_rows: int = MAX_ROWS) -> str:
    """The result as DuckDB's own CLI prints it (its box renderer, in a private in-memory DuckDB): a table
    wider than `width` has its middle columns folded into `…` (DuckDB keeps at least 80 characters), a long
    result shows its first and last rows with `·` between them and the counts below; lists and structs are
    shown as DuckDB writes them (`[1, 2]`, `{'a': 1}`). A result of up to VERTICAL_ROWS rows that is still
    too wide is shown turned, a line per column."""
    import contextlib
    import io

    if not frame.columns:
        return "(no columns)\n"
    width = width or terminal_width()

    def show(mode: str | None = None) -> str:
        out = io.StringIO()
        with duckdb.connect(config=dict(LOCKED_DOWN)) as con, contextlib.redirect_stdout(out):
            con.from_arrow(frame.to_arrow()).show(max_width=width, max_rows=max_rows, render_mode=mode)
        return out.getvalue()

    def fits(text: str) -> bool:
        return max(map(len, text.splitlines()), default=0) <= width

    table = show()
    if not fits(table) and frame.height <= VERTICAL_ROWS and fits(turned := show("columns")):
        return turned
    return table


VERTICAL_ROWS = 3


_NESTED = tuple(t for t in (pl.List, pl.Array, pl.Struct, getattr(pl, "Map", None)) if t is not None)


def _nested(dtype: object) -> bool:
    return isinstance(dtype, _NESTED)


def flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists and structs as text a spreadsheet cell can hold: a list of plain values joined (`1, 2`), anything
    nested deeper (a struct, a list of lists) as DuckDB writes it (`{'a': 1}`)."""
    simple = [c for c, t in frame.schema.items() if isinstance(t, pl.List | pl.Array) and not _nested(t.inner)]
    deep = [c for c, t in frame.schema.items() if _nested(t) and c not in simple]
    out = frame.with_columns([pl.col(c).cast(pl.List(t.inner)) if isinstance(t, pl.Array) else pl.col(c)  # type: ignore[union-attr]
                              for c, t in frame.schema.items() if c in simple])
    out = out.with_columns([pl.col(c).list.eval(pl.element().cast(pl.String)).list.join(LIST_SEPARATOR)
                            for c in simple])
    if deep:
        with duckdb.connect(config=dict(LOCKED_DOWN)) as con:
            rel = con.from_arrow(frame.select(deep).to_arrow())
            texts = rel.select(", ".join(f"CAST({_quoted(c)} AS VARCHAR) AS {_quoted(c)}" for c in deep)).pl()
        out = out.with_columns(texts)
    return out


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _identifiers(frame: pl.DataFrame) -> list[str]:
    """Integer and decimal columns holding a value of more than EXCEL_DIGITS digits (a NIK cast to a number,
    a HUGEINT): identifiers, kept as text, since Excel keeps 15 significant digits of a number."""
    big = 10 ** EXCEL_DIGITS
    out = []
    for c, t in frame.schema.items():
        if t.is_integer() or isinstance(t, pl.Decimal):
            top = frame[c].cast(pl.Float64).abs().max()
            if isinstance(top, float) and top >= big:
                out.append(c)
    return out


def _for_excel(frame: pl.DataFrame) -> pl.DataFrame:
    """The result with what a spreadsheet cannot hold as text: lists and structs (`flat`), identifiers,
    durations, categories, binaries (hex); times with a zone as the clock in UTC (Excel has no zones)."""
    out = flat(frame)
    out = out.with_columns([pl.col(c).cast(pl.String) for c in _identifiers(out)])
    out = out.with_columns([pl.col(c).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
                            for c, t in out.schema.items() if isinstance(t, pl.Datetime) and t.time_zone])
    out = out.with_columns([pl.col(c).cast(pl.String) for c, t in out.schema.items()
                            if isinstance(t, pl.Duration | pl.Categorical | pl.Enum | pl.Object)])
    return out.with_columns([pl.col(c).bin.encode("hex") for c, t in out.schema.items() if t == pl.Binary])


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """The result as a CSV Excel opens without damage (`io.spreadsheet.write_csv_for_excel`: `;`, UTF-8 with
    BOM, formulas neutralised, digit strings Excel would turn into numbers kept as text with a leading `'`),
    decimals with a decimal comma (Indonesian settings), lists and structs as text."""
    from dpt_pipeline.io.spreadsheet import write_csv_for_excel

    _refuse_folder(path, "--csv")
    out = _for_excel(frame)
    # Floats stay numbers, written with a decimal comma (-3,25 is a number in Excel, not text); a DECIMAL, which
    # may hold more digits than a float, is written as its text with a comma.
    out = out.with_columns([pl.col(c).cast(pl.String).str.replace(".", ",", literal=True)
                            for c, t in out.schema.items() if isinstance(t, pl.Decimal)])
    # Times as Excel reads them in any setting: 2026-12-09 07:30:00, 07:30:00.
    out = out.with_columns([pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S" if isinstance(t, pl.Datetime) else "%H:%M:%S")
                            for c, t in out.schema.items() if isinstance(t, pl.Datetime | pl.Time)])
    return write_csv_for_excel(out, path, digits_as_text=True, decimal_comma=True)


def _refuse_folder(path: Path, option: str) -> None:
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder; name the file to write")


def write_xlsx(frame: pl.DataFrame, path: Path) -> Path:
    """The result as an XLSX (xlsxwriter): text as text cells (NIK and NKK among them; a text that looks like
    a formula keeps Excel's quote prefix, so it never becomes one), numbers as numbers (an integer of more
    than 15 digits, an identifier, as text), dates and times as dates, booleans as booleans, lists and
    structs as text; the header row bold and frozen, with a filter. Readable by owner and group only."""
    import xlsxwriter

    from dpt_pipeline.io.files import FILE_MODE
    from dpt_pipeline.io.spreadsheet import FORMULA_START

    _refuse_folder(path, "--xlsx")
    if frame.height >= EXCEL_ROWS:
        raise ConfigError(f"the result has {frame.height:,} rows, more than an Excel sheet holds "
                          f"({EXCEL_ROWS - 1:,}); narrow the query or use --csv FILE")
    out = _for_excel(frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False, "nan_inf_to_errors": True})
    try:
        ws = wb.add_worksheet("hasil")
        ws.write_row(0, 0, out.columns, wb.add_format({"bold": True, "bottom": 1}))
        formats = {pl.Date: wb.add_format({"num_format": "yyyy-mm-dd"}),
                   pl.Datetime: wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
                   pl.Time: wb.add_format({"num_format": "hh:mm:ss"})}
        quoted = wb.add_format({"quote_prefix": True})
        for c, (name, dtype) in enumerate(out.schema.items()):
            values = out[name]
            if dtype == pl.Decimal or isinstance(dtype, pl.Decimal):
                values = values.cast(pl.Float64)
            ws.write_column(1, c, values.to_list(), formats.get(dtype.base_type()))  # type: ignore[arg-type]
            if dtype == pl.String:
                risky = out.select(pl.col(name)).with_row_index("_r").filter(pl.col(name).str.contains(FORMULA_START))
                for r, value in risky.iter_rows():
                    ws.write_string(r + 1, c, value, quoted)
            longest = max([len(name), *(len(str(v)) for v in values.head(200).to_list() if v is not None)])
            ws.set_column(c, c, min(max(8, longest + 2), 60))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(out.height, 1), max(len(out.columns) - 1, 0))
    finally:
        wb.close()
    os.chmod(path, FILE_MODE)
    return path
