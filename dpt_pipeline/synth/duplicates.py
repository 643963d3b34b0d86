"""The rows of the generated lists: one per person, then the copies, and every row's polling station (TPS).

Copies (a second row of one person): Dusun Sidrap households listed in Kutim as well, movers' households in
another list, and double entries within one list (same place, another TPS, another RT or desa). Copies that
live elsewhere get new households: an address and often a new NKK.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dpt_pipeline.synth.common import _sample_k, _unique_serial, _ymd
from dpt_pipeline.synth.regions import _addresses, _rw
from dpt_pipeline.synth.state import _State


class Duplicates(_State):
    """The rows() and tps() stages."""

    def rows(self) -> None:
        """Rows of every person and their copies (R), the copies' households, addresses and NKKs."""
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

    def tps(self) -> None:
        """A TPS per row: households kept together, about 330-470 rows per TPS of a desa."""
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
