"""The Fellegi-Sunter model's principles: EM recovers a known mixture, fixed-weight levels enter EM with
their fixed weight only, the term-frequency adjustment is symmetric, the prior comes from the
deterministic rule, a hold keeps two-NIK pairs for a person, and a model file fitted on other level
conditions is refused."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from linkage_models import even_model

from dpt_pipeline.core.thresholds import CLAIM, HELD_AT
from dpt_pipeline.linkage import blocking as block
from dpt_pipeline.linkage import comparisons as compare
from dpt_pipeline.linkage import dpt
from dpt_pipeline.linkage import model as score
from dpt_pipeline.linkage.model import ModelFileError, em

# EM recovers m and the prior within this (absolute) on 200,000 pairs of a three-comparison mixture.
TOLERANCE = 0.01


def _mixture(rng: np.random.Generator, n: int, lam: float, m: list[np.ndarray], u: list[np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray]:
    """n level patterns drawn from the mixture (level 0 = null is never drawn), as unique patterns and
    counts, the way `em.fit` hands them to EM."""
    match = rng.random(n) < lam
    cols = []
    for mk, uk in zip(m, u, strict=True):
        col = np.where(match, rng.choice(len(mk), n, p=mk), rng.choice(len(uk), n, p=uk))
        cols.append(col)
    levels = np.stack(cols, axis=1).astype(np.int16)
    pats, counts = np.unique(levels, axis=0, return_counts=True)
    return pats, counts.astype(float)


M = [np.array([0, 0.85, 0.10, 0.05]), np.array([0, 0.90, 0.08, 0.02]), np.array([0, 0.70, 0.20, 0.10])]
U = [np.array([0, 0.02, 0.08, 0.90]), np.array([0, 0.05, 0.15, 0.80]), np.array([0, 0.10, 0.30, 0.60])]


def _start(levels: int) -> np.ndarray:
    m = np.array([0.0] + [2.0 ** -(i * 2) for i in range(levels - 1)])
    return m / m.sum()


def test_em_recovers_a_known_mixture() -> None:
    rng = np.random.default_rng(7)
    pats, counts = _mixture(rng, 200_000, 0.15, M, U)
    m_list, lam, it = em._em(pats, counts, U, [_start(4)] * 3, 0.5, np.zeros(len(pats)), [0, 1, 2],
                                {0, 1, 2}, 500, 1e-9)
    assert abs(lam - 0.15) < TOLERANCE
    for got, want in zip(m_list, M, strict=True):
        np.testing.assert_allclose(got[1:], want[1:], atol=TOLERANCE)
    assert it > 1


def test_a_fixed_level_enters_em_with_its_fixed_weight_only() -> None:
    # Comparison 2's last level is fixed at its true weight; its m and u, as EM would count them, are
    # never used in the E-step. Were log(m/u) added on top (training one model and scoring another), the
    # posterior of those pairs would count that level twice and the prior would come out wrong.
    rng = np.random.default_rng(11)
    pats, counts = _mixture(rng, 200_000, 0.15, M, U)
    weight_nats = math.log(M[2][3] / U[2][3])
    fixed_w = np.where(pats[:, 2] == 3, weight_nats, 0.0)
    fixed_levels = [np.zeros(4, bool), np.zeros(4, bool), np.array([False, False, False, True])]
    m_list, lam, _ = em._em(pats, counts, U, [_start(4)] * 3, 0.5, fixed_w, [0, 1, 2], {0, 1, 2}, 500, 1e-9,
                               fixed_levels)
    assert abs(lam - 0.15) < TOLERANCE
    for got, want in zip(m_list, M, strict=True):
        np.testing.assert_allclose(got[1:], want[1:], atol=TOLERANCE)
    # The same fixed weight counted twice (the old way) misses the prior.
    _, lam_twice, _ = em._em(pats, counts, U, [_start(4)] * 3, 0.5, fixed_w, [0, 1, 2], {0, 1, 2}, 500, 1e-9)
    assert abs(lam_twice - 0.15) > abs(lam - 0.15)


def _two_records(make_records, left: dict, right: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    recs = make_records([left, right])
    pairs = pl.DataFrame({"rid_l": [0], "rid_r": [1]}, schema=block.PAIR_SCHEMA)
    return recs, pairs


def test_term_frequency_adjustment_is_symmetric(make_records) -> None:
    # A level that accepts unequal values (here: the name's "sama" level reads nama_std, but the tf column
    # is another) must weigh the pair the same whichever record is on the left: the larger frequency.
    nama = dataclasses.replace(dpt.dpt_comparisons().comparisons[0], tf_column="nama_inti")
    cset = compare.ComparisonSet((nama,))
    # Four SITI AMINAH and one BUDI SANTOSO; the pair (SITI AMINAH, ...) shares nama_std by a title dropped.
    rows = [{"nama": "SITI AMINAH"}] * 4 + [{"nama": "BUDI SANTOSO"}]
    recs = make_records(rows)
    model = even_model(cset)
    p = model.comparisons[0]
    p.m = [0.0, 0.5, *[0.5 / (len(p.codes) - 2)] * (len(p.codes) - 2)]
    p.u = [0.0, 0.3, *[0.7 / (len(p.codes) - 2)] * (len(p.codes) - 2)]
    # A pair of unequal names put in the "sama" level by hand, both ways round.
    pairs = pl.DataFrame({"rid_l": [0, 4], "rid_r": [4, 0]}, schema=block.PAIR_SCHEMA).with_columns(
        pl.lit(1, pl.Int8).alias(nama.level_column))
    w = score.score(pairs, recs, cset, model)["w_nama"].to_numpy()
    assert w[0] == pytest.approx(w[1])
    # The larger frequency (SITI AMINAH, 4 of 5) decides: log2(m / 0.8).
    assert w[0] == pytest.approx(math.log2(0.5 / 0.8), abs=1e-6)


def test_prior_is_the_deterministic_rule_over_its_recall(fitted_small) -> None:
    recs, cset, compared, model_half, model_quarter = fitted_small
    ruled = compared.select(cset.prior_rule.sum()).item()
    n = recs.height
    assert ruled > 0
    assert model_half.lambda_ == pytest.approx(ruled / 0.5 / (n * (n - 1) / 2))
    assert model_quarter.lambda_ == pytest.approx(2 * model_half.lambda_)
    assert model_half.prior == {"em_matches": model_half.prior["em_matches"], "rule_pairs": ruled, "rule_recall": 0.5}


@pytest.fixture(scope="module")
def fitted_small():
    from conftest import records

    rows = []
    for i in range(40):
        nik = f"64081345058{i:05d}"
        rows.append({"nama": f"NAMA{chr(65 + i % 26)}{chr(65 + i // 26)} SANTOSO", "nik": nik,
                     "nkk": f"640813010120{i:04d}"})
        if i % 4 == 0:
            rows.append(rows[-1] | {})  # a plain double: same NIK, name and date
    recs = records(rows)
    cset = dpt.dpt_comparisons()
    cands, _ = block.candidate_pairs(recs)
    compared = compare.compare(recs, cands, cset, slim=True)
    half = score.fit(compared, recs, cset, dpt.dpt_training(), random_pairs=10_000, prior_recall=0.5)
    quarter = score.fit(compared, recs, cset, dpt.dpt_training(), random_pairs=10_000, prior_recall=0.25)
    return recs, cset, compared, half, quarter


def test_a_model_fitted_on_other_conditions_is_refused() -> None:
    cset = dpt.dpt_comparisons()
    text = even_model(cset).to_json()
    score.FellegiSunter.from_json(text, "model.json", cset)          # the same code: accepted
    # The code changes one level's condition (a threshold) after the model was fitted.
    nama = cset.comparisons[0]
    levels = list(nama.levels)
    jw95 = nama.codes.index("jw95") - 1
    levels[jw95] = dataclasses.replace(levels[jw95], condition=compare.sim("nama_inti", "jaro_winkler") >= 0.93)
    changed = dataclasses.replace(cset, comparisons=(dataclasses.replace(nama, levels=tuple(levels)),
                                                     *cset.comparisons[1:]))
    with pytest.raises(ModelFileError, match=r"comparison 'nama' level 4 \(jw95\): its condition differs"):
        score.FellegiSunter.from_json(text, "model.json", changed)
    # A model file written before conditions were recorded is refused too.
    old = json.loads(text)
    for c in old["comparisons"]:
        for lv in c["levels"]:
            lv.pop("condition")
    with pytest.raises(ModelFileError, match="does not record its levels' conditions"):
        score.FellegiSunter.from_json(json.dumps(old), "model.json", cset)


def _level_frame(cset: compare.ComparisonSet, levels: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame({c.level_column: [levels.get(c.name, 1)] for c in cset.comparisons},
                        schema={c.level_column: pl.Int8 for c in cset.comparisons}).with_columns(
        pl.lit(0, pl.UInt32).alias("rid_l"), pl.lit(1, pl.UInt32).alias("rid_r"))


CSET = dpt.dpt_comparisons()
NIK = CSET.comparisons[1]
KELUARGA = CSET.comparisons[5]
POLA = CSET.comparisons[6]


@settings(max_examples=200, deadline=None)
@given(levels=st.fixed_dictionaries({c.name: st.integers(0, len(c.codes) - 1) for c in CSET.comparisons}),
       seed=st.integers(0, 2**32 - 1), lam=st.floats(1e-9, 0.5))
def test_two_valid_niks_are_never_claimed_without_the_family_card_or_address(levels, seed, lam) -> None:
    """Whatever the model's m, u and prior, a pair with two valid NIKs that are no slip of each other is
    claimed only when the family card or the address and RT agree as well; a pair that may be twins
    (`kembar_mungkin`) never is; every other pair's probability is its weight's."""
    rng = np.random.default_rng(seed)
    model = even_model(CSET)
    model.lambda_ = lam
    for p in model.comparisons:
        for key in ("m", "u"):
            plain = p.u_plain if key == "u" else []
            x = rng.dirichlet(np.full(len(p.codes) - 1 - len(plain), 0.3)) + 1e-6
            shares = iter((x / x.sum()).tolist())
            setattr(p, key, [0.0, *(float(rng.uniform(0.01, 0.99)) if code in plain else next(shares)
                                    for code in p.codes[1:])])
    recs = pl.DataFrame({"nama_std": ["A", "B"], "tanggal_num": [1, 2]})
    out = score.score(_level_frame(CSET, levels), recs, _no_tf(CSET), model)
    two_niks = NIK.codes[levels["nik"]] in ("wilayah_lain", "nomor_urut", "dua_nik")
    other = KELUARGA.codes[levels["keluarga"]] in ("satu_kk", "alamat_rt")
    p = out["match_probability"].item()
    maybe_twins = POLA.codes[levels["pola"]] == "kembar_mungkin"
    if (two_niks and not other) or maybe_twins:
        assert p <= HELD_AT < CLAIM
    else:
        assert p == pytest.approx(1 / (1 + 2 ** -out["match_weight"].item()))


def _no_tf(cset: compare.ComparisonSet) -> compare.ComparisonSet:
    return dataclasses.replace(cset, comparisons=tuple(dataclasses.replace(c, tf_column=None)
                                                       for c in cset.comparisons))


def test_a_held_pair_says_why(make_records) -> None:
    a = {"nik": "6408134505800001", "nama": "SITI AMINAH"}
    b = {"nik": "6474014505800123", "nama": "SITI AMINAH", "kode_kecamatan": "64.74.01",
         "kode_desa": "64.74.01.1004", "desa": "GUNTUNG", "alamat": "JL. LAIN"}
    recs, pairs = _two_records(make_records, a, b)
    out = compare.compare(recs, pairs, CSET)
    assert NIK.codes[out[NIK.level_column].item()] == "dua_nik"
    assert "kemungkinan satu orang dengan dua NIK" in compare.explain(out, CSET).item()


def test_aligned_pairs_carry_the_left_date_digits_and_an_office_day_serial() -> None:
    # Records: three NIKs of one office (64.08.13) and day (05-05-80, a woman), one of another office.
    niks = [6408134505800001, 6408134505800002, 6408134505800013, 6474011203850011]
    recs = pl.DataFrame({"nik_num": pl.Series(niks, dtype=pl.UInt64)}).with_columns(
        (pl.col("nik_num") // 10**10).alias("nik_wilayah"), (pl.col("nik_num") // 10**4 % 10**6).alias("nik_tanggal6"),
        (pl.col("nik_num") % 10**4).alias("nik_urut"))
    # Left: the first NIK each time; right: the other office's NIK, then a NIK of the same office on another
    # day (6408131203850099), then a row without a NIK.
    left = recs[[0, 0, 0]]
    other_day = pl.DataFrame({"nik_num": pl.Series([6408131203850099], dtype=pl.UInt64)}).with_columns(
        (pl.col("nik_num") // 10**10).alias("nik_wilayah"), (pl.col("nik_num") // 10**4 % 10**6).alias("nik_tanggal6"),
        (pl.col("nik_num") % 10**4).alias("nik_urut"))
    right = pl.concat([recs[[3]], other_day, recs[[3]].with_columns(pl.lit(None, pl.UInt64).alias("nik_num"))])
    seen = set()
    for seed in range(20):
        out = dpt.align_nik_dates(recs, left, right, np.random.default_rng(seed))
        # Another office: its region and serial stay, the date digits become the left's.
        assert out["nik_num"][0] == 6474014505800011 and out["nik_tanggal6"][0] == 450580
        # The same office: the serial is another NIK's of the left's office and day, never the left's own.
        serial = out["nik_num"][1] % 10_000
        assert out["nik_num"][1] // 10_000 == 640813450580 and serial in (2, 13)
        seen.add(serial)
        assert out["nik_num"][2] is None                     # no NIK: nothing to align
    assert seen == {2, 13}


def test_u_of_the_nik_is_counted_given_the_date_digits(make_records) -> None:
    # Two offices, many people born on one day in each: random pairs almost never share a birth date, but
    # u of the NIK's levels is counted as if they did (aligned) - all but `beda`, counted as the pairs are.
    rows = []
    for i in range(60):
        office = "640813" if i % 2 else "647401"
        rows.append({"nik": f"{office}4505{80 + i % 5:02d}{i:04d}", "nama": f"NAMA{i}",
                     "tanggal_lahir": dt.date(1980 + i % 5, 5, 5), "jenis_kelamin": "P"})
    recs = make_records(rows)
    u, _ = score.estimate_u(recs, CSET, 20_000, seed=1)
    nik_u = dict(zip(NIK.codes, u[1], strict=True))
    plain = [c for c in NIK.codes if c in NIK.u_plain_codes]
    assert plain == ["beda"]
    assert sum(v for c, v in nik_u.items() if c not in ("null", "beda")) == pytest.approx(1.0)
    # Aligned, the date digits always agree: the other offices' NIKs give dua_nik (or wilayah_lain),
    # the same office's give nomor_urut or salah_urut; never a plain difference of the date.
    assert nik_u["dua_nik"] + nik_u["wilayah_lain"] > 0.3 and nik_u["nomor_urut"] + nik_u["salah_urut"] > 0.3
    assert nik_u["beda"] > 0.5            # as the pairs are: their date digits mostly differ


def test_a_model_file_with_another_fixed_weight_is_refused() -> None:
    cset = dpt.dpt_comparisons()
    model = json.loads(even_model(cset).to_json())
    pola = next(c for c in model["comparisons"] if c["name"] == "pola")
    next(lv for lv in pola["levels"] if lv["code"] == "kembar")["weight"] = 40.0
    with pytest.raises(ModelFileError, match=r"comparison 'pola' level 1 \(kembar\): fixed weight 40.0, the "
                                             r"engine's -40.0"):
        score.FellegiSunter.from_json(json.dumps(model), "model.json", cset)
    model = json.loads(even_model(cset).to_json())
    nik = next(c for c in model["comparisons"] if c["name"] == "nik")
    next(lv for lv in nik["levels"] if lv["code"] == "beda").pop("u_plain")
    with pytest.raises(ModelFileError, match="comparison 'nik'"):
        score.FellegiSunter.from_json(json.dumps(model), "model.json", cset)
