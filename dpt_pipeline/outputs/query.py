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
        return con.sql(statement).pl()
    except duckdb.Error as e:
        if (cause := environment_error(e, path)) is not None:   # held open, damaged, unreadable
            raise cause from None
        raise ConfigError(f"the query was refused: {safe_message(e, sql, con)}") from None
    finally:
        con.close()


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
