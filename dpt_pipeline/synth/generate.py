"""Synthetic voter rolls (DPT) for Kutai Timur and its neighbours, with a ground truth.

`generate(out_dir, voters, seed)` writes three voter lists in three KPU-office styles, `truth.csv` (who is
who, what was done to each row) and `rt_coordinates.csv` (a point per desa/RW/RT). It is a pure function of
(voters, seed): the only randomness is `np.random.default_rng(seed)`, drawn in a fixed order, and every
sort is total, so the same arguments give byte-identical files.

Everything is vectorised with numpy/polars; Python loops run only over small things (name lists, desa,
rule tables, corruption kinds, the few malformed rows).

The people: households (KK) of 1-7 adults with an NKK, NIKs built as PP KK CC DDMMYY SSSS (+40 on the day
for women) from the kecamatan of first registration (about 15 % migrants from Sulawesi, Java, Kalimantan
Selatan, NTT...), names from East Kalimantan's mix (Bugis, Banjar, Javanese, Kutai, Dayak, Arabic-Muslim).
Duplicates (same `person_id` on two rows): Dusun Sidrap (Kutim Martadinata RT 19-25 = Bontang Guntung RT
19-25), movers between the lists, double entries within a list; the second copy is corrupted the way real
rolls are (old spelling, Muhammad variants, titles, typos, NIK typos/transpositions, swapped dates...).
Some copies stand for the double registrations that are hard to see: one person with two valid NIKs
(`dua_nik`: the region part typed over, or a second NIK issued elsewhere for the same birth date), a copy
without a usable NIK (`tanpa_nik`), a placeholder birth date on the copy only (`tanggal_placeholder`), and
a NIK slip together with a date slip (`dua_salah`).
Hard negatives (different persons that look alike): twins, sons named after their father, a relative's NIK
on someone else's row, common names with the same birth year. Malformed rows: rejects (empty name, too
few/many columns, separator-only lines) and damaged-but-valid voters (Excel NIK, apostrophes, fake NIKs...).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

__all__ = [
    "CASES",
    "HEADERS",
    "NIK_TAGS",
    "NO_NIK_TAGS",
    "REF_DATE",
    "REJECT_TAGS",
    "SOURCES",
    "generate",
]

# Ages are counted on this day (everyone is >= 17 on it).
REF_DATE = np.datetime64("2026-11-28")
_ONE_DAY = np.timedelta64(1, "D")
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

# ----------------------------------------------------------------------------------------------------------
# Regions (Kemendagri codes, as in config/regions.csv)
# ----------------------------------------------------------------------------------------------------------

# kode kecamatan: (nama, source index, centre lat, centre lon)
_KEC: dict[str, tuple[str, int, float, float]] = {
    "64.08.13": ("TELUK PANDAN", 0, 0.200, 117.430),
    "64.08.04": ("SANGATTA UTARA", 0, 0.505, 117.550),
    "64.08.12": ("SANGATTA SELATAN", 0, 0.440, 117.575),
    "64.74.01": ("BONTANG UTARA", 1, 0.150, 117.480),
    "64.74.02": ("BONTANG SELATAN", 1, 0.105, 117.495),
    "64.74.03": ("BONTANG BARAT", 1, 0.130, 117.455),
    "64.02.17": ("MARANG KAYU", 2, 0.050, 117.360),
    "64.02.05": ("MUARA BADAK", 2, -0.320, 117.400),
}
_KEC_ALIASES = {"64.08.04": ["SANGATA UTARA"], "64.08.12": ["SANGATA SELATAN"]}
# kode desa, nama, relative population
_DESA: list[tuple[str, str, float]] = [
    ("64.08.13.2001", "TELUK PANDAN", 1.0), ("64.08.13.2002", "SUKA RAHMAT", 0.8),
    ("64.08.13.2003", "SUKA DAMAI", 0.7), ("64.08.13.2004", "KANDOLO", 0.9),
    ("64.08.13.2005", "DANAU REDAN", 0.6), ("64.08.13.2006", "MARTADINATA", 0.7),
    ("64.08.04.1010", "TELUK LINGGA", 3.0), ("64.08.04.2001", "SANGATTA UTARA", 4.0),
    ("64.08.04.2011", "SINGA GEMBARA", 3.0), ("64.08.04.2012", "SWARGA BARA", 3.0),
    ("64.08.12.1002", "SINGA GEWEH", 2.0), ("64.08.12.2001", "SANGATTA SELATAN", 2.0),
    ("64.08.12.2003", "SANGKIMA", 0.8), ("64.08.12.2004", "TELUK SINGKAMA", 1.2),
    ("64.74.01.1001", "BONTANG KUALA", 0.7), ("64.74.01.1002", "BONTANG BARU", 1.0),
    ("64.74.01.1003", "LOK TUAN", 1.5), ("64.74.01.1004", "GUNTUNG", 0.8),
    ("64.74.01.1005", "GUNUNG ELAI", 1.0), ("64.74.01.1006", "API-API", 1.2),
    ("64.74.02.1001", "TANJUNG LAUT", 1.2), ("64.74.02.1002", "BERBAS TENGAH", 1.0),
    ("64.74.02.1003", "BERBAS PANTAI", 0.9), ("64.74.02.1004", "SATIMPO", 0.8),
    ("64.74.02.1005", "BONTANG LESTARI", 0.7), ("64.74.02.1006", "TANJUNG LAUT INDAH", 1.5),
    ("64.74.03.1001", "BELIMBING", 1.2), ("64.74.03.1002", "GUNUNG TELIHAN", 0.9),
    ("64.74.03.1003", "KANAAN", 0.8),
    ("64.02.17.2001", "SEBUNTAL", 0.8), ("64.02.17.2002", "SANTAN ULU", 0.7),
    ("64.02.17.2003", "SANTAN TENGAH", 0.7), ("64.02.17.2004", "SANTAN ILIR", 0.8),
    ("64.02.17.2005", "KERSIK", 0.6), ("64.02.17.2006", "BUNGA PUTIH", 0.7),
    ("64.02.17.2007", "MAKARTI", 0.6), ("64.02.17.2008", "PRANGAT SELATAN", 0.5),
    ("64.02.17.2009", "PRANGAT BARU", 0.6), ("64.02.17.2010", "SEMANGKO", 0.5),
    ("64.02.17.2011", "SAMBERA BARU", 0.6),
    ("64.02.05.2001", "SALIKI", 0.7), ("64.02.05.2002", "SALOK PALAI", 0.6),
    ("64.02.05.2003", "MUARA BADAK ULU", 1.6), ("64.02.05.2004", "MUARA BADAK ILIR", 1.4),
    ("64.02.05.2005", "TANJUNG LIMAU", 1.0), ("64.02.05.2006", "TANAH DATAR", 0.8),
    ("64.02.05.2007", "BADAK BARU", 1.5), ("64.02.05.2008", "SUKA DAMAI", 0.8),
    ("64.02.05.2009", "BADAK MEKAR", 1.0), ("64.02.05.2010", "GAS ALAM BADAK I", 0.6),
    ("64.02.05.2011", "BATU-BATU", 0.7), ("64.02.05.2012", "SALLO CELA", 0.5),
    ("64.02.05.2013", "SUNGAI BAWANG", 0.6),
]
_DESA_ALIASES = {
    "64.08.13.2006": ["MARTA DINATA"],
    "64.74.01.1005": ["GUNUNG LAI"],
    "64.74.01.1006": ["API API"],
    "64.74.02.1002": ["BEREBAS TENGAH"],
    "64.74.02.1003": ["BEREBAS PANTAI"],
    "64.02.17.2008": ["PERANGAT SELATAN"],
    "64.02.17.2009": ["PERANGAT BARU"],
    "64.02.17.2010": ["SEMANGKOK"],
    "64.02.05.2001": ["SELIKI"],
    "64.02.05.2010": ["GAS ALAM BADAK 1"],
}
_KAB_TEXT = {  # per source: canonical, variants
    0: ("KUTAI TIMUR",
        ["KAB. KUTAI TIMUR", "KABUPATEN KUTAI TIMUR", "Kutai Timur", "KAB KUTAI TIMUR", "KUTIM"]),
    1: ("BONTANG", ["KOTA BONTANG", "Kota Bontang", "Bontang"]),
}
_UNKNOWN_DESA = ["DESA BARU JAYA", "BARU JAYA", "MEKAR JAYA", "SUMBER SARI", "TANJUNG BARU"]
_MARTADINATA = "64.08.13.2006"
_GUNTUNG = "64.74.01.1004"
_SIDRAP_RT = np.arange(19, 26)
_SIDRAP_CENTRE = (0.168, 117.457)

# ----------------------------------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------------------------------


def _w(text: str, sep: str = " ") -> list[str]:
    return [t for t in text.split(sep) if t]


_ETH = ("bugis", "jawa", "banjar", "kutai", "dayak", "umum", "timur")
_MUSLIM = np.array([True, True, True, True, False, True, False])
# household ethnicity by home: kutim, bontang, kukar, sidrap
_ETH_P = np.array([
    [0.32, 0.25, 0.13, 0.12, 0.05, 0.09, 0.04],
    [0.35, 0.25, 0.12, 0.06, 0.03, 0.14, 0.05],
    [0.30, 0.22, 0.15, 0.18, 0.04, 0.08, 0.03],
    [0.80, 0.08, 0.05, 0.02, 0.00, 0.05, 0.00],
])
_MIGRANT_P = np.array([0.30, 0.35, 0.20, 0.0, 0.10, 0.12, 0.55])
# origin provinces per ethnicity: (province code, weight)
_ORIGIN = {
    0: [(73, 0.8), (76, 0.1), (72, 0.1)],
    1: [(35, 0.5), (33, 0.4), (34, 0.1)],
    2: [(63, 1.0)],
    3: [(64, 1.0)],
    4: [(62, 1.0)],
    5: [(32, 0.3), (31, 0.2), (13, 0.2), (71, 0.1), (52, 0.2)],
    6: [(53, 0.6), (73, 0.4)],
}
_N_KAB = {73: 24, 76: 6, 72: 12, 35: 29, 33: 29, 34: 4, 63: 11, 62: 13, 32: 18, 31: 5, 13: 12, 71: 11,
          52: 8, 53: 21, 64: 11}
_TOWNS = {
    73: _w("MAKASSAR UJUNG_PANDANG BONE WATAMPONE WAJO SENGKANG SOPPENG PINRANG PAREPARE BARRU SIDRAP "
           "RAPPANG PALOPO BULUKUMBA SINJAI MAKALE RANTEPAO"),
    76: _w("MAMUJU POLEWALI MAJENE"),
    72: _w("PALU POSO TOLITOLI DONGGALA"),
    35: _w("SURABAYA MALANG KEDIRI JEMBER BANYUWANGI LAMONGAN TULUNGAGUNG NGAWI MADIUN BLITAR"),
    33: _w("SEMARANG SOLO KLATEN BOYOLALI WONOGIRI PATI KEBUMEN CILACAP PURWOREJO"),
    34: _w("YOGYAKARTA SLEMAN BANTUL"),
    63: _w("BANJARMASIN MARTAPURA BARABAI AMUNTAI KANDANGAN RANTAU TANJUNG"),
    62: _w("PALANGKA_RAYA SAMPIT MUARA_TEWEH"),
    32: _w("BANDUNG GARUT TASIKMALAYA CIREBON"),
    31: _w("JAKARTA"),
    13: _w("PADANG BUKITTINGGI"),
    71: _w("MANADO"),
    52: _w("MATARAM BIMA LOMBOK"),
    53: _w("KUPANG ENDE MAUMERE LARANTUKA ATAMBUA FLORES"),
}
_TOWNS = {k: [t.replace("_", " ") for t in v] for k, v in _TOWNS.items()}
_LOCAL_TOWNS = {
    0: _w("SANGATTA SANGATTA SANGATTA SANGATA TELUK_PANDAN SAMARINDA BONTANG TENGGARONG MUARA_WAHAU "
          "SANGKULIRANG BENGALON KUTAI_TIMUR"),
    1: _w("BONTANG BONTANG BONTANG BONTANG SAMARINDA BALIKPAPAN TENGGARONG SANGATTA"),
    2: _w("MUARA_BADAK MUARA_BADAK MARANG_KAYU MARANG_KAYU TENGGARONG SAMARINDA ANGGANA BONTANG SANTAN "
          "KUTAI_KARTANEGARA"),
}
_LOCAL_TOWNS = {k: [t.replace("_", " ") for t in v] for k, v in _LOCAL_TOWNS.items()}

_UMUM_M = _w(
    "RIDWAN YUSUF ALI FAUZI RAHMAN HASAN HUSAIN IBRAHIM ISMAIL HIDAYAT IRFAN RIZKI SYAHRIR ARIF FIRDAUS "
    "HAMZAH ILHAM ZAINAL KHAIRUL FAISAL SYAIFUL RAHMAT NASRUL AMIR ANWAR BAHRUN FADLI HABIBI HAFIZ IQBAL "
    "JUNAIDI LUTFI MAHMUD MUSLIM NASIR RAFI SALEH SOLEH TAUFIK UMAR USMAN YAHYA ZAKARIA ZULKIFLI ARSYAD "
    "AZHAR FIKRI GHAZALI HENDRA AGUS DARMAWAN FAJAR DANI BUDI HERMAN RUSLAN KHALID MA'RUF SYAFI'I NYOMAN"
)
_UMUM_F = _w(
    "AMINAH AISYAH FATIMAH KHADIJAH RAHMAH HALIMAH ZAINAB HASANAH JANNAH MAISARAH MARYAM NURHAYATI NURLELA "
    "RAHMAWATI SALMAH SAFITRI WAHYUNI HIDAYAH FITRIANI KHAIRUNNISA MUNAWARAH SOFIA ZAHRA NABILA AULIA HAJAR "
    "ROSMALA ASMAWATI JUMIATI MARDIANA NURJANAH NURAINI NUR'AINI SULASTRI HARTINI DEWI RATNA SARI INDAH "
    "PUTRI YULIANA LESTARI ANISA HASNAH MULYANI ROSLINDA ERNAWATI"
)
_BUGIS_M = _w(
    "BACO BASO SYAMSUDDIN HASANUDDIN SAHARUDDIN AMIRUDDIN NURDIN KAHAR BAHAR ARIFIN JUMADI SUDIRMAN IRWAN "
    "SAMSUL HAMZAH MUSTAFA PATAHUDDIN RAHMAN MAPPE LANRE SULTAN AMBO TANG JUFRI KASMAN SULAIMAN HAERUDDIN "
    "SYAMSIR RUSDI HAMKA MUKHTAR ASRUL AKBAR ILYAS YUNUS NASRULLAH JAMALUDDIN RAHMAT ARDI ANDIKA FIRMAN"
)
_BUGIS_F = _w(
    "HASNAH HASNAWATI NURHAYATI MURNI RAHMAWATI HAJRAH NURMIATI SUHARTINI MARLINA RAHMATIA HASMAWATI "
    "SUKMAWATI NURWAHIDA KARMILA MASNIAH JUMRIAH SANNANG BECCE BUNGA NURHAEDAH HERLINA SALMAWATI MARWAH "
    "ARMAWATI FITRIANI"
)
_BANJAR_M = _w(
    "ASRAN MASRAN JUMRAN SAPRUDIN SYARIFUDDIN NORDIN MASLAN RAHMADI FAHRIANSYAH RIDUANSYAH HERIANSYAH "
    "ARBAIN ASMUNI BAHRANI GAZALI HAMDANI IRHAM JAHRI KHAIRIL MAHYUDIN NASRUN RUSMAN SAHRANI SYAHRIANSYAH "
    "ZAINUDDIN ABDULLAH ALIANSYAH HUSIN ANDRIANSYAH RAHMADANI"
)
_BANJAR_F = _w(
    "NORHAYATI NORMA NORJANAH ISLAMIAH MASLIANI NORLAILA RUSMINAH JUBAIDAH HASANAH MAHMUDAH NORMALIA SAPNAH "
    "RABIAH RUSDIANA HALIMATUS NORSIAH ASNAH FAHRIAH MURNIATI SALASIAH ZALEHA NURUL RAHIMAH"
)
_JAWA_M = _w(
    "SUPARMAN SUGIANTO SUTRISNO BAMBANG JOKO SLAMET PARJO WIDODO SUYATNO SUPRIYADI HARTONO TUKIMAN SUKARDI "
    "PURWANTO SUGENG SUBAGYO SURATMAN SUWARNO MULYONO PAIMIN SAMIJO TRIYONO WAHYUDI SUGIYONO KUSNADI SUHARTO "
    "PONIMAN SUJARWO SUPRIANTO DARMAJI EKO HERU SETIAWAN PRASETYO NUGROHO HARYANTO WIBOWO SANTOSO BUDIONO "
    "YULIANTO TEGUH AGUS RUDI DWI CAHYONO SOEPARMAN SOEGIANTO DJOKO SOEHARTO TJAHJONO SOEMARNO"
)
_JAWA_M2 = _w("PRASETYO SANTOSO NUGROHO WIBOWO SETIAWAN HARYANTO SUSILO PURNOMO WALUYO RAHARJO KURNIAWAN "
              "SAPUTRO HIDAYAT PURWANTO SUPRIYANTO")
_JAWA_F = _w(
    "SUMIATI SUPARTI TUMINAH WARSINI SUKINEM ENDANG YULIANI PARTINI SUMARNI SRIYATI TARSIH SUWARTI WAGIYEM "
    "SUNARSIH KASMINI NGATINI RUBIYEM MUJIATI SUPRIHATIN WIWIK LESTARI PURWANTI RAHAYU MULYANI WAHYUNI "
    "SUNDARI HANDAYANI SETYOWATI ASTUTI KUSUMAWATI"
)
_SRI = _w("WAHYUNI RAHAYU MULYANI LESTARI HANDAYANI SUNDARI ASTUTI PURWANTI SUMARNI HARTATI UTAMI")
_KUTAI_M = _w(
    "RUSLI MASDAR JAINUDDIN SYAHRANI ARSYAD ABDUL_MUIS KASMIRAN MASRANI IDRIS AMIR HASBI JAILANI NORDIN "
    "SYAHRIR SAPARUDDIN ASMURI HERLAN ZULKARNAIN MUKHLIS SURIANSYAH ADRIANSYAH"
)
_KUTAI_M = [t.replace("_", " ") for t in _KUTAI_M]
_KUTAI_F = _w("SALMAH RUSMINAH MASNAH JAINAH NORSIAH HADIJAH JAMILAH SALASIAH RUKIAH MAHDALENA ROSIDAH "
              "JAMRAH MASLIAH NORHAYATI RUSNAH HALIMAH BAHRIAH "
              "HAMIDAH SARIAH ASIAH")
_KRISTEN_M = _w(
    "YOHANES PETRUS PAULUS STEFANUS ANTONIUS MARKUS YAKOBUS FRANSISKUS MATIUS LUKAS ANDREAS YOSEF BENEDIKTUS "
    "SIMON PILIPUS RENÉ JOSÉ ANDRÉ HERONIMUS MIKAEL"
)
_KRISTEN_F = _w(
    "MARIA MARTHA ELISABETH YOHANA AGNES THERESIA VERONIKA MAGDALENA KRISTINA LUSIA MONIKA SISILIA ROSALIA "
    "BERTHA REGINA YOSEFINA KORNELIA RENÉE"
)
_DAYAK_M = _w("LUHUNG UBANG JALUNG NGAU LUWAN HIPUI BELAWING UDAU LIAH IMANG LAING LEDANG")
_DAYAK_F = _w("BUNGAN UBUNG HUNYANG INGAN LUING ISAQ")
_DAYAK_SURNAME = _w("LUHUNG LEDANG BILUNG LAHANG UBANG JALUNG NGAU LUWAN HIPUI BELAWING UDAU IMANG ANYE "
                    "LAING")
_TIMUR_SURNAME = _w("DA SILVA|FERNANDEZ|DE ROZARI|TALLO|PABURA|TANDI|PATANDUNG|SARONGALLO|RAMPA|LEWAR|KOTEN|"
                    "PANDIE|MANEK|NDUN|RATU|PARERA", "|")
_DEGREES = _w("S.PD S.PD.I S.E. S.H. S.SOS S.T. S.KOM S.AG A.MD M.M. M.PD S.KEP S.E.,M.M")
_COMMON_M = _w("MUHAMMAD RIDWAN|MUHAMMAD YUSUF|MUHAMMAD ALI|AHMAD FAUZI|ABDUL RAHMAN|MUHAMMAD IQBAL|"
               "MUHAMMAD RIZKI|AHMAD RIFAI|MUHAMMAD ARIF|ABDUL HAMID|SUPARMAN|MUHAMMAD ILHAM", "|")
_COMMON_F = _w("SITI AMINAH|SITI AISYAH|SITI FATIMAH|NUR HAYATI|SITI RAHMAH|SRI WAHYUNI|NURHAYATI|"
               "SITI KHADIJAH|NUR AINI|SITI HAJAR|SRI RAHAYU|SITI NURHALIZA", "|")
_TWINS = {  # sex pattern: (name a, name b)
    "MM": [("HASAN", "HUSEIN"), ("HASAN", "HUSAIN"), ("FAJAR", "FAJRI"), ("RIZKI", "RIZAL"),
           ("ARIF", "ARIFIN"), ("DIMAS", "DIMAN"), ("RAHMAT", "RAHMAN"), ("YUSUF", "YUNUS"),
           ("AGUS", "AGUNG"), ("ILHAM", "ILHAN")],
    "FF": [("RINA", "RINI"), ("FITRI", "FITRIA"), ("AINUN", "AINI"), ("LAILA", "LAILI"),
           ("HASANAH", "HUSNAH"), ("NIA", "NISA"), ("DEWI", "DIAN"), ("NURUL", "NURLIA")],
    "MF": [("PUTRA", "PUTRI"), ("RIZKI", "RIZKA"), ("WAHYU", "WAHYUNI"), ("DEDI", "DEWI"), ("YUDI", "YUNI"),
           ("ANDRI", "ANDRIANI")],
}
_MUHAMMAD_VARIANTS = _w("MUHAMMAD MUHAMAD MOHAMMAD MOHAMAD MOCHAMMAD MOCH. MOH. MUH. MHD. MD. M.")
_MUH_PATTERN = (r"\b(MUHAMMAD|MUHAMAD|MOHAMMAD|MOHAMAD|MOCHAMMAD|MOCHAMAD|MOCH\.|MOCH|MOHD\.|MOHD|MOH\.|MOH|"
                r"MUH\.|MUH|MHD\.|MHD|MD\.|M\.)( |$)")

# (pattern, replacement, replace all?) — regex, Rust syntax
_EJAAN_RULES: list[tuple[str, str, bool]] = [
    ("U", "OE", True), ("(^|[^D])J", "${1}DJ", True), ("C", "TJ", True), ("Y", "J", True), ("SY", "SJ", True),
    ("KH", "CH", True), ("NY", "NJ", True),
    ("OE", "U", True), ("DJ", "J", True), ("TJ", "C", True), ("SJ", "SY", True), ("NJ", "NY", True),
]
_VARIAN_RULES: list[tuple[str, str, bool]] = [
    (r"\bSITI\b", "SITTI", False), (r"\bSITTI\b", "SITI", False), (r"\bNUR\b", "NOOR", False),
    (r"\bNOOR\b", "NUR", False), (r"\bNUR\b", "NURUL", False), (r"\bDEWI\b", "DEWY", False),
    (r"\bABDUL RAHMAN\b", "ABDURRAHMAN", False), (r"\bABDURRAHMAN\b", "ABDUL RAHMAN", False),
    (r"\bABDUL\b", "ABD.", False), (r"\bZAINAL\b", "ZAENAL", False), (r"UDDIN\b", "UDIN", False),
    (r"\bAHMAD\b", "ACHMAD", False), (r"\bRAHMAT\b", "RACHMAT", False), (r"\bYUSUF\b", "YUSUP", False),
    (r"\bHASAN\b", "HASSAN", False), (r"\bNURHAYATI\b", "NUR HAYATI", False),
    (r"\bNUR HAYATI\b", "NURHAYATI", False), (r"\bFITRIANI\b", "FITRIYANI", False),
    (r"\bRATNA SARI\b", "RATNASARI", False), (r"\bHUSAIN\b", "HUSEIN", False),
    (r"\bSYAMSUL\b", "SAMSUL", False),
    (r"\bNOR", "NUR", False), (r"IANSYAH\b", "IANSAH", False), (r"\bMUHAMMAD\b", "MUHAMAD", False),
]
_TEMPAT_RULES: list[tuple[str, str, bool]] = [
    ("^UJUNG PANDANG$", "MAKASSAR", False), ("^MAKASSAR$", "UJUNG PANDANG", False),
    ("^SANGATTA$", "SANGATA", False), ("^SANGATA$", "SANGATTA", False), ("^SAMARINDA$", "SMD", False),
    ("^BALIKPAPAN$", "BPP", False), ("^YOGYAKARTA$", "JOGJAKARTA", False),
    ("^BANJARMASIN$", "BANJAR MASIN", False), ("^PALANGKA RAYA$", "PALANGKARAYA", False),
    ("^WATAMPONE$", "BONE", False), ("^BONE$", "WATAMPONE", False), ("^SURABAYA$", "SURABAJA", False),
    ("^BONTANG$", "BONTANG KOTA", False), ("^TENGGARONG$", "TENGGARONG KUKAR", False),
    ("^MUARA BADAK$", "MUARABADAK", False), ("^SIDRAP$", "SIDENRENG RAPPANG", False),
    ("^SOLO$", "SURAKARTA", False), ("^KUTAI TIMUR$", "KUTIM", False),
]

_STREETS = _w(
    "MERDEKA|AHMAD YANI|PANGERAN ANTASARI|SUDIRMAN|DIPONEGORO|YOS SUDARSO|PELABUHAN|POROS BONTANG-SANGATTA|"
    "IMAM BONJOL|KS TUBUN|DI PANJAITAN|MULAWARMAN|AWANG LONG|BRIGJEN KATAMSO|HASANUDDIN|PIPIT|CEMARA|"
    "MELATI|ANGGREK|KENANGA|SEMANGKA|DURIAN|RAMBUTAN|POROS SAMARINDA-BONTANG|PENDIDIKAN|SEPAKAT|"
    "KARYA BAKTI|GOTONG ROYONG|BUKIT PELANGI|SOEKARNO-HATTA|R.E. MARTADINATA|DR. SUTOMO|JENDRAL SUDIRMAN|"
    "PERJUANGAN|SULTAN HASANUDDIN|TELUK LINGGA|BUKIT INDAH|APT PRANOTO", "|")
_DUSUN = _w("SUKA MAJU|SIDOMULYO|SUMBER REJEKI|KARYA JAYA|MEKAR SARI|TANJUNG HARAPAN|BATU PUTIH|SELANGKAU|"
            "PANGEMPANG|KAMPUNG BARU|MAKMUR|TELUK KADERE|SUKA RAMAI|SIDOREJO|HARAPAN BARU|MUARA", "|")
_GANG = _w("MELATI|BERSAMA|H. SALEH|MUSHOLA|DAMAI|MAWAR|KELAPA|SEPAKAT|SETIA KAWAN|H. ABDULLAH|RUKUN", "|")


# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, items: list[str], n: int) -> np.ndarray:
    arr = np.array(items, dtype=object)
    return arr[rng.integers(0, len(items), n)]


def _sample_k(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    """k distinct elements of pool (fewer if the pool is smaller), in pool order."""
    k = int(min(max(k, 0), pool.size))
    if k == 0:
        return pool[:0]
    return np.sort(rng.choice(pool, size=k, replace=False))


def _unique_serial(key: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Serial numbers >= raw, strictly increasing (so distinct) within each key."""
    n = key.size
    if n == 0:
        return raw.copy()
    order = np.lexsort((raw, key))
    k = key[order]
    start = np.ones(n, dtype=bool)
    start[1:] = k[1:] != k[:-1]
    pos0 = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    rank = np.arange(n) - pos0
    gid = np.cumsum(start).astype(np.int64)
    big = np.int64(10**7)
    t = raw[order].astype(np.int64) - rank + gid * big
    s = np.maximum.accumulate(t) - gid * big + rank
    out = np.empty(n, dtype=np.int64)
    out[order] = s
    return out


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    return (
        y.astype(np.int64) + 1970,
        (m - y.astype("datetime64[M]")).astype(np.int64) + 1,
        (d - m.astype("datetime64[D]")).astype(np.int64) + 1,
    )


