"""What the stage reports: tps_summary (one row per TPS) and tps_quality (one row per desa: every hard
rule checked on the result, balance, distances, fallbacks, churn), and the churn over all desa."""

from __future__ import annotations

import polars as pl

from dpt_pipeline.core.keys import tps_desa_key


def overall_churn(quality: pl.DataFrame) -> float | None:
    """Voters who changed TPS, as a share of the voters who had a TPS in the same desa both nights (None
    without a previous night)."""
    both = quality["voters_both_nights"].sum() if quality.height else 0
    return float(quality["moved"].sum()) / float(both) if both else None


def tps_summary(per_voter: pl.DataFrame) -> pl.DataFrame:
    """Per TPS: its desa, voters, households, RTs, its voters' mean point (lat, lon), its proposed site
    (site_lat, site_lon, site_kind 'rt' or 'kandidat', site_name: 'RT 005 / RW 002' or the candidate's
    name; null without coordinates) and its voters' distances to the site."""
    return per_voter.group_by("kode_desa", "tps").agg(
        pl.col("desa").first(), pl.len().cast(pl.Int64).alias("voters"),
        pl.col("household").n_unique().cast(pl.Int64).alias("households"),
        pl.struct("rw", "rt").n_unique().cast(pl.Int64).alias("rts"),
        pl.col("tps_lat").first().alias("lat"), pl.col("tps_lon").first().alias("lon"),
        pl.col("site_lat", "site_lon", "site_kind", "site_name").first(),
        pl.col("distance_m").mean().alias("mean_distance_m"),
        pl.col("distance_m").quantile(0.95, "linear").alias("p95_distance_m"),
        pl.col("distance_m").max().alias("max_distance_m"),
    ).select("kode_desa", "desa", "tps", "voters", "households", "rts", "lat", "lon", "site_lat", "site_lon",
             "site_kind", "site_name", "mean_distance_m", "p95_distance_m", "max_distance_m").sort("kode_desa", "tps")


def rt_splits(per_voter: pl.DataFrame) -> pl.DataFrame:
    """tps_rt_splits: each RT whose voters vote at more than one TPS (the cap or the households' sizes left
    no other way), one row per TPS it spans: kode_desa, desa, rw, rt, tps, voters (of the RT at that TPS),
    rt_voters (of the RT in all). Voters whose RT or RW nobody wrote down are no RT: never listed as one."""
    per = per_voter.filter(pl.col("rw").is_not_null() & pl.col("rt").is_not_null()).group_by(
        "kode_desa", "rw", "rt", "tps").agg(pl.col("desa").first(),
                                                                 pl.len().cast(pl.Int64).alias("voters"))
    return (per.with_columns(pl.len().over("kode_desa", "rw", "rt").alias("_n"),
                             pl.col("voters").sum().over("kode_desa", "rw", "rt").alias("rt_voters"))
            .filter(pl.col("_n") > 1)
            .select("kode_desa", "desa", "rw", "rt", "tps", "voters", "rt_voters")
            .sort("kode_desa", "rw", "rt", "tps", nulls_last=True))


def tps_quality(per_voter: pl.DataFrame, summary: pl.DataFrame, cap: int, voters: pl.DataFrame,
                kept: pl.DataFrame, prev_assign: pl.DataFrame | None) -> pl.DataFrame:
    """Per desa: every hard rule checked on the result, balance, distances, fallbacks and churn."""
    split = (per_voter.group_by("kode_desa", "kk").agg(pl.col("tps").n_unique().alias("n"),
                                                      pl.col("oversize").first())
             .group_by("kode_desa").agg(((pl.col("n") > 1) & ~pl.col("oversize")).sum().cast(pl.Int64)
                                        .alias("split_households"),
                                        pl.col("oversize").sum().cast(pl.Int64).alias("oversize_households")))
    rts = (per_voter.group_by("kode_desa", "rw", "rt").agg(pl.col("tps").n_unique().alias("n"),
                                                           (pl.col("lokasi") != "rt").any().alias("fb"))
           .group_by("kode_desa").agg((pl.col("n") > 1).sum().cast(pl.Int64).alias("rts_split"),
                                      pl.col("fb").sum().cast(pl.Int64).alias("rts_fallback")))
    sizes = summary.group_by("kode_desa").agg(
        pl.col("voters").sum().alias("n"), pl.len().cast(pl.Int64).alias("tps"),
        (pl.col("voters") > cap).sum().cast(pl.Int64).alias("over_cap"),
        (pl.col("voters") - pl.col("voters").sum() / pl.len()).abs().max().alias("max_deviation"))
    base = per_voter.group_by("kode_desa").agg(
        pl.col("desa").first(), pl.len().cast(pl.Int64).alias("voters"),
        pl.col("household").n_unique().cast(pl.Int64).alias("households"),
        pl.col("extra_tps").first(),
        pl.col("distance_m").mean().alias("mean_distance_m"),
        pl.col("distance_m").quantile(0.95, "linear").alias("p95_distance_m"),
        pl.col("distance_m").max().alias("max_distance_m"))
    struck = (voters.join(kept.select("voter_id"), on="voter_id", how="anti")
              .group_by(tps_desa_key().alias("kode_desa"))
              .agg(pl.len().cast(pl.Int64).alias("struck_duplicates")))
    q = (base.join(sizes, on="kode_desa").join(split, on="kode_desa").join(rts, on="kode_desa")
         .join(struck, on="kode_desa", how="left")
         .with_columns(((pl.col("voters") + cap - 1) // cap).cast(pl.Int64).alias("tps_minimum"),
                       pl.col("struck_duplicates").fill_null(0)))
    if prev_assign is not None:
        churn = (per_voter.select("voter_id", "kode_desa", "tps")
                 .join(prev_assign.select("voter_id", "kode_desa", pl.col("tps").alias("tps_prev")),
                       on=["voter_id", "kode_desa"])
                 .group_by("kode_desa").agg(pl.len().cast(pl.Int64).alias("voters_both_nights"),
                                            (pl.col("tps") != pl.col("tps_prev")).sum().cast(pl.Int64).alias("moved")))
        q = q.join(churn, on="kode_desa", how="left").with_columns(
            pl.col("voters_both_nights", "moved").fill_null(0)).with_columns(
            pl.when(pl.col("voters_both_nights") > 0).then(pl.col("moved") / pl.col("voters_both_nights"))
            .alias("churn"))
    else:
        q = q.with_columns(pl.lit(None, pl.Int64).alias("voters_both_nights"), pl.lit(None, pl.Int64).alias("moved"),
                           pl.lit(None, pl.Float64).alias("churn"))
    return q.select("kode_desa", "desa", "voters", "households", "tps", "tps_minimum", "extra_tps", "over_cap",
                    "split_households", "oversize_households", "rts_split", "rts_fallback", "max_deviation",
                    "mean_distance_m", "p95_distance_m", "max_distance_m", "voters_both_nights", "moved", "churn",
                    "struck_duplicates").sort("kode_desa")
