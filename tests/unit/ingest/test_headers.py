"""Header aliases: every alias the issue lists maps to its field, ignoring case, spaces and punctuation."""

from __future__ import annotations

import pytest

from dpt_pipeline.core.schema import HEADER_ALIASES
from dpt_pipeline.errors import InputError

ROW = {
    "nkk": "6408130101200001", "nik": "6408134505800001", "nama": "SITI AMINAH", "tempat_lahir": "SANGATTA",
    "tanggal_lahir": "05-05-1980", "status_kawin": "S", "jenis_kelamin": "P", "alamat": "JL. MAWAR",
    "rt": "19", "rw": "2", "disabilitas": "1", "keterangan": "PINDAHAN", "tps": "3", "desa": "MARTADINATA",
    "kecamatan": "TELUK PANDAN", "kabupaten": "KUTAI TIMUR",
}
CASES = [(f, a) for f, aliases in HEADER_ALIASES.items() for a in aliases]


@pytest.mark.parametrize(("field", "alias"), CASES, ids=[f"{f}={a}" for f, a in CASES])
@pytest.mark.parametrize("style", ["as-listed", "lower", "squashed"])
def test_each_alias_maps_to_its_field(ingest_file, field: str, alias: str, style: str) -> None:
    header = {"as-listed": alias, "lower": alias.lower(), "squashed": alias.replace(" ", "").replace(".", "")}[style]
    fields = dict(ROW)
    headers = [header if f == field else next(iter(HEADER_ALIASES[f])) for f in fields]
    text = ";".join(headers) + "\n" + ";".join(fields.values()) + "\n"
    voters, rejects, summary = ingest_file(text)
    assert rejects.height == 0
    assert summary.ignored_headers == []
    v = voters.row(0, named=True)
    expected = {"rt": 19, "rw": 2, "tps": 3}.get(field, ROW[field])
    if field == "tanggal_lahir":
        assert str(v["tanggal_lahir"]) == "1980-05-05"
    else:
        assert v[field] == expected


def test_no_column_is_ignored_and_unknown_headers_are_reported(ingest_file) -> None:
    text = "NO;NAMA;NIK;WARNA FAVORIT\n1;ANI;6408134505800001;biru\n"
    voters, _, summary = ingest_file(text)
    assert voters["nama"].to_list() == ["ANI"]
    assert summary.ignored_headers == ["WARNA FAVORIT"]


@pytest.mark.parametrize(("headers", "lacking"), [
    ("NIK;TGL LAHIR;ALAMAT", "nama"),
    ("NAMA;ALAMAT;RT", "both nik and tanggal_lahir"),
])
def test_file_that_cannot_be_a_voter_list_fails_listing_headers_and_aliases(ingest_file, headers, lacking):
    with pytest.raises(InputError) as err:
        ingest_file(headers + "\nx;y;z\n", file_name="bad.csv")
    msg = str(err.value)
    assert "bad.csv" in msg and "row 0" in msg
    assert lacking in msg
    assert all(h in msg for h in headers.split(";"))
    assert "NAMA PEMILIH" in msg and "TGL. LAHIR" in msg  # the accepted aliases are listed


def test_columns_override_maps_an_unknown_header(ingest_file) -> None:
    text = "NAMA ANDA,NOMOR INDUK\nBUDI,6408131203850001\n"
    voters, _, _ = ingest_file(text, columns={"nama": "NAMA ANDA", "nik": "nomor induk"})
    assert voters.select("nama", "nik").row(0) == ("BUDI", "6408131203850001")


def test_two_headers_for_one_field_are_refused(ingest_file) -> None:
    # Which of the two holds the desa cannot be told (issue 13); test_hostile.py has the other cases.
    text = "NAMA;DESA;KELURAHAN;NIK\nANI;GUNTUNG;LOK TUAN;6408134505800001\n"
    with pytest.raises(InputError, match=r"column 2 \('DESA'\) and column 3 \('KELURAHAN'\).*desa"):
        ingest_file(text)
