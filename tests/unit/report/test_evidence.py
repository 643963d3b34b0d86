"""Why a pair scored what it did: the published model (`model_levels`), each pair's weights and the view
`pair_evidence` (Splink's waterfall as rows) on a real run of the sample with every candidate pair published,
the view on random tables (hypothesis), and the report's waterfalls."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpt_pipeline import pipeline
from dpt_pipeline.config import OutputConfig, load_config
from dpt_pipeline.core.schema import MODEL_HOLD, MODEL_PRIOR
from dpt_pipeline.core.thresholds import CLAIM
from dpt_pipeline.outputs import evidence
from dpt_pipeline.outputs.report import EVIDENCE_BELOW, EVIDENCE_CLAIMED, EVIDENCE_HELD, write_report

ROOT = Path(__file__).resolve().parents[3]
TOL = 1e-9


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """The sample, every candidate pair published (review threshold 1e-300): the output folder."""
    cfg = load_config(ROOT / "config" / "pipeline.toml")
    out = tmp_path_factory.mktemp("evidence")
    cfg = dataclasses.replace(cfg, output=OutputConfig(dir=out), tps=dataclasses.replace(cfg.tps, maps=False),
                              linkage=dataclasses.replace(cfg.linkage, review_threshold=1e-300),
                              review=dataclasses.replace(cfg.review, xlsx=False))
    pipeline.run(cfg)
    return out


def _q(run: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(run / "dpt.duckdb"), read_only=True) as con:
        return con.sql(sql).pl()


def test_every_candidate_pair_is_explained(run: Path) -> None:
    pairs = _q(run, "SELECT pair_id, tahan FROM duplicate_pairs")
    candidates = json.loads((run / "run_summary.json").read_text())["linkage"]["candidate_pairs"]
    assert pairs.height == candidates > 1000
    comparisons = _q(run, evidence.comparisons_sql())["comparison"].to_list()
    assert comparisons == ["nama", "nik", "tanggal_lahir", "tempat_lahir", "jenis_kelamin", "keluarga", "pola"]
    steps = _q(run, "SELECT pair_id, count(*) AS n, list(comparison ORDER BY step) AS c FROM pair_evidence GROUP BY 1")
    joined = pairs.join(steps, on="pair_id", how="left")
    assert joined["n"].null_count() == 0
    for row in joined.iter_rows(named=True):
        expect = [MODEL_PRIOR, *comparisons, *([MODEL_HOLD] if row["tahan"] else [])]
        assert row["c"] == expect, row["pair_id"]


def test_the_weights_and_the_prior_give_every_plain_pair_its_probability(run: Path) -> None:
    """Over every published pair: the last comparison's cumulative is match_weight and its probability the
    published one (a held pair: what its weight alone gives), to 1e-9; the prior's step is the model's prior."""
    last = _q(run, f"""
        SELECT p.pair_id, p.match_weight, p.match_probability, p.tahan, e.cumulative, e.probability
        FROM duplicate_pairs p JOIN pair_evidence e USING (pair_id)
        WHERE e.step = (SELECT max(urutan) FROM model_levels
                        WHERE comparison NOT IN ('{MODEL_PRIOR}', '{MODEL_HOLD}'))""")
    assert last.height == _q(run, "SELECT count(*) n FROM duplicate_pairs")["n"].item()
    plain = last.filter(pl.col("tahan").is_null())
    assert plain.height > 1000
    assert (plain["cumulative"] - plain["match_weight"]).abs().max() <= TOL  # type: ignore[operator]
    assert (plain["probability"] - plain["match_probability"]).abs().max() <= TOL  # type: ignore[operator]
    # Recomputed here from the weights: prior + sum of the w_ columns, in order, through the logistic.
    weights = _q(run, "SELECT pair_id, COLUMNS('^w_') FROM duplicate_pairs")
    model = json.loads((run / "model.json").read_text())
    prior = math.log2(model["lambda"] / (1 - model["lambda"]))
    total = weights.select("pair_id", (pl.lit(prior) + pl.sum_horizontal(pl.exclude("pair_id"))).alias("w"))
    mine = plain.join(total, on="pair_id").with_columns((1 / (1 + (2.0 ** -pl.col("w")))).alias("p"))
    assert (mine["p"] - mine["match_probability"]).abs().max() <= TOL  # type: ignore[operator]
    first = _q(run, "SELECT DISTINCT weight, cumulative FROM pair_evidence WHERE step = 0")
    assert first.height == 1 and abs(first["weight"].item() - prior) <= TOL


def test_a_held_pair_ends_on_its_rule_not_on_its_weight(run: Path) -> None:
    held = _q(run, f"""
        SELECT p.pair_id, p.match_weight, p.match_probability, p.tahan, e.level, e.label, e.weight, e.probability,
               h.label AS rule, h.at_most
        FROM duplicate_pairs p JOIN pair_evidence e ON e.pair_id = p.pair_id AND e.comparison = '{MODEL_HOLD}'
        JOIN model_levels h ON h.comparison = '{MODEL_HOLD}' AND h.level = p.tahan""")
    n_held = _q(run, "SELECT count(*) n FROM duplicate_pairs WHERE tahan IS NOT NULL")["n"].item()
    assert held.height == n_held > 0
    assert set(held["tahan"]) <= {"dua_nik", "kembar_atau_ganda"} and (held["level"] == held["tahan"]).all()
    assert (held["label"] == held["rule"]).all() and held["weight"].null_count() == held.height
    unheld = 1 / (1 + 2.0 ** -held["match_weight"])
    assert ((held["match_probability"] - unheld.clip(upper_bound=held["at_most"])).abs() <= TOL).all()
    assert ((held["probability"] - held["match_probability"]).abs() <= TOL).all()
    assert (unheld >= CLAIM).any(), "a held pair whose weight alone would be a claim: the rule is what holds it"
    # A plain pair below the claim is never marked held.
    assert _q(run, "SELECT count(*) n FROM duplicate_pairs WHERE tahan IS NULL AND abs(match_probability - "
                   "1 / (1 + pow(2, -match_weight))) > 1e-9")["n"].item() == 0


def test_model_levels_are_the_model_file(run: Path) -> None:
    model = json.loads((run / "model.json").read_text())
    levels = _q(run, "SELECT * FROM model_levels ORDER BY urutan, level_index")
    assert levels.filter(pl.col("comparison") == MODEL_PRIOR)["weight"].item() == pytest.approx(
        math.log2(model["lambda"] / (1 - model["lambda"])), abs=TOL)
    for k, c in enumerate(model["comparisons"], start=1):
        rows = levels.filter(pl.col("comparison") == c["name"])
        assert rows["urutan"].unique().to_list() == [k]
        assert rows["level"].to_list() == [lv["code"] for lv in c["levels"]]
        for row, lv in zip(rows.iter_rows(named=True), c["levels"], strict=True):
            assert (row["m"], row["u"]) == (lv["m"], lv["u"])
            assert row["weight"] == pytest.approx(lv["weight"], abs=TOL) and row["fixed"] == bool(lv.get("fixed"))
    holds = levels.filter(pl.col("comparison") == MODEL_HOLD)
    assert holds["level"].to_list() == ["dua_nik", "kembar_atau_ganda"] and (holds["at_most"] == 0.49).all()


def test_a_level_weighs_the_same_in_every_pair_unless_term_frequency_adjusts_it(run: Path) -> None:
    steps = _q(run, f"""SELECT e.comparison, e.level, m.tf, e.weight, e.model_weight FROM pair_evidence e
        JOIN model_levels m ON m.comparison = e.comparison AND m.level = e.level
        WHERE e.comparison NOT IN ('{MODEL_PRIOR}', '{MODEL_HOLD}')""")
    plain = steps.filter(~pl.col("tf"))
    assert plain.height > 10_000 and (plain["weight"] == plain["model_weight"]).all()
    tf = steps.filter(pl.col("tf"))
    assert set(tf["comparison"]) == {"nama", "tanggal_lahir"}
    assert (tf["weight"] != tf["model_weight"]).any()


@settings(max_examples=60, deadline=None)
@given(prior=st.floats(-30, 0), weights=st.lists(st.lists(st.floats(-40, 40), min_size=3, max_size=3),
                                                  min_size=1, max_size=8),
       held=st.lists(st.booleans(), min_size=8, max_size=8))
def test_the_view_adds_in_order_on_any_tables(prior: float, weights: list[list[float]], held: list[bool]) -> None:
    """On random pairs of three comparisons: each step's cumulative is the prior plus the weights so far,
    its probability the logistic of it, and a held pair ends on its hold with the published probability."""
    names = ["a", "b_c", "d"]
    con = duckdb.connect()
    levels = [(0, MODEL_PRIOR, 0, "lambda", "prior", prior, None)]
    levels += [(k, n, 0, "x", f"level x of {n}", 1.0, None) for k, n in enumerate(names, start=1)]
    levels += [(4, MODEL_HOLD, 0, "h", "rule h", None, 0.49)]
    con.execute("CREATE TABLE model_levels (urutan INT, comparison VARCHAR, level_index INT, level VARCHAR, "
                "label VARCHAR, weight DOUBLE, at_most DOUBLE)")
    con.executemany("INSERT INTO model_levels VALUES (?, ?, ?, ?, ?, ?, ?)", levels)
    rows = []
    for i, w in enumerate(weights):
        total = prior
        for x in w:
            total += x
        p = 1 / (1 + 2.0 ** -total)
        rows.append((f"p{i}", total, min(p, 0.49) if held[i] else p, "h" if held[i] else None, *w))
    con.execute("CREATE TABLE duplicate_pairs (pair_id VARCHAR, match_weight DOUBLE, match_probability DOUBLE, "
                "tahan VARCHAR, w_a DOUBLE, w_b_c DOUBLE, w_d DOUBLE, a VARCHAR DEFAULT 'x', b_c VARCHAR DEFAULT 'x', "
                "d VARCHAR DEFAULT 'x')")
    con.executemany("INSERT INTO duplicate_pairs (pair_id, match_weight, match_probability, tahan, w_a, w_b_c, w_d) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    assert con.execute(evidence.comparisons_sql()).fetchall() == [(n,) for n in names]
    con.execute(f"CREATE VIEW pair_evidence AS {evidence.view_sql(names)}")
    for pair_id, weight, prob, tahan, *w in rows:
        got = con.execute("SELECT comparison, weight, cumulative, probability FROM pair_evidence WHERE pair_id = ? "
                          "ORDER BY step", [pair_id]).fetchall()
        assert [g[0] for g in got] == [MODEL_PRIOR, *names, *([MODEL_HOLD] if tahan else [])]
        running = 0.0
        for (_, step_w, cumulative, p), x in zip(got, [prior, *w], strict=False):
            running += x
            assert step_w == x and math.isclose(cumulative, running, rel_tol=1e-12, abs_tol=1e-9)
            assert math.isclose(p, 1 / (1 + 2.0 ** -running), rel_tol=1e-12, abs_tol=1e-12)
        assert math.isclose(got[-1][2], weight, abs_tol=1e-9) and math.isclose(got[-1][3], prob, abs_tol=1e-12)
    con.close()


def _section(page: str, key: str) -> str:
    m = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert m, key
    return m.group(1)


def test_the_report_shows_the_most_doubtful_claims_and_the_held_pairs(run: Path, tmp_path: Path) -> None:
    page = write_report(run / "dpt.duckdb", tmp_path / "report.html").read_text(encoding="utf-8")
    part = _section(page, "bukti")
    claimed = _q(run, f"SELECT pair_id FROM duplicate_pairs WHERE match_probability >= {CLAIM} "
                      f"ORDER BY match_probability, pair_id LIMIT {EVIDENCE_CLAIMED}")["pair_id"].to_list()
    held = _q(run, "SELECT pair_id, tahan FROM duplicate_pairs WHERE tahan IS NOT NULL "
                   f"ORDER BY match_weight DESC, pair_id LIMIT {EVIDENCE_HELD}")
    below = _q(run, f"SELECT pair_id FROM duplicate_pairs WHERE match_probability < {CLAIM} AND tahan IS NULL "
                    f"ORDER BY match_probability DESC, pair_id LIMIT {EVIDENCE_BELOW}")["pair_id"].to_list()
    shown = re.findall(r'<table id="tabel-bukti-([0-9a-f]+)">', part)
    assert shown == [*claimed, *held["pair_id"].to_list(), *below]
    assert len(re.findall(r'alt="Air terjun bobot pasangan [0-9a-f]+"', part)) == len(shown)
    rules = dict(_q(run, f"SELECT level, label FROM model_levels WHERE comparison = '{MODEL_HOLD}'").iter_rows())
    for pair_id, tahan in held.iter_rows():
        table = part.split(f'<table id="tabel-bukti-{pair_id}">')[1].split("</table>")[0]
        assert '<tr class="warn">' in table and rules[tahan] in table and "0,4900" in table
    # Every number of a shown table is the view's, formatted.
    for pair_id in claimed:
        table = part.split(f'<table id="tabel-bukti-{pair_id}">')[1].split("</table>")[0]
        cells = re.findall(r'<td class="n">([^<]*)</td>', table)
        steps = _q(run, f"SELECT step, weight, cumulative, probability FROM pair_evidence WHERE pair_id = '{pair_id}' "
                        "ORDER BY step")
        for row in steps.iter_rows(named=True):
            assert f"{row['probability']:.4f}".replace(".", ",") in cells
            assert f"{row['cumulative']:+.3f}".replace(".", ",").replace("+-", "-").lstrip("+") in \
                [c.lstrip("+") for c in cells]
