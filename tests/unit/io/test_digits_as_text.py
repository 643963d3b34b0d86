"""A CSV for Excel keeps digit strings Excel would damage (a NIK's 16th digit, a leading zero) as text."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from dpt_pipeline.io.spreadsheet import DAMAGED_AS_NUMBER, keep_digits_as_text, write_csv_for_excel


@given(st.lists(st.from_regex(r"\d{1,20}", fullmatch=True) | st.text(max_size=8), min_size=1, max_size=20))
def test_only_digit_strings_excel_would_damage_get_a_quote_and_nothing_is_lost(values: list[str]) -> None:
    got = keep_digits_as_text(pl.DataFrame({"x": values}))["x"].to_list()
    for before, after in zip(values, got, strict=True):
        damaged = bool(re.fullmatch(r"\d{12,}|0\d+", before))
        assert after == ("'" + before if damaged else before)
        assert bool(re.match(DAMAGED_AS_NUMBER, before)) == damaged


def test_the_csv_option_is_off_by_default(tmp_path: Path) -> None:
    frame = pl.DataFrame({"nik": ["6408130404710033"], "rt": ["007"], "n": [3]})
    plain = write_csv_for_excel(frame, tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    kept = write_csv_for_excel(frame, tmp_path / "b.csv", digits_as_text=True).read_text(encoding="utf-8-sig")
    assert plain.splitlines()[1] == "6408130404710033;007;3"
    assert kept.splitlines()[1] == "'6408130404710033;'007;3"
