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
one. A damaged cache (a file missing, changed or corrupt, a model that does not read back) is a warning
and a full run, never a failed one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl
import rapidfuzz

from dpt_pipeline import __version__
from dpt_pipeline.config import Config
from dpt_pipeline.core import frames
from dpt_pipeline.errors import DptError
from dpt_pipeline.io import cachefiles
from dpt_pipeline.io.cachefiles import Damaged as _Damaged
from dpt_pipeline.io.files import write_private
from dpt_pipeline.io.hashing import sha256_file
from dpt_pipeline.linkage import blocking as block
from dpt_pipeline.linkage import comparisons as compare
from dpt_pipeline.linkage import dpt, reblock, standardize
from dpt_pipeline.linkage import model as score

log = logging.getLogger(__name__)

CACHE_DIR = "cache"
PAIRS_FILE = "compared_pairs.parquet"
IDS_FILE = "voter_ids.parquet"
RECORDS_FILE = "records.parquet"
KEYS_FILE = "blocking_keys.parquet"
CONTENT = "_content"     # a hash of a voter row's every field but its line number: what its record is made of
MODEL_FILE = "model_fit.json"
MANIFEST_FILE = "manifest.json"


# The code that decides the fields and levels a cached pair holds and the model fitted on them: a change in
# any of it (a standardisation table, a comparison's condition, a blocking key, the fit, how a list is read)
# makes the cache another program's. The tables and conditions are keyed as text as well, so that the key
# says what it covers. Read as files, so that this stage imports no other.
_PACKAGE = Path(__file__).resolve().parents[1]
_LEVEL_CODE = ("ingest/**/*.py", "linkage/**/*.py", "core/schema.py", "core/keys.py")


def _code_files() -> list[Path]:
    return sorted({p for pattern in _LEVEL_CODE for p in _PACKAGE.glob(pattern)})


def _standard_tables() -> dict[str, str]:
    """Every standardisation table (an upper-case module constant of `standardize`: spellings, placeholder
    dates, common name tokens) as text."""
    out = {f"standardize.{k}": repr(sorted(v) if isinstance(v, frozenset) else v)
           for k, v in vars(standardize).items()
           if k.isupper() and isinstance(v, tuple | dict | frozenset | str | int | float)}
    return out


def _described(p: block.BlockingPass | block.NikEditPass) -> dict[str, str]:
    """A blocking pass as text: its fields, each key expression as polars prints it (never repr: that holds
    the object's address)."""
    out = {}
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        out[f.name] = str([str(e) for e in v]) if isinstance(v, tuple) else str(v)
    return out


