"""Stage 2, standardize: comparable forms of names, places, addresses, dates and NIK/NKK.

Input: `voters` (VOTER_SCHEMA, or any frame with those columns). Output: the same rows in the same order
with every input column kept and the columns of STANDARDIZE_SCHEMA added (replaced if already there).

Everything is a polars expression; the expression builders (`normalize_name_expr`, `phonetic_key_expr`,
`normalize_place_expr`, `normalize_address_expr`, `add_name_columns`...) are public so that other schemas
(FEBRL test data with given_name/surname) get exactly the same treatment. Name, place and address columns
are computed once per distinct value and joined back: a roll has far fewer distinct names than rows.

Names (`nama_std`), in this order, each step chosen so that the result is a fixed point of the whole:
1. Upper case; accents and apostrophes removed (MA'RUF -> MARUF); other punctuation becomes a space,
   except dots and commas, which steps 3 and 5 still need.
2. Old spelling (EYD 1972) to modern: OE->U, DJ->J, TJ->C, SJ->SY, CH->KH, and NJ->NY at the start of a
   word only (modern names have NJ inside words: ANJAR, PANJI, BANJAR). Old J->Y is left alone (modern J
   is far more common); the phonetic key merges J and Y instead.
3. Degrees after a comma: dropped when everything after the comma is degrees (a known one, any dotted
   abbreviation of short parts, or a known compact one: SE, SPD, MM...); otherwise the comma is a space.
4. BIN/BINTI: the first BIN or BINTI that is not the first word splits the name; what follows is
   `nama_ayah` (up to a second BIN: the grandfather is left out), what precedes it is the name. Steps 5-8
   run on both.
5. Degrees at the end without a comma are dropped when written with dots (S.E., M.PD) or, three letters
   or more, without them (SPD, SKOM); never a two-letter one without dots (that may be an initial).
   Then dots become spaces (H.ABDUL -> H ABDUL, M.YUSUF -> M YUSUF), whitespace collapsed.
6. Muhammad: every spelling (MUHAMMAD, MUHAMAD, MOHAMMAD, MOCHAMMAD, MUHAMMED, MOCH, MOH, MUH, MHD,
   MD, MOHD...) becomes MUHAMMAD; a lone M becomes MUHAMMAD only when another word follows it
   (M. YUSUF, H. M. YUSUF), a final M is kept as an initial (ABDUL M).
7. Titles (H, HJ, BAPAK, IBU, NY, DRS, IR, DR, PROF...) are dropped only as a run of whole leading
   words, and never the last word: a voter named IBU stays IBU; AHMAD H keeps its H.
8. ABD -> ABDUL, and a leading ST followed by another word -> SITI (the Bugis abbreviation).

The phonetic key (`nama_fonetik`) is PHONETIC_RULES applied to the name without spaces; see there.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TypeVar

import polars as pl

from dpt_pipeline.core.keys import desa_key
from dpt_pipeline.core.schema import LOST_LAST_DIGIT

log = logging.getLogger(__name__)

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

# Columns added by `standardize`.
STANDARDIZE_SCHEMA: dict[str, pl.DataType] = {
    "nama_std": pl.String(),
    "nama_ayah": pl.String(),
    "nama_rapat": pl.String(),
    "nama_urut": pl.String(),
    "nama_token": pl.List(pl.String()),
    "nama_depan": pl.String(),
    "nama_belakang": pl.String(),
    "nama_fonetik": pl.String(),
    "nama_fonetik_token": pl.List(pl.String()),
    "tempat_lahir_std": pl.String(),
    "tempat_lahir_key": pl.String(),
    "alamat_std": pl.String(),
    "tahun_lahir": pl.Int32(),
    "tanggal_placeholder": pl.Boolean(),
    "nik_std": pl.String(),
    "nkk_std": pl.String(),
    "nik_prefix6": pl.String(),
    "nik_serial": pl.String(),
    "nik_terpotong": pl.Boolean(),  # a NIK Excel cut short (its 16th digit lost, ingest's `nik_masalah`)
    "nik15": pl.String(),           # the first 15 digits of every NIK: what a cut one is compared by
}

# ------------------------------------------------------------------------------------------------ tables

# Leading words that are not part of the name. Haji titles, forms of address, academic and religious
# titles, and the "deceased" marks that some offices prepend.
TITLES: tuple[str, ...] = (
    "H", "HJ", "HJH", "HAJI", "HAJAH", "HAJJAH", "BPK", "BP", "BAPAK", "IBU", "NY", "NYONYA", "NYONJA",
    "NN", "NONA", "SDR", "SDRI", "SAUDARA", "SAUDARI", "TN", "TUAN", "DRS", "DRA", "IR", "DR", "DRG", "DRH",
    "PROF", "PDT", "PENDETA", "UST", "USTAZ", "USTADZ", "USTAZAH", "USTADZAH", "KH", "K H", "KYAI", "KIAI",
    "ALM", "ALMH", "ALMARHUM", "ALMARHUMAH",
)

# Academic degrees as written with dots. Upper case; "." is where the dot goes.
DEGREES: tuple[str, ...] = (
    "S.PD", "S.PD.I", "S.PD.SD", "S.E", "S.E.I", "S.H", "S.H.I", "S.SOS", "S.SOS.I", "S.T", "S.KOM", "S.AG",
    "S.IP", "S.I.P", "S.KM", "S.KEP", "S.KED", "S.FARM", "S.SI", "S.S", "S.P", "S.PT", "S.TP", "S.HUT",
    "S.PSI", "S.STP", "S.IKOM", "S.I.KOM", "S.AK", "S.AP", "S.KEB", "S.TR", "S.GZ", "S.TH", "S.SN",
    "A.MD", "A.MD.KEP", "A.MD.KEB", "A.MD.FARM", "A.MD.KES", "AMD.KEP", "AMD.KEB", "A.MA", "A.MA.PD",
    "A.MK", "A.MKEP", "A.MKEB", "A.MP", "M.M", "M.PD", "M.PD.I", "M.SI", "M.H", "M.KES", "M.AG", "M.T",
    "M.KOM", "M.SC", "M.A", "M.AP", "M.E", "M.E.I", "M.KEP", "M.IKOM", "M.SN", "M.TH", "M.HUM", "B.A",
    "B.SC", "PH.D", "GR", "NS",
)
# Degrees recognised without dots at the end of a name (no comma): three letters or more, none of
# them a name or a likely initial (MEI, AMA, SAK are names, so S.E.I, A.MA, S.AK need their dots).
_BARE_DEGREES_EXCLUDED = frozenset({"MEI", "AMA", "SAK", "SAP", "SHI", "SIP", "MAG", "MAP", "SEI", "STR",
                                    "AMP", "BSC", "PHD", "SIKOM"})
# Not degrees, but dropped from the end the same way: the "deceased" marks, SITI NUR (ALM).
_DECEASED = ("ALM", "ALMH", "ALMARHUM", "ALMARHUMAH")
# Degrees recognised after a comma without dots: any compact form, two-letter ones included.
_COMMA_EXTRA = ("BA", "SM", "MBA", *_DECEASED)

MUHAMMAD = "MUHAMMAD"
# Long forms: M + O/U + (KH|H|HH)? + A? + M/MM + A/E + D/T. The spelling map runs first, so MOCHAMMAD
# arrives as MOKHAMMAD. Short forms listed as they are written.
_MUHAMMAD_LONG = r"M[OU](?:KH|HH?)?A?MM?[AE][DT]"
_MUHAMMAD_SHORT = ("MOKH", "MUKH", "MOH", "MUH", "MOKHD", "MOHD", "MUHD", "MHD", "MHMD", "MD")

# Old spelling (EYD 1972) to modern, in this order. `+` on the first letter so that a doubled letter
# (DDJ) cannot leave a new DJ behind; TJ, SJ, NJ come after DJ so that TDJ -> TJ -> C in one pass.
OLD_SPELLING: tuple[tuple[str, str], ...] = (
    ("OE", "U"),
    ("D+J", "J"),
    ("T+J", "C"),
    ("S+J", "SY"),
    ("C+H", "KH"),
    (r"\bN+J", "NY"),
)

# Place-name prefixes dropped; KOTA is kept where it is part of the name (Kota Bangun in Kukar).
_PLACE_PREFIX = r"(?:KABUPATEN|KAB|KOTAMADYA|KODYA|KOTA|KOTIF)"
_PLACE_KOTA_NAMES = ("BANGUN", "BARU", "BUMI", "AGUNG", "JANTHO")
# Whole place names written another way in Kaltim rolls: renamed cities, local abbreviations, a common
# misspelling of Sangatta. No target is itself a key, so the mapping is idempotent.
PLACE_ALIASES: dict[str, str] = {
    "UJUNG PANDANG": "MAKASSAR", "UJUNGPANDANG": "MAKASSAR", "SANGATA": "SANGATTA",
    "KUTIM": "KUTAI TIMUR", "KUKAR": "KUTAI KARTANEGARA", "KUBAR": "KUTAI BARAT", "SMD": "SAMARINDA",
    "BPP": "BALIKPAPAN", "BPN": "BALIKPAPAN", "JOGJAKARTA": "YOGYAKARTA", "JOGYAKARTA": "YOGYAKARTA",
    "JOGJA": "YOGYAKARTA", "YOGYA": "YOGYAKARTA",
}

# Address words: every spelling on the left becomes the word on the right.
ADDRESS_WORDS: dict[str, tuple[str, ...]] = {
    "JL": ("JALAN", "JLN", "JL"),
    "GG": ("GANG", "GG"),
    "DUSUN": ("DUSUN", "DSN"),
    "NO": ("NOMOR", "NOMER", "NO"),
    "PERUM": ("PERUMAHAN", "PERUM"),
    "KOMPLEK": ("KOMPLEKS", "KOMPLEK", "KOMPL", "KOMP"),
    "BLOK": ("BLOK", "BLK"),
    "DESA": ("DESA", "DS"),
}

# Birth dates written when the real one is unknown: (day, month).
PLACEHOLDER_DATES: tuple[tuple[int, int], ...] = ((1, 7), (31, 12), (1, 1))

_REPEATED_DIGIT = r"^(?:0+|1+|2+|3+|4+|5+|6+|7+|8+|9+)$"


# --------------------------------------------------------------------------------------------- helpers

def _col(source: str | pl.Expr) -> pl.Expr:
    return pl.col(source) if isinstance(source, str) else source


def _alternation(words: tuple[str, ...] | list[str]) -> str:
    # Longest first, so that the leftmost-first regex engine prefers HJH over HJ over H.
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def _degree_regexes() -> tuple[str, str]:
    """(trailing, comma) patterns for degrees, built from DEGREES."""
    dotted = [r"\.\s?".join(re.escape(p) for p in d.split(".")) for d in DEGREES if "." in d]
    compact = [d.replace(".", "") for d in DEGREES]
    bare = [c for c in compact if len(c) >= 3 and c not in _BARE_DEGREES_EXCLUDED] + list(_DECEASED)
    trailing_deg = f"(?:{'|'.join(dotted)})\\.?|(?:{_alternation(bare)})\\.?"
    # After a comma: a known degree, any dotted abbreviation of short parts (S.KEP.NS; not H.ROHMAN), or
    # any compact degree, two-letter ones included.
    generic = r"[A-Z]{1,4}\.(?:[A-Z]{1,4}\.?)*"
    comma_deg = (f"(?:{'|'.join(dotted)})\\.?|{generic}|"
                 f"(?:{_alternation(compact + list(_COMMA_EXTRA))})\\b\\.?")
    trailing = rf"(?:[\s.]+(?:{trailing_deg}))+[\s.]*$"
    comma = rf",[\s,]*(?:(?:{comma_deg})[\s,]*)+$"
    return trailing, comma


_TRAILING_DEGREES, _COMMA_DEGREES = _degree_regexes()
_LEADING_TITLES = rf"^(?:(?:{_alternation(TITLES)}) )+"
_MUHAMMAD_RE = rf"\b(?:{_MUHAMMAD_LONG}|{_alternation(_MUHAMMAD_SHORT)})\b"
# The first BIN/BINTI that is not the first word and has something after it; dots still in the text,
# which starts and ends with a letter. _BIN_TAIL removes it and what follows (a plain replace: an
# extract with an optional group would need the slow capture engines on every name).
_BIN_SPLIT = r"^(.+?)[\s.]+BIN(?:TI)?[\s.]+(.+)$"
_BIN_TAIL = r"[\s.]+BIN(?:TI)?[\s.]+.*$"
_APOSTROPHES = "['`\u00b4\u2018\u2019\u02bc\u02bb]"


def _upper_ascii(e: pl.Expr) -> pl.Expr:
    """Upper case, apostrophes removed (before NFKD, which turns the acute accent into a space), accents
    removed."""
    return (
        e.str.replace_all(_APOSTROPHES, "")
        .str.to_uppercase()
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
    )


def _collapse_spaces(e: pl.Expr) -> pl.Expr:
    # Runs of plain spaces only: callers have turned tabs and other whitespace into spaces already, and
    # `\s+` would rewrite every single space too (five times slower).
    return e.str.replace_all(" {2,}", " ").str.strip_chars(" ")


def old_spelling_expr(source: str | pl.Expr) -> pl.Expr:
    """Upper-case text with the old (EYD 1972) spellings replaced by modern ones (see OLD_SPELLING)."""
    e = _col(source)
    for pattern, repl in OLD_SPELLING:
        e = e.str.replace_all(pattern, repl)
    return e


def _null_if_empty(e: pl.Expr) -> pl.Expr:
    return pl.when(e.str.len_chars() > 0).then(e)


# ----------------------------------------------------------------------------------------------- names

def _clean_name(source: str | pl.Expr) -> pl.Expr:
    """Steps 1-3 of the module docstring: upper case, old spelling, degrees after a comma gone; dots
    and BIN still inside, single-spaced."""
    e = _upper_ascii(_col(source)).str.replace_all(r"[^A-Z., ]", " ")
    e = old_spelling_expr(e)
    e = e.str.replace(_COMMA_DEGREES, "").str.replace_all(",", " ")
    # Dots at either end carry nothing, and _BIN_TAIL relies on a letter first.
    return e.str.replace_all(" {2,}", " ").str.strip_chars(" .")


def _finish_name(e: pl.Expr) -> pl.Expr:
    """Steps 5-8 on one side of the BIN split: after the split, so that a degree before BIN
    (AHMAD S.PD BIN YUSUF) is dropped too."""
    e = _collapse_spaces(e.str.replace(_TRAILING_DEGREES, "").str.replace_all(".", " ", literal=True))
    e = e.str.replace_all(_MUHAMMAD_RE, MUHAMMAD).str.replace_all(r"\bM ", f"{MUHAMMAD} ")
    e = e.str.replace(_LEADING_TITLES, "")
    return _null_if_empty(e.str.replace_all(r"\bABD\b", "ABDUL").str.replace(r"^ST ", "SITI "))


def normalize_name_expr(source: str | pl.Expr) -> pl.Expr:
    """The standardized name (`nama_std`): upper case, no punctuation, titles and degrees dropped,
    Muhammad unified, old spelling modernised, BIN/BINTI + father's name removed. Null when nothing is
    left. Idempotent: applied to its own output it returns that output."""
    return _finish_name(_clean_name(source).str.replace(_BIN_TAIL, ""))


def father_name_expr(source: str | pl.Expr) -> pl.Expr:
    """The father's name after BIN/BINTI (`nama_ayah`), standardized like the name; null when absent.
    A grandfather's name (A BIN B BIN C) is left out: the father is B."""
    return _finish_name(_clean_name(source).str.extract(_BIN_SPLIT, 2).str.replace(_BIN_TAIL, ""))


