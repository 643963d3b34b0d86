"""Border report: residents of a border area (Dusun Sidrap: Martadinata RT 19-25 in Kutim = Guntung RT 19-25
in Bontang) registered on both sides, on one side only, or not yet resolved."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from dpt_pipeline.config import BorderArea, BorderSide
from dpt_pipeline.core.thresholds import CLAIM
from dpt_pipeline.io.spreadsheet import write_csv_for_excel

BOTH = "terdaftar di dua sisi"
UNSURE = "belum pasti (perlu diperiksa)"
ONE = "satu sisi saja"

BORDER_SCHEMA = {"area": pl.String, "voter_id": pl.String, "source": pl.String, "kode_desa": pl.String,
                 "rt": pl.Int32, "status": pl.String, "pasangan_voter_id": pl.String,
                 "pasangan_kode_desa": pl.String, "match_probability": pl.Float64}


def _in_side(s: BorderSide) -> pl.Expr:
    return (pl.col("kode_desa") == s.kode_desa) & pl.col("rt").is_between(s.rt_from, s.rt_to)


def legal_side(areas: list[BorderArea]) -> pl.Expr:
    """True for a resident of a border area registered in the area's legal kabupaten."""
    expr = pl.lit(False)
    for area in areas:
        if area.legal_kabupaten:
            for s in area.sides:
                expr = expr | (_in_side(s) & (pl.col("kode_kabupaten") == area.legal_kabupaten))
    return expr.fill_null(False)


def border_report(voters: pl.DataFrame, pairs: pl.DataFrame, areas: list[BorderArea],
                  threshold: float = CLAIM) -> pl.DataFrame:
    """One row per resident of each area; `pairs` holds voter_id_l, voter_id_r, match_probability."""
    out = []
    both_ways = pl.concat([
        pairs.select(pl.col("voter_id_l").alias("a"), pl.col("voter_id_r").alias("b"), "match_probability"),
        pairs.select(pl.col("voter_id_r").alias("a"), pl.col("voter_id_l").alias("b"), "match_probability"),
    ])
    where = voters.select("voter_id", "source", "kode_desa", "rt")
    for area in areas:
        side_of = pl.lit(None, dtype=pl.Int32)
        for i, s in reversed(list(enumerate(area.sides))):
            side_of = pl.when(_in_side(s)).then(pl.lit(i, dtype=pl.Int32)).otherwise(side_of)
        residents = where.with_columns(side_of.alias("side")).filter(pl.col("side").is_not_null())
        side_desa = pl.DataFrame({"side": list(range(len(area.sides))),
                                  "desa_sisi": [s.kode_desa for s in area.sides]},
                                 schema={"side": pl.Int32, "desa_sisi": pl.String})
        # The other registration may sit anywhere in the other side's desa (RT numbers differ by side).
        partner = (residents.select("voter_id", "side").join(both_ways, left_on="voter_id", right_on="a")
                   .join(where.select(pl.col("voter_id").alias("b"), pl.col("kode_desa").alias("pasangan_kode_desa")),
                         on="b")
                   .join(side_desa, left_on="pasangan_kode_desa", right_on="desa_sisi")
                   .filter(pl.col("side") != pl.col("side_right"))
                   .sort("match_probability", descending=True)
                   .group_by("voter_id", maintain_order=True).first()
                   .select("voter_id", pl.col("b").alias("pasangan_voter_id"), "pasangan_kode_desa",
                           "match_probability"))
        rep = residents.join(partner, on="voter_id", how="left").with_columns(
            pl.when(pl.col("match_probability") >= threshold).then(pl.lit(BOTH))
            .when(pl.col("match_probability").is_not_null()).then(pl.lit(UNSURE))
            .otherwise(pl.lit(ONE)).alias("status"),
            pl.lit(area.name).alias("area"),
        )
        out.append(rep.select(list(BORDER_SCHEMA)).cast(BORDER_SCHEMA))  # type: ignore[arg-type]
    if not out:
        return pl.DataFrame(schema=BORDER_SCHEMA)
    return pl.concat(out).sort("area", "kode_desa", "rt", "voter_id")


def border_summary(report: pl.DataFrame) -> pl.DataFrame:
    """Counts per area, side and status."""
    return report.group_by("area", "kode_desa", "status").len("residents").sort("area", "kode_desa", "status")


def write_csv(report: pl.DataFrame, voters: pl.DataFrame, area: BorderArea, folder: Path) -> Path:
    """The area's residents as a CSV for staff (no NIK, no name: the source row finds the person)."""
    rows = (report.filter(pl.col("area") == area.name)
            .join(voters.select("voter_id", "source_row", "desa"), on="voter_id", how="left")
            .select("area", "source", "source_row", "voter_id", "desa", "kode_desa", "rt", "status",
                    "pasangan_voter_id", "pasangan_kode_desa", pl.col("match_probability").round(4)))
    slug = re.sub(r"[^a-z0-9]+", "-", area.name.lower()).strip("-")
    return write_csv_for_excel(rows, folder / f"{slug}.csv")