def signature(config: Config, cset: compare.ComparisonSet) -> str:
    """What the cached levels and model depend on: software version, linkage and ingest settings, how each
    source is read (its columns, formats, defaults), the region table, the standardisation tables, every
    level's condition, the holds and prior rule, the blocking passes' keys, and the code of the modules that
    compute them."""
    linkage = {k: str(v) for k, v in dataclasses.asdict(config.linkage).items() if k != "border_areas"}
    # Ingest settings and the region table decide fields the comparisons read (kode_desa, the NIK's date).
    ingest_settings = {k: str(v) for k, v in dataclasses.asdict(config.ingest).items()}
    regions = sha256_file(config.ingest.regions)
    sources = [{k: str(v) for k, v in dataclasses.asdict(src).items() if k != "path"} for src in config.sources]
    code = {p.relative_to(_PACKAGE).as_posix(): sha256_file(p) for p in _code_files()}
    # The libraries that compute similarities and print the conditions.
    code |= {"polars": pl.__version__, "rapidfuzz": rapidfuzz.__version__}
    parts = {"version": __version__, "linkage": linkage, "ingest": ingest_settings, "regions": regions,
             "sources": sources, "tables": _standard_tables(), "code": code,
             "levels": [(c.name, list(c.codes), c.conditions(), [s.name for s in c.similarities], c.tf_column)
                        for c in cset.comparisons],
             "holds": [(h.code, str(h.condition), h.at_most) for h in cset.holds],
             "prior_rule": str(cset.prior_rule),
             "passes": [_described(p) for p in block.default_passes()]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class Cache(NamedTuple):
    """What the last run kept: its compared candidate pairs (rid_l, rid_r, pass_mask, lvl_*, by its rids),
    its voters (row i is rid i: voter_id and CONTENT), its fitted model and each record's blocking keys
    (`reblock.keys_frame`, row i is rid i)."""

    pairs: pl.DataFrame
    ids: pl.DataFrame
    model: score.FellegiSunter
    keys: pl.DataFrame


def load(out_dir: Path, sig: str, cset: compare.ComparisonSet | None = None) -> Cache | None:
    """The last run's cache (`Cache`), or None when there is no usable cache (then the run is a full one).

    A cache that is there but damaged (a manifest that is no JSON object, a file missing or not matching
    the checksum the manifest holds, tables of the wrong shape, a model `score.FellegiSunter.from_json`
    refuses) is a warning, never a failed run: it is only a shortcut. `cset` defaults to the DPT
    comparisons. The checksums are checked before any file is parsed: a corrupt parquet file can bring the
    reader down with the process."""
    cset = dpt.dpt_comparisons() if cset is None else cset
    folder = out_dir / CACHE_DIR
    if not folder.exists():
        log.info("no comparisons saved by an earlier run: every pair is compared (a full run)")
        return None
    try:
        manifest = _manifest(folder)
        if manifest["signature"] != sig:
            log.info("the comparisons saved by the last run were made with other settings or software: every "
                     "pair is compared again (a full run)")
            return None
        files = manifest.get("files")
        if files is None or (PAIRS_FILE in files and KEYS_FILE not in files):
            log.info("the comparisons saved by the last run are without checksums or blocking keys (an earlier "
                     "version made them): every pair is compared again (a full run)")
            return None
        for name in (PAIRS_FILE, IDS_FILE, KEYS_FILE):
            _verify(folder / name, files)
    except _Damaged as e:
        log.warning("the incremental cache in %s is damaged (%s); ignoring it: a full run", folder, e)
        return None
    try:
        _verify(folder / MODEL_FILE, files)
        model = score.FellegiSunter.load(folder / MODEL_FILE, cset)
    except (_Damaged, DptError) as e:
        why = e.problem if isinstance(e, score.ModelFileError) else str(e)
        log.warning("the cached model %s is damaged (%s); fitting again: the cache is ignored and the run is "
                    "a full one", folder / MODEL_FILE, why)
        return None
    try:
        pairs, ids, keys = _tables(folder, cset, manifest["pairs"])
    except _Damaged as e:
        log.warning("the incremental cache in %s is damaged (%s); ignoring it: a full run", folder, e)
        return None
    return Cache(pairs, ids, model, keys)


def _manifest(folder: Path) -> dict[str, Any]:
    manifest = cachefiles.read_json(folder / MANIFEST_FILE)
    if not isinstance(manifest.get("signature"), str):
        raise _Damaged(f"{MANIFEST_FILE}: 'signature' is missing or not a string")
    pairs = manifest.get("pairs")
    if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 0:
        raise _Damaged(f"{MANIFEST_FILE}: 'pairs' is missing or not a count")
    files = manifest.get("files")
    if files is not None and not (isinstance(files, dict) and all(isinstance(v, str) for v in files.values())):
        raise _Damaged(f"{MANIFEST_FILE}: 'files' is not a table of checksums")
    return manifest


def _verify(path: Path, files: dict[str, str]) -> None:
    if path.name not in files:
        raise _Damaged(f"{MANIFEST_FILE} holds no checksum of {path.name}")
    cachefiles.check(path, files[path.name])


def _tables(folder: Path, cset: compare.ComparisonSet, n_pairs: int
            ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The cached pairs, voters and blocking keys, read and checked: the schema `save` writes, no nulls
    (but in the keys), levels each comparison has, rids of the voters kept, one row per voter_id."""
    pairs, ids, keys = (cachefiles.read_table(folder / name) for name in (PAIRS_FILE, IDS_FILE, KEYS_FILE))
    want = {"rid_l": pl.UInt32, "rid_r": pl.UInt32, "pass_mask": pl.UInt32,
            **{c.level_column: pl.Int8 for c in cset.comparisons}}
    if dict(pairs.schema) != want:
        raise _Damaged(f"{PAIRS_FILE} has other columns or types than the cache writes")
    if dict(ids.schema) != {"voter_id": pl.String, CONTENT: pl.UInt64}:
        raise _Damaged(f"{IDS_FILE} has other columns or types than the cache writes")
    if dict(keys.schema) != reblock.keys_schema(block.default_passes()) or keys.height != ids.height:
        raise _Damaged(f"{KEYS_FILE} has other columns, types or rows than the cache writes")
    if pairs.height != n_pairs:
        raise _Damaged(f"{PAIRS_FILE} holds another number of pairs than {MANIFEST_FILE} says")
    if any(n for n in pairs.null_count().row(0)) or any(n for n in ids.null_count().row(0)):
        raise _Damaged("a cached table holds empty cells")
    if ids["voter_id"].n_unique() != ids.height:
        raise _Damaged(f"{IDS_FILE} lists a voter_id twice")
    if pairs.height:
        bad = pairs.select(
            (pl.col("rid_l") >= pl.col("rid_r")).any().alias("order"),
            (pl.col("rid_r") >= ids.height).any().alias("rid"),
            (pl.col("pass_mask") == 0).any().alias("mask"),
            *[(~pl.col(c.level_column).is_between(0, len(c.codes) - 1)).any().alias(c.level_column)
              for c in cset.comparisons]).row(0, named=True)
        if bad.pop("order"):
            raise _Damaged(f"{PAIRS_FILE} holds a pair whose rid_l is not below its rid_r")
        if bad.pop("rid"):
            raise _Damaged(f"{PAIRS_FILE} holds a rid beyond {IDS_FILE}")
        if bad.pop("mask"):
            raise _Damaged(f"{PAIRS_FILE} holds a pair no blocking pass found")
        for column, out in bad.items():
            if out:
                raise _Damaged(f"{PAIRS_FILE}: {column} holds a level its comparison does not have")
    return pairs, ids, keys


def _derived_names(records: pl.DataFrame) -> list[str]:
    """The columns of prepared `records` that standardize and prepare_records made (and `rid`) excluded."""
    made = {*standardize.STANDARDIZE_SCHEMA, *standardize.PREPARED_COLUMNS}
    return [c for c in records.columns if c in made]


def save(work: Path, sig: str, compared: frames.Frame, records: pl.DataFrame, content: pl.Series,
         keys: pl.DataFrame, cset: compare.ComparisonSet, model: score.FellegiSunter) -> None:
    """Keep tonight's compared pairs (by rid, with their pass_mask), each rid's voter_id and CONTENT
    (`content`, in rid order), its standardised record, its blocking keys (`keys`, `reblock.keys_frame`)
    and the fitted model for the next run, and a manifest with the settings' signature and each file's
    checksum."""
    folder = work / CACHE_DIR
    folder.mkdir()
    levels = [c.level_column for c in cset.comparisons]
    pairs = compared.select("rid_l", "rid_r", "pass_mask", *levels)
    if isinstance(pairs, pl.LazyFrame):   # a large roll's pairs, compared a part at a time on disk
        pairs.sink_parquet(folder / PAIRS_FILE, compression="lz4")
    else:
        pairs.write_parquet(folder / PAIRS_FILE, compression="lz4")
    records.select("voter_id", content.alias(CONTENT)).write_parquet(folder / IDS_FILE, compression="lz4")
    records.select("voter_id", content.alias(CONTENT), *_derived_names(records)).write_parquet(
        folder / RECORDS_FILE, compression="lz4")
    keys.write_parquet(folder / KEYS_FILE, compression="lz4")
    write_private(folder / MODEL_FILE, model.to_json() + "\n")
    files = {name: sha256_file(folder / name) for name in (PAIRS_FILE, IDS_FILE, RECORDS_FILE, KEYS_FILE, MODEL_FILE)}
    manifest = {"signature": sig, "pairs": frames.height(compared), "files": files}
    write_private(folder / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")


def content_hash(voters: pl.DataFrame) -> pl.Series:
    """Per voter row, a hash of every field but `source_row` (its line in the file, which a standardised
    record does not read): two rows with one voter_id and one content hash standardise the same way."""
    cols = [c for c in voters.columns if c not in ("source_row", "rid")]
    return voters.select(cols).hash_rows(seed=17).alias(CONTENT)


def _derived(voters_schema: pl.Schema | dict[str, pl.DataType]) -> pl.Schema:
    """The columns standardize and prepare_records add to voters of this schema, with their types."""
    empty = pl.DataFrame(schema=voters_schema)
    made = standardize.prepare_records(standardize.standardize(empty))
    return pl.Schema({c: t for c, t in made.schema.items() if c not in empty.columns and c != "rid"})


def prepared_records(voters: pl.DataFrame, cached: pl.DataFrame | None
                     ) -> tuple[pl.DataFrame, pl.Series, int]:
    """`standardize.prepare_records(standardize.standardize(voters))`, with the standardised columns of the
    rows known to `cached` (voter_id, CONTENT, the derived columns: `load_records`) taken from it and only
    the others standardised tonight. Returns the records, each record's CONTENT (in rid order) and how many
    rows were taken from the cache."""
    keyed = voters.with_columns(content_hash(voters))
    if cached is None or cached.height == 0:
        hits, fresh = keyed.clear(), keyed
    else:
        hits = keyed.join(cached, on=["voter_id", CONTENT], how="inner", maintain_order="left")
        fresh = keyed.join(cached.select("voter_id", CONTENT), on=["voter_id", CONTENT], how="anti")
    done = standardize.prepare_records(standardize.standardize(fresh))
    if hits.height == 0:
        return done.drop(CONTENT), done[CONTENT], 0
    order = [c for c in done.columns if c != "rid"]
    # Both in voter_id order (`hits` in the voters' order, which ingest sorts): merged, not sorted again.
    hits = hits.select(order)
    if not hits["voter_id"].is_sorted():
        hits = hits.sort("voter_id")
    out = hits.merge_sorted(done.select(order), key="voter_id").with_row_index("rid")
    return out.drop(CONTENT), out[CONTENT], hits.height


def load_records(out_dir: Path, sig: str, voters_schema: pl.Schema | dict[str, pl.DataType]
                 ) -> pl.DataFrame | None:
    """The last run's standardised records (voter_id, CONTENT and the columns `standardize` and
    `prepare_records` derive), or None when there are none usable (then every voter is standardised). A
    damaged file is a warning, as in `load`."""
    folder = out_dir / CACHE_DIR
    if not (folder / MANIFEST_FILE).exists():
        return None
    try:
        manifest = _manifest(folder)
        if manifest["signature"] != sig or manifest.get("files") is None or RECORDS_FILE not in manifest["files"]:
            return None
        _verify(folder / RECORDS_FILE, manifest["files"])
        frame = cachefiles.read_table(folder / RECORDS_FILE)
        want = {"voter_id": pl.String, CONTENT: pl.UInt64, **_derived(voters_schema)}
        if dict(frame.schema) != want:
            raise _Damaged(f"{RECORDS_FILE} has other columns or types than the cache writes")
        if frame["voter_id"].null_count() or frame[CONTENT].null_count():
            raise _Damaged(f"{RECORDS_FILE} holds an empty voter_id or content hash")
        if frame["voter_id"].n_unique() != frame.height:
            raise _Damaged(f"{RECORDS_FILE} lists a voter_id twice")
    except _Damaged as e:
        log.warning("the standardised records cached in %s are damaged (%s); every voter is standardised again",
                    folder, e)
        return None
    return frame


def mapped_rids(cached_ids: pl.DataFrame, records: pl.DataFrame, content: pl.Series) -> np.ndarray:
    """Tonight's rid of each of last night's records (row i: last night's rid i), -1 where it left or
    changed (another voter_id or CONTENT): both sorted by voter_id, so a pair keeps rid_l < rid_r."""
    now = records.select("voter_id", content.alias(CONTENT), "rid")
    return (cached_ids.with_row_index("old").join(now, on=["voter_id", CONTENT], how="left").sort("old")["rid"]
            .cast(pl.Int64).fill_null(-1).to_numpy())


def compare_with_cache(records: pl.DataFrame, candidates: pl.DataFrame, cset: compare.ComparisonSet,
                       cached: pl.DataFrame, mapped: np.ndarray) -> tuple[pl.DataFrame, dict[str, int]]:
    """The compared candidates, as `compare.compare(..., slim=True)` gives them: levels from the cache
    where both records are unchanged, compared afresh for the rest; sorted by rid_l, rid_r like a full run.
    `mapped`: tonight's rid of each of last night's (`mapped_rids`); a record that changed or left maps to
    nothing and its pairs drop out of the cache."""
    left, right = mapped[cached["rid_l"].to_numpy()], mapped[cached["rid_r"].to_numpy()]
    ok = (left >= 0) & (right >= 0)
    known = cached.drop("pass_mask").filter(pl.Series(ok)).with_columns(pl.Series("rid_l", left[ok], pl.UInt32),
                                                                       pl.Series("rid_r", right[ok], pl.UInt32))
    cand = candidates.with_columns(block.pair_key().alias("_key"))
    known = known.with_columns(block.pair_key().alias("_key")).drop("rid_l", "rid_r")
    reused = cand.join(known, on="_key", how="inner").drop("_key")
    fresh = cand.join(known.select("_key"), on="_key", how="anti").drop("_key")
    done = compare.compare(records, fresh, cset, slim=True)
    out = pl.concat([reused.select(done.columns), done]).sort("rid_l", "rid_r")
    return out, {"reused_pairs": reused.height, "compared_pairs": fresh.height}
