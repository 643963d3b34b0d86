"""The generator's shared state: one random stream and the arrays the stages hand each other.

`_State` is the base of the generator's stage mixins (population, names, duplicates, corruption, damage,
render). It owns the only randomness, `np.random.default_rng(seed)`; each stage reads what the stages before it
set and adds its own arrays, always in the same order (`generate.generate`), so the draws and the files are
a pure function of (voters, seed). The annotations below list every attribute with the stage that sets it.

Index spaces: a *household* h in [0, H) (copies' new households come after H in `addr_all` / `nkk_all`), a
*person* p in [0, P), a *row* i in [0, n_rows) (persons first, then their copies, then the rejects).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dpt_pipeline.synth.regions import _SHARES, _Layout, _layout


class _State:
    """Random stream, sizes and every array the stages share (set stage by stage, never all at once)."""

    # __init__
    N: int  # data rows asked for, over the three lists
    seed: int
    rng: np.random.Generator
    lay: _Layout

    # households(): households and persons
    n_reject: int
    P: int
    H: int
    size: np.ndarray  # per household: members
    hh_start: np.ndarray  # per household: its first person
    hh: np.ndarray  # per person: household
    member: np.ndarray  # per person: 0 head, 1 partner, 2.. children
    hsize: np.ndarray  # per person: household size
    is_sid: np.ndarray
    sid_mode: np.ndarray  # per household: Sidrap registration (0 both lists, 1 Bontang, 2 Kutim, -1 none)
    h_src: np.ndarray
    h_desa: np.ndarray
    h_rt: np.ndarray
    h_rw: np.ndarray
    h_eth: np.ndarray
    h_migrant: np.ndarray
    h_origin: np.ndarray  # 6-digit kecamatan code of origin
    h_local: np.ndarray  # 6-digit kecamatan code of the KK
    h_noble: np.ndarray
    h_surname: np.ndarray
    h_addr: pl.Series
    sex: np.ndarray  # per person: 0 L, 1 P
    age: np.ndarray
    birth: np.ndarray

    # select_groups(): movers and hard negatives
    mover_h: np.ndarray
    npairs: int
    twin_a: np.ndarray
    twin_b: np.ndarray
    twin_pat: np.ndarray
    father: np.ndarray
    son: np.ndarray
    nik_owner: np.ndarray
    nik_carrier: np.ndarray
    nu_a: np.ndarray
    nu_b: np.ndarray
    used_person: np.ndarray
    used_h: np.ndarray

    # names()
    given: np.ndarray
    body: pl.Series
    title: np.ndarray
    degree: np.ndarray
    binp: np.ndarray

    # identity(): dates, NIK, place of birth, status
    y: np.ndarray
    m: np.ndarray
    d: np.ndarray
    placeholder: np.ndarray
    code6: np.ndarray
    nik_origin: np.ndarray
    nik: np.ndarray
    tempat: np.ndarray
    status: np.ndarray
    dis: np.ndarray
    ket: np.ndarray

    # rows(), tps(): the rows (persons and their copies) and their polling stations
    R: dict[str, np.ndarray]  # per row: person, src, desa, rt, rw, hhkey, nkk_id, addr_id, kind (+ tps)
    n_rows: int
    tps_beda_rows: np.ndarray
    is_copy: np.ndarray
    addr_all: pl.Series
    nkk_all: np.ndarray

    # corrupt(): per-row fields as written, the tags of what was done, the truth case
    tags: dict[str, np.ndarray]
    r_title: np.ndarray
    r_degree: np.ndarray
    r_bin: np.ndarray
    r_body: pl.Series
    r_tempat: pl.Series
    r_y: np.ndarray
    r_m: np.ndarray
    r_d: np.ndarray
    r_sex: np.ndarray
    r_nik: np.ndarray
    r_nik_txt: dict[int, str]  # row -> NIK text that is no 16-digit number
    case: np.ndarray

    # malformed(): damaged voters and region-name variants
    defect_rows: np.ndarray
    defect_kind: np.ndarray
    var_desa: np.ndarray
    var_kec: np.ndarray
    var_kab: np.ndarray
    unknown_desa: np.ndarray
    region_rng: np.ndarray

    def __init__(self, voters: int, seed: int) -> None:
        self.N = int(voters)
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.lay = _layout(self.rng, self.N, _SHARES)
