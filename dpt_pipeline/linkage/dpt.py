"""The DPT comparisons: how two voter records are compared (nama, NIK, tanggal lahir, jenis kelamin,
tempat lahir, keluarga, pola), their holds and prior rule, and the EM sessions that learn them. Labels are
Indonesian: they are what a camat reads in `alasan`."""

from __future__ import annotations

import numpy as np
import polars as pl

from dpt_pipeline.linkage.comparisons import (
    Comparison,
    ComparisonSet,
    Hold,
    L,
    Level,
    R,
    Similarity,
    at,
    either_null,
    same,
    sim,
)
from dpt_pipeline.linkage.model.em import TrainingSession


def align_nik_dates(records: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame,
                    rng: np.random.Generator) -> pl.DataFrame:
    """The random pairs on which u of the NIK comparison is counted, given that the date digits agree:
    `right` with its NIK's date digits replaced by `left`'s (where both hold a NIK); and where the regions
    then agree too, its serial by that of another NIK of the left's office and day among `records`, since
    serials are numbered per office and day (two people of one office and day never share a serial, and
    are often one digit apart). Without another NIK of that office and day the serial stays."""
    both = (left["nik_num"].is_not_null() & right["nik_num"].is_not_null()).to_numpy()
    date_l = left["nik_tanggal6"].fill_null(0).to_numpy().astype(np.int64)
    nik_r = right["nik_num"].fill_null(0).to_numpy().astype(np.int64)
    nik_l = left["nik_num"].fill_null(0).to_numpy().astype(np.int64)
    serial_r = nik_r % 10_000
    region_r, region_l = nik_r // 10**10, nik_l // 10**10
    # Every distinct NIK, sorted by office and day: a group of rows per (region, date digits).
    niks = np.unique(records["nik_num"].drop_nulls().to_numpy().astype(np.int64))
    office_day = niks // 10_000
    starts = np.searchsorted(office_day, nik_l // 10_000, side="left")
    sizes = np.searchsorted(office_day, nik_l // 10_000, side="right") - starts
    own = np.searchsorted(niks, nik_l)                     # the left NIK's own row (it is among them)
    draw = both & (region_l == region_r) & (sizes >= 2)
    k = (rng.random(len(nik_l)) * np.maximum(sizes - 1, 1)).astype(np.int64)
    member = starts + k
    member = np.where(member >= own, member + 1, member)   # any other NIK of the group
    other = niks[np.minimum(member, len(niks) - 1)] if len(niks) else np.zeros(len(nik_l), np.int64)
    serial = np.where(draw, other % 10_000, serial_r)
    aligned = region_r * 10**10 + date_l * 10_000 + serial
    replaced = {"nik_num": aligned, "nik_tanggal6": date_l, "nik_urut": serial}
    return right.with_columns(pl.when(pl.Series(both)).then(pl.Series(v.astype(np.uint64)))
                              .otherwise(pl.col(name)).alias(name) for name, v in replaced.items())


def _same_date_parts() -> dict[str, pl.Expr]:
    tl, tr = L("tanggal_lahir"), R("tanggal_lahir")
    return {
        "swap": (tl.dt.day() == tr.dt.month()) & (tl.dt.month() == tr.dt.day()) & (tl.dt.year() == tr.dt.year()),
        "year": tl.dt.year() == tr.dt.year(),
    }


def dpt_comparisons() -> ComparisonSet:
    """Comparisons for DPT records after `standardize`."""
    d = _same_date_parts()
    # Fuzzy levels read the name without its common tokens: MUHAMMAD ARSYAD and MUHAMMAD NORDIN share
    # a prefix that makes them look alike to Jaro-Winkler and token-set alike.
    jw_nama = sim("nama_inti", "jaro_winkler")
    ts_nama = sim("nama_inti", "token_set")
    nama = Comparison(
        "nama", ("nama_std", "nama_rapat", "nama_urut", "nama_fonetik", "nama_depan_inti", "nama_inti"),
        "nama kosong", either_null("nama_std"),
        (
            Level("sama", "nama sama", same("nama_std"), tf=True),
            Level("spasi_urutan", "nama sama (spasi atau urutan kata berbeda)",
                  same("nama_rapat") | same("nama_urut")),
            Level("fonetik", "nama mirip (ejaan berbeda)", same("nama_fonetik")),
            Level("jw95", "nama sangat mirip", jw_nama >= 0.95),
            # One name inside the other (SYAMSIR, ANDI ABDUL SYAMSIR IRFAN): a dropped or added word, or a
            # namesake of a shorter name; learned apart from a near spelling, before it, since Jaro-Winkler's
            # prefix bonus makes SYAMSIR and SYAMSIR IRFAN look like a typo of each other.
            Level("di_dalam", "nama yang satu termuat dalam nama yang lain", ts_nama >= 0.95),
            Level("jw88", "nama mirip", jw_nama >= 0.88),
            Level("sebagian", "sebagian nama sama", (ts_nama >= 0.80) | (jw_nama >= 0.80)),
            # Fixed, not learned: Kemendagri never takes two records with unlike names for one person,
            # whatever else agrees (a copied NIK, a shared placeholder birth date).
            Level("beda", "nama berbeda", pl.lit(True), weight=-12.0),
        ),
        similarities=(Similarity("nama_inti", "jaro_winkler"), Similarity("nama_inti", "token_set"),
                      Similarity("nama_depan_inti", "jaro_winkler")),
        tf_column="nama_std",
    )
    nik_edits = sim("nik_num", "digits16")
    # A NIK Excel cut short (its 16th digit lost, ingest's `nik_masalah`) is read by its first 15 digits: alike
    # there, it is the same NIK as far as anyone can tell, or twins' serials one apart, which the twins'
    # pattern leaves to a person.
    # (Equality and null tests only: the strings may be compared as integer codes, `code_strings`.)
    cut_alike = ((L("nik_terpotong") | R("nik_terpotong")) & same("nik15")).fill_null(False)

    def part(col: str) -> pl.Expr:
        return L(col) == R(col)

    region_same, date_same, serial_same = part("nik_wilayah"), part("nik_tanggal6"), part("nik_urut")
    one_edit = nik_edits == 1
    head_differs = ~(region_same & date_same)
    # Each NIK agrees with its own record's birth date and sex: a difference in the date digits is then two
    # birth dates Dukcapil holds, not a slip.
    each_fits = (L("nik_tanggal_cocok") & R("nik_tanggal_cocok") & L("nik_jenis_kelamin_cocok")
                 & R("nik_jenis_kelamin_cocok")).fill_null(False)
    # The NIK by its parts: region (kecamatan of first registration), date digits (the birth date, +40 for a
    # woman) and serial. Where the date digits agree they repeat the birth date and sex, which the date and
    # sex comparisons count; so u of those levels is P(level | date digits agree, non-match), counted on
    # random pairs whose date digits were made equal (`align_nik_dates`): what the region and serial add.
    # Every level is learned.
    nik = Comparison(
        "nik", ("nik_num", "nik_wilayah", "nik_tanggal6", "nik_urut", "nik_tanggal_cocok", "nik_jenis_kelamin_cocok",
                "nik15", "nik_terpotong"),
        "NIK kosong/rusak", either_null("nik_num"),
        (
            Level("sama", "NIK sama", same("nik_num") | cut_alike),
            # A slip outside the serial that the records' own dates do not explain: a typo.
            Level("salah_ketik", "NIK beda satu digit atau dua digit bertukar",
                  one_edit & head_differs & ~(~date_same & each_fits)),
            # Serials are small numbers an office numbers per day: between two people born on one day in one
            # kecamatan (twins, namesakes) a serial one digit off is common, which u counts (`align_nik_dates`).
            Level("salah_urut", "NIK beda satu digit (nomor urut)", one_edit & ~head_differs),
            Level("wilayah_lain", "NIK sama kecuali kode wilayah",
                  date_same & serial_same),
            Level("nomor_urut", "NIK lain dengan wilayah dan tanggal lahir sama (beda nomor urut)",
                  region_same & date_same),
            Level("dua_nik", "NIK lain dengan tanggal lahir sama", date_same),
            # The date digits differ: Dukcapil holds two birth dates (or sexes). Random pairs with aligned
            # date digits never land here, so u is counted on random pairs as they are (P(beda | U)); a
            # record's birth date may be a typo or a placeholder, the NIK's rarely is, so this is evidence
            # beyond the date comparison's.
            Level("beda", "NIK berbeda", pl.lit(True), u_plain=True),
        ),
        similarities=(Similarity("nik_num", "digits16"),),
        u_given=align_nik_dates,
    )
    lev_tgl = sim("tanggal_num", "digits8")
    tl, tr = L("tanggal_lahir"), R("tanggal_lahir")
    ph_l, ph_r = L("tanggal_placeholder"), R("tanggal_placeholder")
    # The NIK is a second witness of the birth date: a record written with a placeholder date (01-07-YYYY,
    # 31-12-YYYY) whose NIK holds the other record's date. Not when both hold one NIK: a NIK copied from a
    # relative (K2) holds the relative's date, which says nothing of the carrier's.
    nik_witness = (((ph_l & (L("nik_tanggal_lahir") == tr)) | (ph_r & (R("nik_tanggal_lahir") == tl)))
                   & ~same("tanggal_lahir") & ~same("nik_num").fill_null(False)).fill_null(False)
    tanggal = Comparison(
        "tanggal_lahir", ("tanggal_lahir", "tanggal_placeholder", "tanggal_num", "tanggal_text", "nik_tanggal_lahir"),
        "tanggal lahir kosong",
        either_null("tanggal_lahir"),
        (
            Level("sama", "tanggal lahir sama", same("tanggal_lahir") & ~ph_l, tf=True),
            Level("sama_placeholder", "tanggal lahir sama (tanggal umum 1 Juli/31 Desember)",
                  same("tanggal_lahir"), tf=True),
            Level("sesuai_nik", "tanggal umum di satu data, tanggal dalam NIK-nya sama dengan tanggal lahir data lain",
                  nik_witness),
            Level("tertukar", "tanggal lahir: hari dan bulan tertukar", d["swap"]),
            Level("satu_digit", "tanggal lahir beda satu angka", lev_tgl == 1),
            Level("placeholder_tahun", "tanggal umum di satu data, tahun lahir sama", (ph_l | ph_r) & d["year"]),
            Level("tahun", "tahun lahir sama", d["year"]),
            Level("beda", "tanggal lahir berbeda", pl.lit(True)),
        ),
        similarities=(Similarity("tanggal_num", "digits8"),),
        tf_column="tanggal_num", tf_boost=False,
    )
    jw_tempat = sim("tempat_lahir_key", "jaro_winkler")
    tempat = Comparison(
        "tempat_lahir", ("tempat_lahir_key",), "tempat lahir kosong", either_null("tempat_lahir_key"),
        (
            Level("sama", "tempat lahir sama", same("tempat_lahir_key")),
            Level("mirip", "tempat lahir mirip", jw_tempat >= 0.88),
            Level("beda", "tempat lahir berbeda", pl.lit(True)),
        ),
        similarities=(Similarity("tempat_lahir_key", "jaro_winkler"),),
    )
    jk = Comparison(
        "jenis_kelamin", ("jenis_kelamin",), "jenis kelamin kosong", either_null("jenis_kelamin"),
        (
            Level("sama", "jenis kelamin sama", same("jenis_kelamin"), explain=False),
            Level("beda", "jenis kelamin berbeda", pl.lit(True)),
        ),
    )
    # NKK and address in one comparison: members of one KK share the address, so counting both would
    # count one fact twice.
    keluarga = Comparison(
        "keluarga", ("nkk_std", "alamat_std", "kode_kecamatan", "rt", "desa_key"), "NKK dan alamat kosong",
        either_null("nkk_std") & either_null("desa_key"),
        (
            Level("satu_kk", "satu KK (NKK sama)", same("nkk_std")),
            Level("alamat_rt", "alamat dan RT sama", same("alamat_std") & same("rt") & same("desa_key")),
            Level("rt", "satu desa dan RT", same("desa_key") & same("rt")),
            Level("desa", "satu desa", same("desa_key")),
            Level("kecamatan", "satu kecamatan", same("kode_kecamatan")),
            Level("beda", "alamat di kecamatan lain", pl.lit(True)),
        ),
    )
    # Household patterns: fixed weights, because EM cannot learn from a handful of twins that agreeing
    # on everything but the first name means two people. Values in bits (log2 Bayes factor).
    year_gap = (L("tanggal_lahir").dt.year() - R("tanggal_lahir").dt.year()).abs()
    # Twins hold two valid NIKs that differ only in the serial (or in the day too, +40, for a boy and a
    # girl); a duplicate keeps its NIK. Two names of one KK and one birth date that are not the same name
    # (FITRI and FITRIA, ILHAM and ILHAN) without both NIKs to tell twins from a slip are held for a person
    # (`kembar_mungkin`): striking a twin is the worse error.
    serial_only = region_same & date_same & ~serial_same
    no_nik = L("nik_num").is_null() | R("nik_num").is_null()
    # The same name but for spaces or word order. Not the phonetic key: it merges FITRI and FITRIA, two
    # twins' names.
    name_equivalent = same("nama_std") | same("nama_rapat") | same("nama_urut")
    # Both sexes written and different (a missing sex is no difference).
    sex_differs = ~same("jenis_kelamin").fill_null(True)
    two_people_nik = serial_only.fill_null(False) | sex_differs
    # Twins live in one household: one KK, one address. The same KK and birth date with twins' NIKs at
    # another address, or in one household without both NIKs to tell twins' serials from a slip, is a twin
    # or a double registration with a misspelt name: a person decides (held). Without both NIKs and at
    # another address it is no twins' pattern: the comparisons weigh it.
    one_household = same("alamat_std").fill_null(False) & same("desa_key").fill_null(False)
    twins_unsure = ~name_equivalent & (two_people_nik | (no_nik & one_household) | cut_alike)
    # Close: the same date, a slip of it, or a placeholder that the NIK's date or the year does not contradict.
    date_close = (same("tanggal_lahir") | d["swap"] | (lev_tgl <= 1) | nik_witness
                  | ((ph_l | ph_r) & d["year"]))
    nik_close = same("nik_num") | (one_edit & head_differs)
    first_name_differs = (sim("nama_depan_inti", "jaro_winkler") < 0.85) & (jw_nama < 0.88)
    pola = Comparison(
        "pola", ("nkk_std", "nama_depan", "nama_fonetik", "nama_rapat", "nama_urut", "tanggal_lahir", "nik_num",
                 "jenis_kelamin", "alamat_std", "desa_key", "nik_terpotong", "nik15"),
        "", pl.lit(False),
        (
            Level("kembar", "satu KK, tanggal lahir sama, nama depan berbeda (pola anak kembar)",
                  same("nkk_std") & same("tanggal_lahir") & ~name_equivalent & two_people_nik & one_household,
                  weight=-40.0),
            # Fixed at 0: the other comparisons weigh the pair; the hold `kembar_atau_ganda` keeps it for
            # a person.
            Level("kembar_mungkin", "satu KK, tanggal lahir sama, nama berbeda: anak kembar atau satu orang",
                  same("nkk_std") & same("tanggal_lahir") & twins_unsure, weight=0.0),
            Level("ayah_anak", "satu KK, nama sama, tahun lahir jauh berbeda (pola ayah/ibu dan anak bernama sama)",
                  same("nkk_std") & (same("nama_fonetik") | (jw_nama >= 0.95)) & (year_gap >= 12), weight=-40.0),
            # A relative's NIK on another person's row: the birth date is not the NIK holder's (nor a typo of
            # it) and the sex or the first name differs. A duplicate keeps its date or its name.
            Level("nik_salinan", "NIK sama tetapi nama dan tanggal lahir/jenis kelamin berbeda (NIK keluarga "
                  "tersalin, K2)",
                  same("nik_num") & ~name_equivalent.fill_null(False)
                  & ((~date_close.fill_null(False)
                      & (sex_differs | (year_gap >= 12).fill_null(False) | first_name_differs))
                     | (sex_differs & first_name_differs)),
                  weight=-40.0),
            # One KK, and neither the NIK nor the birth date is the same or a typo of the other: another
            # member of the family, whatever the names share (a father's name, BIN ...).
            Level("anggota_lain", "satu KK, NIK dan tanggal lahir berbeda (anggota keluarga lain)",
                  same("nkk_std") & ~date_close.fill_null(False) & ~nik_close.fill_null(False), weight=-15.0),
            # Kemendagri's rule of several elements: a name alone is no proof. Neither the NIK nor the birth
            # date agrees (nor is a typo of the other): at most a case for review.
            Level("hanya_nama", "hanya nama yang cocok; NIK dan tanggal lahir tidak",
                  ~date_close.fill_null(False) & ~nik_close.fill_null(False), weight=-10.0),
            Level("biasa", "", pl.lit(True), weight=0.0, explain=False),
        ),
    )
    # The prior's deterministic rule: Bawaslu's method (one NIK, one name, one birth date), whose recall
    # is stated in [linkage] prior_recall.
    bawaslu = (at(nik, "sama") & at(nama, "sama", "spasi_urutan") & at(tanggal, "sama", "sama_placeholder"))
    twins_or_double = Hold("kembar_atau_ganda", "mungkin anak kembar: diperiksa petugas, tidak diklaim otomatis",
                           at(pola, "kembar_mungkin"))
    # Two valid NIKs that are not a slip of each other: Dukcapil holds two people, or one person registered
    # twice. Name, birth date, place and sex are four elements, and four alone are no proof (Kemendagri):
    # a person decides, unless the family card or the address and RT agree as well.
    two_niks = Hold("dua_nik", "kemungkinan satu orang dengan dua NIK: diperiksa petugas, tidak diklaim otomatis",
                    at(nik, "wilayah_lain", "nomor_urut", "dua_nik") & ~at(keluarga, "satu_kk", "alamat_rt"))
    # Every condition above tests strings for equality or null only: they may be coded (`_Coded`).
    return ComparisonSet((nama, nik, tanggal, tempat, jk, keluarga, pola),
                         extra_columns=("source", "kode_kabupaten", "kode_kecamatan", "kode_desa"),
                         code_strings=True, prior_rule=bawaslu, holds=(two_niks, twins_or_double))


def dpt_training() -> list[TrainingSession]:
    """Pairs sharing a NIK teach everything but the NIK; pairs sharing a name sound and a birth date (pass
    `nama_tanggal`) teach everything but the name and the date. Both sets are mostly one person each, so EM
    finds the matches and not some other cluster (pairs sharing only a name are mostly namesakes at scale)."""
    return [TrainingSession(("nik",), ("nik",)),
            TrainingSession(("nama_tanggal",), ("nama", "tanggal_lahir"))]
