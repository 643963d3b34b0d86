"""Stage: review. The camat's side of the loop: the files they decide in, and their decisions read back.

Export: after every run (and after every import), one file per kecamatan of either record
(`reports/review/<kabupaten>/<kecamatan>.xlsx`, a `.csv` beside it) with the pairs a person should look at:
undecided pairs at or above the review threshold, RAGU pairs (with their note), pairs in conflict and
pairs reopened because a record changed since it was decided. Layout and cell types: `review_sheet`.
Every pair written is remembered in `review_exports` (its two voter_ids, the export and the file), and the
records as they were shown in `review_exported_voters`, so a decision can be read back from a file of any
night.

Import: every valid row is stored; a row whose record changed since export is stored nowhere, reported
as stale (what changed) and its pair reopened; an invalid row (unknown word, unknown pair, its own record
columns not matching the pair it names, two decisions for one pair) is refused with its file, row and the
fix. All of one import is stored in one transaction, or nothing. What stands on a pair, and who loses a
TPS, is decided in `decisions`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from dpt_pipeline.core import decisions
from dpt_pipeline.core.decisions import BEDA, DECISION_SCHEMA, KEPUTUSAN, RAGU, SAMA
from dpt_pipeline.errors import InputError
from dpt_pipeline.io.database import has_table, replace_table
from dpt_pipeline.io.files import check_regular
from dpt_pipeline.io.hashing import sha256_file
from dpt_pipeline.io.text import decode, separator
from dpt_pipeline.review import sheet as review_sheet

log = logging.getLogger(__name__)

SIDE_FIELDS = ("source", "source_row", "nama", "nik", "tanggal_lahir", "jenis_kelamin", "tempat_lahir", "nkk",
               "alamat", "rt", "rw", "desa", "kecamatan", "kabupaten", "tps")
SIDE_NAMES = {"source": "sumber", "source_row": "baris"}
# Columns of a row checked against the pair it names: a shifted or pasted row does not match.
IDENTITY = ("sumber", "baris", "nama")
MANIFEST = ".ekspor.json"
ASIDE = "review-diubah"         # beside review/: files a reviewer edited in place, kept before a new export
STATUS_BARU = "BARU"
STATUS_DIBUKA = "DIBUKA LAGI: data berubah sejak diputuskan"
EXPORTS_SCHEMA: dict[str, pl.DataType] = {
    "ekspor": pl.String(), "berkas": pl.String(), "diekspor": pl.Datetime("us"), "pair_id": pl.String(),
    "voter_id_l": pl.String(), "voter_id_r": pl.String(), "match_probability": pl.Float64(),
    "alasan": pl.String(), "status": pl.String()}
REOPENED_SCHEMA: dict[str, pl.DataType] = {
    "pair_id_lama": pl.String(), "voter_id_l": pl.String(), "voter_id_r": pl.String(), "berubah": pl.String(),
    "keputusan_lama": pl.String(), "file": pl.String(), "baris": pl.Int64(), "dibuka_at": pl.Datetime("us")}
LOG_SCHEMA: dict[str, pl.DataType] = {
    "imported_at": pl.Datetime("us"), "file": pl.String(), "baris": pl.Int64(), "pair_id": pl.String(),
    "hasil": pl.String(), "kolom": pl.String(), "pesan": pl.String()}
# Outcomes of an imported row (`review_import_log.hasil`).
STORED, UNCHANGED, SUPERSEDED, STALE, REFUSED = "disimpan", "tidak berubah", "tersusul", "usang", "ditolak"
REVIEW_TABLES = ("review_decisions", "review_exports", "review_exported_voters", "review_reopened",
                 "review_import_log")


def slug(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "tidak dikenal").lower()).strip("-") or "tidak-dikenal"


def mask_number(col: str) -> pl.Expr:
    """First 6 and last 4 digits visible: 640813******0001."""
    c = pl.col(col)
    return pl.when(c.str.len_chars() == 16).then(
        pl.concat_str([c.str.slice(0, 6), pl.lit("******"), c.str.slice(12, 4)])).otherwise(
        pl.when(c.is_not_null()).then(pl.lit("(tidak sah)")))


NIK_PARTS = (("provinsi", 0, 2), ("kabupaten", 2, 4), ("kecamatan", 4, 6), ("tanggal lahir", 6, 12),
             ("nomor urut", 12, 16))


def _nik_ok(col: str) -> pl.Expr:
    return pl.col(col).str.contains(r"^\d{16}$").fill_null(False)


def masked_pair(a: str, b: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Two NIKs (or NKKs) masked so that the evidence stays: the first 6 and last 4 digits shown, the
    middle starred, and `#` where the two differ; plus in words which parts differ (`nik_beda`)."""
    both = _nik_ok(a) & _nik_ok(b)

    def masked(col: str) -> pl.Expr:
        chars = []
        for i in range(16):
            if i < 6 or i >= 12:
                chars.append(pl.col(col).str.slice(i, 1))
            else:
                differs = both & (pl.col(a).str.slice(i, 1) != pl.col(b).str.slice(i, 1))
                chars.append(pl.when(differs).then(pl.lit("#")).otherwise(pl.lit("*")))
        return (pl.when(_nik_ok(col)).then(pl.concat_str(chars))
                .when(pl.col(col).is_not_null()).then(pl.lit("(tidak sah)")))

    parts = []
    n_diff = pl.sum_horizontal([(pl.col(a).str.slice(i, 1) != pl.col(b).str.slice(i, 1)).cast(pl.Int32)
                                for i in range(16)])
    for name, lo, hi in NIK_PARTS:
        digits = [pl.when(pl.col(a).str.slice(i, 1) != pl.col(b).str.slice(i, 1)).then(pl.lit(str(i + 1)))
                  for i in range(lo, hi)]
        listed = pl.concat_str(digits, separator=",", ignore_nulls=True)
        parts.append(pl.when(listed != "").then(pl.concat_str([pl.lit(f"{name} (digit "), listed, pl.lit(")")])))
    words = (pl.when(pl.col(a).is_null() | pl.col(b).is_null()).then(pl.lit("salah satu kosong"))
             .when(~both).then(pl.lit("salah satu tidak sah"))
             .when(pl.col(a) == pl.col(b)).then(pl.lit("sama"))
             .when(n_diff > 8).then(pl.concat_str([pl.lit("beda di "), n_diff.cast(pl.String),
                                                   pl.lit(" dari 16 digit (NIK lain)")]))
             .otherwise(pl.concat_str([pl.lit("beda: "), pl.concat_str(parts, separator="; ", ignore_nulls=True)])))
    return masked(a), masked(b), words


