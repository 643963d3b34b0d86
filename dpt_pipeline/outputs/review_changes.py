"""What a `dpt review import` changed, kept in the database so the run report can show it (and an analyst
query it): `review_imports`, a row per import with its counts, and `review_import_changes`, a row per voter
or duplicate group the import's decisions change.

Each import is `import_id` (its run id) at `imported_at` (the time its rows carry in `review_decisions` and
`review_import_log`). The decisions' effect is found by applying the rule (`core.decisions`) to the history
without this import and with it: who a SAMA newly strikes from the TPS, who a withdrawn SAMA restores, and
the duplicate groups the next run will confirm, split or join. The review files it rewrote are
`review_exports` rows whose `ekspor` is the import's id.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from dpt_pipeline.core import decisions

IMPORTS_SCHEMA: dict[str, pl.DataType] = {
    "import_id": pl.String(), "imported_at": pl.Datetime("us"), "started_at": pl.Datetime("us"),
    "files": pl.Int64(), "file_names": pl.String(), "stored": pl.Int64(),
    "unchanged": pl.Int64(), "superseded": pl.Int64(), "stale": pl.Int64(), "refused": pl.Int64(),
    "conflicts_before": pl.Int64(), "conflicts": pl.Int64(), "reopened": pl.Int64()}
CHANGES_SCHEMA: dict[str, pl.DataType] = {
    "import_id": pl.String(), "jenis": pl.String(), "voter_id": pl.String(), "voter_id_2": pl.String(),
    "group_id": pl.String(), "group_id_2": pl.String(), "pair_id": pl.String()}

# `jenis` of a change, in the order the report lists them.
STRUCK = "dicoret"                    # a SAMA now takes this voter's TPS (voter_id_2: the record kept)
RESTORED = "dipulihkan"               # no standing SAMA strikes this voter any more
CONFIRMED = "kelompok dikonfirmasi"   # a SAMA on two records of one duplicate group
SPLIT = "kelompok dipisah"            # a BEDA on two records of one group: the next run splits it
JOINED = "kelompok digabung"          # a SAMA on records of two groups: the next run joins them
NEW = "kelompok baru"                 # a SAMA on a record of no group: the next run groups it
IN_CONFLICT = "konflik"               # the pair's decision is in conflict after the import
KINDS = (STRUCK, RESTORED, CONFIRMED, SPLIT, JOINED, NEW, IN_CONFLICT)


def import_tables(history: pl.DataFrame, ranks: pl.DataFrame, groups: pl.DataFrame | None, counts: dict[str, int],
                  *, import_id: str, imported_at: dt.datetime, started_at: dt.datetime, files: Sequence[Path],
                  before: dict[str, pl.DataFrame | None]) -> dict[str, pl.DataFrame]:
    """`review_imports` and `review_import_changes` with this import's rows added to `before`'s (the
    tables as the database held them, None when absent). `history`: every decision, this import's (at
    `imported_at`, local time as the decisions carry it) included; `started_at`: the import command's start
    (UTC, as `runs` records it); `ranks`: decisions.rule_columns of the voters; `groups`: duplicate_groups
    (voter_id, group_id) of the last run; `counts`: the import's counts (ImportReport.counts)."""
    h = decisions.history_frame(history)
    earlier = h.filter(pl.col("imported_at") != imported_at)
    stand_before, stand_after = decisions.standing(earlier), decisions.standing(h)
    struck_before = decisions.resolve(stand_before, ranks).struck
    struck_after = decisions.resolve(stand_after, ranks).struck
    frames = [
        struck_after.join(struck_before, on="voter_id", how="anti").select(
            pl.lit(STRUCK).alias("jenis"), "voter_id", pl.col("kept_voter_id").alias("voter_id_2")),
        struck_before.join(struck_after, on="voter_id", how="anti").select(
            pl.lit(RESTORED).alias("jenis"), "voter_id", pl.col("kept_voter_id").alias("voter_id_2")),
    ]
    # The pairs this import decided, by the word that stands on them now.
    touched = stand_after.join(h.filter(pl.col("imported_at") == imported_at).select("pair_id").unique(),
                               on="pair_id", how="semi")
    g = (groups if groups is not None else pl.DataFrame(schema={"voter_id": pl.String, "group_id": pl.String})
         ).select("voter_id", "group_id")
    t = (touched.join(g.rename({"voter_id": "voter_id_l", "group_id": "group_id"}), on="voter_id_l", how="left")
         .join(g.rename({"voter_id": "voter_id_r", "group_id": "group_id_2"}), on="voter_id_r", how="left"))
    one = pl.col("group_id").is_not_null() & (pl.col("group_id") == pl.col("group_id_2"))
    sama, beda = pl.col("keputusan") == decisions.SAMA, pl.col("keputusan") == decisions.BEDA
    kind = (pl.when(pl.col("keputusan") == decisions.KONFLIK).then(pl.lit(IN_CONFLICT))
            .when(sama & one).then(pl.lit(CONFIRMED))
            .when(beda & one).then(pl.lit(SPLIT))
            .when(sama & pl.col("group_id").is_not_null() & pl.col("group_id_2").is_not_null()).then(pl.lit(JOINED))
            .when(sama).then(pl.lit(NEW)))
    frames.append(t.with_columns(kind.alias("jenis")).filter(pl.col("jenis").is_not_null()).select(
        "jenis", pl.col("voter_id_l").alias("voter_id"), pl.col("voter_id_r").alias("voter_id_2"), "group_id",
        "group_id_2", "pair_id"))
    changes = pl.concat(frames, how="diagonal_relaxed").select(
        pl.lit(import_id).alias("import_id"), *[c for c in CHANGES_SCHEMA if c != "import_id"]
    ).cast(CHANGES_SCHEMA)  # type: ignore[arg-type]
    row: dict[str, object] = {c: int(counts.get(c, 0)) for c in (
        "files", "stored", "unchanged", "superseded", "stale", "refused", "reopened")}
    row |= {"import_id": import_id, "imported_at": imported_at, "started_at": started_at,
            "file_names": json.dumps([Path(f).name for f in files], ensure_ascii=False),
            "conflicts": int(counts.get("conflicts", 0)),
            "conflicts_before": int((stand_before["keputusan"] == decisions.KONFLIK).sum())}
    summary = pl.DataFrame([row]).select(list(IMPORTS_SCHEMA)).cast(IMPORTS_SCHEMA)  # type: ignore[arg-type]

    def added(name: str, frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
        old = before.get(name)
        if old is None or old.height == 0:
            return frame
        old = old.with_columns([pl.lit(None, t).alias(c) for c, t in schema.items() if c not in old.columns])
        return pl.concat([old.select(list(schema)).cast(schema), frame])  # type: ignore[arg-type]

    return {"review_imports": added("review_imports", summary, IMPORTS_SCHEMA),
            "review_import_changes": added("review_import_changes", changes, CHANGES_SCHEMA)}
