"""The synthetic DPT generator: formats, determinism, ground truth and the cases it promises."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from dpt_pipeline.synth import CASES, HEADERS, NIK_TAGS, NO_NIK_TAGS, REJECT_TAGS, generate

FILES = {"kutim": "dpt_kutim.csv", "bontang": "dpt_bontang.csv", "kukar": "dpt_kukar.csv"}
ALL_FILES = [*FILES.values(), "truth.csv", "rt_coordinates.csv"]
REGIONS = Path(__file__).resolve().parents[3] / "dpt_pipeline" / "core" / "regions.csv"
# header names of the fields the tests look at, per source
COLS = {
    "kutim": ("NKK", "NIK", "NAMA", "TANGGAL LAHIR", "JENIS KELAMIN", "ALAMAT", "RT", "RW", "TPS",
              "KELURAHAN/DESA", "KECAMATAN", "TEMPAT LAHIR"),
    "bontang": ("No. KK", "NIK", "Nama Lengkap", "Tgl Lahir", "L/P", "Alamat", "RT", "RW", "No TPS",
                "Kelurahan", "Kecamatan", "Tmpt Lahir"),
    "kukar": ("NOMOR KK", "NIK", "NAMA PEMILIH", "TGL. LAHIR", "JK", "ALAMAT", "RT", "RW", "TPS", "DESA",
              "KEC", "TEMPAT LAHIR"),
}
Row = dict[str, Any]
KEYS = ("nkk", "nik", "nama", "tgl", "jk", "alamat", "rt", "rw", "tps", "desa", "kec", "tempat")
# the cases a second row of a person (a copy) can have
COPY_CASES = ("duplikat_dalam", "duplikat_lintas", "dua_nik", "tanpa_nik", "tanggal_placeholder", "dua_salah")
NAME_TAGS = {"ejaan_lama", "muhammad", "varian_nama", "gelar", "bin", "typo_nama", "spasi", "tukar_token"}
NIK_SLIPS, DATE_SLIPS = {"nik_typo", "nik_transposisi"}, {"tgl_tukar", "tgl_digit"}


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Row]:
    out = tmp_path_factory.mktemp("sample_a")
    return out, generate(out, 3000, 7)


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Row]:
    """The set `make sample` writes (5,000 voters, seed 20261128)."""
    out = tmp_path_factory.mktemp("sample_5000")
    return out, generate(out, 5000, 20261128)


def _lines(source: str, data: bytes) -> list[str]:
    if source == "kutim":
        assert data.startswith(b"\xef\xbb\xbf")
        text = data[3:].decode("utf-8")
        assert text.endswith("\r\n") and text.count("\n") == text.count("\r\n")
        return text.split("\r\n")[:-1]
    if source == "bontang":
        text = data.decode("cp1252")
    else:
        assert not data.startswith(b"\xef\xbb\xbf")
        text = data.decode("utf-8")
    assert "\r" not in text and text.endswith("\n")
    return text.split("\n")[:-1]


def _fields(source: str, line: str) -> list[str]:
    if source == "bontang":
        return next(csv.reader(io.StringIO(line)))
    return line.split({"kutim": ";", "kukar": "\t"}[source])


def _date(source: str, text: str) -> dt.date | None:
    fmt = {"kutim": "%d|%m|%Y", "bontang": "%d-%m-%Y", "kukar": "%Y-%m-%d"}[source]
    try:
        return dt.datetime.strptime(text, fmt).date()
    except ValueError:
        return None


def _load(out: Path) -> list[Row]:
    """Every data row of the three lists joined with its truth row."""
    with open(out / "truth.csv", encoding="utf-8", newline="") as fh:
        truth = list(csv.DictReader(fh))
    by_source: dict[str, list[dict[str, str]]] = defaultdict(list)
    for t in truth:
        by_source[t["source"]].append(t)
    rows: list[Row] = []
    for source, name in FILES.items():
        lines = _lines(source, (out / name).read_bytes())
        header = _fields(source, lines[0])
        assert header == HEADERS[source]
        pos = [header.index(c) for c in COLS[source]]
        data = lines[1:]
        assert len(data) == len(by_source[source])
        for i, (line, t) in enumerate(zip(data, by_source[source], strict=True), start=1):
            assert int(t["source_row"]) == i
            f = _fields(source, line)
            row: Row = {"source": source, "line": line, "n_fields": len(f), **t}
            row["tags"] = set(t["corruption"].split(";")) - {""}
            if len(f) == len(header):
                row.update({k: f[p] for k, p in zip(KEYS, pos, strict=True)})
                row["date"] = _date(source, str(row["tgl"]))
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def rows_small(small: tuple[Path, Row]) -> list[Row]:
    return _load(small[0])


@pytest.fixture(scope="module")
def rows_5000(committed: tuple[Path, Row]) -> list[Row]:
    return _load(committed[0])


def _voters(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r["expect"] == "voter"]


def _intact(nik: object) -> bool:
    return isinstance(nik, str) and re.fullmatch(r"\d{16}", nik) is not None and len(set(nik)) > 1


# ------------------------------------------------------------------------------------------------ tests


def test_same_arguments_same_bytes_other_seed_other_bytes(
    small: tuple[Path, Row], tmp_path: Path
) -> None:
    out, summary = small
    again = generate(tmp_path / "again", 3000, 7)
    assert again == summary
    for name in ALL_FILES:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    generate(tmp_path / "other", 3000, 8)
    for name in ALL_FILES:
        assert (tmp_path / "other" / name).read_bytes() != (out / name).read_bytes(), name


def test_file_formats(small: tuple[Path, Row]) -> None:
    out, summary = small
    assert sorted(p.name for p in out.iterdir()) == sorted(ALL_FILES)
    assert summary["files"] == ALL_FILES
    kutim = (out / "dpt_kutim.csv").read_bytes()
    assert kutim.startswith(b"\xef\xbb\xbf" + ";".join(HEADERS["kutim"]).encode() + b"\r\n")
    bontang = (out / "dpt_bontang.csv").read_bytes()
    assert bontang.startswith(",".join(HEADERS["bontang"]).encode() + b"\n")
    with pytest.raises(UnicodeDecodeError):  # Windows-1252, with a few non-ASCII letters
        bontang.decode("utf-8")
    assert "É" in bontang.decode("cp1252")
    assert b'"' in bontang  # quoted where a field holds a comma
    kukar = (out / "dpt_kukar.csv").read_bytes()
    assert kukar.startswith("\t".join(HEADERS["kukar"]).encode() + b"\n")
    assert "NIK" in HEADERS["kukar"] and len(HEADERS["kukar"]) == 15
    kukar.decode("utf-8")
    truth = (out / "truth.csv").read_text(encoding="utf-8").splitlines()
    assert truth[0] == "source,source_row,person_id,expect,case,corruption"
    coords = (out / "rt_coordinates.csv").read_text(encoding="utf-8").splitlines()
    assert coords[0] == "kode_desa,rw,rt,lat,lon"
    assert re.fullmatch(r"64\.\d\d\.\d\d\.\d{4},\d+,\d+,-?\d+\.\d{6},\d+\.\d{6}", coords[1])


def test_truth_is_aligned_and_consistent(
    small: tuple[Path, Row], rows_small: list[Row]
) -> None:
    summary = small[1]
    assert abs(len(rows_small) - 3000) <= 30
    assert summary["voters"] == len(rows_small)
    per_source = Counter(str(r["source"]) for r in rows_small)
    assert per_source == summary["rows"]
    shares = {s: per_source[s] / len(rows_small) for s in FILES}
    assert shares["kutim"] == pytest.approx(0.30, abs=0.04)
    assert shares["bontang"] == pytest.approx(0.15, abs=0.03)
    assert shares["kukar"] == pytest.approx(0.55, abs=0.04)
    for r in rows_small:
        assert r["case"] in CASES
        assert r["expect"] in ("voter", "reject")
        rejected = r["expect"] == "reject"
        assert (r["person_id"] == "") == rejected
        if rejected:
            assert r["case"] == "rusak" and r["tags"] & set(REJECT_TAGS)
    assert Counter(str(r["case"]) for r in rows_small) == summary["cases"]


def test_malformed_rows_are_what_the_truth_says(rows_small: list[Row]) -> None:
    width = {s: len(h) for s, h in HEADERS.items()}
    seen: Counter[str] = Counter()
    for r in rows_small:
        tags, n, w = r["tags"], r["n_fields"], width[str(r["source"])]
        assert isinstance(tags, set)
        if "kolom_kurang" in tags:
            assert n < w
        elif "kolom_lebih" in tags:
            assert n > w
        elif "baris_kosong" in tags:
            assert n == w and not str(r["line"]).strip(";,\t")
        else:
            assert n == w, r
        if "nama_kosong" in tags:
            assert r["nama"] == ""
        elif r["expect"] == "voter":
            assert str(r["nama"]).strip()
        seen.update(tags)
    for t in (*REJECT_TAGS, "nik_excel", "nik_apostrof", "nik_palsu", "tanggal_mustahil", "jk_teks"):
        assert seen[t] >= 1, t
    excel = [r["nik"] for r in rows_small if "nik_excel" in r["tags"]]
    assert all(re.fullmatch(r"\d\.\d{5}E\+15", str(x)) for x in excel)
    assert all(str(r["nik"]).startswith("'") for r in rows_small if "nik_apostrof" in r["tags"])
    jk = {str(r["jk"]) for r in rows_small if "jk_teks" in r["tags"]}
    assert jk <= {"LAKI-LAKI", "PEREMPUAN", "Lk", "Pr"}
    rusak = sum(r["case"] == "rusak" for r in rows_small)
    assert 0.003 * len(rows_small) <= rusak <= 0.012 * len(rows_small)


def test_nik_decodes_to_the_rows_own_birth_date_and_sex(rows_small: list[Row]) -> None:
    checked = 0
    for r in _voters(rows_small):
        tags = r["tags"]
        if not _intact(r.get("nik")) or tags & NIK_TAGS:
            continue
        nik, date = str(r["nik"]), r["date"]
        assert isinstance(date, dt.date), r
        day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
        female = day > 40
        assert (day - 40 if female else day, month, yy) == (date.day, date.month, date.year % 100), r
        assert ("P" if female else "L") == str(r["jk"])[:1].upper(), r  # "Lk"/"PEREMPUAN" tagged jk_teks
        assert 17 <= (dt.date(2026, 11, 28) - date).days / 365.25 <= 91
        checked += 1
    assert checked > 0.9 * len(rows_small)


def test_nik_and_nkk_identify_people_and_households(rows_small: list[Row]) -> None:
    pids_of: dict[str, set[str]] = defaultdict(set)
    niks_of: dict[str, set[str]] = defaultdict(set)
    members: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for r in _voters(rows_small):
        tags = r["tags"]
        if _intact(r.get("nik")) and not tags & NIK_TAGS:
            pids_of[str(r["nik"])].add(str(r["person_id"]))
            niks_of[str(r["person_id"])].add(str(r["nik"]))
        if re.fullmatch(r"\d{16}", str(r.get("nkk"))) and not tags & {"nkk_kosong", "nkk_rusak"}:
            assert str(r["nkk"])[:2] == "64"
            if r["case"] in ("unik", "duplikat_asal"):
                members[(str(r["source"]), str(r["nkk"]))].add((str(r["alamat"]), str(r["rt"]).lstrip("0")))
    assert all(len(p) == 1 for p in pids_of.values())
    assert all(len(n) == 1 for n in niks_of.values())
    # a household (first registrations) lives at one address
    assert all(len(a) == 1 for a in members.values())
    sizes = Counter(len(a) for a in members.values())
    assert sum(sizes.values()) > 500


def test_duplicates_have_one_first_registration(
    small: tuple[Path, Row], rows_small: list[Row]
) -> None:
    by_pid: dict[str, list[Row]] = defaultdict(list)
    for r in _voters(rows_small):
        by_pid[str(r["person_id"])].append(r)
    dup = {p: rs for p, rs in by_pid.items() if len(rs) > 1}
    persons = len(by_pid)
    assert 0.03 * persons <= len(dup) <= 0.06 * persons
    assert small[1]["duplicated_persons"] == len(dup)
    for rs in dup.values():
        first = [r for r in rs if r["case"] == "duplikat_asal"]
        assert len(first) == 1
        for r in rs:
            if r is first[0]:
                continue
            assert r["case"] in COPY_CASES
            same_list = r["source"] == first[0]["source"]
            if r["case"] in ("duplikat_dalam", "duplikat_lintas"):
                assert same_list == (r["case"] == "duplikat_dalam")
            if not same_list:
                assert "alamat_beda" in r["tags"]
    for p, rs in by_pid.items():
        if p not in dup:
            assert rs[0]["case"] not in ("duplikat_asal", *COPY_CASES)
    # copies are corrupted in many ways, some are clean apart from the address
    tags = Counter(t for rs in dup.values() for r in rs if r["case"] != "duplikat_asal" for t in r["tags"])
    for t in ("typo_nama", "nik_typo", "gelar", "ejaan_lama", "alamat_beda"):
        assert tags[t] >= 1, t


def test_committed_set_case_minimums(
    committed: tuple[Path, Row], rows_5000: list[Row]
) -> None:
    cases = Counter(str(r["case"]) for r in rows_5000)
    assert set(cases) == set(CASES)
    for c in ("kembar", "ayah_anak", "nik_salinan", "nama_umum"):
        assert cases[c] >= 15, c
        assert cases[c] >= 0.003 * len(rows_5000), c
    # Dusun Sidrap: the same people in Kutim Martadinata RT 19-25 and Bontang Guntung RT 19-25
    where: dict[str, set[str]] = defaultdict(set)
    for r in _voters(rows_5000):
        if "rt" not in r or not str(r["rt"]).isdigit() or not 19 <= int(str(r["rt"])) <= 25:
            continue
        desa = str(r["desa"]).upper()
        if r["source"] == "kutim" and "MARTA" in desa:
            where[str(r["person_id"])].add("kutim")
        if r["source"] == "bontang" and "GUNTUNG" in desa:
            where[str(r["person_id"])].add("bontang")
    pairs = sum(1 for s in where.values() if s == {"kutim", "bontang"})
    assert pairs >= 60
    renamed = sum("desa_tak_dikenal" in r["tags"] for r in rows_5000)  # Martadinata misnamed
    assert 0 <= int(str(committed[1]["sidrap_pairs"])) - pairs <= renamed


def test_hard_negatives_look_alike_but_are_different_people(rows_5000: list[Row]) -> None:
    by_case: dict[str, list[Row]] = defaultdict(list)
    for r in _voters(rows_5000):
        by_case[str(r["case"])].append(r)

    def pairs(case: str, key: str) -> list[list[Row]]:
        g: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for r in by_case[case]:
            g[(str(r["source"]), str(r[key]))].append(r)
        return list(g.values())

    for grp in pairs("kembar", "nkk"):
        assert len(grp) == 2
        a, b = grp
        assert a["person_id"] != b["person_id"] and a["date"] == b["date"] and a["nama"] != b["nama"]
        if _intact(a["nik"]) and _intact(b["nik"]) and not (a["tags"] | b["tags"]) & NIK_TAGS:
            na, nb = str(a["nik"]), str(b["nik"])  # same region and date (day +40 for a sister)
            assert na[:6] == nb[:6] and na[8:12] == nb[8:12] and int(na[6:8]) % 40 == int(nb[6:8]) % 40
            assert na != nb and (na[6:8] != nb[6:8] or na[12:] != nb[12:])
    for grp in pairs("ayah_anak", "nkk"):
        assert len(grp) == 2
        a, b = grp
        assert a["person_id"] != b["person_id"] and a["nama"] == b["nama"] and a["alamat"] == b["alamat"]
        assert isinstance(a["date"], dt.date) and isinstance(b["date"], dt.date)
        assert 19 <= abs(a["date"].year - b["date"].year) <= 36
    for grp in pairs("nik_salinan", "nkk"):
        assert len(grp) == 2
        carrier = [r for r in grp if "nik_kerabat" in r["tags"]]
        assert len(carrier) == 1
        a, b = grp
        assert a["person_id"] != b["person_id"] and a["nama"] != b["nama"]
        if not {"nik_kosong", "nik_excel", "nik_apostrof", "nik_spasi", "nik_palsu", "nik_panjang"} & (
            a["tags"] | b["tags"]
        ):
            assert a["nik"] == b["nik"]
    common = defaultdict(list)
    for r in by_case["nama_umum"]:
        common[(r["nama"], r["date"].year if isinstance(r["date"], dt.date) else None)].append(r)
    assert sum(len(g) >= 2 for g in common.values()) >= 0.8 * len(by_case["nama_umum"]) / 2
    for g in common.values():
        assert len({r["person_id"] for r in g}) == len(g)
        assert len({r["nkk"] for r in g}) == len(g)


def _copies(rows: list[Row]) -> list[tuple[Row, Row]]:
    """(first registration, copy) for every copy row."""
    by_pid: dict[str, list[Row]] = defaultdict(list)
    for r in _voters(rows):
        by_pid[str(r["person_id"])].append(r)
    out = []
    for rs in by_pid.values():
        first = [r for r in rs if r["case"] == "duplikat_asal"]
        out += [(first[0], r) for r in rs if first and r is not first[0]]
    return out


def test_copy_case_follows_its_tags_by_precedence(rows_5000: list[Row], rows_small: list[Row]) -> None:
    for rows in (rows_5000, rows_small):
        for orig, cp in _copies(rows):
            tags = cp["tags"]
            want = ("dua_nik" if "nik_kedua" in tags
                    else "tanpa_nik" if tags & set(NO_NIK_TAGS)
                    else "tanggal_placeholder" if "tgl_placeholder" in tags
                    else "dua_salah" if tags & NIK_SLIPS and tags & DATE_SLIPS
                    else "duplikat_dalam" if cp["source"] == orig["source"] else "duplikat_lintas")
            assert cp["case"] == want, cp
        assert any("nik_kedua" in c["tags"] for _, c in _copies(rows))
    for r in rows_5000:  # only copies get the new tags
        if "nik_kedua" in r["tags"]:
            assert r["case"] == "dua_nik"


def test_hard_double_registrations_are_what_they_claim(rows_5000: list[Row]) -> None:
    pairs = _copies(rows_5000)
    by_case: dict[str, list[tuple[Row, Row]]] = defaultdict(list)
    for o, c in pairs:
        by_case[str(c["case"])].append((o, c))
    n = len(pairs)
    for case in ("dua_nik", "tanpa_nik", "tanggal_placeholder", "dua_salah"):
        assert len(by_case[case]) >= 3, case
    assert 0.03 * n <= len(by_case["dua_nik"]) <= 0.07 * n
    assert len(by_case["dua_salah"]) >= 0.015 * n
    sidrap = [(o, c) for o, c in pairs if c["source"] == "kutim" and o["source"] == "bontang"
              and "MARTA" in str(c["desa"]).upper()]
    assert 0.05 <= sum(c["case"] == "dua_nik" for _, c in sidrap) / len(sidrap) <= 0.15
    # one person, two valid NIKs: everything else agrees, the birth date and sex digits too
    defects = NIK_TAGS | {"jk_teks", "nkk_kosong", "nkk_rusak", "desa_tak_dikenal"}
    same_name = 0
    for o, c in by_case["dua_nik"]:
        assert _intact(c["nik"]) and c["nik"] != o["nik"], c
        nc = str(c["nik"])
        assert nc[:2] == "64" and nc[12:] != "0000"
        assert not c["tags"] & (NIK_TAGS - {"nik_kedua"}) and "tempat_lahir" not in c["tags"]
        if not o["tags"] & defects:
            no = str(o["nik"])
            assert _intact(no) and nc[:6] != no[:6] and nc[6:12] == no[6:12], (o, c)
            assert c["date"] == o["date"] and str(c["jk"])[:1] == str(o["jk"])[:1] and c["tempat"] == o["tempat"]
        if not c["tags"] & NAME_TAGS:
            assert c["nama"] == o["nama"]
            same_name += 1
    assert same_name >= 0.5 * len(by_case["dua_nik"])
    # a placeholder date on the copy only, its NIK still holding the real one
    for o, c in by_case["tanggal_placeholder"]:
        assert isinstance(c["date"], dt.date) and (c["date"].day, c["date"].month) in ((1, 7), (31, 12))
        if not o["tags"] & defects:
            assert isinstance(o["date"], dt.date) and (o["date"].day, o["date"].month) not in ((1, 7), (31, 12))
            if _intact(c["nik"]) and not c["tags"] & NIK_SLIPS:
                assert str(c["nik"])[6:12] == str(o["nik"])[6:12]
    # no usable NIK on the copy
    for _, c in by_case["tanpa_nik"]:
        assert not _intact(c["nik"]) and c["tags"] & set(NO_NIK_TAGS), c
    assert any(c["nik"] == "" for _, c in by_case["tanpa_nik"])
    # two slips at once
    for o, c in by_case["dua_salah"]:
        assert c["tags"] & NIK_SLIPS and c["tags"] & DATE_SLIPS
        if not o["tags"] & defects:
            assert c["nik"] != o["nik"] and c["date"] != o["date"]


def _regions() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    def norm(s: str) -> str:
        s = re.sub(r"^(KEC\.|KECAMATAN|DESA|KEL\.|KELURAHAN)\s+", "", s.strip().upper())
        return re.sub(r"\s+", " ", s.replace("-", " "))

    kec: dict[str, str] = {}
    desa: dict[tuple[str, str], str] = {}
    with open(REGIONS, encoding="utf-8") as fh:
        lines = [x for x in fh if not x.startswith("#")]
    for r in csv.DictReader(lines):
        names = [r["nama"], *[a for a in r["alias"].split("|") if a]]
        for n in names:
            if r["tingkat"] == "kecamatan":
                kec[norm(n)] = r["kode"]
            elif r["tingkat"] == "desa":
                desa[(r["kode"][:8], norm(n))] = r["kode"]
    return kec, desa


def test_region_names_resolve_and_coordinates_cover_most_rts(
    small: tuple[Path, Row], rows_small: list[Row]
) -> None:
    out = small[0]
    kec_codes, desa_codes = _regions()

    def norm(s: str) -> str:
        s = re.sub(r"^(KEC\.|KECAMATAN|DESA|KEL\.|KELURAHAN)\s+", "", s.strip().upper())
        return re.sub(r"\s+", " ", s.replace("-", " "))

    keys: set[tuple[str, int, int]] = set()
    variants = unknown = 0
    for r in _voters(rows_small):
        if "desa" not in r:
            continue
        kec = kec_codes[norm(str(r["kec"]))]
        code = desa_codes.get((kec, norm(str(r["desa"]))))
        tags = r["tags"]
        if "desa_tak_dikenal" in tags:
            assert code is None
            unknown += 1
            continue
        assert code is not None, r
        variants += "wilayah_varian" in tags
        keys.add((code, int(str(r["rw"])), int(str(r["rt"]))))
    assert unknown >= 3
    assert 0.01 * len(rows_small) <= variants <= 0.10 * len(rows_small)
    with open(out / "rt_coordinates.csv", encoding="utf-8") as fh:
        coords = {(c["kode_desa"], int(c["rw"]), int(c["rt"])): (float(c["lat"]), float(c["lon"]))
                  for c in csv.DictReader(fh)}
    covered = len(keys & set(coords)) / len(keys)
    assert 0.96 <= covered <= 0.995
    assert set(coords) <= keys | {k for k in coords if k[0] in ("64.08.13.2006", "64.74.01.1004")}
    for (kode, _rw, _rt), (lat, lon) in coords.items():
        assert -0.5 < lat < 0.7 and 117.2 < lon < 117.7, kode
    # Sidrap: the same place under two numberings
    marta = {k[2]: v for k, v in coords.items() if k[0] == "64.08.13.2006" and 19 <= k[2] <= 25}
    guntung = {k[2]: v for k, v in coords.items() if k[0] == "64.74.01.1004" and 19 <= k[2] <= 25}
    shared = set(marta) & set(guntung)
    assert shared and all(marta[rt] == guntung[rt] for rt in shared)


def test_too_few_voters_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, 10, 1)


def test_a_second_nik_is_found_however_crowded_the_serials() -> None:
    """At millions of voters in 8 kecamatan the serials near a copy's are taken: the second NIK still comes,
    valid (another NIK of the same birth date digits, in a known kecamatan) and nobody's so far."""
    import numpy as np

    from dpt_pipeline.synth.generator import _Gen

    g = _Gen(5000, 3)
    for stage in (g.households, g.select_groups, g.names, g.identity, g.rows, g._row_fields):
        stage()
    rr = np.flatnonzero(g.is_copy)[:40]
    codes = np.array([int(k.replace(".", "")) for k in g.lay.kec_kode], dtype=np.int64)
    date_part = g.nik[g.R["person"][rr]] % 10**10 // 10**4
    crowd_to = 400 + 4 * codes.size + 50     # beyond the serials the first 4k tries could reach
    crowd = (codes[:, None, None] * 10**10 + date_part[None, :, None] * 10**4
             + np.arange(1, crowd_to)[None, None, :]).ravel()
    g.r_nik = np.concatenate([g.r_nik, crowd])         # as if those NIKs were on the roll already
    taken = set(np.concatenate([g.nik, g.r_nik]).tolist())
    new = g._second_nik(rr)
    assert len(set(new.tolist())) == rr.size and not taken & set(new.tolist())
    assert (new % 10**10 // 10**4 == date_part).all() and np.isin(new // 10**10, codes).all()
