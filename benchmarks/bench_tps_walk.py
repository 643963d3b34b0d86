"""TPS walk benchmark: how far voters walk to their TPS, against household-weighted k-means with the same
number of TPS per desa, with every rule checked.

For each size: generate a roll with the project's generator (`dpt sample`), ingest it as `dpt ingest` does,
run the TPS stage (`tps.assign`) and print, per size:

- ratio: the mean voter distance to their TPS's voters' mean point (the assignment alone), and to the
  proposed site (a real place: what `distance_m` holds), each over the mean voter distance of sklearn
  `KMeans(sample_weight=voters)` on the household points with the same k per desa (best of `--inits`
  inits); desa without coordinates are left out (they have no distances);
- the rules: TPS over the cap, KK split, TPS over the minimum not forced by household sizes, TPS under the
  floor (`min_share` of n/k), TPS spanning two desa;
- RTs cut between TPS, seconds of the stage.

    .venv/bin/python benchmarks/bench_tps_walk.py --voters 50000 200000 --seed 3
    .venv/bin/python benchmarks/bench_tps_walk.py --voters 1000000 --seed 7 --data benchmarks/out/data_1000000

Generated lists go to benchmarks/out/walk_<N>_<seed> (or are read from `--data`, never written there).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from common import OUT, config

from dpt_pipeline import ingest, synth, tps
from dpt_pipeline.config import TpsConfig, load_config
from dpt_pipeline.tps.geometry import Projection


def _roll(voters: int, seed: int, data: Path | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ingested voters and the RT coordinates of a generated roll (cached as parquet)."""
    work = OUT / f"walk_{voters}_{seed}"
    work.mkdir(parents=True, exist_ok=True)
    cached = work / "voters.parquet"
    if data is None and not (work / "truth.csv").exists():
        synth.generate(work, voters, seed)
    # The sample config pointed at the lists (and their rt_coordinates.csv), written beside the cache: a
    # `--data` folder is only read.
    moved = {'path = "': f'path = "{data}/', 'coordinates = "': f'coordinates = "{data}/'} if data else None
    cfg = load_config(config(work, replace=moved))
    if not cached.exists():
        ingest.run(cfg).voters.write_parquet(cached)
    coords, _ = tps.read_coordinates(cfg.tps.coordinates)
    return pl.read_parquet(cached), coords


def _kmeans(a: pl.DataFrame, inits: int) -> pl.DataFrame:
    """Per desa with coordinates: the sum of voter distances under household-weighted k-means with the
    desa's TPS count (`km_walk`), and the largest k-means cluster (`km_largest`, in voters)."""
    from sklearn.cluster import KMeans

    pts = (a.filter(pl.col("lat").is_not_null()).group_by("kode_desa", "lat", "lon")
           .agg(pl.len().alias("w"), pl.col("k").first()))
    rows = []
    for (key,), g in pts.group_by(["kode_desa"], maintain_order=True):
        k = int(g["k"][0])
        xy = Projection(float(g["lat"].mean())).to_metres(g["lat"].to_numpy(), g["lon"].to_numpy())
        w = g["w"].to_numpy().astype(float)
        if k >= len(xy):
            rows.append((key, 0.0, float(w.max())))
            continue
        km = KMeans(n_clusters=k, n_init=inits, random_state=0).fit(xy, sample_weight=w)
        d = np.sqrt(((xy - km.cluster_centers_[km.labels_]) ** 2).sum(axis=1))
        rows.append((key, float((w * d).sum()), float(np.bincount(km.labels_, weights=w).max())))
    return pl.DataFrame(rows, schema={"kode_desa": pl.String, "km_walk": pl.Float64, "km_largest": pl.Float64},
                        orient="row")


def _distance_to(a: pl.DataFrame, lat: str, lon: str) -> pl.Expr:
    """Per voter, metres from the household point to the point in columns lat, lon (equirectangular)."""
    c = (pl.col("lat") * math.pi / 180).cos()
    return (((pl.col("lat") - pl.col(lat)) * 110_540.0) ** 2
            + ((pl.col("lon") - pl.col(lon)) * 111_320.0 * c) ** 2).sqrt()


