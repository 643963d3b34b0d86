"""What the generated files look like and what truth.csv says about each row.

The three sources (their file names, headers and separators), the `case` values of truth.csv and the
corruption tags the rest of the generator sets, grouped by what they do to a row's NIK.
"""

from __future__ import annotations

SOURCES = ("kutim", "bontang", "kukar")
FILES = {"kutim": "dpt_kutim.csv", "bontang": "dpt_bontang.csv", "kukar": "dpt_kukar.csv"}
HEADERS = {
    "kutim": [
        "NO", "NKK", "NIK", "NAMA", "TEMPAT LAHIR", "TANGGAL LAHIR", "STATUS PERKAWINAN", "JENIS KELAMIN",
        "ALAMAT", "RT", "RW", "DISABILITAS", "KETERANGAN", "TPS", "KELURAHAN/DESA", "KECAMATAN",
        "KABUPATEN/KOTA",
    ],
    "bontang": [
        "No", "No. KK", "NIK", "Nama Lengkap", "Tmpt Lahir", "Tgl Lahir", "Sts Kawin", "L/P", "Alamat", "RT",
        "RW", "Difabel", "Ket", "No TPS", "Kelurahan", "Kecamatan", "Kota",
    ],
    "kukar": [
        "NOMOR KK", "NIK", "NAMA PEMILIH", "TEMPAT LAHIR", "TGL. LAHIR", "STATUS KAWIN", "JK", "ALAMAT", "RT",
        "RW", "DIS", "KETERANGAN", "TPS", "DESA", "KEC",
    ],
}
SEPARATORS = {"kutim": ";", "bontang": ",", "kukar": "\t"}
# The `case` of a row in truth.csv. A copy (a second row of one person) is duplikat_dalam (same list) or
# duplikat_lintas (another list) unless it is one of the hard double registrations, by precedence:
# dua_nik > tanpa_nik > tanggal_placeholder > dua_salah. kembar, ayah_anak, nik_salinan and nama_umum are
# the hard negatives (different persons who look alike); rusak is a malformed or damaged row.
CASES = (
    "unik", "duplikat_asal", "duplikat_dalam", "duplikat_lintas", "dua_nik", "tanpa_nik",
    "tanggal_placeholder", "dua_salah", "kembar", "ayah_anak", "nik_salinan", "nama_umum", "rusak",
)
# Tags after which a row's NIK (as written) may be damaged, disagree with the row's own birth date / sex,
# or not be the person's one NIK (nik_kerabat: a relative's; nik_kedua: a second valid NIK of the same
# person). Rows without them carry their person's NIK, which decodes to the row's date and sex.
NIK_TAGS = frozenset({
    "nik_typo", "nik_transposisi", "nik_kosong", "nik_invalid", "tgl_tukar", "tgl_digit", "tgl_placeholder",
    "nik_kerabat", "nik_kedua", "nik_excel", "nik_apostrof", "nik_spasi", "nik_palsu", "nik_panjang",
    "tanggal_mustahil", "nik_tgl_beda", "nik_jk_beda",
})
REJECT_TAGS = ("nama_kosong", "kolom_kurang", "kolom_lebih", "baris_kosong")
# Tags after which a row has no usable NIK (empty, digits lost, fake, wrong length): a copy carrying one is
# `tanpa_nik`, found only through NKK + name + place and date of birth.
NO_NIK_TAGS = ("nik_kosong", "nik_invalid", "nik_excel", "nik_palsu", "nik_panjang")
VOTER_DEFECT_TAGS = (
    "nik_excel", "nik_apostrof", "nik_spasi", "nik_palsu", "nik_panjang", "tanggal_mustahil", "nik_tgl_beda",
    "nik_jk_beda", "nik_kosong", "nkk_kosong", "nkk_rusak", "jk_teks",
)
