"""The review files written: after every run (and after every import), one file per kecamatan of either record.

Each file (`reports/review/<kabupaten>/<kecamatan>.xlsx`, a `.csv` beside it) lists the pairs a person
should look at: undecided pairs at or above the review threshold, RAGU pairs (with their note), pairs in
conflict and pairs reopened because a record changed since it was decided; NIK and NKK masked, the record
recommended to keep and why. Layout and cell types: `sheet`. Every pair written is remembered in
`review_exports` and the records as shown in `review_exported_voters` (`state`), so a decision can be read
back from a file of any night. Also here: the manifest of what an export wrote, the files a reviewer edited
in place kept aside before the next export, and the per-kecamatan summary.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dpt_pipeline.core import decisions
from dpt_pipeline.core.decisions import BEDA, RAGU, SAMA
from dpt_pipeline.core.keys import pair_ids
from dpt_pipeline.io.hashing import sha256_file
from dpt_pipeline.review import sheet as review_sheet
from dpt_pipeline.review.state import EXPORTS_SCHEMA, SIDE_FIELDS, SIDE_NAMES

log = logging.getLogger(__name__)

MANIFEST = ".ekspor.json"
ASIDE = "review-diubah"         # beside review/: files a reviewer edited in place, kept before a new export
STATUS_BARU = "BARU"
STATUS_DIBUKA = "DIBUKA LAGI: data berubah sejak diputuskan"


def slug(text: str | None) -> str:
    """A region name as a file or folder name: `Teluk Pandan` -> `teluk-pandan`."""
    return re.sub(r"[^a-z0-9]+", "-", (text or "tidak dikenal").lower()).strip("-") or "tidak-dikenal"


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
    # The records of the pairs listed only (a tenth of the roll, or less).
    voters = voters.join(pl.concat([base.select(pl.col(c).alias("voter_id")) for c in ("voter_id_l", "voter_id_r")])
                         .unique(), on="voter_id", how="semi")
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


def reopened_rows(reopened: pl.DataFrame | None, standing: pl.DataFrame) -> pl.DataFrame:
    """Pairs reopened by an import (a record changed since it was decided) that nobody decided since, as
    review rows with the reason (decisions.ATTENTION_SCHEMA)."""
    if reopened is None or reopened.height == 0:
        return pl.DataFrame(schema=decisions.ATTENTION_SCHEMA)
    r = reopened.with_columns(pair_ids(reopened)).sort("dibuka_at").unique("pair_id", keep="last",
                                                                           maintain_order=True)
    r = r.join(standing.select("pair_id"), on="pair_id", how="anti")
    return r.select("pair_id", "voter_id_l", "voter_id_r", pl.concat_str(
        [pl.lit(STATUS_DIBUKA + " ("), pl.col("berubah").fill_null("berubah"), pl.lit("; keputusan lama "),
         pl.col("keputusan_lama"), pl.lit(")")]).alias("status")).cast(decisions.ATTENTION_SCHEMA)  # type: ignore[arg-type]


def export_remembered(folder: Path, voters: pl.DataFrame, review_pairs: pl.DataFrame, history: pl.DataFrame,
                      attention: pl.DataFrame, names: dict[str, str], ranks: pl.DataFrame,
                      rules: list[decisions.KeepRule], *, export_id: str, exported_at: dt.datetime, show_nik: bool,
                      xlsx: bool, exports_before: pl.DataFrame | None, shown_before: pl.DataFrame | None
                      ) -> tuple[Exported, dict[str, pl.DataFrame]]:
    """The review files into `folder` (emptied first; in the staging folder), and the tables that remember what
    they showed, added to what was remembered before (`exports_before`, `shown_before`)."""
    shutil.rmtree(folder, ignore_errors=True)
    exported = export(review_pairs, voters, history, attention, folder, names, ranks=ranks,
                      reasons=[r.reason for r in rules], export_id=export_id, exported_at=exported_at,
                      show_nik=show_nik, xlsx=xlsx)
    exports = exported.exports if exports_before is None else pl.concat([exports_before, exported.exports],
                                                                         how="diagonal_relaxed")
    # A record as each review file showed it (the same record can be shown at another row another night).
    key = ["voter_id", "source", "source_row"]
    shown = exported.shown if shown_before is None or shown_before.height == 0 else pl.concat(
        [shown_before, exported.shown.join(shown_before.select(key), on=key, how="anti")], how="diagonal_relaxed")
    return exported, {"review_pairs": review_pairs, "review_exports": exports, "review_exported_voters": shown}
