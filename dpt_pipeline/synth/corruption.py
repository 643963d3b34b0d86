"""What is done to the copies: the slips of a second writing, the hard double registrations, the truth cases.

Each copy gets a few corruption kinds (at most one per group: name rules, titles, bin, typo, spacing, token
swap, NIK, date, place), drawn by weight among those that apply; some copies are one person with a second
valid NIK (`dua_nik`) or a forced NIK slip with a date slip (`dua_salah`). A relative's NIK goes on the
carrier's row. Then each row's `case` in truth.csv, by precedence.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from dpt_pipeline.synth.common import _apply_rules, _days_in_month, _pick, _rule_applicable, _s, _sample_k, _where
from dpt_pipeline.synth.formats import NO_NIK_TAGS
from dpt_pipeline.synth.names import (
    _DEGREES,
    _EJAAN_RULES,
    _MUH_PATTERN,
    _MUHAMMAD_VARIANTS,
    _MUSLIM,
    _TEMPAT_RULES,
    _VARIAN_RULES,
)
from dpt_pipeline.synth.state import _State

# One person, two NIKs: share of the across-list copies in Desa Martadinata (Dusun Sidrap: border residents
# registered in two regencies), of all copies (the other copies get what it takes, at least _DUA_NIK_MIN).
_DUA_NIK_SIDRAP, _DUA_NIK_ALL, _DUA_NIK_MIN = 0.10, 0.045, 0.01
# Share of copies given a NIK slip and a date slip on purpose (chance adds about as many again).
_DUA_SALAH_FORCED = 0.012

# Corruption kinds of a copy: (tag, weight, group); a copy gets at most one kind per group.
_KINDS = [
    ("ejaan_lama", 0.12, 0), ("muhammad", 0.45, 0), ("varian_nama", 0.10, 0), ("gelar", 0.10, 1),
    ("bin", 0.30, 2), ("typo_nama", 0.14, 3), ("spasi", 0.06, 4), ("tukar_token", 0.04, 5),
    ("nik_typo", 0.08, 6), ("nik_transposisi", 0.06, 6), ("nik_kosong", 0.04, 6),
    ("nik_invalid", 0.03, 6), ("tgl_tukar", 0.05, 7), ("tgl_digit", 0.06, 7),
    ("tgl_placeholder", 0.045, 7), ("tempat_lahir", 0.04, 8),
]


class Corruption(_State):
    """The corrupt() stage, in steps that draw in a fixed order."""

    def corrupt(self) -> None:
        """Per-row identity fields, the copies' corruptions and their tags, and the truth case of every row."""
        self.tags = {}
        self._row_fields()
        cp = np.flatnonzero(self.is_copy)
        slips, dua_nik = self._choose(cp)
        self._slip_names(slips)
        self._slip_titles_place(slips)
        self._slip_nik_dates(slips, cp[dua_nik])
        self._cases()

    def _tag(self, name: str, mask: np.ndarray) -> None:
        """Mark the rows of `mask` (a prefix of the rows, or all) with the tag `name`."""
        if name not in self.tags:
            self.tags[name] = np.zeros(self.n_rows, dtype=bool)
        self.tags[name][: mask.size] |= mask

    def _row_fields(self) -> None:
        """Every row starts with its person's fields (the reject rows malformed() adds copy a row's)."""
        person = self.R["person"]
        self.r_title = self.title[person]
        self.r_degree = self.degree[person]
        self.r_bin = self.binp[person]
        self.r_body = self.body.gather(person)
        self.r_tempat = _s(self.tempat[person])
        self.r_y, self.r_m, self.r_d = self.y[person].copy(), self.m[person].copy(), self.d[person].copy()
        self.r_sex = self.sex[person].copy()
        self.r_nik = self.nik[person].copy()
        self.r_nik_txt = {}

    def _choose(self, cp: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Which copies (rows cp) get which corruption kinds: {kind: rows}, and the mask of cp with two NIKs."""
        rng, R, lay = self.rng, self.R, self.lay
        # one person, two NIKs: chosen first, kept apart from NIK, date and place slips
        sid_cp = (R["kind"][cp] == 2) & (R["desa"][cp] == lay.i_marta)
        n_sid = int(sid_cp.sum())
        p_rest = max(_DUA_NIK_MIN, (_DUA_NIK_ALL * cp.size - _DUA_NIK_SIDRAP * n_sid) / max(cp.size - n_sid, 1))
        dua_nik = np.zeros(cp.size, bool)
        dua_nik[_sample_k(rng, np.flatnonzero(sid_cp), max(1, round(_DUA_NIK_SIDRAP * n_sid)))] = True
        dua_nik[_sample_k(rng, np.flatnonzero(~sid_cp), max(1, round(p_rest * (cp.size - n_sid))))] = True
        body = self.r_body.gather(cp)
        ntok = body.str.count_matches(" ").to_numpy() + 1
        appl = np.ones((cp.size, len(_KINDS)), dtype=bool)
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
        groups = np.array([k[2] for k in _KINDS])
        # a person with two NIKs: name, date, place and sex agree (a light name slip at most, mostly none)
        appl[np.ix_(dua_nik, np.isin(groups, (6, 7, 8)))] = False
        w = np.array([k[1] for k in _KINDS])
        key = np.where(appl, rng.exponential(1.0, appl.shape) / w, np.inf)
        order = np.argsort(key, axis=1, kind="stable")
        ncorr = rng.choice(4, cp.size, p=[0.22, 0.43, 0.25, 0.10])
        ncorr = np.where(dua_nik, np.minimum(ncorr, rng.random(cp.size) < 0.4), ncorr)
        chosen = np.zeros(appl.shape, dtype=bool)
        group_used = np.zeros((cp.size, 9), dtype=bool)
        count = np.zeros(cp.size, dtype=np.int64)
        for j in range(len(_KINDS)):
            kj = order[:, j]
            ok = np.isfinite(key[np.arange(cp.size), kj]) & (count < ncorr)
            g = groups[kj]
            ok &= ~group_used[np.arange(cp.size), g]
            chosen[np.flatnonzero(ok), kj[ok]] = True
            group_used[np.flatnonzero(ok), g[ok]] = True
            count += ok
        names = [k[0] for k in _KINDS]
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
        return {k: cp[chosen[:, j]] for j, k in enumerate(names)}, dua_nik

    def _slip(self, full: pl.Series, kind: str, rows: np.ndarray,
              change: Callable[[pl.Series], pl.Series]) -> pl.Series:
        """`full` with the names at `rows` replaced by `change` of them (which may draw), the rows it changed
        tagged `kind`."""
        if not rows.size:
            return full
        full = full.clone()
        sub = full.gather(rows)
        new = change(sub)
        full.scatter(rows, new)
        ch = np.zeros(self.n_rows, bool)
        ch[rows] = (new != sub).to_numpy()
        self._tag(kind, ch)
        return full

    def _slip_names(self, slips: dict[str, np.ndarray]) -> None:
        """Name slips, in a fixed order: rules first, then structure, then typos."""
        rng, n = self.rng, self.n_rows
        full = self.r_body
        for kind, rules in (("ejaan_lama", _EJAAN_RULES), ("varian_nama", _VARIAN_RULES)):
            full, ch = _apply_rules(full, slips[kind], rules, rng)
            self._tag(kind, ch)
        # Muhammad variants
        rr = slips["muhammad"]
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
            self._tag("muhammad", ch)
        # spacing
        def spacing(sub: pl.Series) -> pl.Series:
            m = sub.len()
            multi = sub.str.contains(" ").to_numpy()
            first_space = rng.random(m) < 0.5
            joined = _where(first_space, sub.str.replace(" ", "", literal=True, n=1),
                            sub.str.replace(r"^(.*\S) (\S+)$", "${1}${2}"))
            ln = sub.str.len_chars().to_numpy()
            cut = np.maximum(3, ln // 2 + rng.integers(-1, 2, m))
            split = pl.select(pl.lit(sub).str.slice(0, pl.Series(cut)) + " " +
                              pl.lit(sub).str.slice(pl.Series(cut))).to_series()
            return _where(multi, joined, split)

        def typo(sub: pl.Series) -> pl.Series:
            m = sub.len()
            ln = sub.str.len_chars().to_numpy()
            pos = 1 + (rng.random(m) * np.maximum(ln - 2, 1)).astype(np.int64)
            op = rng.choice(4, m, p=[0.45, 0.2, 0.15, 0.2])
            letters = np.array(list("ABCDEFGHIJKLMNOPRSTUWYZ"), dtype=object)
            li = rng.integers(0, letters.size, m)
            df = pl.DataFrame({"s": sub, "p": pos, "op": op, "c1": letters[li].astype(str),
                               "c2": letters[(li + 1) % letters.size].astype(str)})
            c = pl.col
            at = c("s").str.slice(c("p"), 1)
            repl = pl.when(at == c("c1")).then(c("c2")).otherwise(c("c1"))
            return df.select(
                pl.when(c("op") == 0).then(c("s").str.slice(0, c("p")) + repl + c("s").str.slice(c("p") + 1))
                .when(c("op") == 1).then(c("s").str.slice(0, c("p")) + c("s").str.slice(c("p") + 1))
                .when(c("op") == 2).then(c("s").str.slice(0, c("p") + 1) + c("s").str.slice(c("p")))
                .otherwise(c("s").str.slice(0, c("p")) + c("s").str.slice(c("p") + 1, 1) + at
                           + c("s").str.slice(c("p") + 2))
            ).to_series()

        full = self._slip(full, "spasi", slips["spasi"], spacing)
        full = self._slip(full, "tukar_token", slips["tukar_token"],
                          lambda sub: sub.str.replace(r"^(\S+) (\S+)", "${2} ${1}"))
        full = self._slip(full, "typo_nama", slips["typo_nama"], typo)
        self.r_body = full

    def _slip_titles_place(self, slips: dict[str, np.ndarray]) -> None:
        """Titles and degrees dropped or added, bin/binti dropped, the place of birth written otherwise."""
        rng, n, person = self.rng, self.n_rows, self.R["person"]
        # titles / degrees
        rr = slips["gelar"]
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
            self._tag("gelar", ch)
        rr = slips["bin"]
        self.r_bin[rr] = None
        ch = np.zeros(n, bool)
        ch[rr] = True
        self._tag("bin", ch)
        rr = slips["tempat_lahir"]
        self.r_tempat, ch = _apply_rules(self.r_tempat, rr, _TEMPAT_RULES, rng)
        self._tag("tempat_lahir", ch)

    def _slip_nik_dates(self, slips: dict[str, np.ndarray], dua: np.ndarray) -> None:
        """NIK slips, the second NIK of the rows `dua`, and date slips."""
        rng, n = self.rng, self.n_rows
        # NIK
        p10 = 10 ** np.arange(15, -1, -1, dtype=np.int64)
        rr = slips["nik_typo"]
        if rr.size:
            pos = rng.integers(1, 16, rr.size)
            nk = self.r_nik[rr]
            dig = (nk // p10[pos]) % 10
            nd = (dig + rng.integers(1, 10, rr.size)) % 10
            self.r_nik[rr] = nk + (nd - dig) * p10[pos]
            ch = np.zeros(n, bool)
            ch[rr] = True
            self._tag("nik_typo", ch)
        rr = slips["nik_transposisi"]
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
            self._tag("nik_transposisi", ch)
        rr = slips["nik_kosong"]
        for i in rr:
            self.r_nik_txt[int(i)] = ""
        ch = np.zeros(n, bool)
        ch[rr] = True
        self._tag("nik_kosong", ch)
        rr = slips["nik_invalid"]
        drop = rng.integers(0, 16, rr.size)
        extra = rng.integers(0, 10, rr.size)
        for j, i in enumerate(rr):
            t = f"{self.r_nik[i]:016d}"
            self.r_nik_txt[int(i)] = t[: drop[j]] + t[drop[j] + 1:] if extra[j] < 6 else t + str(extra[j])
        ch = np.zeros(n, bool)
        ch[rr] = True
        self._tag("nik_invalid", ch)
        rr = dua
        self.r_nik[rr] = self._second_nik(rr)
        ch = np.zeros(n, bool)
        ch[rr] = True
        self._tag("nik_kedua", ch)

        # dates
        rr = slips["tgl_tukar"]
        self.r_d[rr], self.r_m[rr] = self.r_m[rr].copy(), self.r_d[rr].copy()
        ch = np.zeros(n, bool)
        ch[rr] = True
        self._tag("tgl_tukar", ch)
        rr = slips["tgl_digit"]
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
            self._tag("tgl_digit", ch)
        rr = slips["tgl_placeholder"]
        k = rng.random(rr.size) < 0.6
        self.r_m[rr] = np.where(k, 7, 12)
        self.r_d[rr] = np.where(k, 1, 31)
        ch = np.zeros(n, bool)
        ch[rr] = True
        self._tag("tgl_placeholder", ch)

    def _cases(self) -> None:
        """Address and NKK tags of the copies, a relative's NIK on the carriers' rows, and every row's case."""
        R, P, n = self.R, self.P, self.n_rows
        person = R["person"]
        # addresses, NKK, TPS differences
        hh = self.hh[person]
        self._tag("alamat_beda", self.is_copy & (R["addr_id"] != hh))
        self._tag("nkk_beda", self.is_copy & (R["nkk_id"] != hh))

        # hard negative: a relative's NIK on the carrier's row
        car = self.nik_carrier
        self.r_nik[car] = self.nik[self.nik_owner]
        ch = np.zeros(n, bool)
        ch[car] = True
        self._tag("nik_kerabat", ch)

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
        taken = np.unique(np.concatenate([self.nik, self.r_nik]))   # sorted
        new = codes[ci] * 10**10 + tail
        # Until none clashes: k tries of another kecamatan, then serials upwards (from 10,000 serials per date
        # and region; at 3 million voters in 8 kecamatan about 20 people share a kecamatan, birth date and sex).
        for attempt in range(k + 10**4):
            order = np.argsort(new, kind="stable")
            twice = np.zeros(rr.size, bool)
            twice[order[1:]] = new[order][1:] == new[order][:-1]
            at = np.minimum(np.searchsorted(taken, new), taken.size - 1)
            clash = (taken[at] == new) | twice
            if not clash.any():
                return new
            # region-only NIKs try the next kecamatan code (never the real one); the others the next serial
            move = clash & ~whole & (attempt < k)
            ci = np.where(move, (ci + 1) % k, ci)
            ci = np.where(move & (codes[ci] == old_code), (ci + 1) % k, ci)
            bump = clash & ~move
            tail = np.where(bump, tail + 1, tail)
            new = codes[ci] * 10**10 + tail
        raise AssertionError("no free second NIK")  # pragma: no cover - serials run out only past 9,999
