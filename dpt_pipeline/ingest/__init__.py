"""Stage 1, ingest: every configured voter list (CSV, XLSX, Parquet) read into the canonical voter table,
each row validated; a row that cannot be a voter becomes a reject with its reason, none is lost.

`run(config)` is the stage (`stage`). A source's file becomes text cells (`csvfile` for CSV, `tables` for
XLSX and Parquet, `xlsx` for the stray cells right of a sheet's header), its headers are mapped to the
canonical fields and repeated header rows marked (`headers`), all in `read`; `validate` turns the values into
voters and rejects, `ids` gives the voter ids. `nik` reads the structure of a NIK, `regions` the Kemendagri
region table. `cache` keeps each night's validated rows, so that the next night validates only the rows
whose content changed (the result is a full ingest's).
"""

from dpt_pipeline.ingest.read import RawSource
from dpt_pipeline.ingest.stage import IngestResult, SourceSummary, ingest_source, run

__all__ = ["IngestResult", "RawSource", "SourceSummary", "ingest_source", "run"]
