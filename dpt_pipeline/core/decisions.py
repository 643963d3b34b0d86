"""The rule of the review loop, in one place: which decision stands on a pair, and who loses a TPS.

- Every decision ever imported is kept (`review_decisions`, the history). On each pair every file owner
  (`berkas`: the kecamatan file it came from, `kutai-timur/teluk-pandan`) has one current decision: the
  one from its newest export, then its latest import. What stands on the pair is the owners' common word;
  when owners say different things (SAMA and BEDA) it is KONFLIK, which strikes nobody and goes back to
  both files. RAGU is no word either way: it never outvotes a SAMA or a BEDA.
- Standing SAMA pairs join records into SAMA components, unconditionally: no model score splits them. A
  component that also holds a standing BEDA pair between two of its records is in conflict (reviewers
  contradict each other): nobody in it is struck, and its decided pairs come back for review marked so.
- Each component without conflict keeps exactly one record, the first in the keep order (`keep_rank`);
  every other record of it loses its TPS. So a struck record is always joined to the kept one by a chain
  of SAMA decisions, and nothing else strikes a voter: not a model score, not a duplicate group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

SAMA, BEDA, RAGU, KONFLIK = "SAMA", "BEDA", "RAGU", "KONFLIK"
KEPUTUSAN = (SAMA, BEDA, RAGU)          # the words a reviewer may write
DECISION_SCHEMA: dict[str, pl.DataType] = {
    "pair_id": pl.String(), "voter_id_l": pl.String(), "voter_id_r": pl.String(), "keputusan": pl.String(),
    "catatan": pl.String(), "file": pl.String(), "baris": pl.Int64(), "imported_at": pl.Datetime("us"),
    "berkas": pl.String(), "diekspor": pl.Datetime("us")}
STANDING_SCHEMA: dict[str, pl.DataType] = {
    "pair_id": pl.String(), "voter_id_l": pl.String(), "voter_id_r": pl.String(), "keputusan": pl.String(),
    "catatan": pl.String(), "pendapat": pl.String()}
STRUCK_SCHEMA: dict[str, pl.DataType] = {"voter_id": pl.String(), "kept_voter_id": pl.String(),
                                         "komponen": pl.String()}
ATTENTION_SCHEMA: dict[str, pl.DataType] = {"pair_id": pl.String(), "voter_id_l": pl.String(),
                                            "voter_id_r": pl.String(), "status": pl.String()}
# Why a pair is in a review file again although someone decided it.
STATUS_KONFLIK = "KONFLIK: petugas berbeda pendapat"
STATUS_RANTAI = "KONFLIK: rantai SAMA bertentangan dengan BEDA"
STATUS_RAGU = "RAGU sebelumnya"


def history_frame(history: pl.DataFrame | None) -> pl.DataFrame:
    """The decision history in DECISION_SCHEMA; a history from before owners were recorded takes its file
    as the owner and its import time as the export time."""
    if history is None:
        return pl.DataFrame(schema=DECISION_SCHEMA)
    if "berkas" not in history.columns:
        history = history.with_columns(pl.col("file").alias("berkas"))
    if "diekspor" not in history.columns:
        history = history.with_columns(pl.col("imported_at").alias("diekspor"))
    return history.with_columns(pl.coalesce("berkas", "file").alias("berkas"),
                                pl.coalesce("diekspor", "imported_at").alias("diekspor")
                                ).select(list(DECISION_SCHEMA)).cast(DECISION_SCHEMA)  # type: ignore[arg-type]


def current_by_owner(history: pl.DataFrame) -> pl.DataFrame:
    """Each owner's current decision on each pair: from its newest export, then its latest import."""
    h = history_frame(history)
    return (h.sort(["diekspor", "imported_at", "baris"]).group_by(["pair_id", "berkas"], maintain_order=True)
            .last())


def standing(history: pl.DataFrame | None) -> pl.DataFrame:
    """The decision that stands on each pair (STANDING_SCHEMA): SAMA, BEDA, RAGU or KONFLIK, the latest
    note, and `pendapat`, every owner's current word."""
    cur = current_by_owner(history_frame(history))
    if cur.height == 0:
        return pl.DataFrame(schema=STANDING_SCHEMA)
    words = pl.col("keputusan").filter(pl.col("keputusan") != RAGU).unique()
    return (cur.sort(["diekspor", "imported_at", "berkas"]).group_by("pair_id", maintain_order=True).agg(
        pl.col("voter_id_l").last(), pl.col("voter_id_r").last(),
        pl.when(words.len() == 0).then(pl.lit(RAGU)).when(words.len() == 1).then(words.first())
        .otherwise(pl.lit(KONFLIK)).alias("keputusan"),
        pl.col("catatan").drop_nulls().last(),
        pl.concat_str([pl.col("berkas"), pl.lit(": "), pl.col("keputusan")]).sort().str.join("; ")
        .alias("pendapat"),
    ).select(list(STANDING_SCHEMA)).cast(STANDING_SCHEMA))  # type: ignore[arg-type]


