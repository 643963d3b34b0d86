"""Stage 3, review: the duplicate-candidate files a camat works in (one per kecamatan, XLSX or CSV), and
their decisions read back into the database so the next night builds on them.

- `exports`: the rows and files written (masked NIK, status, the record recommended to keep), the
  manifest of an export and the tables that remember it, the pairs a changed record reopened, edited files
  kept aside before the next export, the per-kecamatan summary;
- `imports`: the files read back, each decided row checked against what its file showed (refused, stale,
  superseded, unchanged or stored), the import log, and the import as one transaction;
- `state`: the review tables in the database and the review state read from it;
- `sheet`: the XLSX and CSV layout.

Decoding and separator sniffing are `io.text`'s; what a decision means lives in `core.decisions`.
"""

from dpt_pipeline.review.exports import (
    ASIDE,
    MANIFEST,
    STATUS_BARU,
    STATUS_DIBUKA,
    Exported,
    export,
    export_remembered,
    keep_aside,
    masked_pair,
    reopened_rows,
    summary,
)
from dpt_pipeline.review.imports import (
    REFUSED,
    STALE,
    STORED,
    SUPERSEDED,
    UNCHANGED,
    ImportReport,
    import_files,
    log_rows,
    read_decisions,
)
from dpt_pipeline.review.state import (
    EXPORTS_SCHEMA,
    LOG_SCHEMA,
    ReviewState,
    history,
    read_state,
    table,
)

__all__ = ["ASIDE", "EXPORTS_SCHEMA", "LOG_SCHEMA", "MANIFEST", "REFUSED", "STALE", "STATUS_BARU", "STATUS_DIBUKA",
           "STORED", "SUPERSEDED", "UNCHANGED", "Exported", "ImportReport", "ReviewState", "export",
           "export_remembered", "history", "import_files", "keep_aside", "log_rows", "masked_pair", "read_decisions",
           "read_state", "reopened_rows", "summary", "table"]
