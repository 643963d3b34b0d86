"""The public engine as an analyst meets it in a notebook: `from dpt_pipeline.linkage import ...`, own
comparisons declared on a polars frame, `link`, `pairs()`."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dpt_pipeline.linkage import (
    BlockingPass,
    Comparison,
    ComparisonSet,
    Level,
    Similarity,
    TrainingSession,
    either_null,
    link,
    same,
    sim,
)

FIRST = ["ANDI", "BUDI", "CITRA", "DEWI", "EKO", "FITRI", "GITA", "HADI", "INDAH", "JOKO", "KARTI", "LINA",
         "MEGA", "NINA", "OKTA", "PUTRI", "RUDI", "SARI", "TONO", "WATI"]
LAST = ["SANTOSO", "WIJAYA", "HASANAH", "PRATAMA", "LESTARI", "NUGROHO", "SAPUTRA", "RAHAYU", "KUSUMA", "HIDAYAT"]
CITIES = ["SANGATTA", "BONTANG", "TENGGARONG", "SAMARINDA", "BERAU"]


def _people(seed: int) -> tuple[pl.DataFrame, set[tuple[str, str]]]:
    """800 people and a second, slightly misspelt record of 100 of them; the true pairs by id."""
    rng = np.random.default_rng(seed)
    n = 800
    names = [f"{FIRST[a]} {LAST[b]} {FIRST[c]}" for a, b, c in rng.integers(0, [20, 10, 20], size=(n, 3))]
    rows = {"id": [f"p{i}" for i in range(n)], "name": names,
            "born": rng.integers(0, 20_000, n).tolist(), "city": rng.choice(CITIES, n).tolist()}
    twice = rng.choice(n, 100, replace=False)
    for k, i in enumerate(twice):
        name = names[i]
        j = int(rng.integers(1, len(name) - 1))
        rows["id"].append(f"d{k}")
        rows["name"].append(name[:j] + name[j + 1:] if k % 2 else name)   # half of them lose a letter
        rows["born"].append(rows["born"][i])
        rows["city"].append(rows["city"][i] if k % 3 else None)          # a third without a city
    truth = {tuple(sorted((f"p{i}", f"d{k}"))) for k, i in enumerate(twice)}
    return pl.DataFrame(rows), truth


def _comparisons() -> ComparisonSet:
    jw = sim("name", "jaro_winkler")
    name = Comparison("name", ("name",), "no name", either_null("name"), (
        Level("exact", "same name", same("name")),
        Level("close", "name one slip apart", jw >= 0.95),
        Level("else", "names differ", pl.lit(True)),
    ), similarities=(Similarity("name", "jaro_winkler"),))
    born = Comparison("born", ("born",), "no birth date", either_null("born"), (
        Level("same", "same birth date", same("born")),
        Level("else", "birth dates differ", pl.lit(True)),
    ))
    city = Comparison("city", ("city",), "no city", either_null("city"), (
        Level("same", "same city", same("city")),
        Level("else", "cities differ", pl.lit(True)),
    ))
    return ComparisonSet((name, born, city), id_column="id")


def _passes() -> list[BlockingPass]:
    return [BlockingPass("born", (pl.col("born"),)),
            BlockingPass("name", (pl.col("name").str.slice(0, 6),))]


def test_an_analyst_links_a_frame_with_own_comparisons() -> None:
    frame, truth = _people(3)
    linked = link(frame, _comparisons(), passes=_passes(), random_pairs=20_000,
                  training=[TrainingSession(("born",), ("born",)), TrainingSession(("name",), ("name",))])
    pairs = linked.pairs()
    found = {tuple(sorted(p)) for p in pairs.select("id_l", "id_r").iter_rows()}
    tp = len(found & truth)
    assert tp / len(truth) >= 0.9, f"recall {tp / len(truth):.3f}"
    assert tp / max(len(found), 1) >= 0.95, f"precision {tp / max(len(found), 1):.3f}"
    # Every claimed pair says why, in the words of the declared levels.
    assert pairs["alasan"].str.contains("same birth date").all()
    assert set(pairs["name"]) <= {"exact", "close"}
    assert pairs["match_probability"].min() >= 0.5
    assert linked.scored.height >= len(truth) and set(linked.seconds) >= {"block", "compare", "fit", "score"}


def test_across_keeps_only_pairs_between_the_two_files() -> None:
    frame, _ = _people(4)
    frame = frame.with_columns(pl.when(pl.col("id").str.starts_with("d")).then(pl.lit("b")).otherwise(pl.lit("a"))
                               .alias("file"))
    linked = link(frame, _comparisons(), passes=_passes(), random_pairs=20_000, across="file",
                  training=[TrainingSession(("born",), ("born",))])
    files = linked.records["file"]
    assert linked.scored.height > 0
    assert (files.gather(linked.scored["rid_l"]) != files.gather(linked.scored["rid_r"])).all()


def test_the_package_face_names_the_engine_and_the_run() -> None:
    import dpt_pipeline as dpt
    from dpt_pipeline import config, linkage, pipeline

    assert dpt.link is linkage.link and dpt.Comparison is linkage.Comparison and dpt.run is pipeline.run
    assert dpt.load_config is config.load_config
    with pytest.raises(AttributeError):
        dpt.no_such_name  # noqa: B018


def test_without_training_em_still_learns_m() -> None:
    frame, _ = _people(5)
    linked = link(frame, _comparisons(), passes=_passes(), random_pairs=20_000)
    start = [0.75, 0.1875]   # EM's first guess of m for the two highest levels: it must have moved
    name_m = next(c for c in linked.model.comparisons if c.name == "name").m
    assert abs(name_m[1] - start[0]) > 0.01 and abs(name_m[2] - start[1]) > 0.01


def test_a_frame_in_any_order_with_a_rid_of_its_own_is_numbered_by_row() -> None:
    # A subset of a numbered frame, reordered: its `rid` is not its row, and the engine reads records by row.
    frame, truth = _people(3)
    shuffled = frame.with_row_index("rid").sample(fraction=1.0, shuffle=True, seed=1)
    linked = link(shuffled, _comparisons(), passes=_passes(), random_pairs=20_000,
                  training=[TrainingSession(("born",), ("born",)), TrainingSession(("name",), ("name",))])
    assert linked.records["rid"].to_list() == list(range(frame.height))
    found = {tuple(sorted(r)) for r in linked.pairs().select("id_l", "id_r").iter_rows()}
    assert len(found & truth) >= 0.9 * len(truth) and len(found & truth) >= 0.95 * len(found)