def _days_in_month(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    first = (y - 1970) * 12 + (m - 1)
    a = first.astype("datetime64[M]").astype("datetime64[D]")
    b = (first + 1).astype("datetime64[M]").astype("datetime64[D]")
    return (b - a).astype(np.int64)


def _s(values: np.ndarray | list[str]) -> pl.Series:
    return pl.Series(values=list(values) if isinstance(values, np.ndarray) else values, dtype=pl.String)


def _zfill(a: np.ndarray, width: int) -> pl.Series:
    return pl.Series(a.astype(np.int64)).cast(pl.String).str.zfill(width)


def _join_parts(parts: list[pl.Series], sep: str = " ") -> pl.Series:
    df = pl.DataFrame({f"c{i}": p for i, p in enumerate(parts)})
    return df.select(pl.concat_str(pl.all(), separator=sep, ignore_nulls=True).alias("s")).to_series()


def _where(mask: np.ndarray, a: pl.Series, b: pl.Series) -> pl.Series:
    return pl.select(pl.when(pl.Series(mask)).then(a).otherwise(b)).to_series().cast(pl.String)


def _apply_rules(
    s: pl.Series, rows: np.ndarray, rules: list[tuple[str, str, bool]], rng: np.random.Generator
) -> tuple[pl.Series, np.ndarray]:
    """Apply one applicable rule (chosen at random) to each of `rows` of `s`; return it and a changed mask."""
    s = s.clone()
    changed = np.zeros(len(s), dtype=bool)
    if rows.size == 0:
        return s, changed
    sub = s.gather(rows)
    appl = np.column_stack([sub.str.contains(p).fill_null(False).to_numpy() for p, _, _ in rules])
    score = np.where(appl, rng.random(appl.shape), -1.0)
    choice = np.where(appl.any(axis=1), score.argmax(axis=1), -1)
    for r, (pat, rep, all_) in enumerate(rules):
        idx = rows[choice == r]
        if idx.size:
            old = s.gather(idx)
            new = old.str.replace_all(pat, rep) if all_ else old.str.replace(pat, rep, n=1)
            s.scatter(idx, new)
    changed[rows] = (s.gather(rows) != sub).fill_null(False).to_numpy()
    return s, changed


def _rule_applicable(s: pl.Series, rules: list[tuple[str, str, bool]]) -> np.ndarray:
    out = np.zeros(len(s), dtype=bool)
    for p, _, _ in rules:
        out |= s.str.contains(p).fill_null(False).to_numpy()
    return out


# ----------------------------------------------------------------------------------------------------------
# Region layout
# ----------------------------------------------------------------------------------------------------------


@dataclass
class _Layout:
    kode: list[str]
    name: list[str]
    jenis: list[str]
    kec: np.ndarray  # index into kec list
    src: np.ndarray
    weight: np.ndarray
    n_rt: np.ndarray  # regular RT count (Sidrap RTs come on top for Martadinata/Guntung)
    rt_rw: list[np.ndarray]  # per desa: RW of RT r at index r (index 0 unused)
    lat: np.ndarray
    lon: np.ndarray
    kec_kode: list[str]
    kec_name: list[str]
    kec_src: np.ndarray
    i_marta: int
    i_guntung: int
    sidrap_rw: dict[int, int]


def _layout(rng: np.random.Generator, voters: int, shares: np.ndarray) -> _Layout:
    kec_kode = list(_KEC)
    kec_name = [_KEC[k][0] for k in kec_kode]
    kec_src = np.array([_KEC[k][1] for k in kec_kode])
    kode = [d[0] for d in _DESA]
    name = [d[1] for d in _DESA]
    jenis = ["KELURAHAN" if k.split(".")[3].startswith("1") else "DESA" for k in kode]
    kec = np.array([kec_kode.index(k[:8]) for k in kode])
    src = kec_src[kec]
    weight = np.array([d[2] for d in _DESA])
    wsum = np.array([weight[src == s].sum() for s in range(3)])
    expected = voters * shares[src] * weight / wsum[src]
    n_rt = np.clip(np.round(expected / 150.0), 6, 400).astype(np.int64)
    i_marta, i_guntung = kode.index(_MARTADINATA), kode.index(_GUNTUNG)
    n_rt[[i_marta, i_guntung]] = 18
    rt_rw: list[np.ndarray] = []
    sidrap_rw: dict[int, int] = {}
    for i in range(len(kode)):
        per_rw = int(rng.integers(4, 8))
        rw = np.zeros(n_rt[i] + 1, dtype=np.int64)
        rw[1:] = (np.arange(n_rt[i]) // per_rw) + 1
        if i in (i_marta, i_guntung):
            sidrap_rw[i] = int(rw[-1]) + 1
            rw = np.concatenate([rw, np.full(_SIDRAP_RT.size, sidrap_rw[i])])
        rt_rw.append(rw)
    # desa centres: spread around the kecamatan centre; Martadinata and Guntung flank Sidrap
    klat = np.array([_KEC[k][2] for k in kec_kode])
    klon = np.array([_KEC[k][3] for k in kec_kode])
    lat = klat[kec] + rng.uniform(-0.045, 0.045, len(kode))
    lon = klon[kec] + rng.uniform(-0.045, 0.045, len(kode))
    lat[i_marta], lon[i_marta] = _SIDRAP_CENTRE[0] + 0.012, _SIDRAP_CENTRE[1] - 0.010
    lat[i_guntung], lon[i_guntung] = _SIDRAP_CENTRE[0] - 0.011, _SIDRAP_CENTRE[1] + 0.012
    return _Layout(kode, name, jenis, kec, src, weight, n_rt, rt_rw, lat, lon, kec_kode, kec_name, kec_src,
                   i_marta, i_guntung, sidrap_rw)


def _rw(lay: _Layout, desa: np.ndarray, rt: np.ndarray) -> np.ndarray:
    """RW of each (desa, RT)."""
    flat = np.concatenate(lay.rt_rw)
    offset = np.concatenate([[0], np.cumsum([a.size for a in lay.rt_rw])[:-1]])
    return flat[offset[desa] + rt].astype(np.int64)


def _rt_coordinates(
    rng: np.random.Generator, lay: _Layout
) -> dict[tuple[int, int, int], tuple[float, float]]:
    """(desa index, rw, rt) -> (lat, lon) for every RT of the layout (Sidrap RTs shared by two desa)."""
    km = 1.0 / 111.0
    out: dict[tuple[int, int, int], tuple[float, float]] = {}
    for i in range(len(lay.kode)):
        rw_of = lay.rt_rw[i]
        n_reg = int(lay.n_rt[i])
        n_rw = int(rw_of[n_reg]) if n_reg else 0
        ang = rng.uniform(0, 2 * np.pi, n_rw + 1)
        rad = rng.uniform(0.9, 1.8, n_rw + 1)
        jit = rng.normal(0.0, 0.22, (n_reg + 1, 2))
        for r in range(1, n_reg + 1):
            w = int(rw_of[r])
            dy = rad[w] * np.sin(ang[w]) + jit[r, 0]
            dx = rad[w] * np.cos(ang[w]) + jit[r, 1]
            dist = float(np.hypot(dx, dy))
            f = min(max(dist, 0.5), 2.5) / max(dist, 1e-9)
            out[(i, w, r)] = (float(lay.lat[i] + dy * f * km), float(lay.lon[i] + dx * f * km))
    sid = rng.normal(0.0, 0.35, (_SIDRAP_RT.size, 2))
    for j, r in enumerate(_SIDRAP_RT.tolist()):
        p = (_SIDRAP_CENTRE[0] + sid[j, 0] * km, _SIDRAP_CENTRE[1] + sid[j, 1] * km)
        for i in (lay.i_marta, lay.i_guntung):
            out[(i, lay.sidrap_rw[i], int(r))] = p
    return out


# ----------------------------------------------------------------------------------------------------------
# The generator
# ----------------------------------------------------------------------------------------------------------

_SHARES = np.array([0.30, 0.15, 0.55])  # rows per source (Kutim, Bontang, Kukar)
_HH_SIZE_P = np.array([0.10, 0.28, 0.27, 0.18, 0.10, 0.05, 0.02])
_DUP_RATE = 0.042  # duplicated persons / persons
# One person, two NIKs: share of the across-list copies in Desa Martadinata (Dusun Sidrap: border residents
# registered in two regencies), of all copies (the other copies get what it takes, at least _DUA_NIK_MIN).
_DUA_NIK_SIDRAP, _DUA_NIK_ALL, _DUA_NIK_MIN = 0.10, 0.045, 0.01
# Share of copies given a NIK slip and a date slip on purpose (chance adds about as many again).
_DUA_SALAH_FORCED = 0.012


def _addresses(
    rng: np.random.Generator, src: np.ndarray, rt: np.ndarray, sidrap: np.ndarray
) -> pl.Series:
    """One address per entry, styled by source; Sidrap addresses as each side writes them."""
    n = src.size
    df = pl.DataFrame({
        "src": src.astype(np.int64), "rt": rt.astype(np.int64), "sid": sidrap,
        "st": _pick(rng, _STREETS, n).astype(str), "du": _pick(rng, _DUSUN, n).astype(str),
        "gg": _pick(rng, _GANG, n).astype(str), "no": rng.integers(1, 120, n), "gn": rng.integers(1, 12, n),
        "bl": _pick(rng, list("ABCDEFGH"), n).astype(str), "u": rng.random(n),
    })
    c = pl.col
    no, gn, rtc = c("no").cast(pl.String), c("gn").cast(pl.String), c("rt").cast(pl.String)
    styles = {
        0: [(0.35, "JL. " + c("st")), (0.50, "JL. " + c("st") + " NO. " + no), (0.60, "GG. " + c("gg")),
            (0.82, "DUSUN " + c("du")), (0.96, "RT " + rtc.str.zfill(3)),
            (1.01, "PERUM " + c("du") + " BLOK " + c("bl") + " NO. " + no)],
        1: [(0.30, "JL. " + c("st") + " NO. " + no), (0.50, "JL. " + c("st") + ", GG. " + gn),
            (0.68, "JL. " + c("st")), (0.78, "KOMP. PKT BLOK " + c("bl") + " NO. " + no),
            (0.90, "GG. " + c("gg")), (1.01, "RT " + rtc)],
        2: [(0.40, "DUSUN " + c("du")), (0.70, "JL. " + c("st")), (0.90, "RT " + rtc.str.zfill(2)),
            (1.01, "GG. " + c("gg"))],
    }
    expr = pl.when(c("sid") & (c("src") == 0)).then(
        pl.when(c("u") < 0.7).then(pl.lit("DUSUN SIDRAP")).otherwise("DUSUN SIDRAP RT " + rtc.str.zfill(3))
    ).when(c("sid") & (c("src") == 1)).then(
        pl.when(c("u") < 0.45).then(pl.lit("JL. POROS SIDRAP"))
        .when(c("u") < 0.75).then("SIDRAP RT " + rtc)
        .otherwise("JL. SIDRAP, GG. " + gn)
    )
    for s, lst in styles.items():
        for cum, e in lst:
            expr = expr.when((c("src") == s) & (c("u") < cum)).then(e)
    return df.select(expr.otherwise(pl.lit("")).alias("a")).to_series()


class _Gen:
    def __init__(self, voters: int, seed: int) -> None:
        self.N = int(voters)
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.lay = _layout(self.rng, self.N, _SHARES)

    # ------------------------------------------------------------------ households and persons
    def households(self) -> None:
        rng, N = self.rng, self.N
        self.n_reject = max(12, round(0.002 * N))
        P = int(round((N - self.n_reject) / (1.0 + _DUP_RATE)))
        self.P = P
        sizes = rng.choice(np.arange(1, 8), size=P // 2 + 10, p=_HH_SIZE_P)
        cs = np.cumsum(sizes)
        H = int(np.searchsorted(cs, P) + 1)
        sizes = sizes[:H].copy()
        sizes[-1] -= cs[H - 1] - P
        self.H = H
        self.size = sizes
        self.hh_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.hh = np.repeat(np.arange(H), sizes)
        self.member = np.arange(P) - self.hh_start[self.hh]
        hsize = sizes[self.hh]
        self.hsize = hsize

        # Sidrap households: enough people that a 5,000-voter roll has > 60 Kutim/Bontang double entries
        sid_target = min(0.031 * P, 2500 + 0.008 * P)
        perm = rng.permutation(H)
        k = int(np.searchsorted(np.cumsum(sizes[perm]), sid_target) + 1)
        is_sid = np.zeros(H, dtype=bool)
        is_sid[perm[:k]] = True
        self.is_sid = is_sid
        # Sidrap registration: 0 both lists, 1 Bontang only, 2 Kutim only
        sid_p = np.array([0.60, 0.27, 0.13])
        self.sid_mode = np.where(is_sid, rng.choice(3, H, p=sid_p), -1)
        # regular households' list, so that rows come out near _SHARES once Sidrap is counted in
        f_sid = sizes[is_sid].sum() / P
        want = _SHARES * (1.0 + _DUP_RATE) - f_sid * np.array([sid_p[0] + sid_p[2], sid_p[0] + sid_p[1], 0.0])
        home_p = np.maximum(want, 0.05)
        home_p /= home_p.sum()

        lay = self.lay
        src = rng.choice(3, H, p=home_p)
        src[is_sid] = np.where(self.sid_mode[is_sid] == 2, 0, 1)
        desa = np.empty(H, dtype=np.int64)
        for s in range(3):
            cand = np.flatnonzero(lay.src == s)
            w = lay.weight[cand] / lay.weight[cand].sum()
            sel = np.flatnonzero(src == s)
            desa[sel] = rng.choice(cand, sel.size, p=w)
        desa[is_sid] = np.where(src[is_sid] == 0, lay.i_marta, lay.i_guntung)
        rt = (rng.random(H) * lay.n_rt[desa]).astype(np.int64) + 1
        rt[is_sid] = rng.choice(_SIDRAP_RT, int(is_sid.sum()))
        self.h_src, self.h_desa, self.h_rt = src, desa, rt
        self.h_rw = _rw(lay, desa, rt)

        home = np.where(is_sid, 3, src)
        u = rng.random(H)
        cum = np.cumsum(_ETH_P[home], axis=1)
        self.h_eth = (u[:, None] >= cum).sum(axis=1).clip(0, len(_ETH) - 1)
        self.h_migrant = rng.random(H) < _MIGRANT_P[self.h_eth]
        # origin code (6 digits) for migrants
        prov = np.zeros(H, dtype=np.int64)
        for e, lst in _ORIGIN.items():
            sel = np.flatnonzero(self.h_eth == e)
            codes = np.array([p for p, _ in lst])
            w = np.array([x for _, x in lst])
            prov[sel] = rng.choice(codes, sel.size, p=w / w.sum())
        nkab = np.array([_N_KAB[int(p)] for p in prov]) if H else np.zeros(0, dtype=np.int64)
        kab = (rng.random(H) * nkab).astype(np.int64) + 1
        kec = rng.integers(1, 21, H)
        # Sidrap's Bugis came above all from Sidenreng Rappang (73.14)
        sid_bugis = is_sid & (self.h_eth == 0) & (prov == 73) & (rng.random(H) < 0.7)
        kab[sid_bugis] = 14
        self.h_origin = prov * 10000 + kab * 100 + kec
        self.h_migrant &= prov != 64
        kec_code6 = np.array([int(k.replace(".", "")) for k in lay.kec_kode])
        self.h_local = kec_code6[lay.kec[desa]]
        # Sidrap: mostly Bontang KTP/KK, a few Kutim
        bontang_u, teluk_pandan = 647401, 640813
        r = rng.random(H)
        self.h_local[is_sid] = np.where(
            self.sid_mode[is_sid] == 2,
            np.where(r[is_sid] < 0.5, bontang_u, teluk_pandan),
            np.where(r[is_sid] < 0.9, bontang_u, teluk_pandan),
        )
        self.h_noble = rng.random(H) < np.select(
            [self.h_eth == 0, self.h_eth == 2, self.h_eth == 3], [0.15, 0.08, 0.18], 0.0)
        self.h_surname = np.full(H, None, dtype=object)
        dy, ti = _pick(rng, _DAYAK_SURNAME, H), _pick(rng, _TIMUR_SURNAME, H)
        self.h_surname[self.h_eth == 4] = dy[self.h_eth == 4]
        self.h_surname[self.h_eth == 6] = ti[self.h_eth == 6]
        self.h_addr = _addresses(rng, src, rt, is_sid)

        # persons: sex, age
        m = self.member
        hh = self.hh
        sex = np.zeros(P, dtype=np.int64)  # 0 = L, 1 = P
        head_f = rng.random(H) < np.where(sizes == 1, 0.5, 0.1)
        sex[m == 0] = head_f[hh[m == 0]]
        sex[m == 1] = 1 - head_f[hh[m == 1]]
        kids = m >= 2
        sex[kids] = rng.random(int(kids.sum())) < 0.5
        h_age = np.where(
            sizes == 1,
            np.where(rng.random(H) < 0.55, rng.uniform(18, 40, H), rng.uniform(40, 89, H)),
            np.where(sizes >= 3, np.clip(rng.normal(52, 10, H), 38, 88),
                     np.clip(rng.normal(44, 15, H), 19, 89)),
        )
        age = h_age[hh].copy()
        sp = m == 1
        age[sp] = np.clip(age[sp] + rng.normal(-3.0, 4.0, int(sp.sum())), 17.2, 89.9)
        gap = rng.uniform(20, 38, P)
        child_age = age - gap
        child_age = np.where(child_age < 17.1, 17.1 + rng.uniform(0, 4, P), child_age)
        age[kids] = child_age[kids]
        # The clips above pile ages on their bounds (38, 19, 17.2 years), which would give thousands of
        # people one birthday; a year's jitter spreads them (and keeps everyone 17 or older).
        age = age + rng.uniform(0.0, 1.0, P)
        self.sex = sex
        self.age = age
        self.birth = REF_DATE - (age * 365.2425).astype(np.int64).astype("timedelta64[D]") - _ONE_DAY

    # ------------------------------------------------------------------ movers and hard negatives
    def select_groups(self) -> None:
        rng, P = self.rng, self.P
        used_h = self.is_sid.copy()
        # movers: whole households registered again, in another list, at a new address
        n_mov_persons = 0.008 * P
        cand = np.flatnonzero(~used_h)
        perm = rng.permutation(cand)
        k = int(np.searchsorted(np.cumsum(self.size[perm]), n_mov_persons) + 1)
        self.mover_h = np.sort(perm[:k])
        used_h[self.mover_h] = True

        npairs = max(9, int(np.ceil(0.0022 * self.N)))
        self.npairs = npairs
        hs = self.hh_start
        # twins: children 2 and 3 of a household of >= 4
        cand = np.flatnonzero(~used_h & (self.size >= 4))
        tw_h = _sample_k(rng, cand, npairs)
        used_h[tw_h] = True
        self.twin_a, self.twin_b = hs[tw_h] + 2, hs[tw_h] + 3
        pat = rng.choice(3, tw_h.size, p=[0.4, 0.35, 0.25])
        self.twin_pat = pat
        self.sex[self.twin_a] = np.where(pat == 1, 1, 0)
        self.sex[self.twin_b] = np.where(pat == 0, 0, 1)
        self.age[self.twin_b] = self.age[self.twin_a]
        self.birth[self.twin_b] = self.birth[self.twin_a]

        # son named after his father: head (male, >= 40) and member 2
        cand = np.flatnonzero(~used_h & (self.size >= 3) & (self.age[hs] >= 42))
        aa_h = _sample_k(rng, cand, npairs)
        used_h[aa_h] = True
        fa, so = hs[aa_h], hs[aa_h] + 2
        self.sex[fa] = 0
        self.sex[fa + 1] = 1
        self.sex[so] = 0
        gap = rng.uniform(20, np.minimum(35, self.age[fa] - 17.2))
        self.age[so] = self.age[fa] - gap
        self.birth[so] = REF_DATE - (self.age[so] * 365.2425).astype(np.int64).astype("timedelta64[D]") - _ONE_DAY
        self.father, self.son = fa, so

        # a relative's NIK on someone else's row: owner = head, carrier = another member
        cand = np.flatnonzero(~used_h & (self.size >= 2))
        ns_h = _sample_k(rng, cand, npairs)
        used_h[ns_h] = True
        self.nik_owner = hs[ns_h]
        self.nik_carrier = hs[ns_h] + 1 + (rng.random(ns_h.size) * (self.size[ns_h] - 1)).astype(np.int64)

        # common names, same birth year, same kecamatan, different households
        cand_p = np.flatnonzero(~used_h[self.hh] & _MUSLIM[self.h_eth[self.hh]])
        kec = self.lay.kec[self.h_desa[self.hh[cand_p]]]
        order = np.lexsort((rng.random(cand_p.size), self.sex[cand_p], kec))
        c = cand_p[order]
        grp = kec[order] * 2 + self.sex[c]
        a, b = c[0:-1:2], c[1::2]
        ok = (grp[0:-1:2] == grp[1::2]) & (self.hh[a] != self.hh[b])
        idx = _sample_k(rng, np.flatnonzero(ok), npairs)
        self.nu_a, self.nu_b = a[idx], b[idx]
        self.used_person = np.zeros(P, dtype=bool)
        self.used_person |= used_h[self.hh]
        self.used_person[self.nu_a] = True
        self.used_person[self.nu_b] = True
        self.used_h = used_h

    # ------------------------------------------------------------------ names
    def names(self) -> None:
        rng, P = self.rng, self.P
        eth = self.h_eth[self.hh]
        sex = self.sex
        noble = self.h_noble[self.hh]
        first = np.full(P, None, dtype=object)
        given = np.full(P, None, dtype=object)
        second = np.full(P, None, dtype=object)
        prefix = np.full(P, None, dtype=object)
        surname = np.full(P, None, dtype=object)
        u = rng.random((P, 4))

        def fill(mask: np.ndarray, target: np.ndarray, items: list[str]) -> None:
            idx = np.flatnonzero(mask)
            target[idx] = _pick(rng, items, idx.size)

        M, F = sex == 0, sex == 1
        muslim_first_m = np.select([u[:, 0] < 0.30, u[:, 0] < 0.40, u[:, 0] < 0.48],
                                   ["MUHAMMAD", "AHMAD", "ABDUL"], "")
        muslim_first_f = np.select([u[:, 0] < 0.25, u[:, 0] < 0.40], ["SITI", "NUR"], "")
        mf = np.where(M, muslim_first_m, muslim_first_f)
        # Muhammad written the regional way for some
        muh_var = _pick(rng, ["MUHAMAD", "MOHAMMAD", "MOH.", "M.", "MUH.", "MOCH."], P)
        mf = np.where((mf == "MUHAMMAD") & (u[:, 3] < 0.15), muh_var, mf)
        mf = mf.astype(object)
        mf[mf == ""] = None
        for e in range(len(_ETH)):
            E = eth == e
            if e in (0, 2, 3, 5):  # Bugis, Banjar, Kutai, Arabic-Muslim
                lm = {0: _BUGIS_M, 2: _BANJAR_M, 3: _KUTAI_M, 5: _UMUM_M}[e]
                lf = {0: _BUGIS_F, 2: _BANJAR_F, 3: _KUTAI_F, 5: _UMUM_F}[e]
                first[E] = mf[E]
                fill(E & M, given, lm)
                fill(E & F, given, lf)
                sec = E & (u[:, 1] < (0.60 if e == 5 else 0.45))
                fill(sec & M, second, _UMUM_M + lm)
                fill(sec & F, second, _UMUM_F + lf)
            elif e == 1:  # Javanese: single names common
                fj = np.full(P, None, dtype=object)
                fj[M & (u[:, 0] < 0.08)] = "MUHAMMAD"
                fj[F & (u[:, 0] < 0.15)] = "SITI"
                fj[F & (u[:, 0] >= 0.15) & (u[:, 0] < 0.40)] = "SRI"
                first[E] = fj[E]
                fill(E & M, given, _JAWA_M)
                fill(E & F & (first != "SRI"), given, _JAWA_F)
                fill(E & F & (first == "SRI"), given, _SRI)
                fill(E & M & (u[:, 1] < 0.35), second, _JAWA_M2)
            else:  # Dayak / eastern Indonesian Christians
                fill(E & M, given, _KRISTEN_M)
                fill(E & F, given, _KRISTEN_F)
                if e == 4:
                    fill(E & M & (u[:, 1] < 0.4), second, _DAYAK_M)
                    fill(E & F & (u[:, 1] < 0.4), second, _DAYAK_F)
                has_sn = E & np.where(M, u[:, 2] < 0.75, (u[:, 2] < 0.5) | (self.member == 1))
                surname[has_sn] = self.h_surname[self.hh][has_sn]
        # no "NUR NURUL ..." / "SITI SITTI ...": drop the first token when the given name repeats it
        g_s = _s(given).fill_null("")
        for tok in ("NUR", "SITI"):
            first[(first == tok) & g_s.str.starts_with(tok[:3]).to_numpy()] = None
        # nobility prefixes
        for e, pm, pf in ((0, ["ANDI"], ["ANDI"]), (2, ["GUSTI", "ANANG"], ["GUSTI", "ANTUNG", "GALUH"]),
                          (3, ["AJI", "AWANG"], ["AJI", "DAYANG"])):
            fill((eth == e) & noble & M & (self.member != 1), prefix, pm)
            fill((eth == e) & noble & F & (self.member != 1), prefix, pf)
        # old Bugis men: LA
        prefix[(eth == 0) & M & ~noble & (self.age > 60) & (u[:, 2] < 0.12)] = "LA"
        body = _join_parts([_s(prefix), _s(first), _s(given), _s(second), _s(surname)])
        self.given = given
        # a few more Bontang voters whose names need Windows-1252 (RENÉ, JOSÉ, ANDRÉ)
        bontang = np.flatnonzero((self.h_src[self.hh] == 1) & ~self.used_person & (sex == 0))
        christ = bontang[np.isin(eth[bontang], [4, 6])]
        pool = christ if christ.size >= 3 else bontang
        k = max(3, round(0.002 * bontang.size))
        pick = _sample_k(rng, pool, k)
        body.scatter(pick, _join_parts([_s(_pick(rng, ["RENÉ", "JOSÉ", "ANDRÉ"], pick.size)),
                                        _s(surname[pick])]))

        # titles and degrees
        muslim = _MUSLIM[eth]
        t = rng.random(P)
        title = np.full(P, None, dtype=object)
        title[muslim & M & (self.age >= 40) & (t < 0.13)] = "H."
        title[muslim & F & (self.age >= 40) & (t < 0.10)] = "HJ."
        t2 = rng.random(P)
        title[(self.age >= 45) & M & (t2 < 0.012)] = _pick(rng, ["DRS.", "IR.", "DR."], P)[
            (self.age >= 45) & M & (t2 < 0.012)]
        title[(self.age >= 45) & F & (t2 < 0.008)] = "DRA."
        degree = np.full(P, None, dtype=object)
        dmask = (self.age >= 23) & (self.age <= 66) & (rng.random(P) < 0.07)
        degree[dmask] = _pick(rng, _DEGREES, int(dmask.sum()))
        # BIN / BINTI + father's given name, for children whose father heads the household
        head = self.hh_start[self.hh]
        binm = (self.member >= 2) & muslim & (self.sex[head] == 0) & (
            rng.random(P) < np.where(np.isin(eth, [2, 3]), 0.18, 0.08))
        binp = np.full(P, None, dtype=object)
        fg = given[head]
        binp[binm & M] = "BIN " + fg[binm & M]
        binp[binm & F] = "BINTI " + fg[binm & F]

        # hard negatives: twins, father/son, common names
        body = body.clone()
        pat = self.twin_pat
        for p, key in enumerate(("MM", "FF", "MF")):
            sel = np.flatnonzero(pat == p)
            if sel.size == 0:
                continue
            pairs = _TWINS[key]
            ch = rng.integers(0, len(pairs), sel.size)
            na = np.array([pairs[c][0] for c in ch], dtype=object)
            nb = np.array([pairs[c][1] for c in ch], dtype=object)
            ta, tb = self.twin_a[sel], self.twin_b[sel]
            tail = _s(np.where(self.h_surname[self.hh[ta]] != None, self.h_surname[self.hh[ta]],  # noqa: E711
                               second[ta]))
            pre = _s(prefix[ta])
            body.scatter(ta, _join_parts([pre, _s(na), tail]))
            body.scatter(tb, _join_parts([pre, _s(nb), tail]))
            binp[tb] = binp[ta]
        fa, so = self.father, self.son
        for arr in (title, degree, binp):
            arr[fa] = None
            arr[so] = None
        body.scatter(so, body.gather(fa))
        a, b = self.nu_a, self.nu_b
        common = np.where(self.sex[a] == 0, _pick(rng, _COMMON_M, a.size), _pick(rng, _COMMON_F, a.size))
        body.scatter(a, _s(common))
        body.scatter(b, _s(common))
        for arr in (title, degree, binp):
            arr[a] = None
            arr[b] = None
        self.body, self.title, self.degree, self.binp = body, title, degree, binp

    # ------------------------------------------------------------------ dates, NIK, other attributes
    def identity(self) -> None:
        rng, P = self.rng, self.P
        y, m, d = _ymd(self.birth)
        # placeholder birth dates (mostly the elderly)
        ph = rng.random(P) < np.where(y < 1965, 0.08, 0.02)
        ph_kind = rng.random(P) < 0.6
        m = np.where(ph, np.where(ph_kind, 7, 12), m)
        d = np.where(ph, np.where(ph_kind, 1, 31), d)
        # twins share the date; common-name pairs share the year (a fifth even the placeholder date)
        ta, tb = self.twin_a, self.twin_b
        y[tb], m[tb], d[tb] = y[ta], m[ta], d[ta]
        a, b = self.nu_a, self.nu_b
        y[b] = y[a]
        d[b] = np.minimum(d[b], _days_in_month(y[b], m[b]))
        same_ph = rng.random(a.size) < 0.2
        pa = np.flatnonzero(same_ph)
        m[a[pa]], d[a[pa]], m[b[pa]], d[b[pa]] = 7, 1, 7, 1
        # nobody under 17 on REF_DATE (a placeholder 31-12 or a partner's year can push past it)
        ry, rm, rd = (int(x[0]) for x in _ymd(np.array([REF_DATE])))
        limit = (ry - 17) * 10000 + rm * 100 + rd
        over = y * 10000 + m * 100 + d > limit
        pair = over[a] | over[b]
        y[a[pair]] -= 1
        y[b[pair]] -= 1
        over = y * 10000 + m * 100 + d > limit
        y[over] -= 1
        d = np.minimum(d, _days_in_month(y, m))
        self.y, self.m, self.d = y, m, d
        self.placeholder = ((m == 7) & (d == 1)) | ((m == 12) & (d == 31))

        # NIK region code: where first registered
        hh = self.hh
        mig = self.h_migrant[hh]
        use_origin = mig & np.where(self.member == 0, True,
                                    np.where(self.member == 1, rng.random(P) < 0.7, rng.random(P) < 0.3))
        code = np.where(use_origin, self.h_origin[hh], self.h_local[hh])
        code[tb] = code[ta]
        self.code6 = code
        self.nik_origin = use_origin
        dd = d + 40 * self.sex
        dmy = dd * 10000 + m * 100 + (y % 100)
        key = code * 1_000_000 + dmy
        serial = _unique_serial(key, rng.integers(1, 40, P))
        self.nik = key * 10000 + serial

        # tempat lahir
        src = self.h_src[hh]
        tempat = np.empty(P, dtype=object)
        for s in range(3):
            sel = np.flatnonzero(src == s)
            tempat[sel] = _pick(rng, _LOCAL_TOWNS[s], sel.size)
        prov = code // 10000
        for p, towns in _TOWNS.items():
            sel = np.flatnonzero((prov == p) & (rng.random(P) < 0.9))
            tempat[sel] = _pick(rng, towns, sel.size)
        # older migrants' children born before the move
        sel = np.flatnonzero(self.h_migrant[hh] & ~use_origin & (rng.random(P) < 0.25))
        if sel.size:
            op = self.h_origin[hh[sel]] // 10000
            for p, towns in _TOWNS.items():
                s2 = sel[op == p]
                tempat[s2] = _pick(rng, towns, s2.size)
        self.tempat = tempat

        # status, disability, notes
        age, mem, size = self.age, self.member, self.hsize
        u = rng.random(P)
        status = np.select(
            [
                (mem == 0) & (size >= 2), mem == 1,
                (mem == 0) & (age >= 55), (mem == 0) & (age < 30),
                (mem >= 2) & (age < 25), (mem >= 2) & (age < 35),
            ],
            [
                np.full(P, "S"), np.full(P, "S"),
                np.where(u < 0.7, "P", "S"), np.where(u < 0.8, "B", "S"),
                np.where(u < 0.92, "B", "S"), np.where(u < 0.5, "B", np.where(u < 0.95, "S", "P")),
            ],
            np.where(u < 0.3, "B", np.where(u < 0.85, "S", "P")),
        )
        self.status = status
        codes = rng.choice(np.arange(1, 7), P, p=[0.4, 0.12, 0.1, 0.08, 0.12, 0.18])
        self.dis = np.where(rng.random(P) < 0.025, codes, 0)
        r = rng.random(P)
        self.ket = np.where((age < 19.5) & (r < 0.3), "PEMILIH BARU", np.where(r > 0.99, "UBAH DATA", ""))

    # ------------------------------------------------------------------ rows
    def rows(self) -> None:
        rng, P, H, lay = self.rng, self.P, self.H, self.lay
        hh = self.hh
        # --- base rows (one per person)
        base = {
            "person": np.arange(P), "src": self.h_src[hh], "desa": self.h_desa[hh], "rt": self.h_rt[hh],
            "rw": self.h_rw[hh], "hhkey": hh.copy(), "nkk_id": hh.copy(), "addr_id": hh.copy(),
            "kind": np.zeros(P, dtype=np.int64),
        }
        # new households (addresses / NKKs) for copies: index >= H
        new_src: list[np.ndarray] = []
        new_desa: list[np.ndarray] = []
        new_rt: list[np.ndarray] = []
        new_sid: list[np.ndarray] = []
        n_new = 0

        def new_households(s: np.ndarray, d: np.ndarray, r: np.ndarray, sid: np.ndarray) -> np.ndarray:
            nonlocal n_new
            ids = H + n_new + np.arange(s.size)
            n_new += s.size
            new_src.append(s)
            new_desa.append(d)
            new_rt.append(r)
            new_sid.append(sid)
            return ids

        copies: list[dict[str, np.ndarray]] = []
        # --- Sidrap: registered in both lists; copy in Kutim Martadinata, same RT number
        sid_h = np.flatnonzero(self.sid_mode == 0)
        new_ids = new_households(np.zeros(sid_h.size, np.int64), np.full(sid_h.size, lay.i_marta),
                                 self.h_rt[sid_h], np.ones(sid_h.size, bool))
        h2new = np.full(H, -1)
        h2new[sid_h] = new_ids
        keep_nkk = rng.random(H) < 0.85
        p_sid = np.flatnonzero(self.sid_mode[hh] == 0)
        hp = hh[p_sid]
        copies.append({
            "person": p_sid, "src": np.zeros(p_sid.size, np.int64), "desa": np.full(p_sid.size, lay.i_marta),
            "rt": self.h_rt[hp], "rw": np.full(p_sid.size, lay.sidrap_rw[lay.i_marta]),
            "hhkey": h2new[hp], "nkk_id": np.where(keep_nkk[hp], hp, h2new[hp]), "addr_id": h2new[hp],
            "kind": np.full(p_sid.size, 2),
        })
        # --- movers: whole households, another list
        mh = self.mover_h
        hs = self.h_src[mh]
        dest_src = np.where(hs == 2, np.where(rng.random(mh.size) < 0.5, 0, 1), 2)
        dest_desa = np.empty(mh.size, np.int64)
        for s in range(3):
            cand = np.flatnonzero(lay.src == s)
            w = lay.weight[cand] / lay.weight[cand].sum()
            sel = np.flatnonzero(dest_src == s)
            dest_desa[sel] = rng.choice(cand, sel.size, p=w)
        dest_rt = (rng.random(mh.size) * lay.n_rt[dest_desa]).astype(np.int64) + 1
        new_ids = new_households(dest_src, dest_desa, dest_rt, np.zeros(mh.size, bool))
        mv_new_nkk = rng.random(mh.size) < 0.7
        h2new = np.full(H, -1)
        h2new[mh] = new_ids
        h2src = np.zeros(H, np.int64)
        h2src[mh] = dest_src
        h2desa = np.zeros(H, np.int64)
        h2desa[mh] = dest_desa
        h2rt = np.zeros(H, np.int64)
        h2rt[mh] = dest_rt
        h2nn = np.zeros(H, bool)
        h2nn[mh] = mv_new_nkk
        is_mv = np.zeros(H, bool)
        is_mv[mh] = True
        p_mv = np.flatnonzero(is_mv[hh])
        hp = hh[p_mv]
        copies.append({
            "person": p_mv, "src": h2src[hp], "desa": h2desa[hp], "rt": h2rt[hp],
            "rw": _rw(lay, h2desa[hp], h2rt[hp]),
            "hhkey": h2new[hp], "nkk_id": np.where(h2nn[hp], h2new[hp], hp), "addr_id": h2new[hp],
            "kind": np.full(p_mv.size, 2),
        })
        # --- double entries within one list (persons)
        n_so_far = P + p_sid.size + p_mv.size + self.n_reject
        n_dalam = max(int(0.006 * P), self.N - n_so_far)
        cand = np.flatnonzero(~self.used_person)
        p_dl = _sample_k(rng, cand, n_dalam)
        h = hh[p_dl]
        s = self.h_src[h]
        how = rng.choice(4, p_dl.size, p=[0.33, 0.15, 0.30, 0.22])  # same, same+tps, other RT, other desa
        d = self.h_desa[h].copy()
        other = np.flatnonzero(how == 3)
        for src_i in range(3):
            cand_d = np.flatnonzero(lay.src == src_i)
            w = lay.weight[cand_d] / lay.weight[cand_d].sum()
            sel = other[s[other] == src_i]
            d[sel] = rng.choice(cand_d, sel.size, p=w)
        r = self.h_rt[h].copy()
        moved = how >= 2
        r_new = (rng.random(p_dl.size) * lay.n_rt[d]).astype(np.int64) + 1
        r = np.where(moved, r_new, r)
        mv_idx = np.flatnonzero(moved)
        new_ids = new_households(s[mv_idx], d[mv_idx], r[mv_idx], np.zeros(mv_idx.size, bool))
        hk = h.copy()
        hk[mv_idx] = new_ids
        nk = h.copy()
        nn = moved & (rng.random(p_dl.size) < np.where(how == 3, 0.5, 0.4))
        nk[nn] = hk[nn]
        copies.append({
            "person": p_dl, "src": s, "desa": d, "rt": r,
            "rw": _rw(lay, d, r),
            "hhkey": hk, "nkk_id": nk, "addr_id": hk, "kind": np.full(p_dl.size, 1),
        })

        cols = list(base)
        R = {c: np.concatenate([base[c]] + [cp[c] for cp in copies]).astype(np.int64) for c in cols}
        self.R = R
        self.n_rows = R["person"].size
        # copy metadata
        self.tps_beda_rows = P + p_sid.size + p_mv.size + np.flatnonzero(how == 1)
        is_copy = R["kind"] > 0
        self.is_copy = is_copy

        # new households: addresses and NKKs
        ns = np.concatenate(new_src) if new_src else np.zeros(0, np.int64)
        nd = np.concatenate(new_desa) if new_desa else np.zeros(0, np.int64)
        nr = np.concatenate(new_rt) if new_rt else np.zeros(0, np.int64)
        nsid = np.concatenate(new_sid) if new_sid else np.zeros(0, bool)
        self.addr_all = pl.concat([self.h_addr, _addresses(rng, ns, nr, nsid)])
        kec_code6 = np.array([int(k.replace(".", "")) for k in lay.kec_kode])
        nkk_kec = np.concatenate([self.h_local, kec_code6[lay.kec[nd]]])
        nkk_kec[H:][nsid] = 640813
        # issue dates 2005-2025
        issue = np.datetime64("2005-01-01") + rng.integers(0, 7300, H + n_new).astype("timedelta64[D]")
        iy, im, idd = _ymd(issue)
        nkey = nkk_kec * 1_000_000 + idd * 10000 + im * 100 + iy % 100
        self.nkk_all = nkey * 10000 + _unique_serial(nkey, rng.integers(1, 80, H + n_new))

    # ------------------------------------------------------------------ corruption of duplicate copies
    def corrupt(self) -> None:
        rng, R, P = self.rng, self.R, self.P
        n = self.n_rows
        person = R["person"]
        self.tags: dict[str, np.ndarray] = {}

        def tag(name: str, mask: np.ndarray) -> None:
            if name not in self.tags:
                self.tags[name] = np.zeros(self.n_rows, dtype=bool)
            self.tags[name][: mask.size] |= mask

        # row-level identity fields
        self.r_title = self.title[person]
        self.r_degree = self.degree[person]
        self.r_bin = self.binp[person]
        self.r_body = self.body.gather(person)
        self.r_tempat = _s(self.tempat[person])
        self.r_y, self.r_m, self.r_d = self.y[person].copy(), self.m[person].copy(), self.d[person].copy()
        self.r_sex = self.sex[person].copy()
        self.r_nik = self.nik[person].copy()
        self.r_nik_txt: dict[int, str] = {}

        cp = np.flatnonzero(self.is_copy)
        lay = self.lay
        # one person, two NIKs: chosen first, kept apart from NIK, date and place slips
        sid_cp = (R["kind"][cp] == 2) & (R["desa"][cp] == lay.i_marta)
        n_sid = int(sid_cp.sum())
        p_rest = max(_DUA_NIK_MIN, (_DUA_NIK_ALL * cp.size - _DUA_NIK_SIDRAP * n_sid) / max(cp.size - n_sid, 1))
        dua_nik = np.zeros(cp.size, bool)
        dua_nik[_sample_k(rng, np.flatnonzero(sid_cp), max(1, round(_DUA_NIK_SIDRAP * n_sid)))] = True
        dua_nik[_sample_k(rng, np.flatnonzero(~sid_cp), max(1, round(p_rest * (cp.size - n_sid))))] = True
        kinds = [
            ("ejaan_lama", 0.12, 0), ("muhammad", 0.45, 0), ("varian_nama", 0.10, 0), ("gelar", 0.10, 1),
            ("bin", 0.30, 2), ("typo_nama", 0.14, 3), ("spasi", 0.06, 4), ("tukar_token", 0.04, 5),
            ("nik_typo", 0.08, 6), ("nik_transposisi", 0.06, 6), ("nik_kosong", 0.04, 6),
            ("nik_invalid", 0.03, 6), ("tgl_tukar", 0.05, 7), ("tgl_digit", 0.06, 7),
            ("tgl_placeholder", 0.045, 7), ("tempat_lahir", 0.04, 8),
        ]
        body = self.r_body.gather(cp)
        ntok = body.str.count_matches(" ").to_numpy() + 1
        appl = np.ones((cp.size, len(kinds)), dtype=bool)
        appl[:, 0] = _rule_applicable(body, _EJAAN_RULES)
        appl[:, 1] = body.str.contains(_MUH_PATTERN).to_numpy()
        appl[:, 2] = _rule_applicable(body, _VARIAN_RULES)
        appl[:, 4] = self.r_bin[cp] != None  # noqa: E711
        appl[:, 6] = (ntok >= 2) | (body.str.len_chars().to_numpy() >= 7)
        appl[:, 7] = ntok >= 2
        dd, mm = self.r_d[cp], self.r_m[cp]
        appl[:, 12] = (dd <= 12) & (dd != mm)
        appl[:, 14] = ~(((mm == 7) & (dd == 1)) | ((mm == 12) & (dd == 31)))
        appl[:, 15] = _rule_applicable(self.r_tempat.gather(cp), _TEMPAT_RULES)
        groups = np.array([k[2] for k in kinds])
        # a person with two NIKs: name, date, place and sex agree (a light name slip at most, mostly none)
        appl[np.ix_(dua_nik, np.isin(groups, (6, 7, 8)))] = False
        w = np.array([k[1] for k in kinds])
        key = np.where(appl, rng.exponential(1.0, appl.shape) / w, np.inf)
        order = np.argsort(key, axis=1, kind="stable")
        ncorr = rng.choice(4, cp.size, p=[0.22, 0.43, 0.25, 0.10])
        ncorr = np.where(dua_nik, np.minimum(ncorr, rng.random(cp.size) < 0.4), ncorr)
        chosen = np.zeros(appl.shape, dtype=bool)
        group_used = np.zeros((cp.size, 9), dtype=bool)
        count = np.zeros(cp.size, dtype=np.int64)
        for j in range(len(kinds)):
            kj = order[:, j]
            ok = np.isfinite(key[np.arange(cp.size), kj]) & (count < ncorr)
            g = groups[kj]
            ok &= ~group_used[np.arange(cp.size), g]
            chosen[np.flatnonzero(ok), kj[ok]] = True
            group_used[np.flatnonzero(ok), g[ok]] = True
            count += ok
        names = [k[0] for k in kinds]
        # two slips at once: a NIK slip and a date slip on the same copy, for a visible share of copies
        forced = np.zeros(cp.size, bool)
        forced[_sample_k(rng, np.flatnonzero(~dua_nik), max(2, round(_DUA_SALAH_FORCED * cp.size)))] = True
        u = rng.random((cp.size, 2))
        chosen[np.ix_(forced, np.isin(groups, (6, 7)))] = False
        nik_slip = np.where(u[:, 0] < 0.57, names.index("nik_typo"), names.index("nik_transposisi"))
        i_tukar = names.index("tgl_tukar")
        date_slip = np.where(appl[:, i_tukar] & (u[:, 1] < 0.45), i_tukar, names.index("tgl_digit"))
        fi = np.flatnonzero(forced)
        chosen[fi, nik_slip[fi]] = True
        chosen[fi, date_slip[fi]] = True
        # apply in a fixed order: rules first, then structure, then typos

        def rows_of(kind: str) -> np.ndarray:
            return cp[chosen[:, names.index(kind)]]

        full = self.r_body
        for kind, rules in (("ejaan_lama", _EJAAN_RULES), ("varian_nama", _VARIAN_RULES)):
            full, ch = _apply_rules(full, rows_of(kind), rules, rng)
            tag(kind, ch)
        # Muhammad variants
        rr = rows_of("muhammad")
        if rr.size:
            before = full.gather(rr)
            var = rng.integers(0, len(_MUHAMMAD_VARIANTS), rr.size)
            full = full.clone()
            for v in range(len(_MUHAMMAD_VARIANTS)):
                for attempt in range(2):
                    vv = (v + attempt) % len(_MUHAMMAD_VARIANTS)
                    idx = rr[var == v]
                    if attempt == 1:
                        idx = idx[(full.gather(idx) == before.gather(np.flatnonzero(var == v))).to_numpy()]
                    if idx.size:
                        full.scatter(idx, full.gather(idx).str.replace(
                            _MUH_PATTERN, _MUHAMMAD_VARIANTS[vv] + "${2}", n=1))
            ch = np.zeros(n, bool)
            ch[rr] = (full.gather(rr) != before).to_numpy()
            tag("muhammad", ch)
        # spacing
        rr = rows_of("spasi")
        if rr.size:
            full = full.clone()
            sub = full.gather(rr)
            multi = sub.str.contains(" ").to_numpy()
            first_space = rng.random(rr.size) < 0.5
            joined = _where(first_space, sub.str.replace(" ", "", literal=True, n=1),
                            sub.str.replace(r"^(.*\S) (\S+)$", "${1}${2}"))
            ln = sub.str.len_chars().to_numpy()
            cut = np.maximum(3, ln // 2 + rng.integers(-1, 2, rr.size))
            split = pl.select(pl.lit(sub).str.slice(0, pl.Series(cut)) + " " +
                              pl.lit(sub).str.slice(pl.Series(cut))).to_series()
            new = _where(multi, joined, split)
            full.scatter(rr, new)
            ch = np.zeros(n, bool)
            ch[rr] = (new != sub).to_numpy()
            tag("spasi", ch)
        rr = rows_of("tukar_token")
        if rr.size:
            full = full.clone()
            sub = full.gather(rr)
            new = sub.str.replace(r"^(\S+) (\S+)", "${2} ${1}")
            full.scatter(rr, new)
            ch = np.zeros(n, bool)
            ch[rr] = (new != sub).to_numpy()
            tag("tukar_token", ch)
        rr = rows_of("typo_nama")
        if rr.size:
            full = full.clone()
            sub = full.gather(rr)
            ln = sub.str.len_chars().to_numpy()
            pos = 1 + (rng.random(rr.size) * np.maximum(ln - 2, 1)).astype(np.int64)
            op = rng.choice(4, rr.size, p=[0.45, 0.2, 0.15, 0.2])
            letters = np.array(list("ABCDEFGHIJKLMNOPRSTUWYZ"), dtype=object)
            li = rng.integers(0, letters.size, rr.size)
            df = pl.DataFrame({"s": sub, "p": pos, "op": op, "c1": letters[li].astype(str),
                               "c2": letters[(li + 1) % letters.size].astype(str)})
            c = pl.col
            at = c("s").str.slice(c("p"), 1)
            repl = pl.when(at == c("c1")).then(c("c2")).otherwise(c("c1"))
            new = df.select(
                pl.when(c("op") == 0).then(c("s").str.slice(0, c("p")) + repl + c("s").str.slice(c("p") + 1))
                .when(c("op") == 1).then(c("s").str.slice(0, c("p")) + c("s").str.slice(c("p") + 1))
                .when(c("op") == 2).then(c("s").str.slice(0, c("p") + 1) + c("s").str.slice(c("p")))
                .otherwise(c("s").str.slice(0, c("p")) + c("s").str.slice(c("p") + 1, 1) + at
                           + c("s").str.slice(c("p") + 2))
            ).to_series()
            full.scatter(rr, new)
            ch = np.zeros(n, bool)
            ch[rr] = (new != sub).to_numpy()
            tag("typo_nama", ch)
        self.r_body = full

        # titles / degrees
        rr = rows_of("gelar")
        if rr.size:
            has_t = self.r_title[rr] != None  # noqa: E711
            has_d = self.r_degree[rr] != None  # noqa: E711
            u = rng.random(rr.size)
            drop_t = has_t & (~has_d | (u < 0.5))
            drop_d = has_d & ~drop_t
            self.r_title[rr[drop_t]] = None
            self.r_degree[rr[drop_d]] = None
            add = ~has_t & ~has_d
            p = person[rr]
            musl = _MUSLIM[self.h_eth[self.hh[p]]] & (self.age[p] >= 35) & (u < 0.7)
            ad_t = add & musl
            self.r_title[rr[ad_t]] = np.where(self.sex[p[ad_t]] == 0, "H.", "HJ.")
            ad_d = add & ~musl
            self.r_degree[rr[ad_d]] = _pick(rng, _DEGREES, int(ad_d.sum()))
            ch = np.zeros(n, bool)
            ch[rr] = True
            tag("gelar", ch)
        rr = rows_of("bin")
        self.r_bin[rr] = None
        ch = np.zeros(n, bool)
        ch[rr] = True
        tag("bin", ch)
        rr = rows_of("tempat_lahir")
        self.r_tempat, ch = _apply_rules(self.r_tempat, rr, _TEMPAT_RULES, rng)
        tag("tempat_lahir", ch)

        # NIK
        p10 = 10 ** np.arange(15, -1, -1, dtype=np.int64)
        rr = rows_of("nik_typo")
        if rr.size:
            pos = rng.integers(1, 16, rr.size)
            nk = self.r_nik[rr]
            dig = (nk // p10[pos]) % 10
            nd = (dig + rng.integers(1, 10, rr.size)) % 10
            self.r_nik[rr] = nk + (nd - dig) * p10[pos]
            ch = np.zeros(n, bool)
            ch[rr] = True
            tag("nik_typo", ch)
        rr = rows_of("nik_transposisi")
        if rr.size:
            nk = self.r_nik[rr]
            digits = (nk[:, None] // p10[None, :]) % 10
            diff = digits[:, 1:-1] != digits[:, 2:]  # positions 1..14 vs next
            sc = np.where(diff, rng.random(diff.shape), -1.0)
            pos = sc.argmax(axis=1) + 1
            ok = diff.any(axis=1)
            a = digits[np.arange(rr.size), pos]
            b = digits[np.arange(rr.size), pos + 1]
            new = nk + (b - a) * p10[pos] + (a - b) * p10[pos + 1]
            self.r_nik[rr[ok]] = new[ok]
            ch = np.zeros(n, bool)
            ch[rr[ok]] = True
            tag("nik_transposisi", ch)
        rr = rows_of("nik_kosong")
        for i in rr:
            self.r_nik_txt[int(i)] = ""
        ch = np.zeros(n, bool)
        ch[rr] = True
        tag("nik_kosong", ch)
        rr = rows_of("nik_invalid")
        drop = rng.integers(0, 16, rr.size)
        extra = rng.integers(0, 10, rr.size)
        for j, i in enumerate(rr):
            t = f"{self.r_nik[i]:016d}"
            self.r_nik_txt[int(i)] = t[: drop[j]] + t[drop[j] + 1:] if extra[j] < 6 else t + str(extra[j])
        ch = np.zeros(n, bool)
        ch[rr] = True
        tag("nik_invalid", ch)
        rr = cp[dua_nik]
        self.r_nik[rr] = self._second_nik(rr)
        ch = np.zeros(n, bool)
        ch[rr] = True
        tag("nik_kedua", ch)

        # dates
        rr = rows_of("tgl_tukar")
        self.r_d[rr], self.r_m[rr] = self.r_m[rr].copy(), self.r_d[rr].copy()
        ch = np.zeros(n, bool)
        ch[rr] = True
        tag("tgl_tukar", ch)
        rr = rows_of("tgl_digit")
        if rr.size:
            which = rng.random(rr.size) < 0.5
            yy, mo, da = self.r_y[rr], self.r_m[rr], self.r_d[rr]
            sgn = np.where(rng.random(rr.size) < 0.5, -1, 1)
            yy = np.where(which, yy + sgn, yy)
            nd = da + sgn
            nd = np.where((nd < 1) | (nd > _days_in_month(yy, mo)), da - sgn, nd)
            da = np.where(which, np.minimum(da, _days_in_month(yy, mo)), nd)
            self.r_y[rr], self.r_d[rr] = yy, da
            ch = np.zeros(n, bool)
            ch[rr] = True
            tag("tgl_digit", ch)
        rr = rows_of("tgl_placeholder")
        k = rng.random(rr.size) < 0.6
        self.r_m[rr] = np.where(k, 7, 12)
        self.r_d[rr] = np.where(k, 1, 31)
        ch = np.zeros(n, bool)
        ch[rr] = True
        tag("tgl_placeholder", ch)

        # addresses, NKK, TPS differences
        hh = self.hh[person]
        tag("alamat_beda", self.is_copy & (R["addr_id"] != hh))
        tag("nkk_beda", self.is_copy & (R["nkk_id"] != hh))

        # hard negative: a relative's NIK on the carrier's row
        car = self.nik_carrier
        self.r_nik[car] = self.nik[self.nik_owner]
        ch = np.zeros(n, bool)
        ch[car] = True
        tag("nik_kerabat", ch)

        # cases
        case = np.full(n, "unik", dtype=object)
        has_copy = np.zeros(P, bool)
        has_copy[person[self.is_copy]] = True
        case[:P][has_copy] = "duplikat_asal"
        case[self.is_copy & (R["kind"] == 1)] = "duplikat_dalam"
        case[self.is_copy & (R["kind"] == 2)] = "duplikat_lintas"

        def has(*names: str) -> np.ndarray:
            out = np.zeros(n, bool)
            for t in names:
                if t in self.tags:
                    out |= self.tags[t]
            return out

        # the hard double registrations, lowest precedence first
        both = has("nik_typo", "nik_transposisi") & has("tgl_tukar", "tgl_digit")
        case[self.is_copy & both] = "dua_salah"
        case[self.is_copy & has("tgl_placeholder")] = "tanggal_placeholder"
        case[self.is_copy & has(*NO_NIK_TAGS)] = "tanpa_nik"
        case[self.is_copy & has("nik_kedua")] = "dua_nik"
        case[self.twin_a] = case[self.twin_b] = "kembar"
        case[self.father] = case[self.son] = "ayah_anak"
        case[self.nik_owner] = case[self.nik_carrier] = "nik_salinan"
        case[self.nu_a] = case[self.nu_b] = "nama_umum"
        self.case = case

    def _second_nik(self, rr: np.ndarray) -> np.ndarray:
        """A second valid NIK for the copy rows rr, none of them any person's or row's NIK so far.

        Half keep the birth date and serial and take another kecamatan code (a registrar typing the local
        code over the real one); half are a second NIK issued in another kecamatan: the same birth date
        digits (a NIK encodes the birth date, +40 for women) and a new serial. The kecamatan is the copy's
        own, or another of _KEC when the NIK already carries the copy's."""
        rng, R, lay = self.rng, self.R, self.lay
        codes = np.array([int(k.replace(".", "")) for k in lay.kec_kode], dtype=np.int64)
        k = codes.size
        orig = self.nik[R["person"][rr]]
        old_code = orig // 10**10
        ci = lay.kec[R["desa"][rr]].astype(np.int64)
        off = rng.integers(1, k, rr.size)
        ci = np.where(codes[ci] == old_code, (ci + off) % k, ci)
        whole = rng.random(rr.size) < 0.5
        serial = orig % 10**4
        fresh = rng.integers(1, 200, rr.size)
        fresh = np.where(fresh == serial, fresh + 200, fresh)
        tail = np.where(whole, orig % 10**10 - serial + fresh, orig % 10**10)
        taken = np.unique(np.concatenate([self.nik, self.r_nik]))
        new = codes[ci] * 10**10 + tail
        for attempt in range(4 * k):
            order = np.argsort(new, kind="stable")
            twice = np.zeros(rr.size, bool)
            twice[order[1:]] = new[order][1:] == new[order][:-1]
            clash = np.isin(new, taken) | twice
            if not clash.any():
                return new
            # region-only NIKs try the next kecamatan code (never the real one); the others the next serial
            move = clash & ~whole & (attempt < k)
            ci = np.where(move, (ci + 1) % k, ci)
            ci = np.where(move & (codes[ci] == old_code), (ci + 1) % k, ci)
            bump = clash & ~move
            tail = np.where(bump, tail + 1, tail)
            new = codes[ci] * 10**10 + tail
        raise AssertionError("no free second NIK")  # pragma: no cover - 10,000 serials per date and region

    # ------------------------------------------------------------------ TPS
    def tps(self) -> None:
        rng, R, lay = self.rng, self.R, self.lay
        n = self.n_rows
        uid = np.arange(n)
        order = np.lexsort((uid, R["hhkey"], R["rt"], R["desa"]))
        desa_s = R["desa"][order]
        grp_key = np.stack([R["desa"], R["rt"], R["hhkey"]], axis=1)[order]
        start_d = np.ones(n, bool)
        start_d[1:] = desa_s[1:] != desa_s[:-1]
        start_g = np.ones(n, bool)
        start_g[1:] = (grp_key[1:] != grp_key[:-1]).any(axis=1)
        pos = np.arange(n)
        d0 = np.maximum.accumulate(np.where(start_d, pos, 0))
        g0 = np.maximum.accumulate(np.where(start_g, pos, 0))
        target = rng.integers(330, 470, len(lay.kode))
        tps_s = (g0 - d0) // target[desa_s] + 1
        tps = np.empty(n, np.int64)
        tps[order] = tps_s
        n_tps = np.zeros(len(lay.kode), np.int64)
        np.maximum.at(n_tps, R["desa"], tps)
        # a few double entries at another TPS of the same desa
        rr = self.tps_beda_rows
        k = n_tps[R["desa"][rr]]
        shift = 1 + (rng.random(rr.size) * np.maximum(k - 1, 1)).astype(np.int64)
        newt = (tps[rr] - 1 + shift) % np.maximum(k, 1) + 1
        ok = k > 1
        tps[rr[ok]] = newt[ok]
        ch = np.zeros(n, bool)
        ch[rr[ok]] = True
        self.tags.setdefault("tps_beda", np.zeros(n, bool))
        self.tags["tps_beda"] |= ch
        self.R["tps"] = tps

    # ------------------------------------------------------------------ malformed rows
    def malformed(self) -> None:
        rng, R = self.rng, self.R
        n = self.n_rows
        # rejects: extra rows modelled on a random row of the same list
        J = self.n_reject
        j_s = [max(4, round(J * float(_SHARES[0]))), max(4, round(J * float(_SHARES[1])))]
        j_s.append(J - sum(j_s))
        tmpl_l, kind_l = [], []
        for s, k in enumerate(j_s):
            tmpl_l.append(rng.choice(np.flatnonzero(R["src"][:n] == s), k, replace=False))
            kind_l.append(rng.permutation(np.arange(k) % len(REJECT_TAGS)))
        order = np.argsort(np.concatenate(tmpl_l), kind="stable")
        tmpl = np.concatenate(tmpl_l)[order]
        kind = np.concatenate(kind_l)[order]
        for c in list(R):
            R[c] = np.concatenate([R[c], R[c][tmpl]])
        R["person"][n:] = -1
        R["kind"][n:] = 3
        self.n_rows = n + J
        tot = self.n_rows
        for t in self.tags:
            self.tags[t] = np.concatenate([self.tags[t], np.zeros(J, bool)])
        self.case = np.concatenate([self.case, np.full(J, "rusak", dtype=object)])
        self.is_copy = np.concatenate([self.is_copy, np.zeros(J, bool)])
        self.r_title = np.concatenate([self.r_title, self.r_title[tmpl]])
        self.r_degree = np.concatenate([self.r_degree, self.r_degree[tmpl]])
        self.r_bin = np.concatenate([self.r_bin, self.r_bin[tmpl]])
        self.r_body = pl.concat([self.r_body, self.r_body.gather(tmpl)])
        self.r_tempat = pl.concat([self.r_tempat, self.r_tempat.gather(tmpl)])
        for a in ("r_y", "r_m", "r_d", "r_sex", "r_nik"):
            arr = getattr(self, a)
            setattr(self, a, np.concatenate([arr, arr[tmpl]]))
        for j, i in enumerate(tmpl):
            if int(i) in self.r_nik_txt:
                self.r_nik_txt[n + j] = self.r_nik_txt[int(i)]
        for j, t in enumerate(REJECT_TAGS):
            m = np.zeros(tot, bool)
            m[n + np.flatnonzero(kind == j)] = True
            self.tags[t] = m

        # damaged but valid voters
        V = max(len(VOTER_DEFECT_TAGS) + 2, round(0.0035 * self.N))
        busy = np.zeros(tot, bool)
        for t in NIK_TAGS:
            if t in self.tags:
                busy |= self.tags[t]
        busy[n:] = True
        vrows = np.sort(rng.choice(np.flatnonzero(~busy), V, replace=False))
        vk = rng.permutation(np.arange(V) % len(VOTER_DEFECT_TAGS))
        self.defect_rows, self.defect_kind = vrows, vk
        for j, t in enumerate(VOTER_DEFECT_TAGS):
            m = np.zeros(tot, bool)
            m[vrows[vk == j]] = True
            self.tags.setdefault(t, np.zeros(tot, bool))
            self.tags[t] |= m
        unik = self.case[vrows] == "unik"
        self.case[vrows[unik]] = "rusak"
        # a copy whose NIK these defects destroy is found without it (no copy here carries a NIK_TAG)
        gone = np.isin(vk, [VOTER_DEFECT_TAGS.index(t) for t in NO_NIK_TAGS if t in VOTER_DEFECT_TAGS])
        self.case[vrows[gone & self.is_copy[vrows]]] = "tanpa_nik"
        # changes that live in the numbers (the rest are applied while rendering text)
        rr = vrows[vk == VOTER_DEFECT_TAGS.index("nik_tgl_beda")]
        if rr.size:
            days = (self.r_y[rr] - 1970) * 12 + self.r_m[rr] - 1
            base = days.astype("datetime64[M]").astype("datetime64[D]") + (self.r_d[rr] - 1).astype("timedelta64[D]")
            shift = rng.integers(30, 2000, rr.size) * np.where(rng.random(rr.size) < 0.5, -1, 1)
            self.r_y[rr], self.r_m[rr], self.r_d[rr] = _ymd(base + shift.astype("timedelta64[D]"))
        rr = vrows[vk == VOTER_DEFECT_TAGS.index("nik_jk_beda")]
        self.r_sex[rr] = 1 - self.r_sex[rr]

        # region names: variants, unknown desa
        u = rng.random((tot, 3))
        self.var_desa = u[:, 0] < 0.02
        self.var_kec = u[:, 1] < 0.015
        self.var_kab = u[:, 2] < 0.025
        ok = np.flatnonzero(R["person"] >= 0)
        unk = _sample_k(rng, ok, max(3, round(0.001 * self.N)))
        self.unknown_desa = np.zeros(tot, bool)
        self.unknown_desa[unk] = True
        self.var_desa[unk] = False
        self.region_rng = rng.integers(0, 1 << 30, (tot, 3))

    # ------------------------------------------------------------------ rendering
    def render(self, out_dir: Path) -> dict[str, object]:
        rng, R, lay = self.rng, self.R, self.lay
        tot = self.n_rows
        # text of every field, shared across sources where the format agrees
        name = _join_parts([_s(self.r_title), self.r_body, _s(self.r_bin)])
        name = _where(self.r_degree != None, name + ", " + _s(self.r_degree).fill_null(""), name)  # noqa: E711
        nik_txt = _zfill(self.r_nik, 16)
        if self.r_nik_txt:
            idx = np.array(sorted(self.r_nik_txt), dtype=np.int64)
            nik_txt.scatter(idx, _s([self.r_nik_txt[int(i)] for i in idx]))
        nkk_txt = _zfill(self.nkk_all[R["nkk_id"]], 16)
        addr = self.addr_all.gather(R["addr_id"])
        dd, mm, yy = _zfill(self.r_d, 2), _zfill(self.r_m, 2), _zfill(self.r_y, 4)
        jk = _s(np.where(self.r_sex == 0, "L", "P"))
        person = R["person"]
        pp = np.where(person >= 0, person, 0)
        status = _s(self.status[pp])
        dis_n = self.dis[pp]
        ket = _s(self.ket[pp])
        tags = self.tags
        vr, vk = self.defect_rows, self.defect_kind

        def rows_with(t: str) -> np.ndarray:
            return vr[vk == VOTER_DEFECT_TAGS.index(t)]

        # voter defects on NIK / NKK / sex text
        nik_l = nik_txt.to_list()
        nkk_l = nkk_txt.to_list()
        jk_l = jk.to_list()
        u = rng.random(vr.size + 1)
        for i in rows_with("nik_excel"):
            v = int(self.r_nik[i])
            nik_l[i] = f"{v / 1e15:.5f}E+15"
        for i in rows_with("nik_apostrof"):
            nik_l[i] = "'" + nik_l[i]
        for j, i in enumerate(rows_with("nik_spasi")):
            t = nik_l[i]
            nik_l[i] = (f"{t[:4]} {t[4:8]} {t[8:12]} {t[12:]}" if u[j] < 0.4 else
                        f"{t[:2]}.{t[2:4]}.{t[4:6]}.{t[6:12]}.{t[12:]}" if u[j] < 0.7 else f" {t} ")
        for j, i in enumerate(rows_with("nik_palsu")):
            nik_l[i] = str(1 + (j * 7 + int(i)) % 9) * 16
        for j, i in enumerate(rows_with("nik_panjang")):
            t = nik_l[i]
            nik_l[i] = t[:15] if u[j] < 0.5 else t + "0"
        for i in rows_with("nik_kosong"):
            nik_l[i] = ""
        for i in rows_with("nkk_kosong"):
            nkk_l[i] = ""
        for j, i in enumerate(rows_with("nkk_rusak")):
            t = nkk_l[i]
            nkk_l[i] = t[:14] if u[j] < 0.4 else ("0" if u[j] < 0.6 else t[:6] + "**********")
        for j, i in enumerate(rows_with("jk_teks")):
            jk_l[i] = (["LAKI-LAKI", "Lk"] if self.r_sex[i] == 0 else ["PEREMPUAN", "Pr"])[int(u[j] < 0.5)]
        nik_txt, nkk_txt, jk = _s(nik_l), _s(nkk_l), _s(jk_l)
        name_l = name.to_list()
        for i in np.flatnonzero(tags["nama_kosong"]):
            name_l[i] = ""
        name = _s(name_l)
        impossible = rows_with("tanggal_mustahil")

        # region texts
        desa_i = R["desa"]
        kec_i = lay.kec[desa_i]
        rr = self.region_rng
        desa_txt = np.array(lay.name, dtype=object)[desa_i]
        for i in range(len(lay.kode)):
            sel = np.flatnonzero(self.var_desa & (desa_i == i))
            if sel.size == 0:
                continue
            nm = lay.name[i]
            pre = "KEL. " if lay.jenis[i] == "KELURAHAN" else "DESA "
            vars_ = _DESA_ALIASES.get(lay.kode[i], []) * 3 + [nm.title(), pre + nm, nm.title()]
            desa_txt[sel] = np.array(vars_, dtype=object)[rr[sel, 0] % len(vars_)]
        sel = np.flatnonzero(self.unknown_desa)
        desa_txt[sel] = np.array(_UNKNOWN_DESA, dtype=object)[rr[sel, 0] % len(_UNKNOWN_DESA)]
        kec_txt = np.array(lay.kec_name, dtype=object)[kec_i]
        for k in range(len(lay.kec_kode)):
            sel = np.flatnonzero(self.var_kec & (kec_i == k))
            if sel.size == 0:
                continue
            nm = lay.kec_name[k]
            vars_ = _KEC_ALIASES.get(lay.kec_kode[k], []) + ["KEC. " + nm, nm.title(), "KECAMATAN " + nm]
            kec_txt[sel] = np.array(vars_, dtype=object)[rr[sel, 1] % len(vars_)]
        src = R["src"]
        kab_txt = np.empty(tot, dtype=object)
        for s, (canon, vars_) in _KAB_TEXT.items():
            kab_txt[src == s] = canon
            sel = np.flatnonzero((src == s) & self.var_kab)
            kab_txt[sel] = np.array(vars_, dtype=object)[rr[sel, 2] % len(vars_)]
        kab_txt[src == 2] = ""
        var_any = (desa_txt != np.array(lay.name, dtype=object)[desa_i]) & ~self.unknown_desa
        var_any |= kec_txt != np.array(lay.kec_name, dtype=object)[kec_i]
        var_any |= (kab_txt != np.array([_KAB_TEXT[0][0], _KAB_TEXT[1][0], ""], dtype=object)[src])
        tags["wilayah_varian"] = var_any
        tags["desa_tak_dikenal"] = self.unknown_desa.copy()

        # file order: desa, TPS, RT, household, registration
        desa_rank = np.arange(len(lay.kode))[desa_i]
        uid = np.arange(tot)
        memb = np.where(person >= 0, self.member[pp], 0)
        order = np.lexsort((uid, memb, R["hhkey"], R["rt"], R["tps"], desa_rank, src))
        # Kutim pads RT/RW ("003") in most desa; Kukar writes DIS "0" or "" depending on the desa
        rt_pad = (rng.random(len(lay.kode)) < 0.85)[desa_i]
        dis_zero = (rng.random(len(lay.kode)) < 0.5)[desa_i]

        summary_rows: dict[str, int] = {}
        truth_parts: list[pl.DataFrame] = []
        pid_width = max(7, len(str(self.P)))
        tag_names = list(tags)
        for s, source in enumerate(SOURCES):
            idx = order[src[order] == s]
            m = idx.size
            summary_rows[source] = int(m)
            g = pl.Series(idx)

            def col(x: pl.Series, g: pl.Series = g) -> pl.Series:
                return x.gather(g)

            dsel = dd.gather(g)
            msel = mm.gather(g)
            ysel = yy.gather(g)
            if source == "kutim":
                date = dsel + "|" + msel + "|" + ysel
                rt_t = _where(rt_pad[idx], _zfill(R["rt"][idx], 3), _zfill(R["rt"][idx], 1))
                rw_t = _where(rt_pad[idx], _zfill(R["rw"][idx], 3), _zfill(R["rw"][idx], 1))
                dis_t = _s(np.where(dis_n[idx] > 0, dis_n[idx].astype(str), ""))
            elif source == "bontang":
                date = dsel + "-" + msel + "-" + ysel
                rt_t, rw_t = _zfill(R["rt"][idx], 1), _zfill(R["rw"][idx], 1)
                dis_t = _s(dis_n[idx].astype(str))
            else:
                date = ysel + "-" + msel + "-" + dsel
                rt_t, rw_t = _zfill(R["rt"][idx], 1), _zfill(R["rw"][idx], 1)
                dis_t = _s(np.where((dis_n[idx] > 0) | dis_zero[idx], dis_n[idx].astype(str), ""))
            # impossible dates
            pos_of = np.full(tot, -1)
            pos_of[idx] = np.arange(m)
            imp = pos_of[impossible]
            imp = imp[imp >= 0]
            if imp.size:
                date_l = date.to_list()
                for j, p in enumerate(imp):
                    yv = 1950 + (int(p) * 7) % 50
                    dm = [("31", "02"), ("30", "02"), ("31", "04"), ("00", "00")][(int(p) + j) % 4]
                    yv_s = "0000" if dm[0] == "00" else str(yv)
                    date_l[p] = {"kutim": f"{dm[0]}|{dm[1]}|{yv_s}", "bontang": f"{dm[0]}-{dm[1]}-{yv_s}",
                                 "kukar": f"{yv_s}-{dm[1]}-{dm[0]}"}[source]
                date = _s(date_l)
            tps_t = _zfill(R["tps"][idx], 1)
            if source == "kutim":
                # NO restarts at every TPS of a desa
                key = desa_i[idx] * 10000 + R["tps"][idx]
                st = np.ones(m, bool)
                st[1:] = key[1:] != key[:-1]
                no = np.arange(m) - np.maximum.accumulate(np.where(st, np.arange(m), 0)) + 1
            else:
                no = np.arange(1, m + 1)
            fields = {
                "kutim": [_zfill(no, 1), col(nkk_txt), col(nik_txt), col(name), col(self.r_tempat), date,
                          col(status), col(jk), col(addr), rt_t, rw_t, dis_t, col(ket), tps_t,
                          _s(desa_txt[idx]), _s(kec_txt[idx]), _s(kab_txt[idx])],
                "bontang": [_zfill(no, 1), col(nkk_txt), col(nik_txt), col(name), col(self.r_tempat), date,
                            col(status), col(jk), col(addr), rt_t, rw_t, dis_t, col(ket), tps_t,
                            _s(desa_txt[idx]), _s(kec_txt[idx]), _s(kab_txt[idx])],
                "kukar": [col(nkk_txt), col(nik_txt), col(name), col(self.r_tempat), date, col(status),
                          col(jk), col(addr), rt_t, rw_t, dis_t, col(ket), tps_t, _s(desa_txt[idx]),
                          _s(kec_txt[idx])],
            }[source]
            sep = SEPARATORS[source]
            df = pl.DataFrame({f"f{i}": f for i, f in enumerate(fields)})
            if source == "bontang":
                df = df.select(
                    pl.when(pl.col(c).str.contains('[,"\n]'))
                    .then('"' + pl.col(c).str.replace_all('"', '""', literal=True) + '"')
                    .otherwise(pl.col(c)).alias(c) for c in df.columns
                )
            lines = df.select(pl.concat_str(pl.all(), separator=sep).alias("l")).to_series().to_list()
            # raw malformed lines
            fidx = {"kutim": 8, "bontang": 8, "kukar": 7}[source]  # alamat
            for t in ("kolom_kurang", "kolom_lebih", "baris_kosong"):
                for p in pos_of[np.flatnonzero(tags[t])].tolist():
                    if p < 0:
                        continue
                    vals = list(df.row(p))
                    if t == "kolom_kurang":  # line cut off after a few fields
                        lines[p] = sep.join(vals[: 3 + p % 5])
                    elif t == "baris_kosong":  # separators only
                        lines[p] = sep * (len(vals) - 1)
                    elif source == "bontang":  # an address with a comma, not quoted
                        a = str(fields[fidx][p])
                        street = _STREETS[p % len(_STREETS)]
                        vals[fidx] = a if "," in a else f"JL. {street}, GG. {1 + p % 9}"
                        lines[p] = sep.join(vals)
                    else:  # a stray separator
                        vals.insert(fidx + p % 3, "")
                        lines[p] = sep.join(vals)
            eol = "\r\n" if source == "kutim" else "\n"
            text = eol.join([sep.join(HEADERS[source])] + lines) + eol
            if source == "kutim":
                data = b"\xef\xbb\xbf" + text.encode("utf-8")
            elif source == "bontang":
                data = text.encode("cp1252")
            else:
                data = text.encode("utf-8")
            (out_dir / FILES[source]).write_bytes(data)

            # truth
            pid = np.where(person[idx] >= 0, person[idx], -1)
            pid_s = pl.Series(pid).cast(pl.String).str.zfill(pid_width)
            pid_s = _where(pid >= 0, "P" + pid_s, pl.Series([None] * m, dtype=pl.String))
            tag_df = pl.DataFrame({t: tags[t][idx] for t in tag_names})
            corr = tag_df.select(pl.concat_str(
                [pl.when(pl.col(t)).then(pl.lit(t)) for t in tag_names], separator=";", ignore_nulls=True
            ).alias("c")).to_series()
            corr = _where((corr == "").to_numpy(), pl.Series([None] * m, dtype=pl.String), corr)
            truth_parts.append(pl.DataFrame({
                "source": pl.Series([source] * m, dtype=pl.String),
                "source_row": pl.Series(np.arange(1, m + 1)),
                "person_id": pid_s,
                "expect": _s(np.where(person[idx] >= 0, "voter", "reject")),
                "case": _s(self.case[idx]),
                "corruption": corr,
            }))
        truth = pl.concat(truth_parts)
        truth.write_csv(out_dir / "truth.csv")

        # coordinates
        coords = _rt_coordinates(rng, lay)
        real = R["person"] >= 0
        k1 = np.unique((desa_i[real] * 1000 + R["rw"][real]) * 10000 + R["rt"][real])
        key = np.stack([k1 // 10_000_000, (k1 // 10000) % 1000, k1 % 10000], axis=1)
        drop = np.zeros(key.shape[0], bool)
        drop[rng.choice(key.shape[0], max(1, round(0.02 * key.shape[0])), replace=False)] = True
        kept = key[~drop]
        lat = np.array([coords[(int(a), int(b), int(c))][0] for a, b, c in kept])
        lon = np.array([coords[(int(a), int(b), int(c))][1] for a, b, c in kept])
        pl.DataFrame({
            "kode_desa": _s(np.array(lay.kode, dtype=object)[kept[:, 0]]),
            "rw": kept[:, 1], "rt": kept[:, 2], "lat": lat, "lon": lon,
        }).write_csv(out_dir / "rt_coordinates.csv", float_precision=6)

        cases = {c: int((truth["case"] == c).sum()) for c in CASES}
        corr_counts = {t: int(tags[t].sum()) for t in tag_names if tags[t].any()}
        sid_pairs = int(((R["kind"] == 2) & (R["desa"] == lay.i_marta)).sum())
        return {
            "files": [FILES[s] for s in SOURCES] + ["truth.csv", "rt_coordinates.csv"],
            "voters": int(tot),
            "seed": self.seed,
            "rows": summary_rows,
            "persons": int(self.P),
            "duplicated_persons": int(np.unique(R["person"][self.is_copy]).size),
            "sidrap_pairs": sid_pairs,
            "cases": cases,
            "expect": {"voter": int(real.sum()), "reject": int((~real).sum())},
            "corruptions": corr_counts,
            "rt_keys": int(key.shape[0]),
            "rt_keys_without_coordinates": int(drop.sum()),
        }


def generate(out_dir: Path, voters: int, seed: int) -> dict[str, object]:
    """Write the synthetic lists into out_dir; return a summary (files, rows per source, counts per case).

    Same (voters, seed) -> byte-identical files. `voters` is the number of data rows over the three lists.
    """
    if voters < 500:
        raise ValueError("voters must be at least 500")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    g = _Gen(voters, seed)
    g.households()
    g.select_groups()
    g.names()
    g.identity()
    g.rows()
    g.corrupt()
    g.tps()
    g.malformed()
    return g.render(out_dir)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write synthetic DPT lists with a ground truth.")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--voters", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=20261128)
    a = ap.parse_args(argv)
    print(json.dumps(generate(a.out, a.voters, a.seed), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
