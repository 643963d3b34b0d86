"""The Kemendagri region table and the resolution of free-text region names to codes.

Resolution works on the distinct (kabupaten, kecamatan, desa) triples of a list, a few hundred at most,
and joins the result back; it never loops over records.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from rapidfuzz import fuzz, process

from dpt_pipeline.errors import ConfigError
from dpt_pipeline.io.files import read_regular

# wilayah_status values
COCOK = "cocok"
MIRIP = "mirip"  # resolved through a close spelling, not an exact name or alias
KOSONG = "wilayah kosong"
KAB_TIDAK_DIKENAL = "kabupaten tidak dikenal"
KEC_TIDAK_DIKENAL = "kecamatan tidak dikenal"
DESA_TIDAK_DIKENAL = "desa tidak dikenal"
DESA_KOSONG = "desa kosong"

_PREFIX = re.compile(
    r"^(?:KABUPATEN|KAB\b\.?|KOTA\b|KEC\b\.?|KECAMATAN|DESA\b|KELURAHAN|KEL\b\.?|DS\b\.?)\s*"
)
_FUZZY_CUTOFF = 88.0


def name_key(name: str | None) -> str:
    """Upper case, administrative prefixes dropped, letters and digits only: 'Kab. Api-api' -> 'APIAPI'."""
    if name is None:
        return ""
    s = name.upper().strip()
    for _ in range(2):  # "KAB. KOTA X" style double prefixes
        s = _PREFIX.sub("", s).strip()
    return re.sub(r"[^0-9A-Z]", "", s)


@dataclass(frozen=True)
class Region:
    kode: str
    tingkat: str
    nama: str


class RegionTable:
    """Regions by level with their name keys (canonical name and aliases)."""

    LEVELS = ("provinsi", "kabupaten", "kecamatan", "desa")

    def __init__(self, frame: pl.DataFrame, path: Path | None = None) -> None:
        self.frame = frame
        self.path = path
        self._keys: dict[str, dict[str, dict[str, list[str]]]] = {lv: {} for lv in self.LEVELS}
        # _keys[level][parent_code][name_key] -> codes
        for kode, tingkat, nama, alias in frame.select("kode", "tingkat", "nama", "alias").iter_rows():
            parent = kode.rsplit(".", 1)[0] if "." in kode else ""
            names = [nama, *(a for a in (alias or "").split("|") if a.strip())]
            bucket = self._keys[tingkat].setdefault(parent, {})
            for n in names:
                codes = bucket.setdefault(name_key(n), [])
                if kode not in codes:
                    codes.append(kode)
        self.names = dict(zip(frame["kode"].to_list(), frame["nama"].to_list(), strict=True))

    @classmethod
    def load(cls, path: Path) -> RegionTable:
        data = read_regular(path, "[ingest].regions")
        try:
            frame = pl.read_csv(io.BytesIO(data), comment_prefix="#", infer_schema=False)
        except pl.exceptions.PolarsError as e:   # the reader's text may quote a cell: only its kind
            raise ConfigError(f"region table {path}: cannot be read as CSV ({type(e).__name__})") from e
        missing = {"kode", "tingkat", "jenis", "nama", "alias"} - set(frame.columns)
        if missing:
            raise ConfigError(f"region table {path}: missing columns {sorted(missing)}")
        frame = frame.filter(~pl.all_horizontal(pl.all().is_null()))   # blank lines
        bad = frame.filter(~pl.col("tingkat").is_in(cls.LEVELS).fill_null(False) | pl.col("kode").is_null())
        if bad.height:
            raise ConfigError(f"region table {path}: row with kode {bad['kode'][0]}: tingkat must be one of "
                              f"{', '.join(cls.LEVELS)}")
        frame = frame.with_columns(pl.col("alias").fill_null(""), pl.col("nama").str.to_uppercase())
        return cls(frame, path)

    @property
    def province_codes(self) -> list[str]:
        return sorted(self.frame.filter(pl.col("tingkat") == "provinsi")["kode"].to_list())

    def find(self, level: str, name: str | None, parent: str | None) -> tuple[str | None, bool]:
        """Code of `name` at `level` within region `parent` (anywhere when None); (code, exact?).

        Returns (None, False) when no unique region fits.
        """
        key = name_key(name)
        if not key:
            return None, False
        buckets = [b for p, b in self._keys[level].items()
                   if parent is None or p == parent or p.startswith(parent + ".")]
        exact = {c for b in buckets for c in b.get(key, [])}
        if len(exact) == 1:
            return exact.pop(), True
        if exact:
            return None, False  # ambiguous without a parent (SUKA DAMAI is in two kecamatan)
        choices = {(k, c) for b in buckets for k, codes in b.items() for c in codes}
        if not choices:
            return None, False
        keys = sorted({k for k, _ in choices})
        best = process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF, limit=2)
        if not best:
            return None, False
        if len(best) == 2 and best[1][1] == best[0][1]:
            return None, False
        codes = {c for k, c in choices if k == best[0][0]}
        return (codes.pop(), False) if len(codes) == 1 else (None, False)

    def resolve(self, kabupaten: str | None, kecamatan: str | None, desa: str | None
                ) -> tuple[str | None, str | None, str | None, str]:
        """(kode_kabupaten, kode_kecamatan, kode_desa, wilayah_status) for one name triple."""
        if not any(name_key(x) for x in (kabupaten, kecamatan, desa)):
            return None, None, None, KOSONG
        exact = True
        kab, ok = self.find("kabupaten", kabupaten, None) if name_key(kabupaten) else (None, True)
        exact &= ok
        if name_key(kabupaten) and kab is None:
            return None, None, None, KAB_TIDAK_DIKENAL
        kec, ok = (self.find("kecamatan", kecamatan, kab) if name_key(kecamatan) else (None, True))
        exact &= ok
        if name_key(kecamatan) and kec is None:
            return kab, None, None, KEC_TIDAK_DIKENAL
        if kec is not None and kab is None:
            kab = kec.rsplit(".", 1)[0]
        if not name_key(desa):
            return kab, kec, None, DESA_KOSONG
        des, ok = self.find("desa", desa, kec if kec is not None else kab)
        exact &= ok
        if des is None:
            return kab, kec, None, DESA_TIDAK_DIKENAL
        if kec is None:
            kec = des.rsplit(".", 1)[0]
            kab = kec.rsplit(".", 1)[0]
        return kab, kec, des, COCOK if exact else MIRIP

    def infer_from_file_name(self, path: Path) -> dict[str, str]:
        """Region names carried in a file name such as DPT_KUTAI-TIMUR_TELUK-PANDAN_MARTADINATA.xlsx."""
        parts = [p for p in re.split(r"[_]+", path.stem) if p]
        found: dict[str, str] = {}
        kab = kec = None
        for part in parts:
            text = part.replace("-", " ")
            if kab is None and (code := self.find("kabupaten", text, None))[0] and code[1]:
                kab = code[0]
                found["kabupaten"] = text
            elif kec is None and (code := self.find("kecamatan", text, kab))[0] and code[1]:
                kec = code[0]
                found["kecamatan"] = text
            elif (code := self.find("desa", text, kec))[0] and code[1]:
                found["desa"] = text
        return found

    def resolve_frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Add kode_kabupaten, kode_kecamatan, kode_desa and wilayah_status to a frame holding the
        region name columns, by resolving each distinct triple once."""
        triples = frame.select("kabupaten", "kecamatan", "desa").unique()
        rows = [(kb, kc, ds, *self.resolve(kb, kc, ds)) for kb, kc, ds in triples.iter_rows()]
        lookup = pl.DataFrame(
            rows,
            schema={"kabupaten": pl.String, "kecamatan": pl.String, "desa": pl.String,
                    "kode_kabupaten": pl.String, "kode_kecamatan": pl.String, "kode_desa": pl.String,
                    "wilayah_status": pl.String},
            orient="row",
        )
        return frame.join(lookup, on=["kabupaten", "kecamatan", "desa"], how="left", nulls_equal=True,
                          maintain_order="left")
