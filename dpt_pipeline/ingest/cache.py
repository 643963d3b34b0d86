"""Last night's validated rows, kept so that tonight validates only the rows that changed.

After each ingest, every source's validated rows (`validate.Kept`: each voter's values that follow from its
row alone, keyed by a hash of the row's cells as read) are written to `<output>/ingest_cache/`, through the
staging folder like every output. The next ingest reads each file afresh (header, rejects, multi-line
records: all of reading is done every night), hashes each row, takes the rows whose key is kept and
validates the others (`validate.validate`); what depends on the whole list (the copy number of identical
rows, the Excel check of the NIKs, the date format that leads, the under-age flag) is computed over the
whole list as in a full ingest. Its voters, rejects and summary equal a full ingest's (tested).

A source's kept rows are used only when they were made by the same software version and ingest code, with
the same source settings, region table, reference year and min_age (its `signature`). A cache that is
missing, damaged or of other settings is a full ingest (a damaged one with a warning), never a failed run.
Its own folder, beside the linkage's `cache/`: a run that ingests without linking replaces it alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from dpt_pipeline import __version__
from dpt_pipeline.config import Config, SourceConfig
from dpt_pipeline.ingest.validate import KEPT_SCHEMA, KEY, Context, Kept
from dpt_pipeline.io import cachefiles
from dpt_pipeline.io.cachefiles import Damaged as _Damaged
from dpt_pipeline.io.files import write_private
from dpt_pipeline.io.hashing import sha256_file

log = logging.getLogger(__name__)

CACHE_DIR = "ingest_cache"
MANIFEST_FILE = "manifest.json"
_FORMAT = 1                   # of the manifest and the files

_PACKAGE = Path(__file__).resolve().parents[1]
# The code a kept row's values follow from (reading is done every night, but a reader's change of a cell's
# text changes the row's key anyway).
_CODE = ("ingest/**/*.py", "core/schema.py", "io/hashing.py", "io/text.py")


def signature(config: Config, source: SourceConfig, reference: dt.date) -> str:
    """What a source's kept rows depend on: software version, the ingest code, the libraries that hash and
    parse, the source's settings (not its path: the defaults its file name gives are in the rows' cells), the
    region table, the reference year (the NIK's century, the years a birth date may have) and min_age. The
    reference day itself only moves the under-age flag, which is computed every night."""
    code = {p.relative_to(_PACKAGE).as_posix(): sha256_file(p)
            for p in sorted({p for pattern in _CODE for p in _PACKAGE.glob(pattern)})}
    parts = {"format": _FORMAT, "version": __version__, "code": code,
             "libraries": {"polars": pl.__version__, "duckdb": duckdb.__version__},
             "source": {k: str(v) for k, v in dataclasses.asdict(source).items() if k != "path"},
             "regions": sha256_file(config.ingest.regions), "reference_year": reference.year,
             "min_age": config.ingest.min_age}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def load(out_dir: Path, source: str, sig: str) -> Kept | None:
    """The source's kept rows from the last run, or None (then its ingest is a full one): no cache, another
    signature, or a damaged cache (a warning). The checksum is checked before the file is parsed."""
    folder = out_dir / CACHE_DIR
    if not folder.exists():
        return None
    try:
        entry = _manifest(folder).get(source)
        if entry is None:
            log.info("source %s: no rows kept by the last run: every row is validated", source)
            return None
        if entry["signature"] != sig:
            log.info("source %s: the rows kept by the last run were made with other settings or software: "
                     "every row is validated", source)
            return None
        return _read(folder, entry)
    except _Damaged as e:
        log.warning("the ingest cache in %s is damaged (%s); ignoring it: every row is validated", folder, e)
        return None


def _manifest(folder: Path) -> dict[str, dict[str, Any]]:
    manifest = cachefiles.read_json(folder / MANIFEST_FILE)
    if manifest.get("format") != _FORMAT:
        raise _Damaged(f"{MANIFEST_FILE} is not a manifest this version writes")
    sources = manifest.get("sources")
    if not isinstance(sources, dict):
        raise _Damaged(f"{MANIFEST_FILE}: 'sources' is not a table")
    for entry in sources.values():
        ok = (isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("signature", "file", "sha256"))
              and isinstance(entry.get("rows"), int) and not isinstance(entry.get("rows"), bool)
              and isinstance(entry.get("date_formats"), list)
              and all(isinstance(f, str) for f in entry["date_formats"])
              and isinstance(entry.get("damaged"), list) and len(entry["damaged"]) == 2
              and all(isinstance(d, bool) for d in entry["damaged"])
              and entry["file"] == Path(entry["file"]).name and entry["file"].endswith(".parquet"))
        if not ok:
            raise _Damaged(f"{MANIFEST_FILE}: an entry of 'sources' is not one this version writes")
    return sources


def _read(folder: Path, entry: dict[str, Any]) -> Kept:
    path = folder / entry["file"]
    cachefiles.check(path, entry["sha256"])
    frame = cachefiles.read_table(path)
    if dict(frame.schema) != KEPT_SCHEMA:
        raise _Damaged(f"{path.name} has other columns or types than the cache writes")
    if frame.height != entry["rows"]:
        raise _Damaged(f"{path.name} holds another number of rows than {MANIFEST_FILE} says")
    if frame[KEY[0]].is_duplicated().any() and frame.select(pl.struct(KEY).is_duplicated().any()).item():
        raise _Damaged(f"{path.name} holds a key twice")
    return Kept(frame, Context(tuple(entry["date_formats"]), (entry["damaged"][0], entry["damaged"][1])))


class Writer:
    """Tonight's kept rows, a file per source, into `<work>/ingest_cache/`, written in a thread of their own
    while the next list is read; `close` waits for them (a failed write fails there) and writes the manifest."""

    def __init__(self, work: Path) -> None:
        self.folder = work / CACHE_DIR
        self.folder.mkdir()
        self.sources: dict[str, dict[str, Any]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._writes: list[Future[None]] = []

    def add(self, source: str, sig: str, kept: Kept) -> None:
        name = f"source_{len(self.sources) + 1}.parquet"
        self.sources[source] = {"signature": sig, "file": name, "rows": kept.frame.height,
                                "date_formats": list(kept.context.date_formats), "damaged": list(kept.context.damaged)}
        self._writes.append(self._pool.submit(self._write, self.sources[source], kept.frame))

    def _write(self, entry: dict[str, Any], frame: pl.DataFrame) -> None:
        frame.write_parquet(self.folder / entry["file"], compression="lz4", statistics=False)
        entry["sha256"] = sha256_file(self.folder / entry["file"])

    def abandon(self) -> None:
        """Wait for the writes under way, whatever they give (the run failed: the staging folder goes)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        try:
            for w in self._writes:
                w.result()
        finally:
            self._pool.shutdown()
        write_private(self.folder / MANIFEST_FILE,
                      json.dumps({"format": _FORMAT, "sources": self.sources}, indent=2) + "\n")