# Consonants left when the phonetic consonant map has run (F, J, Q, V, X, Z are gone by then).
_CONSONANTS = "BCDGHKLMNPRSTW"
_KEY_LETTERS = "ABCDEGHIKLMNOPRSTUWY"
# Longest first: one leftmost-first scan then collapses any run of up to 8 letters.
_DOUBLES = [c * k for k in range(8, 1, -1) for c in _KEY_LETTERS]

# The phonetic key's rewrites, in order: (pattern, replacement, why). A pattern is a regex, or for a
# dict a set of literal rewrites done in one left-to-right scan. Rules anchor only on word boundaries:
# the whole-name key runs them on the name without spaces (so RATNA SARI = RATNASARI and `\b` means the
# start or end of the name), the per-token keys on the spaced name (`\b` is a token's start or end), and
# no rule matches across a space, so a token's key in the list is the key of that token alone.
PHONETIC_RULES: tuple[tuple[str | dict[str, str], str, str], ...] = (
    ({f"ABDUL{c}": f"ABDU{c}" for c in "DNRSTZ"}, "",
     "Arabic assimilation: ABDUL RAHMAN = ABDURRAHMAN, ABDUL SAMAD = ABDUSSAMAD"),
    (r"(?-u:\b)KH([BCDFGHJKLMNPQRSTVWXZ])", "K$1",
     "KH before a consonant is a Latin CH (CHRISTINA, KHRISTINA in nama_std, = KRISTINA)"),
    ({"KH": "H", "SY": "S", "SH": "S", "PH": "P", "DZ": "Y", "Q": "K", "X": "KS", "J": "Y", "Z": "Y",
      "F": "P", "V": "P"}, "",
     "KHAIRUL = HAIRUL, SYAMSUL = SAMSUL, SHOLEH = SOLEH, LUQMAN = LUKMAN; J/Y/Z one sound: old J is Y "
     "(YULIANTI = JULIANTI), Z is said J (ZAINAL = JAINAL, DZULKIFLI = ZULKIFLI); F/V/P one sound "
     "(FAJAR = PAJAR, NOVI = NOPI, STEPHANUS = STEFANUS)"),
    ({f"{c}Y": f"{c}I" for c in _CONSONANTS}, "", "Y after a consonant is I: DEWY = DEWI, SURYA = SURIA"),
    (r"Y(?-u:\b)", "I", "final Y is I: MEY = MEI"),
    ({**{f"IY{v}": f"I{v}" for v in "AEIOU"}, **{f"UW{v}": f"U{v}" for v in "AEIOU"}}, "",
     "glides: SUPRIYADI = SUPRIADI, FITRIYANI = FITRIANI, SUWARNO = SUARNO"),
    ({"OO": "U", "IE": "I", "AE": "AI", "EI": "E"}, "",
     "NOOR = NUR, ARIEF = ARIF (Dutch IE), ZAENAL = ZAINAL, HUSEIN = HUSEN"),
    (r"D(?-u:\b)", "T", "final devoicing: RAHMAD = RAHMAT"),
    ({d: d[0] for d in _DOUBLES}, "",
     "doubled letters: SITTI = SITI, HASSAN = HASAN, ABDURRAHMAN = ABDURAHMAN"),
    (r"(?-u:\B)H", "", "H only counts first: AHMAD = ACHMAD = AMAD, RAMADHAN = RAMADAN, FATIMAH = FATIMA"),
)


