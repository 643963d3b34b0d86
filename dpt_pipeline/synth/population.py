"""The generated people: households, persons, ages, the groups set apart, and each person's identity.

Households (KK) of 1-7 adults in the layout's desa and RTs (Dusun Sidrap on both sides of the border), with an
ethnicity, a migrant origin and a noble line; persons with sex and age; the movers and the hard negatives
(twins, father and son, a relative's NIK, common names); then birth dates, NIKs (PP KK CC DDMMYY SSSS, +40
on the day for women, from the kecamatan of first registration), places of birth and the other columns.
"""

from __future__ import annotations

import numpy as np

from dpt_pipeline.synth.common import _days_in_month, _pick, _sample_k, _unique_serial, _ymd
from dpt_pipeline.synth.names import _DAYAK_SURNAME, _ETH, _LOCAL_TOWNS, _MUSLIM, _TIMUR_SURNAME, _TOWNS
from dpt_pipeline.synth.regions import _SHARES, _SIDRAP_RT, _addresses, _rw
from dpt_pipeline.synth.state import _State

# Ages are counted on this day (everyone is >= 17 on it).
REF_DATE = np.datetime64("2026-11-28")
_ONE_DAY = np.timedelta64(1, "D")
_HH_SIZE_P = np.array([0.10, 0.28, 0.27, 0.18, 0.10, 0.05, 0.02])
_DUP_RATE = 0.042  # duplicated persons / persons
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


class Population(_State):
    """The households(), select_groups() and identity() stages."""

    def households(self) -> None:
        """Households (size, place, ethnicity, origin, address) and their persons (sex, age, birth)."""
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

    def select_groups(self) -> None:
        """Movers (whole households listed again elsewhere) and the hard-negative pairs."""
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

    def identity(self) -> None:
        """Birth dates, NIKs, places of birth, marital status, disability and notes of every person."""
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
