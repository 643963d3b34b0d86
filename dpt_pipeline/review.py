"""Stage: review. The camat's side of the loop.

Export: after every run, one file per kecamatan (`reports/review/<kabupaten>/<kecamatan>.csv`) with the
candidate pairs still undecided at or above the review threshold in which at least one record lies in
that kecamatan (a pair across a border is in both camat's files), strongest first. `;` separated, UTF-8
with BOM, so Excel in Indonesian settings opens it as it is. NIK and NKK are masked unless the config
says otherwise. The reviewer writes SAMA (one person), BEDA (two people) or RAGU (unsure) in `keputusan`.

Import: `dpt review import` reads those files back (either separator, with or without BOM, Windows-1252,
or .xlsx), checks them whole (a file with an unknown pair, a missing column, an unknown word or two
decisions for one pair is refused with its file, row and problem; nothing of it is kept) and appends the
decisions to `review_decisions`. The latest decision on a pair counts; the history stays.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from dpt_pipeline.errors import InputError
from dpt_pipeline.publish import FILE_MODE, write_csv_for_excel

SAMA, BEDA, RAGU = "SAMA", "BEDA", "RAGU"
KEPUTUSAN = (SAMA, BEDA, RAGU)
DECISION_SCHEMA: dict[str, pl.DataType] = {
                   "pair_id": pl.String(), "voter_id_l": pl.String(), "voter_id_r": pl.String(),
                   "keputusan": pl.String(), "catatan": pl.String(), "file": pl.String(), "baris": pl.Int64(),
                   "imported_at": pl.Datetime("us")}
SIDE_FIELDS = ("source", "source_row", "nama", "nik", "tanggal_lahir", "jenis_kelamin", "nkk", "alamat", "rt",
               "rw", "desa", "kecamatan", "kabupaten", "tps")
# Column names a reviewer reads, Indonesian; `_1` and `_2` for the two records.
SIDE_NAMES = {"source": "sumber", "source_row": "baris"}
REQUIRED_COLUMNS = ("pair_id", "keputusan", "catatan")


def slug(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "tidak dikenal").lower()).strip("-") or "tidak-dikenal"


def mask_number(col: str) -> pl.Expr:
    """First 6 and last 4 digits visible: 640813******0001."""
    c = pl.col(col)
    return pl.when(c.str.len_chars() == 16).then(
        pl.concat_str([c.str.slice(0, 6), pl.lit("******"), c.str.slice(12, 4)])).otherwise(
        pl.when(c.is_not_null()).then(pl.lit("(tidak sah)")))


def latest(history: pl.DataFrame) -> pl.DataFrame:
    """The decision that counts for each pair: the latest import's (one import never holds two different
    decisions on a pair: `read_files` refuses them)."""
    if history.height == 0:
        return history
    return (history.sort(["imported_at", "baris"]).group_by("pair_id", maintain_order=True).last()
            .select(list(DECISION_SCHEMA)))


def _region_names(voters: pl.DataFrame, names: dict[str, str]) -> pl.DataFrame:
    """voter_id with the canonical kabupaten and kecamatan names (Kemendagri table), else as written."""
    def canon(code: str, text: str) -> pl.Expr:
        return pl.coalesce(pl.col(code).replace_strict(names, default=None, return_dtype=pl.String),
                           pl.col(text).str.to_uppercase(), pl.lit("TIDAK DIKENAL"))
    return voters.select("voter_id", canon("kode_kabupaten", "kabupaten").alias("_kab"),
                         canon("kode_kecamatan", "kecamatan").alias("_kec"))


def review_rows(pairs: pl.DataFrame, voters: pl.DataFrame, decisions: pl.DataFrame, names: dict[str, str], *,
                show_nik: bool) -> pl.DataFrame:
    """The undecided pairs (no SAMA or BEDA yet; RAGU is asked again) with both records side by side,
    plus `_kab_1`, `_kec_1`, `_kab_2`, `_kec_2` (canonical region names) for splitting into files."""
    decided = latest(decisions).filter(pl.col("keputusan").is_in([SAMA, BEDA]))
    open_pairs = pairs.join(decided.select("pair_id"), on="pair_id", how="anti")
    voters = voters.join(_region_names(voters, names), on="voter_id", how="left")
    sides = voters.select("voter_id", *SIDE_FIELDS, "_kec", "_kab").with_columns(
        pl.col("tanggal_lahir").dt.strftime("%d-%m-%Y"),
        *([] if show_nik else [mask_number("nik").alias("nik"), mask_number("nkk").alias("nkk")]))
    out = open_pairs.select("pair_id", (pl.col("match_probability") * 100).round(1).alias("skor"), "alasan",
                            "voter_id_l", "voter_id_r")
    for i, side in ((1, "voter_id_l"), (2, "voter_id_r")):
        renamed = sides.rename({c: f"{SIDE_NAMES.get(c, c)}_{i}" for c in SIDE_FIELDS} |
                               {"voter_id": side, "_kec": f"_kec_{i}", "_kab": f"_kab_{i}"})
        out = out.join(renamed, on=side, how="left")
    return out.with_columns(pl.lit(None, dtype=pl.String).alias("keputusan"),
                            pl.lit(None, dtype=pl.String).alias("catatan"))


def file_columns() -> list[str]:
    sides = [f"{SIDE_NAMES.get(c, c)}_{i}" for i in (1, 2) for c in SIDE_FIELDS]
    return ["pair_id", "skor", "alasan", *sides, "keputusan", "catatan"]


def export(pairs: pl.DataFrame, voters: pl.DataFrame, decisions: pl.DataFrame, folder: Path,
           names: dict[str, str], *, show_nik: bool = False, xlsx: bool = False) -> list[Path]:
    """Write the review files (one per kecamatan of either record); returns their paths. The files of
    the previous run in `folder` are replaced."""
    rows = review_rows(pairs, voters, decisions, names, show_nik=show_nik)
    per_side = pl.concat([rows.with_columns(pl.col(f"_kab_{i}").alias("_kab"), pl.col(f"_kec_{i}").alias("_kec"))
                          for i in (1, 2)]).unique(subset=["pair_id", "_kab", "_kec"], maintain_order=True)
    if folder.exists():
        for old in [*folder.glob("*/*.csv"), *folder.glob("*/*.xlsx")]:
            old.unlink()
    paths = []
    for (kab, kec), part in per_side.group_by(["_kab", "_kec"], maintain_order=True):
        part = part.sort(["skor", "desa_1", "pair_id"], descending=[True, False, False]).select(file_columns())
        base = folder / slug(str(kab)) / slug(str(kec))
        paths.append(write_csv_for_excel(part, base.with_suffix(".csv")))
        if xlsx:
            paths.append(write_xlsx(part, base.with_suffix(".xlsx")))
    return sorted(paths)


def write_xlsx(frame: pl.DataFrame, path: Path) -> Path:
    """The review file as .xlsx: frozen header, column widths, a drop-down of the decision words."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "review"
    ws.append(frame.columns)
    for row in frame.iter_rows():
        ws.append(list(row))
    ws.freeze_panes = "A2"
    for i, col in enumerate(frame.columns, start=1):
        longest = max([len(col), *(len(str(v)) for v in frame[col].head(200).to_list() if v is not None)])
        ws.column_dimensions[get_column_letter(i)].width = min(max(8, longest + 2), 60)
    k = frame.columns.index("keputusan") + 1
    dv = DataValidation(type="list", formula1=f'"{",".join(KEPUTUSAN)}"', allow_blank=True)
    dv.add(f"{get_column_letter(k)}2:{get_column_letter(k)}{max(frame.height + 1, 2)}")
    ws.add_data_validation(dv)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    path.chmod(FILE_MODE)
    return path