def _phonetic(e: pl.Expr) -> pl.Expr:
    for pattern, repl, _why in PHONETIC_RULES:
        if isinstance(pattern, dict):
            e = e.str.replace_many(list(pattern), list(pattern.values()), leftmost=True)
        else:
            e = e.str.replace_all(pattern, repl)
    return e


def phonetic_key_expr(source: str | pl.Expr) -> pl.Expr:
    """A phonetic key for Indonesian names (`nama_fonetik`), from a standardized name (`nama_std`, or any
    upper-case text already through `old_spelling_expr`): PHONETIC_RULES on the name without spaces.

    Vowels are kept, so SITI/SRI, HASAN/HUSEIN, RINA/RINI and EKO/EKA stay apart.
    """
    rapat = _col(source).str.replace_all(" ", "", literal=True).str.replace_all("[^A-Z]+", "")
    return _null_if_empty(_phonetic(rapat))


def _phonetic_spaced(source: str | pl.Expr) -> pl.Expr:
    """The per-word phonetic keys joined by single spaces (null for an empty name)."""
    spaced = _collapse_spaces(_col(source).str.replace_all("[^A-Z ]", " "))
    return pl.when(spaced.str.len_chars() > 0).then(_phonetic(spaced))


def phonetic_token_keys_expr(source: str | pl.Expr) -> pl.Expr:
    """The phonetic key of each word of a standardized name (`nama_fonetik_token`, list[str]); element i
    equals `phonetic_key_expr` of word i. One pass over the name, not one per word."""
    return _phonetic_spaced(source).str.split(" ")


