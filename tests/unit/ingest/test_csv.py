"""CSV reading: separators, encodings, quoting, line endings, and the rows that cannot be voters."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpt_pipeline.core.schema import REJECT_EMPTY_ROW, REJECT_NO_NAME, REJECT_TOO_FEW, REJECT_TOO_MANY

HEADER = ["NIK", "NAMA", "TGL LAHIR", "JK", "ALAMAT"]
ROWS = [
    ["6408134505800001", "SITI AMINAH", "05-05-1980", "P", "JL. MAWAR"],
    ["6408131203850002", "BUDI SANTOSO", "12-03-1985", "L", "GG. MELATI"],
]


def _csv(sep: str, rows=ROWS, header=HEADER, eol: str = "\n") -> str:
    return eol.join(sep.join(r) for r in [header, *rows]) + eol


@pytest.mark.parametrize(("sep", "label"), [(",", "comma"), (";", "semicolon"), ("\t", "tab")])
def test_separator_is_detected_from_the_header(ingest_file, sep: str, label: str) -> None:
    voters, rejects, summary = ingest_file(_csv(sep))
    assert summary.delimiter == sep, label
    assert voters["nama"].to_list() == ["SITI AMINAH", "BUDI SANTOSO"]
    assert rejects.height == 0


def test_configured_delimiter_overrides_detection(ingest_file) -> None:
    # The header has more commas than semicolons, but the office says ';'.
    text = "NAMA;NIK;ALAMAT\nANI;6408134505800001;JL. A, NO. 1, RT 2\n"
    voters, rejects, _ = ingest_file(text, delimiter=";")
    assert voters["alamat"].to_list() == ["JL. A, NO. 1, RT 2"]
    assert rejects.height == 0


@pytest.mark.parametrize(("encoding", "bom", "expected"), [
    ("utf-8", b"", "utf-8"),
    ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
    ("cp1252", b"", "cp1252"),
])
def test_encodings(ingest_file, encoding: str, bom: bytes, expected: str) -> None:
    rows = [["6408131203850002", "JOSÉ RENÉ", "12-03-1985", "L", "JL. CAFÉ"]]
    voters, _, summary = ingest_file(bom + _csv(";", rows).encode(encoding))
    assert summary.encoding == expected
    assert voters["nama"].to_list() == ["JOSÉ RENÉ"]
    assert voters["alamat"].to_list() == ["JL. CAFÉ"]


def test_bom_does_not_stick_to_the_first_header(ingest_file) -> None:
    voters, _, summary = ingest_file(b"\xef\xbb\xbf" + _csv(";").encode())
    assert voters["nik"].to_list()[0] == "6408134505800001"
    assert "NIK" not in summary.ignored_headers


def test_crlf_line_endings(ingest_file) -> None:
    voters, rejects, _ = ingest_file(_csv(";", eol="\r\n"))
    assert voters["alamat"].to_list() == ["JL. MAWAR", "GG. MELATI"]
    assert rejects.height == 0


def test_quoted_fields_with_separator_and_escaped_quote(ingest_file) -> None:
    text = 'NAMA,NIK,ALAMAT\nANI,6408134505800001,"JL. A, NO. 1"\n"ABDUL ""DOEL"" RAHMAN",6408131203850002,B\n'
    voters, rejects, _ = ingest_file(text)
    assert rejects.height == 0
    v = voters.sort("source_row")
    assert v["alamat"].to_list() == ["JL. A, NO. 1", "B"]
    assert v["nama"].to_list() == ["ANI", 'ABDUL "DOEL" RAHMAN']


def test_quoted_line_break_keeps_row_numbers(ingest_file) -> None:
    text = 'NAMA;NIK;ALAMAT\nANI;6408134505800001;"JL. A\nRT 2"\nBUDI;6408131203850002;JL. B\n'
    voters, rejects, _ = ingest_file(text)
    assert rejects.height == 0
    v = voters.sort("source_row")
    assert v["source_row"].to_list() == [1, 2]
    assert v["alamat"].to_list() == ["JL. A RT 2", "JL. B"]


def test_rows_that_cannot_be_voters_are_rejected_with_reason_and_raw(ingest_file) -> None:
    lines = [
        "NIK;NAMA;TGL LAHIR;JK;ALAMAT",
        "6408134505800001;SITI;05-05-1980;P;JL. A",   # 1 voter
        "6408131203850002;;12-03-1985;L;JL. B",       # 2 no name
        "6408131203850003;  -  ;12-03-1985;L;JL. B",  # 3 a dash is no name
        "6408131203850004;BUDI;12-03-1985",           # 4 too few columns
        "6408131203850005;BUDI;12-03-1985;L;JL. C;X",  # 5 too many columns
        ";;;;",                                       # 6 empty row
        "",                                           # 7 blank line inside the file
        "6408131203850006;ANI;12-03-1985;P;JL. D",    # 8 voter
        "", "",                                       # trailing blank lines: not data rows
    ]
    voters, rejects, summary = ingest_file("\n".join(lines))
    assert sorted(voters["source_row"].to_list()) == [1, 8]
    got = {r["source_row"]: r["reason"] for r in rejects.iter_rows(named=True)}
    assert got == {2: REJECT_NO_NAME, 3: REJECT_NO_NAME, 4: REJECT_TOO_FEW, 5: REJECT_TOO_MANY,
                   6: REJECT_EMPTY_ROW, 7: REJECT_EMPTY_ROW}
    assert rejects.filter(rejects["source_row"] == 4)["raw"].item() == lines[4]
    assert summary.data_rows == 8 == voters.height + rejects.height
    assert summary.rejects_by_reason == {REJECT_EMPTY_ROW: 2, REJECT_TOO_FEW: 1, REJECT_TOO_MANY: 1,
                                         REJECT_NO_NAME: 2}


def test_empty_header_line_is_an_error(ingest_file) -> None:
    from dpt_pipeline.errors import InputError

    with pytest.raises(InputError, match="header"):
        ingest_file("\nANI;1\n")


_cell = st.text(alphabet=st.sampled_from(list("AB 1;\"x")), max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_cell, min_size=0, max_size=7), min_size=1, max_size=25))
def test_every_row_becomes_a_voter_or_a_reject(ingest_file, rows) -> None:
    """Whatever the lines hold, voters + rejects = data rows, and their row numbers are each row once."""
    body = "\n".join(";".join(r) for r in rows)
    voters, rejects, summary = ingest_file("NAMA;NIK;TGL LAHIR;ALAMAT;RT\n" + body + "\n")
    seen = sorted(voters["source_row"].to_list() + rejects["source_row"].to_list())
    assert seen == list(range(1, summary.data_rows + 1))
    assert summary.voters == voters.height and summary.rejects == rejects.height


def test_binary_garbage_is_unreadable(ingest_file) -> None:
    from dpt_pipeline.core.schema import REJECT_UNREADABLE

    content = b"NAMA;NIK\nANI;6408134505800001\n\x00\x00\x17PK;\x00\nINA;6408134505800002\n"
    voters, rejects, _ = ingest_file(content)
    assert voters.sort("source_row")["nama"].to_list() == ["ANI", "INA"]
    assert rejects.select("source_row", "reason").row(0) == (2, REJECT_UNREADABLE)


def test_last_row_keeps_its_empty_trailing_fields(ingest_file) -> None:
    voters, rejects, _ = ingest_file("NAMA\tNIK\tKET\nANI\t6408134505800001\t\nINA\t6408134505800002\t\n\n  \n")
    assert rejects.height == 0 and voters.height == 2


def test_a_stray_quote_does_not_swallow_the_next_rows(ingest_file) -> None:
    text = ('NIK;NAMA;ALAMAT;TGL LAHIR\n'
            '6408134505800001;BUDI;JL MERDEKA 5";05-05-1980\n'
            '6408134505800002;ANI;JL A;05-05-1980\n'
            '6408134505800003;SITI;"JL B\nRT 2";05-05-1980\n'
            '6408134505800004;INA;JL C;05-05-1980\n')
    voters, rejects, summary = ingest_file(text)
    assert summary.data_rows == 4 and rejects.height == 0
    v = voters.sort("source_row")
    assert v["nama"].to_list() == ["BUDI", "ANI", "SITI", "INA"]
    assert v["alamat"].to_list()[0] == 'JL MERDEKA 5"' and v["alamat"].to_list()[2] == "JL B RT 2"
