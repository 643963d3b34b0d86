"""Stage 1, ingest: read every voter list, map its headers, validate every row, lose none.

Output: `voters` (VOTER_SCHEMA) and `rejects` (REJECT_SCHEMA). Every data row of every file ends in
exactly one of them. A row is rejected only when it cannot be a voter: no name, too few or too many
columns, unreadable. Everything else (a broken NIK, an impossible date, an unknown desa) is a voter with
a flag.

voter_id: `<source>-<first 16 hex digits of md5(source, the row's mapped field values)>`, with `-2`,
`-3`... appended to the second and later copies of a byte-identical row. It depends on the content of
the row only, so the same rows give the same ids whatever their order in the file, whatever the file's
separator, encoding or column order; a changed row gets a new id.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dpt_pipeline import nik as nikmod
from dpt_pipeline.config import Config, SourceConfig
from dpt_pipeline.errors import InputError
from dpt_pipeline.hashing import md5_hex
from dpt_pipeline.regions import RegionTable
from dpt_pipeline.schema import (
    ALIAS_INDEX,
    CANONICAL_FIELDS,
    HEADER_ALIASES,
    IGNORED_HEADERS,
    REGION_FIELDS,
    REJECT_EMPTY_ROW,
    REJECT_NO_NAME,
    REJECT_SCHEMA,
    REJECT_TOO_FEW,
    REJECT_TOO_MANY,
    REJECT_UNREADABLE,
    VOTER_SCHEMA,
    header_key,
)

log = logging.getLogger(__name__)

# Tried in order; the first that parses wins. DD-MM before MM-DD: Indonesian offices write day first.
DATE_FORMATS: tuple[str, ...] = (
    "%d|%m|%Y", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S", "%Y%m%d",
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DELIMITER_CANDIDATES = (";", ",", "\t", "|")
_SEX = {"L": "L", "LK": "L", "LAKI": "L", "LAKILAKI": "L", "PRIA": "L", "M": "L",
        "P": "P", "PR": "P", "PEREMPUAN": "P", "WANITA": "P", "W": "P", "F": "P"}
_MARITAL = {"B": "B", "BK": "B", "BELUM": "B", "BELUMKAWIN": "B", "BELUMMENIKAH": "B",
            "S": "S", "K": "S", "SK": "S", "SUDAH": "S", "KAWIN": "S", "SUDAHKAWIN": "S", "MENIKAH": "S",
            "P": "P", "PERNAH": "P", "PERNAHKAWIN": "P", "CERAI": "P", "CERAIHIDUP": "P", "CERAIMATI": "P",
            "JANDA": "P", "DUDA": "P"}


@dataclass
class RawSource:
    """A source read into text cells: `rows` has source_row, raw, reason (null = readable) and one
    String column per canonical field that the file (or its defaults) provides."""

    name: str
    path: Path
    headers: list[str]
    mapping: dict[str, str]          # canonical field -> header in the file
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

def _decode(data: bytes, encoding: str | None, path: Path) -> tuple[str, str]:
    if encoding:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as e:
            raise InputError(f"not valid {encoding} at byte {e.start}; fix [sources].encoding", path=path) from e
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Old Excel on Windows. cp1252 leaves five bytes undefined; those few become U+FFFD.
        return data.decode("cp1252", errors="replace"), "cp1252"


def _detect_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in _DELIMITER_CANDIDATES}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


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
    """Read a CSV into (headers, frame of source_row/raw/reason/c0..cN, encoding, delimiter)."""
    path = cfg.path
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot be read: {e.strerror}", path=path) from e
    text, encoding = _decode(data, cfg.encoding, path)
    del data
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    header_line, _, body = text.partition("\n")
    del text
    if not header_line.strip():
        raise InputError("the first line (the header) is empty", path=path, row=0)
    delimiter = cfg.delimiter or _detect_delimiter(header_line)
    headers = [h.strip() for h in next(csv.reader([header_line], delimiter=delimiter))]
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
    n_fields = pl.col("raw").str.replace_all(quoted, "").str.count_matches(delimiter, literal=True) + 1
    blank = pl.col("raw").str.strip_chars(f' \t"{delimiter}').str.len_chars() == 0
    frame = frame.with_columns(
        pl.when(blank).then(pl.lit(REJECT_EMPTY_ROW))
        .when(pl.col("raw").str.contains("\x00", literal=True)).then(pl.lit(REJECT_UNREADABLE))
        .when(~pl.col("_rfc")).then(pl.lit(None, dtype=pl.String))
        .when(n_fields < n).then(pl.lit(REJECT_TOO_FEW))
        .when(n_fields > n).then(pl.lit(REJECT_TOO_MANY))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("reason")
    )
    bulk = frame.filter(pl.col("reason").is_null() & pl.col("_rfc"))
    if bulk.height:
        blob = bulk["raw"].str.join("\n").item().encode("utf-8")
        parsed = pl.read_csv(io.BytesIO(blob), has_header=False, separator=delimiter, quote_char='"',
                             infer_schema=False, new_columns=cols)
        del blob
        if parsed.height != bulk.height:  # pragma: no cover - guards the alignment of rows
            raise InputError(f"parser returned {parsed.height} rows for {bulk.height} records; "
                             "please report this file to the maintainers", path=path)
        bulk = pl.concat([bulk, parsed], how="horizontal")
    else:
        bulk = bulk.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in cols])
    stray = frame.filter(pl.col("reason").is_null() & ~pl.col("_rfc"))
    parts = [bulk, _parse_stray_quotes(stray, delimiter, cols)]
    bad = frame.filter(pl.col("reason").is_not_null()).with_columns(
        [pl.lit(None, dtype=pl.String).alias(c) for c in cols]
    )
    out = pl.concat([*parts, bad]).drop("_rfc").sort("source_row")
    return headers, out, encoding, delimiter


def _parse_stray_quotes(stray: pl.DataFrame, delimiter: str, cols: list[str]) -> pl.DataFrame:
    """Records with quotes inside unquoted fields, parsed one by one (there are few of them)."""
    n = len(cols)
    reasons: list[str | None] = []
    cells: list[list[str | None]] = []
    for record in stray["raw"].to_list():
        fields = next(csv.reader([record], delimiter=delimiter), [])
        reasons.append(REJECT_TOO_FEW if len(fields) < n else REJECT_TOO_MANY if len(fields) > n else None)
        cells.append([f if f != "" else None for f in fields[:n]] + [None] * max(0, n - len(fields)))
    values = pl.DataFrame(cells, schema={c: pl.String for c in cols}, orient="row")
    return pl.concat([stray.with_columns(pl.Series("reason", reasons, dtype=pl.String)), values],
                     how="horizontal").with_columns(
        [pl.when(pl.col("reason").is_null()).then(pl.col(c)).alias(c) for c in cols])


def _re_escape(ch: str) -> str:
    return "\\t" if ch == "\t" else ("\\" + ch if ch in "|.^$*+?()[]{}\\" else ch)


def _read_table_source(cfg: SourceConfig, fmt: str) -> tuple[list[str], pl.DataFrame]:
    """XLSX or Parquet: cells as text, one row per sheet row below the header."""
    path = cfg.path
    try:
        if fmt == "xlsx":
            kwargs: dict[str, object] = {"infer_schema_length": 0, "drop_empty_rows": False,
                                         "drop_empty_cols": False}
            if cfg.sheet:
                kwargs["sheet_name"] = cfg.sheet
            df = pl.read_excel(path, **kwargs)  # type: ignore[call-overload]
        else:
            df = pl.read_parquet(path)
    except Exception as e:  # the readers raise many unrelated types for a broken file
        raise InputError(f"cannot be read as {fmt.upper()}: {type(e).__name__}: {e}", path=path) from e
    headers = [str(c).strip() for c in df.columns]
    cols = [f"c{i}" for i in range(len(headers))]
    df = df.rename(dict(zip(df.columns, cols, strict=True)))
    df = df.with_columns(
        [(pl.col(c).dt.strftime("%Y-%m-%d") if df.schema[c] in (pl.Date, pl.Datetime) else pl.col(c))
         .cast(pl.String) for c in cols]
    )
    # Trailing empty rows (formatted but blank cells) are not data rows.
    nonempty = df.select(pl.any_horizontal([pl.col(c).str.strip_chars().str.len_chars() > 0 for c in cols])
                         .fill_null(False)).to_series()
    last = nonempty.arg_true().max()
    df = df.head(0 if last is None else int(last) + 1)  # type: ignore[arg-type]
    raw = pl.struct([pl.col(c).alias(h or f"kolom_{i + 1}") for i, (c, h) in enumerate(zip(cols, headers,
                                                                                             strict=True))])
    blank = ~pl.any_horizontal([pl.col(c).str.strip_chars().str.len_chars() > 0 for c in cols]).fill_null(False)
    df = df.with_row_index("source_row", offset=1).with_columns(
        pl.col("source_row").cast(pl.Int64),
        raw.struct.json_encode().alias("raw"),
        pl.when(blank).then(pl.lit(REJECT_EMPTY_ROW)).otherwise(pl.lit(None, dtype=pl.String)).alias("reason"),
    )
    return headers, df.select("source_row", "raw", "reason", *cols)


def map_headers(headers: list[str], cfg: SourceConfig) -> tuple[dict[str, str], list[str]]:
    """canonical field -> header, and the headers left unused. Fails when the file cannot be a voter list."""
    overrides = {header_key(h): f for f, h in cfg.columns.items()}
    mapping: dict[str, str] = {}
    ignored: list[str] = []
    for h in headers:
        key = header_key(h)
        fld = overrides.get(key) or ALIAS_INDEX.get(key)
        if fld and fld not in mapping:
            mapping[fld] = h
        elif key not in {header_key(x) for x in IGNORED_HEADERS}:
            ignored.append(h)
    if "nama" not in mapping or ("nik" not in mapping and "tanggal_lahir" not in mapping):
        accepted = "; ".join(f"{f}: {', '.join(a)}" for f, a in HEADER_ALIASES.items())
        lacking = "nama" if "nama" not in mapping else "both nik and tanggal_lahir"
        raise InputError(
            f"no column for {lacking}. Headers found: {headers}. Accepted headers (case, spaces and "
            f"punctuation ignored): {accepted}. Map other headers with [sources.columns], e.g. "
            f'nama = "NAMA ANDA".', path=cfg.path, row=0)
    return mapping, ignored


def read_source(cfg: SourceConfig, regions: RegionTable) -> tuple[RawSource, str, str | None, str | None]:
    """Read one source into canonical text columns. Returns (raw source, format, encoding, delimiter)."""
    suffix = cfg.path.suffix.lower()
    encoding: str | None = None
    delimiter: str | None = None
    if suffix in (".xlsx", ".xlsm"):
        fmt = "xlsx"
        headers, frame = _read_table_source(cfg, fmt)
    elif suffix in (".parquet", ".pq"):
        fmt = "parquet"
        headers, frame = _read_table_source(cfg, fmt)
    elif suffix in (".csv", ".txt", ".tsv", ""):
        fmt = "csv"
        headers, frame, encoding, delimiter = read_csv_source(cfg)
    else:
        raise InputError(f"unknown file type {suffix!r}; use .csv, .txt, .tsv, .xlsx or .parquet",
                         path=cfg.path)
    mapping, ignored = map_headers(headers, cfg)
    index = {h: i for i, h in enumerate(headers)}
    defaults = {**regions.infer_from_file_name(cfg.path), **cfg.defaults}
    exprs = []
    for f in CANONICAL_FIELDS:
        if f in mapping:
            e = pl.col(f"c{index[mapping[f]]}").str.strip_chars()
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
