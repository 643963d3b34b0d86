"""Incremental linkage: compare only the candidate pairs the last run did not, and keep the rest.

A pair's comparison levels depend on its two records alone, and a record's voter_id is a hash of its
content, so a pair of the same two voter_ids compares the same way every night. After each run the
compared candidate pairs (by voter_id) and the fitted model are kept in `<output>/cache/`. The next run
blocks every record as usual (so the candidate set is exactly a full run's: blocks that grew past their cap
or shrank under it included), takes the levels of the pairs it already knows from the cache, compares only
the new ones (pairs with a new or changed record), and scores everything with the cached model. Its tables
equal those of a full run that uses the same model (tested); `dpt run --full` fits the model afresh.

The cache is used only when it was made by the same software version with the same linkage and ingest
settings, region table, comparisons and blocking passes (its `signature`); otherwise the run is a full
one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import polars as pl

from dpt_pipeline import __version__, block, compare, score
from dpt_pipeline.config import Config
from dpt_pipeline.errors import DptError
from dpt_pipeline.publish import write_private

log = logging.getLogger(__name__)

CACHE_DIR = "cache"
PAIRS_FILE = "compared_pairs.parquet"
IDS_FILE = "voter_ids.parquet"
MODEL_FILE = "model_fit.json"
MANIFEST_FILE = "manifest.json"


def signature(config: Config, cset: compare.ComparisonSet) -> str:
    """What the cached levels and model depend on: software version, linkage and ingest settings, how each
    source is read (its columns, formats, defaults), the region table, comparisons and blocking passes."""
    linkage = {k: str(v) for k, v in dataclasses.asdict(config.linkage).items() if k != "border_areas"}
    # Ingest settings and the region table decide fields the comparisons read (kode_desa, the NIK's date).
    ingest = {k: str(v) for k, v in dataclasses.asdict(config.ingest).items()}
    regions = hashlib.sha256(config.ingest.regions.read_bytes()).hexdigest()
    sources = [{k: str(v) for k, v in dataclasses.asdict(src).items() if k != "path"} for src in config.sources]
    parts = {"version": __version__, "linkage": linkage, "ingest": ingest, "regions": regions, "sources": sources,
             "levels": [(c.name, list(c.codes)) for c in cset.comparisons],
             "passes": [p.name for p in block.default_passes()]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def load(out_dir: Path, sig: str) -> tuple[pl.DataFrame, pl.DataFrame, score.FellegiSunter] | None:
    """The last run's compared pairs (rid_l, rid_r, lvl_*, by the last run's rids), its voter_ids (row i
    is rid i) and its fitted model, or None when there is no usable cache."""
    folder = out_dir / CACHE_DIR
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        if manifest.get("signature") != sig:
            log.info("incremental cache made with other settings or software: a full run")
            return None
        pairs = pl.read_parquet(folder / PAIRS_FILE)
        ids = pl.read_parquet(folder / IDS_FILE)
        model = score.FellegiSunter.load(folder / MODEL_FILE)
    except (OSError, ValueError, pl.exceptions.PolarsError, DptError) as e:
        log.info("no usable incremental cache (%s): a full run", type(e).__name__)
        return None
    return pairs, ids, model


def save(work: Path, sig: str, compared: pl.DataFrame, records: pl.DataFrame, cset: compare.ComparisonSet,
         model: score.FellegiSunter) -> None:
    """Keep tonight's compared pairs (by rid), the voter_id of each rid and the fitted model for the next
    run."""
    folder = work / CACHE_DIR
    folder.mkdir()
    levels = [c.level_column for c in cset.comparisons]
    compared.select("rid_l", "rid_r", *levels).write_parquet(folder / PAIRS_FILE, compression="lz4")
    records.select("voter_id").write_parquet(folder / IDS_FILE, compression="lz4")
    write_private(folder / MODEL_FILE, model.to_json() + "\n")
    write_private(folder / MANIFEST_FILE, json.dumps({"signature": sig, "pairs": compared.height}) + "\n")


def compare_with_cache(records: pl.DataFrame, candidates: pl.DataFrame, cset: compare.ComparisonSet,
                       cached: pl.DataFrame, cached_ids: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """The compared candidates, as `compare.compare(..., slim=True)` gives them: levels from the cache
    where both records are unchanged, compared afresh for the rest; sorted by rid_l, rid_r like a full run.

    Last night's rids map to tonight's through the voter_ids (both sorted by voter_id, so a pair keeps
    rid_l < rid_r); a record that changed or left maps to nothing and its pairs drop out of the cache.
    """
    now = records.select("voter_id", "rid")
    mapped = (cached_ids.with_row_index("old").join(now, on="voter_id", how="left").sort("old")["rid"]
              .cast(pl.Int64).fill_null(-1).to_numpy())
    left, right = mapped[cached["rid_l"].to_numpy()], mapped[cached["rid_r"].to_numpy()]
    ok = (left >= 0) & (right >= 0)
    known = cached.filter(pl.Series(ok)).with_columns(pl.Series("rid_l", left[ok], pl.UInt32),
                                                     pl.Series("rid_r", right[ok], pl.UInt32))
    cand = candidates.with_columns(block.pair_key().alias("_key"))
    known = known.with_columns(block.pair_key().alias("_key")).drop("rid_l", "rid_r")
    reused = cand.join(known, on="_key", how="inner").drop("_key")
    fresh = cand.join(known.select("_key"), on="_key", how="anti").drop("_key")
    done = compare.compare(records, fresh, cset, slim=True)
    out = pl.concat([reused.select(done.columns), done]).sort("rid_l", "rid_r")
    return out, {"reused_pairs": reused.height, "compared_pairs": fresh.height}
