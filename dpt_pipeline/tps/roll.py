"""The roll in households: who gets a TPS (`eligible`), and one row per household (a KK within a desa) with
its voters and its point (its RT's, a neighbouring RT's or the desa's centre). The desa key is
`dpt_pipeline.core.keys.tps_desa_key`'s."""

from __future__ import annotations

import polars as pl

from dpt_pipeline.core.keys import tps_desa_key


def eligible(voters: pl.DataFrame, struck: pl.DataFrame | None) -> pl.DataFrame:
    """The voters who get a TPS: all but the `struck` (voter_id): those a person's SAMA decisions join to
    the record kept for them (`decisions.resolve`, the one place of that rule)."""
    if struck is None or struck.height == 0:
        return voters
    return voters.join(struck.select("voter_id"), on="voter_id", how="anti")


def with_regions(voters: pl.DataFrame) -> pl.DataFrame:
    """`tps_desa_key` reads the kabupaten and kecamatan too; a frame without them (a test's) gets empty
    columns."""
    missing = [c for c in ("kode_kabupaten", "kabupaten", "kode_kecamatan", "kecamatan") if c not in voters.columns]
    return voters.with_columns([pl.lit(None, pl.String).alias(c) for c in missing]) if missing else voters


_COLUMNS = ("voter_id", "nkk", "nkk_valid", "kode_desa", "desa", "kode_kabupaten", "kabupaten", "kode_kecamatan",
            "kecamatan", "rt", "rw")


def _keyed(voters: pl.DataFrame) -> pl.DataFrame:
    """The columns `households` reads, with each voter's desa key and KK (`kk`: the NKK where valid, else the
    voter alone). The key of a voter with a desa code is the code: `tps_desa_key` is evaluated only for the
    others (the rows come back in another order; `households` does not depend on it)."""
    v = with_regions(voters).select(_COLUMNS)
    kk = pl.when(pl.col("nkk_valid")).then(pl.col("nkk")).otherwise(pl.col("voter_id")).alias("kk")
    coded = v.filter(pl.col("kode_desa").is_not_null()).with_columns(pl.col("kode_desa").alias("desa_key"), kk)
    other = v.filter(pl.col("kode_desa").is_null()).with_columns(tps_desa_key().alias("desa_key"), kk)
    return pl.concat([coded, other], how="vertical_relaxed") if other.height else coded


def households(voters: pl.DataFrame, coordinates: pl.DataFrame, cap: int = 600) -> pl.DataFrame:
    """One row per household (a KK within a desa; a voter without a valid NKK is a household alone), with
    its voters and a point: its RT's coordinates, else the nearest RT number of the same RW, else the
    desa's centre (`lokasi` says which: rt, rt terdekat, pusat desa)."""
    v = _keyed(voters)
    # A KK larger than a TPS (a dormitory, a copied NKK) cannot vote at one: it is cut into the fewest
    # parts that fit, in voter_id order, and reported (`oversize_households`).
    size = pl.len().over("desa_key", "kk")
    if int(v.group_by("desa_key", "kk").len()["len"].max() or 0) > cap:  # type: ignore[arg-type]  # ranked only then
        parts = (size + cap - 1) // cap
        part = pl.col("voter_id").rank("ordinal").over("desa_key", "kk") - 1
        v = v.with_columns(pl.when(size > cap).then(pl.concat_str(
            [pl.col("kk"), pl.lit("#"), (part * parts // size + 1).cast(pl.String)])).otherwise(pl.col("kk"))
            .alias("household"), (size > cap).alias("oversize"))
    else:
        v = v.with_columns(pl.col("kk").alias("household"), pl.lit(False).alias("oversize"))
    # RT and RW: each household's most common (the least on a tie); min = max for nearly all, so the mode
    # is computed only for the households whose voters disagree.
    h = v.group_by("desa_key", "household").agg(
        pl.len().alias("voters"), pl.col("kk").first(), pl.col("oversize").first(),
        pl.col("desa").drop_nulls().min(), pl.col("rt").min(), pl.col("rw").min(),
        (pl.col("rt").max() != pl.col("rt").min()).alias("_rt_mixed"),
        (pl.col("rw").max() != pl.col("rw").min()).alias("_rw_mixed"),
        pl.col("voter_id").sort())
    for col in ("rt", "rw"):
        mixed = h.filter(pl.col(f"_{col}_mixed")).select("desa_key", "household")
        if mixed.height:
            mode = (v.join(mixed, on=["desa_key", "household"], how="semi")
                    .group_by("desa_key", "household").agg(pl.col(col).drop_nulls().mode().min().alias("_mode")))
            h = (h.join(mode, on=["desa_key", "household"], how="left")
                 .with_columns(pl.when(pl.col(f"_{col}_mixed")).then(pl.col("_mode")).otherwise(pl.col(col))
                               .alias(col)).drop("_mode"))
    h = h.drop("_rt_mixed", "_rw_mixed").select("desa_key", "household", "voters", "kk", "oversize", "desa", "rt",
                                               "rw", "voter_id")
    c = coordinates.select(pl.col("kode_desa").alias("desa_key"), pl.col("rw").cast(pl.Int32),
                           pl.col("rt").cast(pl.Int32), pl.col("lat").cast(pl.Float64),
                           pl.col("lon").cast(pl.Float64)).unique(["desa_key", "rw", "rt"], keep="first",
                                                                  maintain_order=True)
    exact = h.join(c, on=["desa_key", "rw", "rt"], how="left")
    near = (exact.filter(pl.col("lat").is_null()).drop("lat", "lon")
            .join(c.rename({"rt": "rt_c"}), on=["desa_key", "rw"], how="left")
            .with_columns((pl.col("rt_c") - pl.col("rt")).abs().alias("_gap"))
            .sort("_gap", "rt_c", nulls_last=True).group_by("desa_key", "household", maintain_order=True).first()
            .with_columns([pl.when(pl.col("_gap").is_not_null()).then(pl.col(c)).alias(c) for c in ("lat", "lon")])
            .drop("rt_c", "_gap"))
    centre = c.group_by("desa_key").agg(pl.col("lat").mean().alias("lat_c"), pl.col("lon").mean().alias("lon_c"))
    out = pl.concat([exact.filter(pl.col("lat").is_not_null()).with_columns(pl.lit("rt").alias("lokasi")),
                     near.with_columns(pl.when(pl.col("lat").is_not_null()).then(pl.lit("rt terdekat"))
                                       .otherwise(pl.lit("pusat desa")).alias("lokasi"))], how="diagonal")
    out = out.join(centre, on="desa_key", how="left").with_columns(
        pl.coalesce("lat", "lat_c").alias("lat"), pl.coalesce("lon", "lon_c").alias("lon")).drop("lat_c", "lon_c")
    return out.sort("desa_key", "household")