def summary(pairs: pl.DataFrame, voters: pl.DataFrame, decisions: pl.DataFrame, names: dict[str, str]
            ) -> pl.DataFrame:
    """Per kecamatan: pairs open, and decided SAMA, BEDA, RAGU (a pair counts in both sides' kecamatan)."""
    dec = latest(decisions).select("pair_id", "keputusan")
    where = _region_names(voters, names)
    both = pl.concat([pairs.select("pair_id", pl.col(c).alias("voter_id")) for c in ("voter_id_l", "voter_id_r")])
    per = (both.join(where, on="voter_id", how="left").unique(["pair_id", "_kab", "_kec"])
           .join(dec, on="pair_id", how="left"))
    return (per.group_by(pl.col("_kab").alias("kabupaten"), pl.col("_kec").alias("kecamatan")).agg(
        (pl.col("keputusan").is_null() | (pl.col("keputusan") == RAGU)).sum().alias("terbuka"),
        (pl.col("keputusan") == SAMA).sum().alias("sama"),
        (pl.col("keputusan") == BEDA).sum().alias("beda"),
        (pl.col("keputusan") == RAGU).sum().alias("ragu"),
    ).sort("kabupaten", "kecamatan"))


def _read_table(path: Path) -> pl.DataFrame:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            return pl.read_excel(path, infer_schema_length=0)
        except Exception as e:  # the reader raises many types for a broken file
            raise InputError(f"cannot be read as XLSX: {e}", path=path) from e
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    header = text.split("\n", 1)[0]
    sep = ";" if header.count(";") >= header.count(",") else ","
    try:
        return pl.read_csv(io.StringIO(text), separator=sep, infer_schema=False)
    except pl.exceptions.PolarsError as e:
        raise InputError(f"cannot be read as CSV: {e}", path=path) from e