def _name_strings(frame: Frame, source: str, prefix: str, father: str | None) -> Frame:
    """The costly half of `add_name_columns`: the string columns (the per-word keys still joined by
    spaces, in `_<prefix>_fonetik_spasi`), worth computing once per distinct name."""
    std = f"{prefix}_std"
    # The shared cleaning runs once, in a temporary column, instead of once per output expression.
    tmp = f"_{prefix}_bersih"
    frame = frame.with_columns(_clean_name(source).alias(tmp))
    first = [_finish_name(pl.col(tmp).str.replace(_BIN_TAIL, "")).alias(std)]
    if father:
        first.append(_finish_name(pl.col(tmp).str.extract(_BIN_SPLIT, 2).str.replace(_BIN_TAIL, ""))
                     .alias(father))
    frame = frame.with_columns(first).drop(tmp)
    return frame.with_columns(
        phonetic_key_expr(std).alias(f"{prefix}_fonetik"),
        _phonetic_spaced(std).alias(f"_{prefix}_fonetik_spasi"),
        pl.col(std).str.split(" ").list.sort().list.join(" ").alias(f"{prefix}_urut"),
    )


def _name_lists(frame: Frame, prefix: str) -> Frame:
    """The cheap half of `add_name_columns`: the columns split from `_name_strings`' strings."""
    std = f"{prefix}_std"
    tokens = f"{prefix}_token"
    frame = frame.with_columns(
        pl.col(std).str.replace_all(" ", "", literal=True).alias(f"{prefix}_rapat"),
        pl.col(std).str.split(" ").alias(tokens),
        pl.col(f"_{prefix}_fonetik_spasi").str.split(" ").alias(f"{prefix}_fonetik_token"),
    ).drop(f"_{prefix}_fonetik_spasi")
    return frame.with_columns(
        pl.col(tokens).list.first().alias(f"{prefix}_depan"),
        pl.col(tokens).list.last().alias(f"{prefix}_belakang"),
    )


