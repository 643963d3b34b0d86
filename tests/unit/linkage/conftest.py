from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from dpt_pipeline.core.schema import VOTER_SCHEMA
from dpt_pipeline.linkage import blocking as block
from dpt_pipeline.linkage import comparisons as compare
from dpt_pipeline.linkage import dpt, standardize

BASE: dict[str, Any] = {
    "source": "kutim", "nkk": None, "nik": None, "nama": "BUDI SANTOSO", "tempat_lahir": "SANGATTA",
    "tanggal_lahir": dt.date(1980, 5, 5), "jenis_kelamin": "L", "status_kawin": "S", "alamat": "JL. MAWAR",
    "rt": 3, "rw": 1, "desa": "MARTADINATA", "kecamatan": "TELUK PANDAN", "kabupaten": "KUTAI TIMUR",
    "kode_kabupaten": "64.08", "kode_kecamatan": "64.08.13", "kode_desa": "64.08.13.2006",
    "nik_valid": True, "nkk_valid": True, "tanggal_lahir_valid": True, "jenis_kelamin_valid": True,
    "di_bawah_umur": False,
}


def voters(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A voters frame (VOTER_SCHEMA) from partial rows; voter_id v0, v1, ... in row order."""
    full = []
    for i, r in enumerate(rows):
        row = {c: None for c in VOTER_SCHEMA} | BASE | {"voter_id": f"v{i}", "source_row": i + 1} | r
        if row["nik"] is not None:
            row["nik_kode_wilayah"] = f"{row['nik'][:2]}.{row['nik'][2:4]}.{row['nik'][4:6]}"
        full.append(row)
    return pl.DataFrame(full, schema=VOTER_SCHEMA)


def records(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return standardize.prepare_records(standardize.standardize(voters(rows)))


def levels(a: dict[str, Any], b: dict[str, Any]) -> dict[str, str]:
    """Level code of every DPT comparison for the pair (a, b)."""
    cset = dpt.dpt_comparisons()
    recs = records([a, b])
    pairs = pl.DataFrame({"rid_l": [0], "rid_r": [1]}, schema=block.PAIR_SCHEMA)
    out = compare.compare(recs, pairs, cset)
    return {c.name: c.codes[out[c.level_column].item()] for c in cset.comparisons}


@pytest.fixture
def level_of():
    return levels


@pytest.fixture
def make_records():
    return records
