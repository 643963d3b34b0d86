"""Region names to Kemendagri codes, tolerant of the spellings offices use."""

from __future__ import annotations

from pathlib import Path

import pytest

from dpt_pipeline.ingest import regions as R

CASES = [
    # (kabupaten, kecamatan, desa) -> (kode_desa, status), description
    (("KUTAI TIMUR", "TELUK PANDAN", "MARTADINATA"), ("64.08.13.2006", R.COCOK), "canonical"),
    (("KAB. KUTAI TIMUR", "KEC. TELUK PANDAN", "DESA MARTADINATA"), ("64.08.13.2006", R.COCOK), "prefixes"),
    (("Kabupaten Kutai Timur", "teluk pandan", "Martadinata"), ("64.08.13.2006", R.COCOK), "mixed case"),
    (("KUTIM", "TELUK PANDAN", "MARTADINATA"), ("64.08.13.2006", R.COCOK), "abbreviation alias"),
    (("KOTA BONTANG", "BONTANG UTARA", "API-API"), ("64.74.01.1006", R.COCOK), "hyphen"),
    (("KOTA BONTANG", "BONTANG UTARA", "API API"), ("64.74.01.1006", R.COCOK), "space for hyphen"),
    (("BONTANG", "BONTANG UTARA", "GUNUNG LAI"), ("64.74.01.1005", R.COCOK), "alias Gunung Lai"),
    (("BONTANG", "BONTANG SELATAN", "BEREBAS TENGAH"), ("64.74.02.1002", R.COCOK), "alias Berebas"),
    (("KUTAI KARTANEGARA", "MARANG KAYU", "PERANGAT BARU"), ("64.02.17.2009", R.COCOK), "alias Perangat"),
    (("KUTAI KARTANEGARA", "MARANG KAYU", "SEMANGKOK"), ("64.02.17.2010", R.COCOK), "alias Semangkok"),
    (("KUKAR", "MUARA BADAK", "SELIKI"), ("64.02.05.2001", R.COCOK), "alias Seliki"),
    (("KUTAI TIMUR", "TELUK PANDAN", "MARTADINTA"), ("64.08.13.2006", R.MIRIP), "typo, resolved as close"),
    ((None, "MUARA BADAK", "SALIKI"), ("64.02.05.2001", R.COCOK), "kabupaten inferred from kecamatan"),
    (("KUTAI KARTANEGARA", None, "SUKA DAMAI"), ("64.02.05.2008", R.COCOK), "desa unique within kabupaten"),
    ((None, None, "SUKA DAMAI"), (None, R.DESA_TIDAK_DIKENAL), "in two kecamatan: ambiguous"),
    (("KUTAI TIMUR", "TELUK PANDAN", "BARU JAYA"), (None, R.DESA_TIDAK_DIKENAL), "unknown desa"),
    (("KUTAI TIMUR", "NOWHERE", "X"), (None, R.KEC_TIDAK_DIKENAL), "unknown kecamatan"),
    (("ATLANTIS", "X", "Y"), (None, R.KAB_TIDAK_DIKENAL), "unknown kabupaten"),
    (("KUTAI TIMUR", "TELUK PANDAN", None), (None, R.DESA_KOSONG), "no desa"),
    ((None, None, None), (None, R.KOSONG), "nothing"),
]


@pytest.mark.parametrize(("names", "expected", "why"), CASES, ids=[c[2] for c in CASES])
def test_resolve(regions, names, expected, why) -> None:
    _, _, kode_desa, status = regions.resolve(*names)
    assert (kode_desa, status) == expected, why


def test_kecamatan_codes_follow_the_desa(regions) -> None:
    assert regions.resolve("BONTANG", "BONTANG UTARA", "GUNTUNG")[:3] == ("64.74", "64.74.01", "64.74.01.1004")


def test_kemendagri_not_bps_codes(regions) -> None:
    # BPS codes Kutim 6404; Kemendagri, which NIKs use, 64.08.
    assert regions.resolve("KUTAI TIMUR", None, None)[0] == "64.08"
    assert "64" in regions.province_codes and "99" not in regions.province_codes


def test_region_names_from_a_file_name(regions) -> None:
    found = regions.infer_from_file_name(Path("DPT_KUTAI-TIMUR_TELUK-PANDAN_MARTADINATA.xlsx"))
    assert found == {"kabupaten": "KUTAI TIMUR", "kecamatan": "TELUK PANDAN", "desa": "MARTADINATA"}
    assert regions.infer_from_file_name(Path("export_2024.csv")) == {}


def test_unknown_region_is_kept_flagged_and_counted(ingest_file) -> None:
    text = ("NAMA;NIK;DESA;KECAMATAN;KABUPATEN\n"
            "ANI;6408134505800001;BARU JAYA;TELUK PANDAN;KUTAI TIMUR\n"
            "INA;6408134505800002;GUNTUNG;BONTANG UTARA;KOTA BONTANG\n")
    voters, rejects, summary = ingest_file(text)
    assert rejects.height == 0
    v = voters.sort("source_row")
    assert v["desa"].to_list() == ["BARU JAYA", "GUNTUNG"]  # the text as written is kept
    assert v["kode_desa"].to_list() == [None, "64.74.01.1004"]
    assert summary.flags["wilayah_tidak_dikenal"] == 1
    assert summary.wilayah_by_status == {R.COCOK: 1, R.DESA_TIDAK_DIKENAL: 1}


def test_defaults_fill_a_missing_region_column(ingest_file) -> None:
    text = "NAMA;NIK;DESA;KEC\nANI;6408134505800001;SELIKI;MUARA BADAK\nINA;6408134505800002;;MUARA BADAK\n"
    voters, _, _ = ingest_file(text, defaults={"kabupaten": "KAB. KUTAI KARTANEGARA", "desa": "SALIKI"})
    v = voters.sort("source_row")
    assert v["kabupaten"].to_list() == ["KAB. KUTAI KARTANEGARA"] * 2
    assert v["kode_desa"].to_list() == ["64.02.05.2001"] * 2  # the empty cell takes the default


def test_region_from_the_file_name_when_no_column(ingest_file) -> None:
    voters, _, _ = ingest_file("NAMA;NIK\nANI;6408134505800001\n",
                               file_name="DPT_KOTA-BONTANG_BONTANG-UTARA_GUNTUNG.csv")
    assert voters["kode_desa"].to_list() == ["64.74.01.1004"]


def test_name_key_is_idempotent() -> None:
    for name in ["KAB. KUTAI TIMUR", "Api-api", "KEC. TELUK PANDAN", "GAS ALAM BADAK I"]:
        assert R.name_key(R.name_key(name)) == R.name_key(name)


def test_blank_lines_in_the_region_table_are_ignored_and_a_row_without_level_is_refused(tmp_path: Path) -> None:
    from dpt_pipeline.errors import ConfigError

    good = tmp_path / "ok.csv"
    good.write_text("kode,tingkat,jenis,nama,alias\n64,provinsi,PROVINSI,KALIMANTAN TIMUR,\n\n\n")
    assert R.RegionTable.load(good).names == {"64": "KALIMANTAN TIMUR"}
    bad = tmp_path / "bad.csv"
    bad.write_text("kode,tingkat,jenis,nama,alias\n64,,PROVINSI,KALIMANTAN TIMUR,\n")
    with pytest.raises(ConfigError, match="tingkat must be one of"):
        R.RegionTable.load(bad)
