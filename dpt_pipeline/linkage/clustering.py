"""Stage: cluster. Duplicate groups from the scored pairs, with a guard against chains.

Pairs at or above the threshold are edges; connected components are candidate groups. In a component of
three or more records every pair inside it is scored; where two members clearly differ (probability
below `differ_below`), the component is rebuilt greedily from its strongest edges, never merging two
parts that hold a clearly different pair. So A~B and B~C no longer make A~C when A and C are two people.

Each group names the record recommended to keep, and why. Nothing is struck here: a person decides.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from dpt_pipeline.core import decisions
from dpt_pipeline.core.decisions import KeepRule, default_keep_rules, rule_columns
from dpt_pipeline.core.thresholds import CLAIM

__all__ = ["GROUP_SCHEMA", "KeepRule", "cluster", "components", "default_keep_rules"]

GROUP_SCHEMA = {"group_id": pl.String, "voter_id": pl.String, "keep": pl.Boolean, "reason": pl.String}


def components(edges: pl.DataFrame, n_records: int) -> np.ndarray:
    """Component label per rid for the edge list (rid_l, rid_r)."""
    return decisions.components(edges["rid_l"].to_numpy(), edges["rid_r"].to_numpy(), n_records)


def _split_chains(members: pl.DataFrame, edges: pl.DataFrame, score_fn: Callable[[pl.DataFrame], pl.DataFrame],
                  differ_below: float, decided: pl.DataFrame, same: pl.DataFrame, base: int) -> pl.DataFrame:
    """members (rid, comp) of components with >= 3 records -> (rid, comp) with comps split where needed."""
    inner = (members.rename({"rid": "rid_l"}).join(members.rename({"rid": "rid_r"}), on="comp")
             .filter(pl.col("rid_l") < pl.col("rid_r")))
    scored = score_fn(inner.select("rid_l", "rid_r")).join(inner, on=["rid_l", "rid_r"])
    # A person's decision outranks the model: SAMA is certain, BEDA is two people.
    scored = scored.join(decided, on=["rid_l", "rid_r"], how="left").with_columns(
        pl.coalesce("_decided", "match_probability").alias("match_probability"))
    bad_comps = scored.filter(pl.col("match_probability") < differ_below)["comp"].unique()
    if bad_comps.len() == 0:
        return members
    out = [members.filter(~pl.col("comp").is_in(bad_comps.implode()))]
    differ = {(a, b) for a, b in scored.filter(pl.col("match_probability") < differ_below)
              .select("rid_l", "rid_r").iter_rows()}
    strong = scored.filter(pl.col("comp").is_in(bad_comps.implode())).join(
        edges.select("rid_l", "rid_r"), on=["rid_l", "rid_r"]).sort("match_probability", descending=True)
    # Greedy merge over the (few) edges of the components that hold a chain. Reviewers' SAMA pairs are
    # merged first and unconditionally: a model score never splits what a person joined.
    cluster_of: dict[int, int] = {}
    clusters: dict[int, set[int]] = {}
    for rid in members.filter(pl.col("comp").is_in(bad_comps.implode()))["rid"].to_list():
        cluster_of[rid] = rid
        clusters[rid] = {rid}
    confirmed = same.join(strong.select("rid_l", "rid_r"), on=["rid_l", "rid_r"], how="semi")
    for a, b in confirmed.select("rid_l", "rid_r").iter_rows():
        ca, cb = cluster_of[a], cluster_of[b]
        if ca != cb:
            clusters[ca] |= clusters.pop(cb)
            for x in clusters[ca]:
                cluster_of[x] = ca
    for a, b in strong.select("rid_l", "rid_r").iter_rows():
        ca, cb = cluster_of[a], cluster_of[b]
        if ca == cb:
            continue
        if any((min(x, y), max(x, y)) in differ for x in clusters[ca] for y in clusters[cb]):
            continue
        clusters[ca] |= clusters.pop(cb)
        for x in clusters[ca]:
            cluster_of[x] = ca
    # New labels above every component label of the run (`base`), so no part can fall into another group.
    rows = [(rid, base + c) for rid, c in cluster_of.items()]
    out.append(pl.DataFrame(rows, schema={"rid": members.schema["rid"], "comp": members.schema["comp"]},
                            orient="row"))
    return pl.concat(out)


def cluster(pairs: pl.DataFrame, records: pl.DataFrame, score_fn: Callable[[pl.DataFrame], pl.DataFrame], *,
            threshold: float = CLAIM, differ_below: float = 0.05, keep_rules: list[KeepRule] | None = None,
            same: pl.DataFrame | None = None, different: pl.DataFrame | None = None) -> pl.DataFrame:
    """duplicate_groups (GROUP_SCHEMA) from scored pairs (rid_l, rid_r, match_probability).

    `same` and `different` (rid_l, rid_r) are reviewers' decisions: a SAMA pair is always grouped, a BEDA
    pair never, neither directly nor through a chain of other pairs.
    """
    pair_schema = pl.Schema({"rid_l": pl.UInt32(), "rid_r": pl.UInt32()})

    def ordered(frame: pl.DataFrame | None) -> pl.DataFrame:
        if frame is None:
            return pl.DataFrame(schema=pair_schema)
        return frame.select(pl.min_horizontal("rid_l", "rid_r").alias("rid_l"),
                            pl.max_horizontal("rid_l", "rid_r").alias("rid_r")).cast(pair_schema).unique()

    same, different = ordered(same), ordered(different)
    decided = pl.concat([same.with_columns(pl.lit(1.0).alias("_decided")),
                         different.with_columns(pl.lit(0.0).alias("_decided"))])
    edges = pairs.filter(pl.col("match_probability") >= threshold).select("rid_l", "rid_r", "match_probability")
    edges = pl.concat([edges.join(decided.select("rid_l", "rid_r"), on=["rid_l", "rid_r"], how="anti"),
                       same.with_columns(pl.lit(1.0).alias("match_probability"))])
    if edges.height == 0:
        return pl.DataFrame(schema=GROUP_SCHEMA)
    labels = components(edges, records.height)
    in_edge = np.unique(np.concatenate([edges["rid_l"].to_numpy(), edges["rid_r"].to_numpy()]))
    members = pl.DataFrame({"rid": in_edge.astype(np.uint32), "comp": labels[in_edge].astype(np.int64)})
    members = members.with_columns(pl.len().over("comp").alias("_n"))
    big = members.filter(pl.col("_n") >= 3).drop("_n")
    if big.height:
        members = pl.concat([members.filter(pl.col("_n") < 3).drop("_n"),
                             _split_chains(big, edges, score_fn, differ_below, decided, same, int(labels.max()) + 1)])
    else:
        members = members.drop("_n")
    members = members.filter(pl.len().over("comp") >= 2)
    return _choose_keep(members, records, keep_rules or default_keep_rules())


def _choose_keep(members: pl.DataFrame, records: pl.DataFrame, rules: list[KeepRule]) -> pl.DataFrame:
    cols = {"voter_id"}
    for r in rules:
        cols |= set(r.condition.meta.root_names())
    recs = records.select("rid", *sorted(cols - {"rid"}))
    g = members.join(recs, on="rid")
    g = g.join(rule_columns(g, rules), on="voter_id").sort(["comp", "keep_rank"])
    g = g.with_columns(
        (pl.int_range(pl.len()).over("comp") == 0).alias("keep"),
        pl.col("voter_id").first().over("comp").alias("_kept"),
        pl.col("voter_id").min().over("comp").alias("_min"),
    )
    # Why the kept record was chosen: the first rule it meets that some other member does not.
    why = pl.lit("urutan pertama (tidak ada pembeda)")
    for i, r in reversed(list(enumerate(rules))):
        decisive = pl.col(f"_rule{i}") & ~pl.col(f"_rule{i}").min().over("comp")
        why = pl.when(decisive).then(pl.lit(r.reason)).otherwise(why)
    g = g.with_columns(why.alias("_why"))
    g = g.with_columns(pl.col("_why").filter(pl.col("keep")).first().over("comp").alias("_why"))
    return g.select(
        # Named after its smallest voter_id: stable while that record stays in the group.
        pl.concat_str([pl.lit("G-"), pl.col("_min")]).alias("group_id"),
        "voter_id", "keep",
        pl.when(pl.col("keep")).then(pl.concat_str([pl.lit("disarankan disimpan: "), pl.col("_why")]))
        .otherwise(pl.concat_str([pl.lit("duplikat dari "), pl.col("_kept"),
                                  pl.lit("; menunggu keputusan petugas")])).alias("reason"),
    ).sort("group_id", "voter_id")