def add_name_columns(frame: Frame, source: str, prefix: str = "nama", father: str | None = "nama_ayah"
                     ) -> Frame:
    """Add `<prefix>_std`, `_rapat`, `_urut`, `_token`, `_depan`, `_belakang`, `_fonetik`,
    `_fonetik_token` (and the father's name when `father` is a column name) computed from `source`.

    The reusable form of the name step: `add_name_columns(febrl, "surname", prefix="surname",
    father=None)` standardizes another schema's name column the same way.
    """
    return _name_lists(_name_strings(frame, source, prefix, father), prefix)


# ------------------------------------------------------------------------------------ places, addresses

def normalize_place_expr(source: str | pl.Expr) -> pl.Expr:
    """Place of birth (`tempat_lahir_std`): upper case, no punctuation, old spelling modernised, KAB./
    KABUPATEN/KOTA prefixes dropped (KOTA kept in KOTA BANGUN, KOTA BARU...), single-spaced, PLACE_ALIASES
    applied (UJUNG PANDANG -> MAKASSAR, SANGATA -> SANGATTA)."""
    e = _upper_ascii(_col(source)).str.replace_all(r"[^A-Z]", " ")
    e = _collapse_spaces(old_spelling_expr(e))
    kota_name = rf"^(?:{_PLACE_PREFIX} )*KOTA (?:{'|'.join(_PLACE_KOTA_NAMES)})\b"
    e = (
        pl.when(e.str.contains(kota_name))
        .then(e.str.replace(rf"^(?:{_PLACE_PREFIX} )*(KOTA (?:{'|'.join(_PLACE_KOTA_NAMES)})\b)", "$1"))
        .otherwise(e.str.replace(rf"^(?:{_PLACE_PREFIX} )+", ""))
    )
    return _null_if_empty(e.replace(PLACE_ALIASES))


