"""The damage of exports: rejected lines, damaged-but-valid voters and region names written otherwise.

Rejects are extra rows modelled on a random row of the same list (empty name, too few or many columns, a
separator-only line); damaged voters keep a valid row with a broken NIK, NKK, sex or date (the text itself is
broken while rendering); a few rows carry a desa, kecamatan or kabupaten variant or an unknown desa.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dpt_pipeline.synth.common import _sample_k, _ymd
from dpt_pipeline.synth.formats import NIK_TAGS, NO_NIK_TAGS, REJECT_TAGS, VOTER_DEFECT_TAGS
from dpt_pipeline.synth.regions import _SHARES
from dpt_pipeline.synth.state import _State


class Damage(_State):
    """The malformed() stage."""

    def malformed(self) -> None:
        """Reject rows, damaged-but-valid voters, and which rows get region-name variants."""
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
