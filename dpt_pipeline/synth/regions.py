"""The regions of the generated rolls: kecamatan, desa and their codes, RT/RW layout, addresses, RT points.

Kemendagri codes as in the shipped region table (dpt_pipeline/core/regions.csv): three kecamatan of Kutai
Timur, three of Bontang and two of Kutai Kartanegara, with the spelling variants offices write. Dusun Sidrap
(RT 19-25) lies between Desa Martadinata (Kutim) and Kelurahan Guntung (Bontang), and both lists carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from dpt_pipeline.synth.common import _pick, _w

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
# kode desa, nama, relative population (bobot): a data file beside this module, in the order drawn from
_DESA: list[tuple[str, str, float]] = [
    (r["kode_desa"], r["nama"], r["bobot"])
    for r in pl.read_csv(Path(__file__).with_name("desa.csv"), schema={"kode_desa": pl.String, "nama": pl.String,
                                                                         "bobot": pl.Float64}).iter_rows(named=True)]
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
_SHARES = np.array([0.30, 0.15, 0.55])  # rows per source (Kutim, Bontang, Kukar)

_STREETS = _w(
    "MERDEKA|AHMAD YANI|PANGERAN ANTASARI|SUDIRMAN|DIPONEGORO|YOS SUDARSO|PELABUHAN|POROS BONTANG-SANGATTA|"
    "IMAM BONJOL|KS TUBUN|DI PANJAITAN|MULAWARMAN|AWANG LONG|BRIGJEN KATAMSO|HASANUDDIN|PIPIT|CEMARA|"
    "MELATI|ANGGREK|KENANGA|SEMANGKA|DURIAN|RAMBUTAN|POROS SAMARINDA-BONTANG|PENDIDIKAN|SEPAKAT|"
    "KARYA BAKTI|GOTONG ROYONG|BUKIT PELANGI|SOEKARNO-HATTA|R.E. MARTADINATA|DR. SUTOMO|JENDRAL SUDIRMAN|"
    "PERJUANGAN|SULTAN HASANUDDIN|TELUK LINGGA|BUKIT INDAH|APT PRANOTO", "|")
_DUSUN = _w("SUKA MAJU|SIDOMULYO|SUMBER REJEKI|KARYA JAYA|MEKAR SARI|TANJUNG HARAPAN|BATU PUTIH|SELANGKAU|"
            "PANGEMPANG|KAMPUNG BARU|MAKMUR|TELUK KADERE|SUKA RAMAI|SIDOREJO|HARAPAN BARU|MUARA", "|")
_GANG = _w("MELATI|BERSAMA|H. SALEH|MUSHOLA|DAMAI|MAWAR|KELAPA|SEPAKAT|SETIA KAWAN|H. ABDULLAH|RUKUN", "|")


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