def place_key_expr(source: str | pl.Expr) -> pl.Expr:
    """Comparison key for a standardized place (`tempat_lahir_key`): the phonetic key, so spaces,
    doubled letters and spelling variants do not matter (SANGATA = SANGATTA, API API = API-API)."""
    return phonetic_key_expr(source)


def normalize_address_expr(source: str | pl.Expr) -> pl.Expr:
    """Address (`alamat_std`): upper case, street words unified (JL, GG, DUSUN, NO...), RT/RW fragments
    removed (they have their own columns), punctuation removed, single-spaced; house numbers kept."""
    e = _upper_ascii(_col(source)).str.replace_all(r"[^A-Z0-9/]", " ")
    e = (
        e.str.replace_all(r"\bRT\s*/\s*RW\b(?:\s*[0-9]+(?:\s*/\s*[0-9]+)?)?", " ")
        .str.replace_all(r"\bRT(?:\s*[0-9]+)?(?:\s*/\s*(?:RW)?\s*[0-9]+)?\b", " ")
        .str.replace_all(r"\bRW(?:\s*[0-9]+)?\b", " ")
        .str.replace_all("/", " ")
    )
    for word, spellings in ADDRESS_WORDS.items():
        e = e.str.replace_all(rf"\b(?:{_alternation(spellings)})\b", word)
    return _null_if_empty(_collapse_spaces(e))


