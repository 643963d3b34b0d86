"""io.text, the one place that decides a text file's encoding and separator (voter lists, review files,
RT coordinates)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dpt_pipeline.errors import InputError
from dpt_pipeline.io.text import decode, separator

TEXT = "nama;desa\nSITI NURHALIZA;SANGATTA\u00a0UTARA\nANDRÉ;Kampung Baru\n"


@pytest.mark.parametrize(("data", "encoding"), [
    (TEXT.encode("utf-8"), "utf-8"), (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
    (TEXT.encode("utf-16"), "utf-16-le"), (TEXT.encode("utf-16-be"), "utf-16-be"),
    (b"\xff\xfe\x00\x00" + TEXT.encode("utf-32-le"), "utf-32-le"), (TEXT.encode("cp1252"), "cp1252"),
])
def test_each_way_an_office_saves_text_reads_back_the_same(data: bytes, encoding: str) -> None:
    assert decode(data, Path("dpt.csv")) == (TEXT, encoding)


# (no NUL: text with NUL bytes is how UTF-16 without a mark shows itself; no U+FEFF: in UTF-8 it is the mark)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00\ufeff"),
               max_size=200))
def test_utf8_with_or_without_its_mark_is_read_as_written(text: str) -> None:
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8")):
        assert decode(data, Path("dpt.csv"))[0] == text


def test_a_mark_the_file_does_not_keep_is_refused_with_its_name_or_read_as_cp1252_when_not_strict() -> None:
    data = b"\xef\xbb\xbfpair_id;keputusan;catatan\nab12;SAMA;caf\xe9\n"
    with pytest.raises(InputError, match="review-teluk-pandan.csv") as e:
        decode(data, Path("review-teluk-pandan.csv"), setting="[sources].encoding")
    assert "SAMA" not in str(e.value) and "byte 42" in str(e.value)   # where, never what
    assert decode(data, Path("review.csv"), strict=False) == ("pair_id;keputusan;catatan\nab12;SAMA;caf\u00e9\n",
                                                              "cp1252")


def test_a_binary_file_is_no_text() -> None:
    with pytest.raises(InputError, match="not a text file"):
        decode(bytes(400), Path("dpt.xlsx"))


@pytest.mark.parametrize(("header", "sep"), [
    ("nama;desa;rt", ";"), ("nama,desa,rt", ","), ("nama\tdesa\trt", "\t"), ("nama|desa|rt", "|"),
    ("nama;desa,rt", ";"), ("nama", ","), ("kode_desa;lat;lon", ";"),
])
def test_the_separator_is_the_one_the_header_holds_most_semicolon_first(header: str, sep: str) -> None:
    assert separator(header) == sep
