"""The review files read back: every decided row of a file checked against what the file showed, and stored.

Every valid row is stored; a row whose record changed since export is stored nowhere, reported as stale
(what changed) and its pair reopened; an invalid row (unknown word, unknown pair, its own record columns
not matching the pair it names, two decisions for one pair) is refused with its file, row and the fix; the
same word again is not stored twice, and a word from an older file than the one its kecamatan decided last
stays in the history only (superseded). All of one import is stored in one transaction, or nothing, with a
line per row in `review_import_log`. Files are decoded and their separator sniffed by `io.text`; what
stands on a pair, and who loses a TPS, is decided in `core.decisions`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from dpt_pipeline.core import decisions
from dpt_pipeline.core.decisions import DECISION_SCHEMA, KEPUTUSAN
from dpt_pipeline.errors import InputError
from dpt_pipeline.io.database import replace_table
from dpt_pipeline.io.files import check_regular
from dpt_pipeline.io.hashing import sha256_file
from dpt_pipeline.io.spreadsheet import unneutralised
from dpt_pipeline.io.text import decode, separator
from dpt_pipeline.review import sheet as review_sheet
from dpt_pipeline.review.exports import summary
from dpt_pipeline.review.state import (
    EXPORTS_SCHEMA,
    LOG_SCHEMA,
    REOPENED_SCHEMA,
    SIDE_FIELDS,
    SIDE_NAMES,
    ReviewState,
    read_state,
    table,
)

# Columns of a row checked against the pair it names: a shifted or pasted row does not match.
IDENTITY = ("sumber", "baris", "nama")
# Outcomes of an imported row (`review_import_log.hasil`).
STORED, UNCHANGED, SUPERSEDED, STALE, REFUSED = "disimpan", "tidak berubah", "tersusul", "usang", "ditolak"

@dataclass
class RowNote:
    """A row of an imported file that was not stored as it stands, and why (no cell value quoted)."""

    file: str
    row: int
    field: str
    problem: str
    pair_id: str | None = None

    def __str__(self) -> str:
        return f"file {self.file}, row {self.row}, field {self.field!r}: {self.problem}"


@dataclass
class ImportReport:
    """What an import did with every decided row of its files."""

    stored: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DECISION_SCHEMA))
    same_again: list[RowNote] = field(default_factory=list)
    superseded: list[RowNote] = field(default_factory=list)
    stale: list[RowNote] = field(default_factory=list)
    refused: list[RowNote] = field(default_factory=list)
    conflicts: int = 0          # pairs in conflict after the import
    reopened: int = 0
    files: int = 0
    hashes: dict[Path, str] = field(default_factory=dict)   # each file's sha256 as it was read

    def counts(self) -> dict[str, int]:
        return {"files": self.files, "stored": self.stored.height, "unchanged": len(self.same_again),
                "superseded": len(self.superseded), "stale": len(self.stale), "refused": len(self.refused),
                "conflicts": self.conflicts, "reopened": self.reopened}


def _read_table(path: Path) -> pl.DataFrame:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            # Empty rows kept: a row is numbered as the spreadsheet numbers it, also below a cleared one.
            try:
                return pl.read_excel(path, sheet_name=review_sheet.SHEET, infer_schema_length=0, drop_empty_rows=False)
            except ValueError:   # no sheet of that name (a file made otherwise): its first sheet
                return pl.read_excel(path, sheet_id=1, infer_schema_length=0, drop_empty_rows=False)
        except Exception as e:  # the reader raises many types for a broken file
            raise InputError(f"cannot be read as XLSX ({type(e).__name__})", path=path) from None
    text, _ = decode(path.read_bytes(), path, strict=False)
    sep = separator(text.split("\n", 1)[0])
    try:
        return pl.read_csv(io.StringIO(text), separator=sep, infer_schema=False)
    except pl.exceptions.PolarsError as e:
        raise InputError(f"cannot be read as CSV ({type(e).__name__})", path=path) from None


def _clean_text(e: pl.Expr) -> pl.Expr:
    """A cell as written, compared loosely: the leading `'` of a neutralised cell, spaces and case dropped;
    a number Calc wrote as 45.0 is 45."""
    return (e.cast(pl.String).str.strip_chars().str.strip_prefix("'").str.to_uppercase()
            .str.replace_all(r"\s+", " ").str.replace(r"^(\d+)\.0+$", "${1}"))


def _file_rows(path: Path) -> pl.DataFrame:
    """The decided rows of one file: baris (as a spreadsheet numbers it), pair_id, keputusan, catatan,
    ekspor, berkas and the identity columns present."""
    if not path.is_file():
        raise InputError("does not exist", path=path)
    df = _read_table(path)
    # Headers as a camat may retype them; two that read the same are ambiguous when the import reads them,
    # and dropped otherwise.
    names = [c.strip().lower().lstrip("\ufeff") for c in df.columns]
    twice = {n for n in names if names.count(n) > 1}
    read = {"pair_id", "keputusan", "catatan", "ekspor", "berkas", *(f"{c}_{i}" for c in IDENTITY for i in (1, 2))}
    if twice & read:
        raise InputError(f"columns {sorted(twice & read)} appear more than once; keep one of each", path=path, row=1)
    df = df.select([c for c, n in zip(df.columns, names, strict=True) if n not in twice]).rename(
        {c: n for c, n in zip(df.columns, names, strict=True) if n not in twice})
    missing = [c for c in ("pair_id", "keputusan") if c not in df.columns]
    if missing:
        raise InputError(f"missing columns {missing}; the file must keep the columns of the exported review "
                         "file", path=path, row=1)
    if not any(f"nama_{i}" in df.columns for i in (1, 2)):
        raise InputError("missing columns nama_1 and nama_2, needed to check each decision against its pair; "
                         "import the file as it was exported", path=path, row=1)
    extra = [c for c in ("catatan", "ekspor", "berkas") if c not in df.columns]
    df = df.with_columns([pl.lit(None, pl.String).alias(c) for c in extra])
    ident = [f"{c}_{i}" for c in IDENTITY for i in (1, 2) if f"{c}_{i}" in df.columns]
    df = df.with_row_index("baris", offset=2).select(
        pl.col("baris").cast(pl.Int64), pl.col("pair_id").str.strip_chars(),
        pl.col("keputusan").str.to_uppercase().str.replace_all(r"\s", "").alias("keputusan"),
        unneutralised(pl.col("catatan").str.strip_chars()), pl.col("ekspor").str.strip_chars(),
        pl.col("berkas").str.strip_chars(),
        *[_clean_text(pl.col(c)).alias(f"_f_{c}") for c in ident])
    return df.filter(pl.col("keputusan").is_not_null() & (pl.col("keputusan") != ""))


def _identity_mismatch(rows: pl.DataFrame, shown: pl.DataFrame) -> pl.DataFrame:
    """Rows (file, baris) whose own sumber/baris/nama columns match no version of the records of the pair
    they name as a review file showed them, with the first column that differs. (A record can be shown at
    another row on another night, when an identical copy above it left its list.)"""
    rows = rows.with_columns(pl.int_range(pl.len()).alias("_row"))
    checked = rows
    checks = []
    ids = pl.concat([rows.select(pl.col(c).alias("voter_id")) for c in ("voter_id_l", "voter_id_r")]).unique()
    shown = shown.join(ids, on="voter_id", how="semi")    # the records these rows name, only
    for i, side in ((1, "voter_id_l"), (2, "voter_id_r")):
        ref = shown.select(pl.col("voter_id").alias(side),
                           *[_clean_text(pl.col(c)).alias(f"_s_{SIDE_NAMES.get(c, c)}_{i}")
                             for c in ("source", "source_row", "nama")]).unique()
        checked = checked.join(ref, on=side, how="left")
        for c in IDENTITY:
            if f"_f_{c}_{i}" in rows.columns:
                checks.append((f"{c}_{i}", pl.col(f"_f_{c}_{i}").ne_missing(pl.col(f"_s_{c}_{i}"))))
    if not checks:
        return rows.head(0).with_columns(pl.lit(None, pl.String).alias("_kolom"))
    first = pl.lit(None, pl.String)
    for name, bad in reversed(checks):
        first = pl.when(bad).then(pl.lit(name)).otherwise(first)
    verdict = checked.with_columns(first.alias("_kolom")).group_by("_row").agg(
        pl.col("_kolom").is_null().any().alias("_ok"), pl.col("_kolom").drop_nulls().first())
    bad_rows = verdict.filter(~pl.col("_ok")).select("_row", "_kolom")
    return rows.join(bad_rows, on="_row").drop("_row")


def _what_changed(old: pl.DataFrame, voters: pl.DataFrame) -> pl.DataFrame:
    """For records no longer on the roll (old: voter_id + SIDE_FIELDS as shown): the record that took
    their place (same list and row, else same list and NIK) and the fields that changed, by name."""
    cols = [c for c in SIDE_FIELDS if c in old.columns and c in voters.columns]
    old = old.unique("voter_id", keep="last", maintain_order=True)
    now = voters.select(*cols, pl.col("voter_id").alias("_new"))
    # The record now at the same list and row takes its place only when it is plausibly the same record
    # (same NIK or same name): rows below a deleted one slide up, and a stranger is no successor.
    same_name = pl.col("nama").str.to_uppercase().str.strip_chars() == pl.col("_nama_now").str.to_uppercase(
    ).str.strip_chars()
    by_row = (old.join(now.select("source", "source_row", "_new", pl.col("nik").alias("_nik_now"),
                                  pl.col("nama").alias("_nama_now")), on=["source", "source_row"], how="left")
              .with_columns(pl.when((pl.col("nik") == pl.col("_nik_now")).fill_null(False) | same_name.fill_null(False))
                            .then(pl.col("_new")).alias("_new")).drop("_nik_now", "_nama_now"))
    # Of a list's records with that NIK, the first in the file (the voters table has no set row order).
    by_nik = old.join(now.filter(pl.col("nik").is_not_null()).sort("source_row")
                      .unique(["source", "nik"], keep="first", maintain_order=True)
                      .select("source", "nik", pl.col("_new").alias("_new_nik")), on=["source", "nik"], how="left")
    succ = by_row.join(by_nik.select("voter_id", "_new_nik"), on="voter_id", how="left").with_columns(
        pl.coalesce("_new", "_new_nik").alias("_new")).drop("_new_nik")
    cmp = succ.join(now.rename({c: f"{c}_baru" for c in cols}), on="_new", how="left")
    changed = pl.concat_str([pl.when(pl.col(c).cast(pl.String).ne_missing(pl.col(f"{c}_baru").cast(pl.String)))
                             .then(pl.lit(SIDE_NAMES.get(c, c))) for c in cols], separator=", ", ignore_nulls=True)
    return cmp.select("voter_id", pl.col("_new").alias("successor"),
                      pl.when(pl.col("_new").is_null()).then(pl.lit("baris tidak ada lagi di daftarnya"))
                      .otherwise(changed).alias("berubah"))


def read_decisions(paths: Sequence[Path], *, exports: pl.DataFrame, shown: pl.DataFrame, voters: pl.DataFrame,
                   history: pl.DataFrame, imported_at: dt.datetime) -> tuple[ImportReport, pl.DataFrame]:
    """Check every decided row of the files against what was exported and what is on the roll now.
    Returns the report (rows to store in `report.stored`) and the pairs to reopen (REOPENED_SCHEMA)."""
    for p in paths:   # a FIFO or a device would be read forever, under the lock
        check_regular(Path(p), "the review file named on the command line")
    report = ImportReport(files=len(paths))
    report.hashes = {Path(p): sha256_file(Path(p)) for p in paths if Path(p).is_file()}
    frames = []
    for p in paths:
        rows = _file_rows(Path(p)).with_columns(pl.lit(str(p)).alias("file"),
                                                pl.lit(Path(p).stem).alias("_stem"))
        frames.append(rows)
    if not frames:
        return report, pl.DataFrame(schema=REOPENED_SCHEMA)
    rows = pl.concat(frames, how="diagonal_relaxed")

    def refuse(bad: pl.DataFrame, fld: str, problem: str) -> None:
        report.refused += [RowNote(r["file"], r["baris"], fld, problem, r.get("pair_id"))
                           for r in bad.iter_rows(named=True)]

    bad_word = rows.filter(~pl.col("keputusan").is_in(list(KEPUTUSAN)))
    refuse(bad_word, "keputusan", "unknown word; write SAMA, BEDA or RAGU (or leave the cell empty)")
    rows = rows.filter(pl.col("keputusan").is_in(list(KEPUTUSAN)))
    twice = rows.filter(pl.col("keputusan").n_unique().over("file", "pair_id") > 1)
    refuse(twice, "keputusan", "this pair has another decision in another row of the same file; keep one")
    rows = rows.join(twice.select("file", "baris"), on=["file", "baris"], how="anti")
    # Which export the row comes from: its own `ekspor` and `berkas` if known, else the pair's latest export.
    exp = exports.rename({"berkas": "_exp_berkas"})
    exact = rows.join(exp, left_on=["ekspor", "pair_id", "berkas"], right_on=["ekspor", "pair_id", "_exp_berkas"],
                      how="inner", coalesce=False)
    # Without a known export: the pair's export to this file's owner (its `berkas`, else a file named like
    # it), else the pair's only owner. Its time is the earliest export to that owner: an undated row never
    # outranks a dated decision.
    cand = (rows.join(exact.select("file", "baris"), on=["file", "baris"], how="anti")
            .join(exp.drop("ekspor"), on="pair_id", how="inner")
            .with_columns((pl.col("_exp_berkas") == pl.col("berkas")).fill_null(False).alias("_own"),
                          pl.col("_exp_berkas").str.ends_with("/" + pl.col("_stem")).fill_null(False).alias("_named"),
                          pl.col("_exp_berkas").n_unique().over("file", "baris").alias("_owners")))
    cand = cand.with_columns(
        pl.when(pl.col("_own").any().over("file", "baris")).then(pl.col("_own"))
        .when(pl.col("_named").any().over("file", "baris")).then(pl.col("_named"))
        .otherwise(pl.col("_owners") == 1).alias("_pick"))
    ownerless = cand.filter(~pl.col("_pick").any().over("file", "baris")).unique(["file", "baris"], keep="first")
    refuse(ownerless, "berkas", "this pair is in more than one kecamatan's file and this file does not say whose "
                                "it is (column berkas deleted, file renamed): import the file with its berkas "
                                "column, or named after its kecamatan")
    loose = (cand.filter(pl.col("_pick")).sort("diekspor", nulls_last=True)
             .unique(["file", "baris"], keep="first", maintain_order=True)
             .drop("_own", "_named", "_owners", "_pick"))
    found = pl.concat([exact, loose], how="diagonal_relaxed")
    unknown = rows.join(found.select("file", "baris"), on=["file", "baris"], how="anti").join(
        ownerless.select("file", "baris"), on=["file", "baris"], how="anti")
    refuse(unknown, "pair_id", "not a pair any review file listed (was the cell edited, or the row copied "
                               "from another file?); fix pair_id or take the row out")
    # Each row's own record columns must match the pair it names (a shifted or pasted row does not).
    mismatched = _identity_mismatch(found, shown)
    for r in mismatched.iter_rows(named=True):
        report.refused.append(RowNote(r["file"], r["baris"], r["_kolom"],
                                      "does not match the pair this row names (columns shifted, sorted apart "
                                      "or pasted?); put the decision back beside its own pair", r["pair_id"]))
    found = found.join(mismatched.select("file", "baris"), on=["file", "baris"], how="anti").with_columns(
        pl.coalesce("berkas", "_exp_berkas", "_stem").alias("berkas"))
    # One owner, one word per pair in one import.
    split = found.filter(pl.col("keputusan").n_unique().over("berkas", "pair_id") > 1)
    refuse(split, "keputusan", "another file of the same kecamatan in this import says otherwise on this pair; "
                               "import one of them")
    found = found.join(split.select("file", "baris"), on=["file", "baris"], how="anti")
    # Stale: a record of the pair is no longer on the roll as it was shown.
    on_roll = voters.select("voter_id")
    named = on_roll.join(pl.concat([found.select(pl.col(c).alias("voter_id")) for c in ("voter_id_l", "voter_id_r")]),
                         on="voter_id", how="semi")["voter_id"].implode()    # of the roll, the records named here
    gone = found.filter(~pl.col("voter_id_l").is_in(named) | ~pl.col("voter_id_r").is_in(named))
    reopened = pl.DataFrame(schema=REOPENED_SCHEMA)
    if gone.height:
        ids = pl.concat([gone.select(pl.col(c).alias("voter_id")) for c in ("voter_id_l", "voter_id_r")]).unique()
        old = shown.join(ids, on="voter_id", how="semi").join(on_roll, on="voter_id", how="anti")
        changed = _what_changed(old, voters)
        g = gone
        for i, side in ((1, "voter_id_l"), (2, "voter_id_r")):
            g = g.join(changed.rename({"voter_id": side, "successor": f"_succ{i}", "berubah": f"_chg{i}"}),
                       on=side, how="left")
        g = g.with_columns(pl.coalesce("_succ1", "voter_id_l").alias("_n1"),
                           pl.coalesce("_succ2", "voter_id_r").alias("_n2"),
                           pl.concat_str([pl.when(pl.col("_chg1").is_not_null()).then(
                               pl.concat_str([pl.lit("record 1: "), pl.col("_chg1")])),
                               pl.when(pl.col("_chg2").is_not_null()).then(
                               pl.concat_str([pl.lit("record 2: "), pl.col("_chg2")]))],
                               separator="; ", ignore_nulls=True).alias("_what"))
        for r in g.iter_rows(named=True):
            report.stale.append(RowNote(r["file"], r["baris"], "pair_id",
                                        f"a record changed since export ({r['_what'] or 'changed'}); not stored, "
                                        "the pair comes back in the next review files", r["pair_id"]))
        both_found = g.filter(pl.col("_n1").is_in(on_roll["voter_id"].implode())
                              & pl.col("_n2").is_in(on_roll["voter_id"].implode()) & (pl.col("_n1") != pl.col("_n2")))
        reopened = both_found.select(
            pl.col("pair_id").alias("pair_id_lama"), pl.min_horizontal("_n1", "_n2").alias("voter_id_l"),
            pl.max_horizontal("_n1", "_n2").alias("voter_id_r"), pl.col("_what").alias("berubah"),
            pl.col("keputusan").alias("keputusan_lama"), "file", "baris", pl.lit(imported_at).alias("dibuka_at"),
        ).unique(["voter_id_l", "voter_id_r"], keep="first", maintain_order=True).cast(REOPENED_SCHEMA)  # type: ignore[arg-type]
        report.reopened = reopened.height
        found = found.join(gone.select("file", "baris"), on=["file", "baris"], how="anti")
    # Against each owner's current word: the same again is not stored twice; an older file's word is kept in
    # the history but does not replace a newer export's.
    cur = decisions.current_by_owner(history).select(
        "pair_id", "berkas", pl.col("keputusan").alias("_cur"), pl.col("catatan").alias("_cur_note"),
        pl.col("diekspor").alias("_cur_when"))
    found = found.join(cur, on=["pair_id", "berkas"], how="left")
    same = found.filter((pl.col("_cur") == pl.col("keputusan")) & pl.col("_cur_note").eq_missing(pl.col("catatan")))
    report.same_again = [RowNote(r["file"], r["baris"], "keputusan", "the same word and note as before",
                                 r["pair_id"]) for r in same.iter_rows(named=True)]
    found = found.join(same.select("file", "baris"), on=["file", "baris"], how="anti")
    # The same word again on a pair of the same owner in this import (a row doubled, a file imported twice):
    # stored once, from one of the rows; the others are reported, not dropped unseen.
    again = found.filter(pl.int_range(pl.len()).over("berkas", "pair_id") > 0)
    report.same_again += [RowNote(r["file"], r["baris"], "keputusan", "the same word on this pair as another row "
                                  "of this import; stored once", r["pair_id"])
                          for r in again.iter_rows(named=True)]
    found = found.join(again.select("file", "baris"), on=["file", "baris"], how="anti")
    older = found.filter(pl.col("_cur").is_not_null() & (pl.col("_cur_when") > pl.col("diekspor")))
    report.superseded = [RowNote(r["file"], r["baris"], "keputusan",
                                 "a newer file of the same kecamatan already decided this pair otherwise; kept "
                                 "in the history, the newer decision stands", r["pair_id"])
                         for r in older.iter_rows(named=True)]
    stored = found.select(
        "pair_id", "voter_id_l", "voter_id_r", "keputusan", "catatan", "file", "baris",
        pl.lit(imported_at).alias("imported_at"), "berkas", "diekspor").cast(DECISION_SCHEMA)  # type: ignore[arg-type]
    report.stored = stored
    after = decisions.standing(pl.concat([decisions.history_frame(history), stored]))
    report.conflicts = int((after["keputusan"] == decisions.KONFLIK).sum())
    report.refused.sort(key=lambda n: (n.file, n.row))
    return report, reopened


def log_rows(report: ImportReport, imported_at: dt.datetime) -> pl.DataFrame:
    """review_import_log rows: every decided row of the import with its outcome (one row each)."""
    older = {(n.file, n.row) for n in report.superseded}
    rows = [{"imported_at": imported_at, "file": n.file, "baris": n.row, "pair_id": n.pair_id, "hasil": kind,
             "kolom": n.field, "pesan": n.problem}
            for kind, notes in ((REFUSED, report.refused), (STALE, report.stale), (SUPERSEDED, report.superseded),
                                (UNCHANGED, report.same_again))
            for n in notes]
    stored = report.stored.filter(~pl.struct("file", "baris").is_in(
        pl.Series([{"file": f, "baris": b} for f, b in older], dtype=pl.Struct({"file": pl.String, "baris": pl.Int64}))
        .implode())).select(pl.lit(imported_at).alias("imported_at"), "file", "baris", "pair_id",
                            pl.lit(STORED).alias("hasil"), pl.lit("keputusan").alias("kolom"),
                            pl.col("keputusan").alias("pesan"))
    return pl.concat([pl.DataFrame(rows, schema=LOG_SCHEMA), stored.cast(LOG_SCHEMA)])  # type: ignore[arg-type]


def import_files(paths: Sequence[Path], database: Path, *, imported_at: dt.datetime | None = None
                 ) -> tuple[ImportReport, ReviewState]:
    """Check the files and store their good decisions in the database at `database` (a staged copy), with
    the import log, the reopened pairs and a fresh review_summary: one transaction. Returns the report and
    the database's review state after the import."""
    if not database.exists():
        raise InputError("no published database yet: run `dpt run` first", path=database)
    when = imported_at or dt.datetime.now().replace(microsecond=0)
    con = duckdb.connect(str(database))
    try:
        state = read_state(con, database)
        voters = state.voters
        # Files exported before pairs were remembered: the current pairs and records stand in.
        legacy = state.pairs.join(state.exports.select("pair_id"), on="pair_id", how="anti").with_columns(
            pl.lit(None, pl.String).alias("ekspor"), pl.lit(None, pl.String).alias("berkas"),
            pl.lit(None, pl.Datetime("us")).alias("diekspor"), pl.lit(None, pl.String).alias("status"))
        exports = pl.concat([state.exports, legacy.select(list(EXPORTS_SCHEMA)).cast(EXPORTS_SCHEMA)])  # type: ignore[arg-type]
        fields = [c for c in SIDE_FIELDS if c in voters.columns]
        key = [c for c in ("voter_id", "source", "source_row") if c in state.shown.columns]
        unseen = voters.select("voter_id", *fields).join(state.shown.select(key), on=key, how="anti")
        shown = pl.concat([state.shown.select(["voter_id", *[c for c in fields if c in state.shown.columns]]),
                           unseen], how="diagonal_relaxed")
        report, reopened = read_decisions(paths, exports=exports, shown=shown, voters=voters,
                                          history=state.history, imported_at=when)
        state.history = pl.concat([state.history, report.stored])
        state.reopened = pl.concat([state.reopened, reopened])
        con.execute("BEGIN TRANSACTION")
        replace_table(con, "review_decisions", state.history)
        replace_table(con, "review_reopened", state.reopened)
        replace_table(con, "review_import_log", pl.concat([table(con, "review_import_log", LOG_SCHEMA),
                                                          log_rows(report, when)]))
        replace_table(con, "review_summary", summary(state.pairs, voters, state.history, state.names))
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return report, state
