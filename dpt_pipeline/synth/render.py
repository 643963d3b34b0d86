"""Writing the lists the way the offices save them, with truth.csv and rt_coordinates.csv.

Kutim: UTF-8 with BOM, `;`, CRLF, DD|MM|YYYY, RT/RW padded in most desa; Bontang: Windows-1252, `,` with
quotes, DD-MM-YYYY; Kukar: UTF-8, tab, YYYY-MM-DD, no kabupaten column. The export damage chosen before is
applied to the text here (Excel NIKs, apostrophes, impossible dates, cut or stretched lines...). truth.csv
has a row per data row (source, source_row, person_id, expect, case, corruption); rt_coordinates.csv a
point per desa/RW/RT, a few left out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from dpt_pipeline.synth.common import _join_parts, _s, _where, _zfill
from dpt_pipeline.synth.formats import CASES, FILES, HEADERS, SEPARATORS, SOURCES, VOTER_DEFECT_TAGS
from dpt_pipeline.synth.regions import _DESA_ALIASES, _KAB_TEXT, _KEC_ALIASES, _STREETS, _UNKNOWN_DESA, _rt_coordinates
from dpt_pipeline.synth.state import _State


class Rendering(_State):
    """The render() stage: the texts of every field, then a file per source, truth.csv and the RT points."""

    def render(self, out_dir: Path) -> dict[str, object]:
        """Write the three lists, truth.csv and rt_coordinates.csv into out_dir; return the summary."""
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
        nik_txt, nkk_txt, jk, name, impossible = self._defect_texts(nik_txt, nkk_txt, jk, name)
        desa_txt, kec_txt, kab_txt = self._region_texts()
        desa_i, src = R["desa"], R["src"]

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

        n_keys, n_dropped = self._write_coordinates(out_dir)
        real = R["person"] >= 0

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
            "rt_keys": n_keys,
            "rt_keys_without_coordinates": n_dropped,
        }

    def _defect_texts(
        self, nik_txt: pl.Series, nkk_txt: pl.Series, jk: pl.Series, name: pl.Series
    ) -> tuple[pl.Series, pl.Series, pl.Series, pl.Series, np.ndarray]:
        """The damaged voters' NIK, NKK and sex texts and the empty names; and the rows of impossible dates."""
        rng, tags = self.rng, self.tags
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
        return nik_txt, nkk_txt, jk, name, impossible

    def _region_texts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Desa, kecamatan and kabupaten text of every row (variants, unknown desa); tags the rows that differ."""
        R, lay, tot, tags = self.R, self.lay, self.n_rows, self.tags
        desa_i = R["desa"]
        kec_i = lay.kec[desa_i]
        rr = self.region_rng
        def spell(txt: np.ndarray, region: np.ndarray, varied: np.ndarray, count: int,
                  spellings: Callable[[int], list[str]], draw: int) -> np.ndarray:
            """`txt` with each region's `varied` rows written in one of its `spellings` (by column `draw`)."""
            for i in range(count):
                sel = np.flatnonzero(varied & (region == i))
                if sel.size:
                    vs = spellings(i)
                    txt[sel] = np.array(vs, dtype=object)[rr[sel, draw] % len(vs)]
            return txt

        def desa_spellings(i: int) -> list[str]:
            nm = lay.name[i]
            pre = "KEL. " if lay.jenis[i] == "KELURAHAN" else "DESA "
            return _DESA_ALIASES.get(lay.kode[i], []) * 3 + [nm.title(), pre + nm, nm.title()]

        def kec_spellings(k: int) -> list[str]:
            nm = lay.kec_name[k]
            return _KEC_ALIASES.get(lay.kec_kode[k], []) + ["KEC. " + nm, nm.title(), "KECAMATAN " + nm]

        desa_txt = spell(np.array(lay.name, dtype=object)[desa_i], desa_i, self.var_desa, len(lay.kode),
                         desa_spellings, 0)
        sel = np.flatnonzero(self.unknown_desa)
        desa_txt[sel] = np.array(_UNKNOWN_DESA, dtype=object)[rr[sel, 0] % len(_UNKNOWN_DESA)]
        kec_txt = spell(np.array(lay.kec_name, dtype=object)[kec_i], kec_i, self.var_kec, len(lay.kec_kode),
                        kec_spellings, 1)
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
        return desa_txt, kec_txt, kab_txt

    def _write_coordinates(self, out_dir: Path) -> tuple[int, int]:
        """rt_coordinates.csv: a point per desa/RW/RT of the voters, about 2 % left out; (RT keys, left out)."""
        rng, R, lay = self.rng, self.R, self.lay
        desa_i = R["desa"]
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
        return int(key.shape[0]), int(drop.sum())
