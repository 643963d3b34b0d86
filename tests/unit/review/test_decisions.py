"""The rule of the review loop, as invariants over random groups and random decision sets.

- each SAMA component without a conflict keeps exactly one record; everyone else in it is struck;
- nobody is struck without a chain of SAMA decisions to the record kept for them;
- a model score never strikes, and never splits what reviewers joined;
- BEDA pairs never share a group;
- reviewers who contradict each other strike nobody and their pairs come back;
- a decision is never silently replaced: one owner's word never changes another's.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from dpt_pipeline.core import decisions
from dpt_pipeline.core.decisions import BEDA, KONFLIK, RAGU, SAMA
from dpt_pipeline.linkage import clustering as cluster

T0 = dt.datetime(2026, 11, 1)
RULES = [decisions.KeepRule(pl.col("a"), "a"), decisions.KeepRule(pl.col("b"), "b")]


def vid(i: int) -> str:
    return f"v{i:02d}"


def history(rows: list[tuple[int, int, str, str, int]]) -> pl.DataFrame:
    """(i, j, word, owner, night) -> review_decisions rows."""
    out = []
    for k, (i, j, word, owner, night) in enumerate(rows):
        a, b = sorted((vid(i), vid(j)))
        out.append({"pair_id": f"{a}|{b}", "voter_id_l": a, "voter_id_r": b, "keputusan": word, "catatan": None,
                    "file": f"{owner}.xlsx", "baris": k + 2, "imported_at": T0 + dt.timedelta(days=night, seconds=k),
                    "berkas": owner, "diekspor": T0 + dt.timedelta(days=night)})
    return pl.DataFrame(out, schema=decisions.DECISION_SCHEMA)


def records(flags: list[tuple[bool, bool]]) -> pl.DataFrame:
    return pl.DataFrame({"rid": list(range(len(flags))), "voter_id": [vid(i) for i in range(len(flags))],
                         "a": [f[0] for f in flags], "b": [f[1] for f in flags]},
                        schema={"rid": pl.UInt32, "voter_id": pl.String, "a": pl.Boolean, "b": pl.Boolean})


def components(edges: list[tuple[str, str]], nodes: list[str]) -> dict[str, str]:
    parent = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    return {n: find(n) for n in nodes}


def path_exists(edges: list[tuple[str, str]], a: str, b: str) -> bool:
    nodes = sorted({x for e in edges for x in e} | {a, b})
    comp = components(edges, nodes)
    return comp[a] == comp[b]


pair_st = st.tuples(st.integers(0, 8), st.integers(0, 8)).filter(lambda t: t[0] != t[1])
decision_st = st.lists(st.tuples(pair_st, st.sampled_from([SAMA, SAMA, BEDA, RAGU]),
                                 st.sampled_from(["kutim/teluk-pandan", "bontang/bontang-utara"]),
                                 st.integers(0, 3)), max_size=14)
model_st = st.lists(st.tuples(pair_st, st.floats(0.0, 1.0)), max_size=20)
flags_st = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=9, max_size=9)


def _run(flags: list[tuple[bool, bool]], decided: list, model: list) -> tuple[pl.DataFrame, decisions.Resolution,
                                                                              pl.DataFrame, pl.DataFrame]:
    recs = records(flags)
    h = history([(i, j, w, o, n) for (i, j), w, o, n in decided])
    standing = decisions.standing(h)
    res = decisions.resolve(standing, decisions.rule_columns(recs, RULES))
    probs = {}
    for (i, j), p in model:
        probs[(min(i, j), max(i, j))] = p
    pairs = pl.DataFrame([{"rid_l": a, "rid_r": b, "match_probability": p} for (a, b), p in probs.items()],
                         schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32, "match_probability": pl.Float64})

    def score_fn(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(pl.struct("rid_l", "rid_r").map_elements(
            lambda s: probs.get((s["rid_l"], s["rid_r"]), 0.01), return_dtype=pl.Float64).alias("match_probability"))

    rid = recs.select("voter_id", "rid")

    def by_rid(f: pl.DataFrame) -> pl.DataFrame:
        return (f.join(rid.rename({"voter_id": "voter_id_l", "rid": "rid_l"}), on="voter_id_l")
                .join(rid.rename({"voter_id": "voter_id_r", "rid": "rid_r"}), on="voter_id_r"))

    groups = cluster.cluster(pairs, recs, score_fn, keep_rules=RULES, same=by_rid(res.same),
                             different=by_rid(res.different))
    return standing, res, groups, recs


@settings(max_examples=300, deadline=None)
@given(flags=flags_st, decided=decision_st, model=model_st)
def test_only_a_sama_chain_strikes_and_each_component_keeps_one(flags, decided, model) -> None:
    standing, res, groups, recs = _run(flags, decided, model)

    def edges(word: str) -> list[tuple[str, str]]:
        chosen = standing.filter(pl.col("keputusan") == word).select("voter_id_l", "voter_id_r")
        return [(a, b) for a, b in chosen.rows()]

    sama, beda = edges(SAMA), edges(BEDA)
    nodes = recs["voter_id"].to_list()
    comp = components(sama, nodes)
    crossed = {comp[a] for a, b in beda if comp[a] == comp[b]}
    struck = dict(zip(res.struck["voter_id"], res.struck["kept_voter_id"], strict=True))
    for root in set(comp.values()):
        members = [n for n in nodes if comp[n] == root]
        if len(members) < 2:
            assert not set(members) & set(struck), "a record without any SAMA decision was struck"
            continue
        if root in crossed:
            assert not set(members) & set(struck), "a component whose reviewers contradict each other struck someone"
            continue
        kept = [m for m in members if m not in struck]
        assert len(kept) == 1, "a SAMA component must keep exactly one record"
    for voter, kept_for in struck.items():
        assert kept_for not in struck and path_exists(sama, voter, kept_for), "struck without a SAMA path"
    group_of = dict(zip(groups["voter_id"], groups["group_id"], strict=True))
    for a, b in beda:
        assert group_of.get(a) is None or group_of.get(a) != group_of.get(b), "a BEDA pair shares a group"
    for a, b in res.same.iter_rows():
        assert group_of.get(a) is not None and group_of[a] == group_of.get(b), "a model score split a SAMA pair"
    placed = recs.select("voter_id").join(res.struck, on="voter_id", how="anti")
    assert set(decisions.audit(standing, res.struck, groups, placed, recs).values()) == {0}


@settings(max_examples=150, deadline=None)
@given(flags=flags_st, decided=decision_st, model=model_st, other=model_st)
def test_model_scores_never_change_who_is_struck(flags, decided, model, other) -> None:
    a = _run(flags, decided, model)[1].struck
    b = _run(flags, decided, other)[1].struck
    assert a.equals(b)


@settings(max_examples=200, deadline=None)
@given(decided=decision_st, extra=st.tuples(pair_st, st.sampled_from([SAMA, BEDA, RAGU]), st.integers(0, 5)))
def test_a_decision_is_never_silently_replaced(decided, extra) -> None:
    """A new word from one owner never changes another owner's current word; what stands is their common
    word, or KONFLIK when they disagree."""
    rows = [(i, j, w, o, n) for (i, j), w, o, n in decided]
    before = decisions.current_by_owner(history(rows))
    (i, j), word, night = extra
    after_rows = [*rows, (i, j, word, "kutim/teluk-pandan", night)]
    after = decisions.current_by_owner(history(after_rows))
    others = before.filter(pl.col("berkas") != "kutim/teluk-pandan").select("pair_id", "berkas", "keputusan")
    assert others.sort(["pair_id", "berkas"]).equals(
        after.filter(pl.col("berkas") != "kutim/teluk-pandan").select("pair_id", "berkas", "keputusan")
        .sort(["pair_id", "berkas"]))
    standing = decisions.standing(history(after_rows))
    for pair, words in after.group_by("pair_id").agg(pl.col("keputusan")).iter_rows():
        firm = set(words) - {RAGU}
        expected = RAGU if not firm else (firm.pop() if len(firm) == 1 else KONFLIK)
        assert standing.filter(pl.col("pair_id") == pair)["keputusan"].item() == expected


def test_the_reported_cases() -> None:
    """The cases of the bug report, by name."""
    flags = [(False, False)] * 9
    # A, B, C one person; the model keeps A; a reviewer says only B = C: one of B and C is struck, never both,
    # and never on the model's word.
    _, res, groups, _ = _run(flags, [((1, 2), SAMA, "k/a", 0)], [((0, 1), 0.99), ((0, 2), 0.99), ((1, 2), 0.99)])
    assert res.struck["voter_id"].to_list() == [vid(2)] and res.struck["kept_voter_id"].to_list() == [vid(1)]
    assert groups.filter(pl.col("voter_id") == vid(0))["keep"].item()
    # SAMA(a, b), SAMA(b, c) and a low model score for (a, c): the group stays whole.
    _, res, groups, _ = _run(flags, [((3, 4), SAMA, "k/a", 0), ((4, 5), SAMA, "k/a", 0)], [((3, 5), 0.001)])
    assert groups.filter(pl.col("voter_id").is_in([vid(3), vid(4), vid(5)]))["group_id"].n_unique() == 1
    assert res.struck.height == 2
    # The same chain across a BEDA: nobody struck, every decided pair back as a conflict.
    _, res, _, _ = _run(flags, [((3, 4), SAMA, "k/a", 0), ((4, 5), SAMA, "k/a", 0), ((3, 5), BEDA, "k/b", 0)], [])
    assert res.struck.height == 0 and res.attention.height == 3
    assert {s.split(" (")[0] for s in res.attention["status"]} == {decisions.STATUS_RANTAI}
    assert all("k/a: SAMA" in s or "k/b: BEDA" in s for s in res.attention["status"])   # every owner's word
    # Two camats disagree on one pair: KONFLIK, nobody struck, back in the files; a later agreeing word settles it.
    rows = [((6, 7), SAMA, "kutim/teluk-pandan", 0), ((6, 7), BEDA, "bontang/bontang-utara", 0)]
    standing, res, _, _ = _run(flags, rows, [])
    assert standing["keputusan"].to_list() == [KONFLIK] and res.struck.height == 0
    assert res.attention["status"].item().startswith(decisions.STATUS_KONFLIK)
    standing, res, _, _ = _run(flags, [*rows, ((6, 7), SAMA, "bontang/bontang-utara", 1)], [])
    assert standing["keputusan"].to_list() == [SAMA] and res.struck.height == 1 and res.attention.height == 0


def test_the_keep_order_is_one_order_for_groups_and_components() -> None:
    recs = records([(False, True), (True, False), (False, False)])
    ranks = decisions.rule_columns(recs, RULES)
    assert ranks.sort("keep_rank")["voter_id"].to_list() == [vid(1), vid(0), vid(2)]


def test_a_history_from_before_owners_takes_its_file_as_owner() -> None:
    old = history([(0, 1, SAMA, "x", 0)]).drop("berkas", "diekspor")
    h = decisions.history_frame(old)
    assert h["berkas"].to_list() == ["x.xlsx"] and h["diekspor"].to_list() == h["imported_at"].to_list()


def test_the_audit_sees_a_broken_rule() -> None:
    """decisions.audit finds each kind of breach on published tables (it is what the benchmark checks)."""
    flags = [(False, False)] * 9
    standing, res, groups, recs = _run(flags, [((1, 2), SAMA, "k/a", 0), ((3, 4), BEDA, "k/a", 0)],
                                       [((3, 4), 0.9)])
    everyone = recs.select("voter_id")
    struck_lone = pl.DataFrame({"voter_id": [vid(5)], "kept_voter_id": [vid(6)], "komponen": ["S-x"]})
    bad = decisions.audit(standing, pl.concat([res.struck, struck_lone]), groups,
                          everyone.join(pl.concat([res.struck, struck_lone]), on="voter_id", how="anti"), recs)
    assert bad["struck_without_any_sama"] == 1 and bad["struck_without_sama_path_to_kept"] == 1
    both_placed = decisions.audit(standing, res.struck.head(0), groups, everyone, recs)
    assert both_placed["sama_components_not_keeping_exactly_one"] == 1
    glued = pl.DataFrame({"group_id": ["G"] * 2, "voter_id": [vid(3), vid(4)], "keep": [True, False], "reason": ""})
    assert decisions.audit(standing, res.struck, glued, everyone, recs)["beda_pairs_in_one_group"] == 1