def _region_names(voters: pl.DataFrame, names: dict[str, str]) -> pl.DataFrame:
    """voter_id with the canonical kabupaten and kecamatan names (Kemendagri table), else as written."""
    def canon(code: str, text: str) -> pl.Expr:
        return pl.coalesce(pl.col(code).replace_strict(names, default=None, return_dtype=pl.String),
                           pl.col(text).str.to_uppercase(), pl.lit("TIDAK DIKENAL"))
    return voters.select("voter_id", canon("kode_kabupaten", "kabupaten").alias("_kab"),
                         canon("kode_kecamatan", "kecamatan").alias("_kec"))


def berkas_of(kab: pl.Expr, kec: pl.Expr) -> pl.Expr:
    """The file owner key, `kutai-timur/teluk-pandan`: which camat's file a row is in."""
    def s(e: pl.Expr) -> pl.Expr:
        return (e.fill_null("tidak dikenal").str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "-")
                .str.strip_chars("-"))
    return pl.concat_str([s(kab), pl.lit("/"), s(kec)])


@dataclass
class Exported:
    """What `export` wrote: the files, and the rows to remember in `review_exports` and
    `review_exported_voters`."""

    paths: list[Path]
    exports: pl.DataFrame
    shown: pl.DataFrame


def review_rows(pairs: pl.DataFrame, voters: pl.DataFrame, history: pl.DataFrame, attention: pl.DataFrame,
                names: dict[str, str], ranks: pl.DataFrame, reasons: Sequence[str], *, show_nik: bool
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per pair and file (berkas): the review file's columns plus `_berkas`, `_kab`, `_kec`,
    `voter_id_l`, `voter_id_r`, and the `_differ_*` flags. Returns (rows, the records shown).

    `pairs`: pair_id, voter_id_l, voter_id_r, match_probability, alasan (what the run scored);
    `attention`: decided pairs that go back to a reviewer (decisions.ATTENTION_SCHEMA); `ranks`:
    decisions.rule_columns of the voters; `reasons`: the keep rules' reasons, in order."""
    standing = decisions.standing(history)
    settled = standing.filter(pl.col("keputusan").is_in([SAMA, BEDA])).select("pair_id")
    info = pairs.select("pair_id", "voter_id_l", "voter_id_r", "match_probability", "alasan")
    fresh = (info.join(settled, on="pair_id", how="anti").join(attention.select("pair_id"), on="pair_id", how="anti")
             .with_columns(pl.lit(STATUS_BARU).alias("status")))
    again = attention.join(info.drop("voter_id_l", "voter_id_r"), on="pair_id", how="left")
    base = pl.concat([fresh, again.select(fresh.columns)])
    fields = [c for c in SIDE_FIELDS if c in voters.columns]
    sides = voters.select("voter_id", *fields).join(_region_names(voters, names), on="voter_id", how="left")
    out = base
    for i, side in ((1, "voter_id_l"), (2, "voter_id_r")):
        renamed = sides.rename({c: f"{SIDE_NAMES.get(c, c)}_{i}" for c in fields} |
                               {"voter_id": side, "_kec": f"_kec_{i}", "_kab": f"_kab_{i}"})
        out = out.join(renamed, on=side, how="left")
        out = out.join(ranks.rename({c: f"{c}_{i}" for c in ranks.columns if c != "voter_id"} | {"voter_id": side}),
                       on=side, how="left")
    # Fields that differ, on the values as written (before masking).
    def norm(c: str) -> pl.Expr:
        return pl.col(c).cast(pl.String).str.to_uppercase().str.replace_all(r"\s+", " ").str.strip_chars()
    differ = {f: norm(f"{f}_1").ne_missing(norm(f"{f}_2")) for f in review_sheet.COMPARED if f"{f}_1" in out.columns}
    labels = dict([("nama", "nama"), *review_sheet.FIELDS])
    berbeda = pl.concat_str([pl.when(e).then(pl.lit(labels[f])) for f, e in differ.items()], separator=", ",
                            ignore_nulls=True)
    out = out.with_columns(*[e.alias(f"_differ_{f}") for f, e in differ.items()], berbeda.alias("berbeda"))
    first = pl.col("keep_rank_1") <= pl.col("keep_rank_2")
    why = pl.lit("urutan pertama (tidak ada pembeda)")
    for i, reason in reversed(list(enumerate(reasons))):
        a, b = pl.col(f"_rule{i}_1"), pl.col(f"_rule{i}_2")
        why = pl.when(a != b).then(pl.lit(reason)).otherwise(why)
    out = out.with_columns(pl.when(first).then(pl.lit("1")).otherwise(pl.lit("2")).alias("simpan"),
                           why.alias("alasan_simpan"))
    if show_nik:
        out = out.with_columns(masked_pair("nik_1", "nik_2")[2].alias("nik_beda"))
    else:
        n1, n2, nik_words = masked_pair("nik_1", "nik_2")
        k1, k2, _ = masked_pair("nkk_1", "nkk_2")
        out = out.with_columns(n1.alias("nik_1"), n2.alias("nik_2"), nik_words.alias("nik_beda"),
                               k1.alias("nkk_1"), k2.alias("nkk_2"))
    out = out.with_columns(pl.col("tanggal_lahir_1", "tanggal_lahir_2").dt.strftime("%d-%m-%Y"),
                           (pl.col("match_probability") * 100).round(1).alias("skor"))
    per_file = pl.concat([out.with_columns(pl.col(f"_kab_{i}").alias("_kab"), pl.col(f"_kec_{i}").alias("_kec"))
                          for i in (1, 2)]).with_columns(berkas_of(pl.col("_kab"), pl.col("_kec")).alias("_berkas"))
    per_file = per_file.unique(subset=["pair_id", "_berkas"], keep="first", maintain_order=True)
    # A pair comes back with the owner's own last word where it was RAGU, and the owner's note.
    own = decisions.current_by_owner(history).select(
        "pair_id", pl.col("berkas").alias("_berkas"), pl.col("keputusan").alias("_own"),
        pl.col("catatan").alias("_own_note"))
    per_file = per_file.join(own, on=["pair_id", "_berkas"], how="left").with_columns(
        pl.when(pl.col("_own") == RAGU).then(pl.lit(RAGU)).alias("keputusan"),
        pl.col("_own_note").alias("catatan"))
    shown_ids = pl.concat([out.select(pl.col(c).alias("voter_id")) for c in ("voter_id_l", "voter_id_r")]).unique()
    shown = voters.select("voter_id", *fields).join(shown_ids, on="voter_id", how="semi")
    return per_file, shown


def export(pairs: pl.DataFrame, voters: pl.DataFrame, history: pl.DataFrame, attention: pl.DataFrame, folder: Path,
           names: dict[str, str], *, ranks: pl.DataFrame, reasons: Sequence[str], export_id: str,
           exported_at: dt.datetime, show_nik: bool = False, xlsx: bool = True) -> Exported:
    """Write the review files into `folder` (one per kecamatan of either record; XLSX and CSV, or CSV
    alone) and a manifest of what was written, so an edit made in place can be seen before the next export."""
    rows, shown = review_rows(pairs, voters, history, attention, names, ranks, reasons, show_nik=show_nik)
    rows = rows.with_columns(pl.lit(export_id).alias("ekspor"), pl.col("_berkas").alias("berkas"))
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    manifest: dict[str, str] = {}
    cols = review_sheet.columns()
    flags = [c for c in rows.columns if c.startswith("_differ_")]
    for (kab, kec), part in rows.group_by(["_kab", "_kec"], maintain_order=True):
        part = part.sort(["skor", "desa_1", "pair_id"], descending=[True, False, False], nulls_last=True)
        base = folder / slug(str(kab)) / slug(str(kec))
        written = [review_sheet.write_csv(part.select(cols), base.with_suffix(".csv"))]
        if xlsx:
            differ = part.select([pl.col(c).fill_null(False).alias(c.removeprefix("_differ_")) for c in flags])
            written.append(review_sheet.write_xlsx(part.select(cols), base.with_suffix(".xlsx"), differ))
        for p in written:
            manifest[str(p.relative_to(folder))] = sha256_file(p)
        paths += written
    (folder / MANIFEST).write_text(json.dumps({"ekspor": export_id, "files": manifest}, indent=1), encoding="utf-8")
    exports = rows.select("ekspor", "berkas", pl.lit(exported_at).alias("diekspor"), "pair_id", "voter_id_l",
                          "voter_id_r", "match_probability", "alasan", "status").cast(EXPORTS_SCHEMA)  # type: ignore[arg-type]
    return Exported(paths=sorted(paths), exports=exports, shown=shown)


def edited_files(folder: Path) -> list[Path]:
    """Review files in the published `folder` that differ from what the last export wrote (a reviewer
    saved into them), or that the export did not write (saved beside them)."""
    if not folder.is_dir():
        return []
    try:
        written = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        written = {}
    found = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name == MANIFEST or p.name.startswith((".~lock", "~$")):
            continue
        rel = str(p.relative_to(folder))
        if written.get(rel) != sha256_file(p):
            found.append(p)
    return found


def keep_aside(folder: Path, out_dir: Path, run_id: str, spare: dict[Path, str] | None = None,
               refused: Sequence[Path] = ()) -> list[Path]:
    """Copy every edited file of the published review `folder` to `<out_dir>/review-diubah/<run_id>/`
    before a new export replaces the folder, except those in `spare` (path -> sha256 as just imported) that
    still hold exactly those bytes. Returns the copies; each is named in a warning."""
    spared = {p.resolve(): h for p, h in (spare or {}).items()}
    refused_ = {p.resolve() for p in refused}
    kept = []
    for p in edited_files(folder):
        if spared.get(p.resolve()) == sha256_file(p) and p.resolve() not in refused_:
            continue
        dst = out_dir / ASIDE / run_id / p.relative_to(folder)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, dst)
        kept.append(dst)
        if p.resolve() in refused_:
            log.warning("rows of an imported review file were refused; the file is kept at %s: fix those rows "
                        "there and import it again", dst)
        elif p.resolve() in spared:
            log.warning("a review file changed while it was being imported; the newer version is kept at %s: "
                        "import it with `dpt review import`", dst)
        else:
            log.warning("a review file was changed after export and not imported; kept at %s: import it with "
                        "`dpt review import`", dst)
    return kept


