"""The engine on FEBRL declarations: febrl3 linked end to end, and comparisons that read both sides alike."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dpt_pipeline.linkage.blocking import candidate_pairs
from dpt_pipeline.linkage.comparisons import compare
from dpt_pipeline.linkage.febrl import febrl_comparisons, febrl_passes, load_febrl, prepare_febrl, run_febrl


@pytest.fixture(scope="module")
def febrl3_records() -> pl.DataFrame:
    raw, _ = load_febrl("febrl3")
    return prepare_febrl(raw)


def test_febrl3_f1() -> None:
    # Fewer random pairs for u than the benchmark (300,000) to keep the test fast; F1 is ~0.999 either way.
    result = run_febrl("febrl3", seed=0, random_pairs=100_000)
    assert result["true_pairs_in_candidates"] >= 0.995 * result["true_pairs"]
    assert result["f1"] >= 0.99, result


def test_comparisons_symmetric(febrl3_records: pl.DataFrame) -> None:
    """Levels of (a, b) equal levels of (b, a), on candidate pairs (mostly matches, every fuzzy level) and
    on random pairs (mostly non-matches, the `else` levels)."""
    records = febrl3_records
    cset = febrl_comparisons()
    candidates, _ = candidate_pairs(records, febrl_passes())
    rng = np.random.default_rng(20261128)
    sample = candidates.select("rid_l", "rid_r").sample(2_000, seed=1)
    random = pl.DataFrame({"rid_l": rng.integers(0, records.height, 2_000, dtype=np.uint32),
                           "rid_r": rng.integers(0, records.height, 2_000, dtype=np.uint32)})
    pairs = pl.concat([sample, random]).filter(pl.col("rid_l") != pl.col("rid_r"))
    swapped = pairs.select(pl.col("rid_r").alias("rid_l"), pl.col("rid_l").alias("rid_r"))
    levels = [c.level_column for c in cset.comparisons]
    ab = compare(records, pairs, cset).select(levels)
    ba = compare(records, swapped, cset).select(levels)
    for c in cset.comparisons:
        # Not vacuous: the sample reaches several levels of every comparison.
        assert ab[c.level_column].n_unique() >= 2, c.name
        diff = ab[c.level_column] != ba[c.level_column]
        assert not diff.any(), f"{c.name}: {int(diff.sum())} pairs score differently when swapped"


Side = dict[str, str | None]  # fields of a record that differ from the base record


def _pair(left: Side, right: Side) -> pl.DataFrame:
    """One record and its altered copy, compared."""
    base = {"given_name": "emma", "surname": "louca", "street_number": "92", "address_1": "cherry place",
            "address_2": "pinecroft", "suburb": "berwick", "postcode": "3377", "state": "vic",
            "date_of_birth": "19360512", "soc_sec_id": "5962113"}
    raw = pl.DataFrame([{"rec_id": "rec-0-org", "source": "a", **base, **left},
                        {"rec_id": "rec-0-dup-0", "source": "a", **base, **right}],
                       schema={"rec_id": pl.String, "source": pl.String, **dict.fromkeys(base, pl.String)})
    records = prepare_febrl(raw)
    pairs = pl.DataFrame({"rid_l": [0], "rid_r": [1]}, schema={"rid_l": pl.UInt32, "rid_r": pl.UInt32})
    return compare(records, pairs, febrl_comparisons())


LEVEL_CASES: list[tuple[str, Side, Side, str, str]] = [
    ("given name and surname swapped", {}, {"given_name": "louca", "surname": "emma"}, "given_name", "swapped"),
    ("surname split by a space", {}, {"surname": "lou ca"}, "surname", "rapat"),
    ("surname missing on one side", {}, {"surname": None}, "surname", "null"),
    ("day and month swapped", {}, {"date_of_birth": "19361205"}, "date_of_birth", "dm_swap"),
    ("two adjacent digits of the date swapped", {}, {"date_of_birth": "19365012"}, "date_of_birth", "one_digit"),
    ("another date in the same year", {}, {"date_of_birth": "19361129"}, "date_of_birth", "year"),
    ("social security id one digit off", {}, {"soc_sec_id": "5962118"}, "soc_sec_id", "one_edit"),
    ("address lines swapped", {}, {"address_1": "pinecroft", "address_2": "cherry place"}, "address_1", "swapped"),
    ("postcode digits transposed", {}, {"postcode": "3737"}, "postcode", "one_edit"),
    ("state differs", {}, {"state": "nsw"}, "state", "else"),
]


@pytest.mark.parametrize(("left", "right", "comparison", "code"), [c[1:] for c in LEVEL_CASES],
                         ids=[c[0] for c in LEVEL_CASES])
def test_levels(left: Side, right: Side, comparison: str, code: str) -> None:
    cset = febrl_comparisons()
    comp = next(c for c in cset.comparisons if c.name == comparison)
    assert comp.codes[_pair(left, right)[comp.level_column][0]] == code


def test_large_slim_compare_keeps_strings_for_febrl(febrl3_records: pl.DataFrame, monkeypatch) -> None:
    """FEBRL's date comparison slices the date string, so its comparison set does not allow coded strings:
    a slim compare of a large pair set must give the levels of the plain pair frame."""
    import dpt_pipeline.linkage.comparisons as compare_module

    cset = febrl_comparisons()
    assert not cset.code_strings
    candidates, _ = candidate_pairs(febrl3_records, febrl_passes())
    pairs = candidates.select("rid_l", "rid_r")
    levels = [c.level_column for c in cset.comparisons]
    monkeypatch.setattr(compare_module, "CODE_FROM", 0)
    slim = compare(febrl3_records, pairs, cset, slim=True, chunk_size=2_000).select(levels)
    assert slim.equals(compare(febrl3_records, pairs, cset).select(levels))