def components(left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    """Connected-component label (int64) of each of `n` nodes, for the undirected edges (left, right)."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


@dataclass(frozen=True)
class KeepRule:
    """A record satisfying `condition` is preferred; `reason` says so in `duplicate_groups`."""

    condition: pl.Expr
    reason: str


def default_keep_rules(border_legal_column: str | None = None) -> list[KeepRule]:
    """Which record of a group to keep, in order of preference."""
    rules = []
    if border_legal_column:
        # The record on the legal side of a disputed border (Sidrap: Kutai Timur, per the MK ruling).
        rules.append(KeepRule(pl.col(border_legal_column), "terdaftar di sisi batas wilayah yang sah"))
    rules += [
        KeepRule(pl.col("nik_kode_wilayah").str.slice(0, 5) == pl.col("kode_kabupaten"),
                 "terdaftar di kabupaten/kota asal NIK-nya"),
        KeepRule(pl.col("nik_valid") & pl.col("tanggal_lahir_valid"),
                 "data paling lengkap (NIK dan tanggal lahir sah)"),
    ]
    return rules


def rule_columns(records: pl.DataFrame, rules: list[KeepRule]) -> pl.DataFrame:
    """voter_id, `_rule0`... (whether each record meets each keep rule) and `keep_rank`: the one keep order
    of every record (rules met first, in rule order, then the smallest voter_id). The first of any set of
    records in this order is the one it keeps."""
    flags = records.select("voter_id", *[r.condition.fill_null(False).alias(f"_rule{i}")
                                         for i, r in enumerate(rules)])
    order = [f"_rule{i}" for i in range(len(rules))]
    return flags.sort([*order, "voter_id"], descending=[*([True] * len(order)), False]).with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("keep_rank"))


@dataclass
class Resolution:
    """What the standing decisions do to the records on the roll tonight."""

    same: pl.DataFrame        # voter_id_l, voter_id_r: SAMA pairs that bind (outside a conflict)
    different: pl.DataFrame   # voter_id_l, voter_id_r: standing BEDA pairs
    struck: pl.DataFrame      # STRUCK_SCHEMA: who loses the TPS, the record kept for them, their component
    attention: pl.DataFrame   # ATTENTION_SCHEMA: decided pairs that go back to the reviewers, and why


def resolve(standing_frame: pl.DataFrame, ranks: pl.DataFrame) -> Resolution:
    """Apply the rule to the standing decisions (`standing`) over the records in `ranks` (voter_id,
    keep_rank). A decision on a record no longer on the roll binds nothing."""
    ids = ranks.select("voter_id", "keep_rank").with_row_index("_i")
    on_roll = (standing_frame.join(ids.select(pl.col("voter_id").alias("voter_id_l"), pl.col("_i").alias("_il")),
                                   on="voter_id_l")
               .join(ids.select(pl.col("voter_id").alias("voter_id_r"), pl.col("_i").alias("_ir")), on="voter_id_r"))
    sama = on_roll.filter(pl.col("keputusan") == SAMA)
    beda = on_roll.filter(pl.col("keputusan") == BEDA)
    labels = components(sama["_il"].to_numpy(), sama["_ir"].to_numpy(), ids.height)
    comp = pl.Series("comp", labels)
    members = ids.with_columns(comp).with_columns(pl.len().over("comp").alias("_n")).filter(pl.col("_n") >= 2)
    crossed = beda.with_columns(pl.Series("_cl", labels[beda["_il"].to_numpy()].astype(np.int64)),
                                pl.Series("_cr", labels[beda["_ir"].to_numpy()].astype(np.int64))
                                ).filter(pl.col("_cl") == pl.col("_cr"))["_cl"].unique()
    bound = members.filter(~pl.col("comp").is_in(crossed.implode()))
    kept = bound.sort("keep_rank").group_by("comp", maintain_order=True).agg(
        pl.col("voter_id").first().alias("kept_voter_id"), pl.col("voter_id").min().alias("_min"))
    struck = (bound.join(kept, on="comp").filter(pl.col("voter_id") != pl.col("kept_voter_id"))
              .select("voter_id", "kept_voter_id", pl.concat_str([pl.lit("S-"), pl.col("_min")]).alias("komponen"))
              .sort("voter_id"))
    with_comp = on_roll.with_columns(pl.Series("_c", labels[on_roll["_il"].to_numpy()].astype(np.int64))
                                     if on_roll.height else pl.lit(None, pl.Int64).alias("_c"))
    def said(status: str) -> pl.Expr:
        """The status with every owner's word on the pair, so each camat sees the others'."""
        return pl.concat_str([pl.lit(status + " ("), pl.col("pendapat"), pl.lit(")")]).alias("status")

    in_conflict = with_comp.filter(pl.col("_c").is_in(crossed.implode())
                                   & pl.col("keputusan").is_in([SAMA, BEDA])).with_columns(said(STATUS_RANTAI))
    split = on_roll.filter(pl.col("keputusan") == KONFLIK).with_columns(said(STATUS_KONFLIK))
    ragu = on_roll.filter(pl.col("keputusan") == RAGU).with_columns(said(STATUS_RAGU))
    attention = pl.concat([f.select(list(ATTENTION_SCHEMA)) for f in (in_conflict, split, ragu)]).unique(
        "pair_id", keep="first", maintain_order=True)
    binding = sama.join(in_conflict.select("pair_id"), on="pair_id", how="anti")
    return Resolution(same=binding.select("voter_id_l", "voter_id_r"),
                      different=beda.select("voter_id_l", "voter_id_r"),
                      struck=struck.cast(STRUCK_SCHEMA),  # type: ignore[arg-type]
                      attention=attention.cast(ATTENTION_SCHEMA))  # type: ignore[arg-type]


def audit(standing_frame: pl.DataFrame, struck: pl.DataFrame, groups: pl.DataFrame, placed: pl.DataFrame,
          voters: pl.DataFrame) -> dict[str, int]:
    """The rule checked on published tables (each count must be 0): `standing_frame` (`standing`),
    `struck` (struck_voters), `groups` (duplicate_groups), `placed` (tps_assignments: voter_id), `voters`
    (voter_id). Independent of `resolve`: components are found again from the SAMA pairs."""
    ids = voters.select("voter_id").with_row_index("_i")
    on = (standing_frame.join(ids.rename({"voter_id": "voter_id_l", "_i": "_il"}), on="voter_id_l")
          .join(ids.rename({"voter_id": "voter_id_r", "_i": "_ir"}), on="voter_id_r"))
    sama, beda = on.filter(pl.col("keputusan") == SAMA), on.filter(pl.col("keputusan") == BEDA)
    labels = pl.Series("comp", components(sama["_il"].to_numpy(), sama["_ir"].to_numpy(), ids.height))
    comp = ids.with_columns(labels).select("voter_id", "comp")
    crossed = (beda.with_columns(pl.Series("_a", labels.to_numpy()[beda["_il"].to_numpy()]),
                                 pl.Series("_b", labels.to_numpy()[beda["_ir"].to_numpy()]))
               .filter(pl.col("_a") == pl.col("_b"))["_a"].unique())
    members = comp.with_columns(pl.len().over("comp").alias("_n"),
                                pl.col("voter_id").is_in(placed["voter_id"].implode()).alias("_placed"))
    multi = members.filter(pl.col("_n") >= 2)
    per = multi.group_by("comp").agg(pl.col("_placed").sum().alias("placed"),
                                     pl.col("comp").is_in(crossed.implode()).first().alias("crossed"),
                                     pl.len().alias("n"))
    kept_of = struck.join(comp, on="voter_id", how="left").join(
        comp.rename({"voter_id": "kept_voter_id", "comp": "_kc"}), on="kept_voter_id", how="left")
    group_of = groups.select("voter_id", "group_id")
    beda_groups = (beda.join(group_of.rename({"voter_id": "voter_id_l", "group_id": "_gl"}), on="voter_id_l")
                   .join(group_of.rename({"voter_id": "voter_id_r", "group_id": "_gr"}), on="voter_id_r")
                   .filter(pl.col("_gl") == pl.col("_gr")))
    lone_struck = struck.join(multi.select("voter_id"), on="voter_id", how="anti")
    not_placed = (voters.select("voter_id").join(placed.select("voter_id"), on="voter_id", how="anti")
                  .join(struck.select("voter_id"), on="voter_id", how="anti"))
    return {
        "sama_components_not_keeping_exactly_one": int(per.filter(~pl.col("crossed") & (pl.col("placed") != 1)).height),
        "conflicted_components_with_someone_struck": int(per.filter(pl.col("crossed")
                                                                    & (pl.col("placed") < pl.col("n"))).height),
        "struck_without_sama_path_to_kept": int(kept_of.filter(pl.col("comp").ne_missing(pl.col("_kc"))
                                                               | pl.col("kept_voter_id").is_in(
                                                                   struck["voter_id"].implode())).height),
        "struck_without_any_sama": lone_struck.height,
        "struck_but_placed": int(struck.join(placed.select("voter_id"), on="voter_id", how="semi").height),
        "placed_twice": int(placed.height - placed["voter_id"].n_unique()),
        "neither_placed_nor_struck": not_placed.height,
        "beda_pairs_in_one_group": beda_groups.height,
    }