def summary(pairs: pl.DataFrame, voters: pl.DataFrame, history: pl.DataFrame, names: dict[str, str]
            ) -> pl.DataFrame:
    """Per kecamatan: pairs open, and decided SAMA, BEDA, RAGU, and in conflict (a pair counts in both
    sides' kecamatan)."""
    dec = decisions.standing(history).select("pair_id", "keputusan")
    where = _region_names(voters, names)
    both = pl.concat([pairs.select("pair_id", pl.col(c).alias("voter_id")) for c in ("voter_id_l", "voter_id_r")])
    per = (both.join(where, on="voter_id", how="left").unique(["pair_id", "_kab", "_kec"])
           .join(dec, on="pair_id", how="left"))
    return (per.group_by(pl.col("_kab").alias("kabupaten"), pl.col("_kec").alias("kecamatan")).agg(
        (pl.col("keputusan").is_null() | pl.col("keputusan").is_in([RAGU, decisions.KONFLIK])).sum().alias("terbuka"),
        (pl.col("keputusan") == SAMA).sum().alias("sama"),
        (pl.col("keputusan") == BEDA).sum().alias("beda"),
        (pl.col("keputusan") == RAGU).sum().alias("ragu"),
        (pl.col("keputusan") == decisions.KONFLIK).sum().alias("konflik"),
    ).sort("kabupaten", "kecamatan"))