def measure(voters: pl.DataFrame, coords: pl.DataFrame, cfg: TpsConfig, inits: int) -> dict[str, object]:
    """One run of the stage on one roll, its rules and its distances against k-means."""
    t = time.perf_counter()
    r = tps.assign(voters, coords, cfg.max_voters, min_share=cfg.min_share)
    seconds = time.perf_counter() - t
    s, q = r.summary, r.quality
    a = r.assignments.join(s.select("kode_desa", "tps", pl.col("lat").alias("c_lat"), pl.col("lon").alias("c_lon"),
                                    *([pl.col("site_lat"), pl.col("site_lon")] if "site_lat" in s.columns else [])),
                           on=["kode_desa", "tps"])
    a = a.join(q.select("kode_desa", pl.col("tps").alias("k")), on="kode_desa")
    placed = a.filter(pl.col("lat").is_not_null())
    walks = placed.group_by("kode_desa").agg(_distance_to(placed, "c_lat", "c_lon").sum().alias("centre"),
                                             _distance_to(placed, "site_lat", "site_lon").sum().alias("site"),
                                             pl.len().alias("n"))
    t = time.perf_counter()
    km = walks.join(_kmeans(a, inits), on="kode_desa")
    km_seconds = time.perf_counter() - t
    if km.height == 0 or km["km_walk"].sum() == 0:
        raise SystemExit("no desa with coordinates: nothing to compare (is [tps] coordinates set?)")
    fits = km.filter(pl.col("km_largest") <= cfg.max_voters)
    to_centre, to_site, km_total = (float(km[c].sum()) for c in ("centre", "site", "km_walk"))
    per_desa_n = voters.height and q.select(pl.col("voters").sum()).item()
    kk = r.assignments.group_by("kode_desa", "household").agg(pl.col("tps").n_unique())
    floor = (s.join(q.select("kode_desa", (cfg.min_share * pl.col("voters") / pl.col("tps")).floor().alias("lo")),
                    on="kode_desa").filter(pl.col("voters") < pl.col("lo")).height)
    return {
        "voters": per_desa_n, "desa": q.height, "tps": int(q["tps"].sum()),
        "ratio_centre": round(to_centre / km_total, 4), "ratio_site": round(to_site / km_total, 4),
        "mean_m_centre": round(to_centre / placed.height, 1), "mean_m_site": round(to_site / placed.height, 1),
        "mean_m_kmeans": round(km_total / placed.height, 1),
        # k-means ignores the cap: how far over it goes, and the ratio where it happens to keep it
        "kmeans_desa_over_cap": f"{km.filter(pl.col('km_largest') > cfg.max_voters).height} of {km.height}",
        "kmeans_largest": int(km["km_largest"].max()),
        "ratio_site_where_kmeans_keeps_cap": (round(float(fits["site"].sum()) / float(fits["km_walk"].sum()), 4)
                                              if fits.height and fits["km_walk"].sum() > 0 else None),
        "desa_where_kmeans_keeps_cap": fits.height,
        "over_cap": int(q["over_cap"].sum()), "kk_split": int((kk["tps"] > 1).sum()),
        "extra_tps": int(q["extra_tps"].sum()), "under_floor": floor,
        "tps_over_minimum_unforced": int(q.filter((pl.col("tps") > pl.col("tps_minimum")) & ~pl.col("extra_tps"))
                                         .height),
        "rts_split": int(q["rts_split"].sum()), "smallest_share_of_mean": round(float(
            s.join(q.select("kode_desa", (pl.col("voters") / pl.col("tps")).alias("mean")), on="kode_desa")
            .select((pl.col("voters") / pl.col("mean")).min()).item()), 3),
        "seconds_assign": round(seconds, 1), "seconds_kmeans": round(km_seconds, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voters", type=int, nargs="+", default=[50_000, 200_000])
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--data", type=Path, help="read the lists here (a folder with bench.toml) instead of generating")
    ap.add_argument("--min-share", type=float, default=TpsConfig.min_share)
    ap.add_argument("--max-voters", type=int, default=TpsConfig.max_voters)
    ap.add_argument("--inits", type=int, default=4, help="k-means inits per desa (the best is kept)")
    args = ap.parse_args()
    cfg = TpsConfig(max_voters=args.max_voters, min_share=args.min_share)
    for n in args.voters:
        voters, coords = _roll(n, args.seed, args.data)
        m = measure(voters, coords, cfg, args.inits)
        print(f"{n:>9,} generated, seed {args.seed}: " + ", ".join(f"{k} {v}" for k, v in m.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