def read_file(path: Path, known: pl.DataFrame, imported_at: dt.datetime) -> pl.DataFrame:
    """Validated decisions of one review file (DECISION_SCHEMA); undecided rows are left out.

    `known` holds pair_id, voter_id_l, voter_id_r of every pair the database lists. Rows are numbered as
    a spreadsheet shows them (the header is row 1).
    """
    if not path.is_file():
        raise InputError("does not exist", path=path)
    df = _read_table(path)
    df = df.rename({c: c.strip().lower().lstrip("\ufeff") for c in df.columns})
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"missing columns {missing}; the file must keep the columns of the exported review "
                         f"file (found {df.columns})", path=path, row=1)
    df = df.with_row_index("baris", offset=2).select(
        pl.col("baris").cast(pl.Int64), pl.col("pair_id").str.strip_chars(),
        pl.col("keputusan").str.to_uppercase().str.replace_all(r"\s", "").alias("keputusan"),
        pl.col("catatan").str.strip_chars())
    df = df.with_columns(pl.when(pl.col("keputusan") == "").then(None).otherwise(pl.col("keputusan"))
                         .alias("keputusan"))
    bad = df.filter(pl.col("keputusan").is_not_null() & ~pl.col("keputusan").is_in(list(KEPUTUSAN)))
    if bad.height:
        r = bad.row(0, named=True)
        raise InputError(f"unknown decision {r['keputusan']!r}; write SAMA, BEDA or RAGU (or leave it empty)",
                         path=path, row=r["baris"], field="keputusan")
    decided = df.filter(pl.col("keputusan").is_not_null())
    unknown = decided.join(known, on="pair_id", how="anti")
    if unknown.height:
        r = unknown.row(0, named=True)
        raise InputError(f"unknown pair_id {r['pair_id']!r}: not a pair of the current database (was the file "
                         "edited, or is it from another run?)", path=path, row=r["baris"], field="pair_id")
    conflicts = decided.group_by("pair_id").agg(pl.col("keputusan").n_unique().alias("n"), pl.col("baris").max())
    conflicts = conflicts.filter(pl.col("n") > 1)
    if conflicts.height:
        r = conflicts.row(0, named=True)
        raise InputError(f"pair {r['pair_id']!r} has two different decisions", path=path, row=r["baris"],
                         field="keputusan")
    out = decided.unique("pair_id", keep="first", maintain_order=True).join(known, on="pair_id", how="left")
    return out.with_columns(pl.lit(str(path)).alias("file"), pl.lit(imported_at).alias("imported_at")
                            ).select(list(DECISION_SCHEMA)).cast(DECISION_SCHEMA)  # type: ignore[arg-type]


