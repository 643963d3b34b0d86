"""Data contracts: the canonical input fields, their header aliases, and the schemas of the tables
that ingest hands on (and that `publish` writes to DuckDB)."""

from __future__ import annotations

import re

import polars as pl

# Canonical input fields in the order SIDALIH exports them; every source is mapped onto these.
CANONICAL_FIELDS: tuple[str, ...] = (
    "nkk", "nik", "nama", "tempat_lahir", "tanggal_lahir", "status_kawin", "jenis_kelamin", "alamat",
    "rt", "rw", "disabilitas", "keterangan", "tps", "desa", "kecamatan", "kabupaten",
)
REGION_FIELDS: tuple[str, ...] = ("desa", "kecamatan", "kabupaten")

# Header spellings seen in KPU offices' exports. Compared after `header_key` (case, spaces and
# punctuation ignored), so "No. KK", "NO KK" and "no_kk" are one alias.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "nkk": ("NKK", "NO KK", "NO. KK", "NOMOR KK"),
    "nik": ("NIK",),
    "nama": ("NAMA", "NAMA LENGKAP", "NAMA PEMILIH"),
    "tempat_lahir": ("TEMPAT LAHIR", "TMPT LAHIR"),
    "tanggal_lahir": ("TANGGAL LAHIR", "TGL LAHIR", "TGL. LAHIR"),
    "status_kawin": ("STATUS PERKAWINAN", "STATUS KAWIN", "STS KAWIN"),
    "jenis_kelamin": ("JENIS KELAMIN", "JK", "L/P"),
    "alamat": ("ALAMAT",),
    "rt": ("RT",),
    "rw": ("RW",),
    "disabilitas": ("DISABILITAS", "DIFABEL", "DIS"),
    "keterangan": ("KETERANGAN", "KET"),
    "tps": ("TPS", "NO TPS"),
    "desa": ("KELURAHAN/DESA", "DESA/KELURAHAN", "KELURAHAN", "DESA"),
    "kecamatan": ("KECAMATAN", "KEC"),
    "kabupaten": ("KABUPATEN/KOTA", "KABUPATEN", "KOTA", "KAB"),
}
IGNORED_HEADERS: tuple[str, ...] = ("NO",)


def header_key(header: str) -> str:
    """Normalise a header for alias matching: upper case, letters and digits only."""
    return re.sub(r"[^0-9A-Z]", "", header.upper())


ALIAS_INDEX: dict[str, str] = {header_key(a): f for f, aliases in HEADER_ALIASES.items() for a in aliases}

# The `voters` table. Flags are documented in the README ("DuckDB schema").
VOTER_SCHEMA: dict[str, pl.DataType] = {
    "voter_id": pl.String(),
    "source": pl.String(),
    "source_row": pl.Int64(),
    "nkk": pl.String(),
    "nik": pl.String(),
    "nama": pl.String(),
    "tempat_lahir": pl.String(),
    "tanggal_lahir": pl.Date(),
    "jenis_kelamin": pl.String(),
    "status_kawin": pl.String(),
    "alamat": pl.String(),
    "rt": pl.Int32(),
    "rw": pl.Int32(),
    "disabilitas": pl.String(),
    "keterangan": pl.String(),
    "tps": pl.Int32(),
    "desa": pl.String(),
    "kecamatan": pl.String(),
    "kabupaten": pl.String(),
    "kode_kabupaten": pl.String(),
    "kode_kecamatan": pl.String(),
    "kode_desa": pl.String(),
    "wilayah_status": pl.String(),
    "nik_valid": pl.Boolean(),
    "nik_masalah": pl.String(),
    "nik_tanggal_lahir": pl.Date(),
    "nik_jenis_kelamin": pl.String(),
    "nik_kode_wilayah": pl.String(),
    "nik_tanggal_cocok": pl.Boolean(),
    "nik_jenis_kelamin_cocok": pl.Boolean(),
    "nkk_valid": pl.Boolean(),
    "nkk_masalah": pl.String(),
    "tanggal_lahir_valid": pl.Boolean(),
    "tanggal_lahir_asli": pl.String(),
    "jenis_kelamin_valid": pl.Boolean(),
    "di_bawah_umur": pl.Boolean(),
    "row_hash": pl.String(),
}

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_row": pl.Int64(),
    "reason": pl.String(),
    "raw": pl.String(),
}

# Reject reasons: only rows that cannot be a voter at all.
REJECT_NO_NAME = "nama kosong"
REJECT_EMPTY_ROW = "baris kosong"
REJECT_TOO_FEW = "kolom kurang"
REJECT_TOO_MANY = "kolom lebih"
REJECT_UNREADABLE = "tidak terbaca"
# The header line again inside the data (two exports pasted into one file): not a person.
REJECT_HEADER_AGAIN = "baris judul berulang"
REJECT_REASONS: tuple[str, ...] = (
    REJECT_NO_NAME, REJECT_EMPTY_ROW, REJECT_TOO_FEW, REJECT_TOO_MANY, REJECT_UNREADABLE, REJECT_HEADER_AGAIN,
)

# A NIK or NKK (`nik_masalah`, `nkk_masalah`) that Excel saved as a number: its 16th digit may be lost.
LOST_LAST_DIGIT = "digit terakhir mungkin hilang (disimpan Excel sebagai angka)"

# The published fitted model (`model_levels`, written by the linkage, read by `outputs.evidence`): besides a row
# per level of every comparison, its prior's row and its holds' rows carry these in `comparison`.
MODEL_PRIOR = "prior"
MODEL_HOLD = "tahan"
