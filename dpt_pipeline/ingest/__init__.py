"""Stage 1, ingest: every configured voter list (CSV, XLSX, Parquet) read into the canonical voter table,
each row validated; a row that cannot be a voter becomes a reject with its reason, none is lost.

`run(config)` is the stage; `nik` reads the structure of a NIK, `regions` the Kemendagri region table.
"""

from dpt_pipeline.ingest.read import IngestResult, RawSource, SourceSummary, ingest_source, run

__all__ = ["IngestResult", "RawSource", "SourceSummary", "ingest_source", "run"]