def read_files(paths: Sequence[Path], known: pl.DataFrame, imported_at: dt.datetime | None = None
               ) -> pl.DataFrame:
    """Every file checked before any is kept: one bad file refuses the import."""
    when = imported_at or dt.datetime.now().replace(microsecond=0)
    frames = [read_file(Path(p), known, when) for p in paths]
    if not frames:
        return pl.DataFrame(schema=DECISION_SCHEMA)
    both = pl.concat(frames)
    # A pair across a border is in two camats' files; they must agree.
    split = (both.group_by("pair_id").agg(pl.col("keputusan").n_unique().alias("n"), pl.col("file"), pl.col("baris"))
             .filter(pl.col("n") > 1))
    if split.height:
        r = split.row(0, named=True)
        places = ", ".join(f"{f} row {b}" for f, b in zip(r["file"], r["baris"], strict=True))
        raise InputError(f"pair {r['pair_id']!r} has different decisions in {places}; settle it in one file",
                         path=r["file"][0], row=r["baris"][0], field="keputusan")
    return both.unique("pair_id", keep="first", maintain_order=True)


def _names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    regions = con.sql("SELECT kode, nama FROM regions").pl()
    return dict(zip(regions["kode"].to_list(), regions["nama"].to_list(), strict=True))


def _require_run(con: duckdb.DuckDBPyConnection, database: Path) -> None:
    found = con.sql("SELECT count(*) FROM information_schema.tables WHERE table_name = 'duplicate_pairs'"
                    ).fetchall()
    if not found[0][0]:
        raise InputError("the database holds no duplicate pairs (only `dpt ingest` ran?): run `dpt run` first",
                         path=database)


def _history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    found = con.sql("SELECT count(*) FROM information_schema.tables WHERE table_name = 'review_decisions'"
                    ).fetchall()
    if not found[0][0]:
        return pl.DataFrame(schema=DECISION_SCHEMA)
    return con.sql("SELECT * FROM review_decisions").pl().cast(DECISION_SCHEMA)  # type: ignore[arg-type]


def import_files(paths: Sequence[Path], database: Path) -> pl.DataFrame:
    """Check the files and append their decisions to `review_decisions` in the published database; the
    per-kecamatan summary is brought up to date. Returns the decisions imported."""
    if not database.exists():
        raise InputError("no published database yet: run `dpt run` first", path=database)
    con = duckdb.connect(str(database))
    try:
        _require_run(con, database)
        known = con.sql("SELECT pair_id, voter_id_l, voter_id_r FROM duplicate_pairs").pl()
        new = read_files(paths, known)
        history = pl.concat([_history(con), new])
        con.register("_history", history)
        con.execute("CREATE OR REPLACE TABLE review_decisions AS SELECT * FROM _history")
        pairs = con.sql("SELECT * FROM duplicate_pairs").pl()
        voters = con.sql("SELECT voter_id, kabupaten, kecamatan, kode_kabupaten, kode_kecamatan FROM voters").pl()
        con.register("_summary", summary(pairs, voters, history, _names(con)))
        con.execute("CREATE OR REPLACE TABLE review_summary AS SELECT * FROM _summary")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return new


def export_from_database(database: Path, folder: Path, *, show_nik: bool, xlsx: bool) -> list[Path]:
    """`dpt review export`: the review files again from the published database and its decisions."""
    if not database.exists():
        raise InputError("no published database yet: run `dpt run` first", path=database)
    con = duckdb.connect(str(database), read_only=True)
    try:
        _require_run(con, database)
        pairs = con.sql("SELECT * FROM duplicate_pairs").pl()
        voters = con.sql("SELECT * FROM voters").pl()
        return export(pairs, voters, _history(con), folder, _names(con), show_nik=show_nik, xlsx=xlsx)
    finally:
        con.close()