# ------------------------------------------------------------------------------------- dates, numbers

def placeholder_date_expr(source: str | pl.Expr) -> pl.Expr:
    """True when a Date is one written for an unknown birth date (01-07, 31-12, 01-01); False when null."""
    d = _col(source)
    hit = pl.lit(False)
    for day, month in PLACEHOLDER_DATES:
        hit = hit | ((d.dt.day() == day) & (d.dt.month() == month))
    return hit.fill_null(False)


def number16_expr(source: str | pl.Expr) -> pl.Expr:
    """A NIK or NKK as 16 digits, or null: separators Excel and typists add are removed, one repeated digit
    (2222222222222222) is rejected. An invalid date inside a NIK is kept: linkage still wants the number."""
    e = _col(source).str.replace(r"^\s*'", "").str.replace(r"\.0+$", "").str.replace_all(r"[\s.\-']", "")
    return pl.when(e.str.contains(r"^[0-9]{16}$") & ~e.str.contains(_REPEATED_DIGIT)).then(e)


def _cut(column: str, checked: bool) -> pl.Expr:
    """True for a number ingest found Excel cut short (`checked`: the frame has ingest's `<column>_masalah`):
    its 16th digit is unknown, so the comparisons read it by its first 15 (`nik15`)."""
    if not checked:
        return pl.lit(False)
    return (pl.col(f"{column}_masalah") == LOST_LAST_DIGIT).fill_null(False)


# ----------------------------------------------------------------------------------------------- stage

def _via_unique(frame: pl.LazyFrame, source: str, build: pl.LazyFrame) -> pl.LazyFrame:
    """Join columns computed on the distinct values of `source` back onto every row, order kept."""
    return frame.join(build, on=source, how="left", nulls_equal=True, maintain_order="left")


# The voters' columns standardize reads.
_READS = ("nama", "tempat_lahir", "alamat", "tanggal_lahir", "nik", "nkk", "nik_masalah")


def standardize(voters: Frame) -> Frame:
    """Add the STANDARDIZE_SCHEMA columns to `voters` (a DataFrame gives a DataFrame, a LazyFrame a
    LazyFrame). Rows and their order are unchanged; every input column is kept."""
    t0 = time.perf_counter()
    is_lazy = isinstance(voters, pl.LazyFrame)
    given = voters.lazy().drop(list(STANDARDIZE_SCHEMA), strict=False)
    input_columns = given.collect_schema().names()
    # Computed on the columns it reads only and set beside the voters' own: joining the distinct values
    # back onto every column would copy the whole roll (a second copy of ten million voters is 2.4 GB).
    lf = given.select(c for c in _READS if c in input_columns)

    # Strings only are joined back (joining list columns costs more than splitting them again).
    names = _name_strings(lf.select("nama").unique(), "nama", "nama", "nama_ayah")
    places = lf.select("tempat_lahir").unique().with_columns(
        normalize_place_expr("tempat_lahir").alias("tempat_lahir_std")
    ).with_columns(place_key_expr("tempat_lahir_std").alias("tempat_lahir_key"))
    addresses = lf.select("alamat").unique().with_columns(
        normalize_address_expr("alamat").alias("alamat_std")
    )
    lf = _name_lists(_via_unique(lf, "nama", names), "nama")
    lf = _via_unique(lf, "tempat_lahir", places)
    lf = _via_unique(lf, "alamat", addresses)
    lf = lf.with_columns(
        pl.col("tanggal_lahir").dt.year().cast(pl.Int32).alias("tahun_lahir"),
        placeholder_date_expr("tanggal_lahir").alias("tanggal_placeholder"),
        number16_expr("nik").alias("nik_std"),
        number16_expr("nkk").alias("nkk_std"),   # cut short, still the same number for the whole KK
        _cut("nik", "nik_masalah" in input_columns).alias("nik_terpotong"),
    ).with_columns(
        pl.col("nik_std").str.slice(0, 6).alias("nik_prefix6"),
        pl.col("nik_std").str.slice(12, 4).alias("nik_serial"),
        pl.col("nik_std").str.slice(0, 15).alias("nik15"),
    )
    made = lf.select(*STANDARDIZE_SCHEMA).cast(STANDARDIZE_SCHEMA)  # type: ignore[arg-type]
    if is_lazy:
        return pl.concat([given, made], how="horizontal")  # type: ignore[return-value]
    assert isinstance(voters, pl.DataFrame)
    out = voters.drop(list(STANDARDIZE_SCHEMA), strict=False).hstack(made.collect().get_columns())
    log.info("prepared %s voters' names, dates and numbers for comparison (%.1f s)", f"{out.height:,}",
             time.perf_counter() - t0)
    return out  # type: ignore[return-value]