# -- import --------------------------------------------------------------------------------------------------

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
    text, _ = decode(path.read_bytes(), path)
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


def _unquote(e: pl.Expr) -> pl.Expr:
    """A note as the reviewer wrote it: the `'` our CSV put before a leading = + - @ taken off again."""
    return pl.when(e.str.contains(r"^'[=+\-@\t\r]")).then(e.str.slice(1)).otherwise(e)


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
        _unquote(pl.col("catatan").str.strip_chars()), pl.col("ekspor").str.strip_chars(),
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
    by_nik = old.join(now.filter(pl.col("nik").is_not_null()).unique(["source", "nik"], keep="first")
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
    gone = found.filter(~pl.col("voter_id_l").is_in(on_roll["voter_id"].implode())
                        | ~pl.col("voter_id_r").is_in(on_roll["voter_id"].implode()))
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


def table(con: duckdb.DuckDBPyConnection, name: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A table of the database in `schema` (columns it lacks are null), empty when absent (a database from
    before it existed)."""
    if not has_table(con, name):
        return pl.DataFrame(schema=schema)
    frame = con.sql(f'SELECT * FROM "{name}"').pl()
    missing = [c for c in schema if c not in frame.columns]
    return frame.with_columns([pl.lit(None, schema[c]).alias(c) for c in missing]).select(list(schema)).cast(
        schema)  # type: ignore[arg-type]


def history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every decision imported so far (decisions.history_frame of review_decisions)."""
    return decisions.history_frame(table(con, "review_decisions", DECISION_SCHEMA))


@dataclass
class ReviewState:
    """What the review loop reads from a published database, read once per command."""

    voters: pl.DataFrame
    names: dict[str, str]
    history: pl.DataFrame
    exports: pl.DataFrame      # review_exports
    shown: pl.DataFrame        # review_exported_voters
    listed: pl.DataFrame       # review_pairs (or duplicate_pairs before it existed)
    pairs: pl.DataFrame        # duplicate_pairs
    reopened: pl.DataFrame     # review_reopened


def read_state(con: duckdb.DuckDBPyConnection, database: Path) -> ReviewState:
    if not has_table(con, "duplicate_pairs"):
        raise InputError("the database holds no duplicate pairs (only `dpt ingest` ran?): run `dpt run` first",
                         path=database)
    cols = "pair_id, voter_id_l, voter_id_r, match_probability, alasan"
    pairs = con.sql(f"SELECT {cols} FROM duplicate_pairs").pl()
    regions = con.sql("SELECT kode, nama FROM regions").pl()
    return ReviewState(
        voters=con.sql("SELECT * FROM voters").pl(),
        names=dict(zip(regions["kode"].to_list(), regions["nama"].to_list(), strict=True)),
        history=history(con), exports=table(con, "review_exports", EXPORTS_SCHEMA),
        shown=(con.sql("SELECT * FROM review_exported_voters").pl() if has_table(con, "review_exported_voters")
               else pl.DataFrame(schema={"voter_id": pl.String()})),
        listed=con.sql(f"SELECT {cols} FROM review_pairs").pl() if has_table(con, "review_pairs") else pairs,
        pairs=pairs, reopened=table(con, "review_reopened", REOPENED_SCHEMA))


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