__all__ = [
    "STANDARDIZE_SCHEMA", "TITLES", "DEGREES", "OLD_SPELLING", "PHONETIC_RULES", "ADDRESS_WORDS",
    "PLACE_ALIASES", "PLACEHOLDER_DATES", "MUHAMMAD", "standardize", "normalize_name_expr",
    "father_name_expr", "phonetic_key_expr", "phonetic_token_keys_expr", "old_spelling_expr",
    "add_name_columns", "normalize_place_expr", "place_key_expr", "normalize_address_expr",
    "placeholder_date_expr", "number16_expr",
]


# Tokens so common, or so much a prefix of rank or clan, that sharing one says little (domain.md: "common
# tokens are weak evidence"). Removed from `nama_inti`, the part of a name that tells people apart.
COMMON_NAME_TOKENS: tuple[str, ...] = (
    "MUHAMMAD", "SITI", "NUR", "NURUL", "SRI", "ABDUL", "ABD", "AHMAD", "ACHMAD", "DEWI", "BIN", "BINTI",
    "ANDI", "LA", "WA", "DAENG", "GUSTI", "ANTUNG", "ANANG", "GALUH", "AJI", "AWANG", "DAYANG", "HAJI", "HAJAH",
)


# The columns prepare_records adds beside `rid` (what the linkage cache keeps per voter with STANDARDIZE_SCHEMA's).
PREPARED_COLUMNS: tuple[str, ...] = ("tanggal_text", "tanggal_num", "nik_num", "nik_wilayah", "nik_tanggal6",
                                     "nik_urut", "nama_inti", "nama_depan_inti", "desa_key")


def prepare_records(standardized: pl.DataFrame) -> pl.DataFrame:
    """Sort by voter_id, number the rows (`rid`) and add the keys the DPT passes and comparisons read beside
    standardize's: the birth date as YYYYMMDD text and number, the NIK as a number and its three parts
    (region, date, serial), a desa key (its code, else its name), `nama_inti`, the name without its common
    tokens (the whole name when nothing else is left), and its first token."""
    nik_num = pl.col("nik_std").cast(pl.UInt64, strict=False)
    inti = (pl.col("nama_std").str.split(" ").list.filter(~pl.element().is_in(list(COMMON_NAME_TOKENS)))
            .list.join(" "))
    # Ingest hands the voters over sorted by voter_id: a sort of this wide frame would hold a second copy.
    ordered = standardized if standardized["voter_id"].is_sorted() else standardized.sort("voter_id")
    return (ordered.with_row_index("rid")
            .with_columns(pl.col("tanggal_lahir").dt.strftime("%Y%m%d").alias("tanggal_text"),
                          pl.col("tanggal_lahir").dt.strftime("%Y%m%d").cast(pl.UInt32).alias("tanggal_num"),
                          nik_num.alias("nik_num"),
                          (nik_num // 10**10).alias("nik_wilayah"),
                          (nik_num // 10**4 % 10**6).alias("nik_tanggal6"),
                          (nik_num % 10**4).alias("nik_urut"),
                          pl.when(inti.str.len_chars() > 0).then(inti).otherwise(pl.col("nama_std"))
                          .alias("nama_inti"),
                          pl.when(inti.str.len_chars() > 0).then(inti.str.split(" ").list.first())
                          .otherwise(pl.col("nama_depan")).alias("nama_depan_inti"),
                          desa_key().alias("desa_key")))
