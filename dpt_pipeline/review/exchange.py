"""Transitional: the review stage before it was split into `exports`, `imports` and `state`. Re-exports the
names code outside the package used as `exchange.<name>`; import them from `dpt_pipeline.review` instead.
To be deleted once no module imports `dpt_pipeline.review.exchange`.
"""

from dpt_pipeline.review import (
    ASIDE,
    EXPORTS_SCHEMA,
    LOG_SCHEMA,
    MANIFEST,
    REFUSED,
    STALE,
    STATUS_BARU,
    STATUS_DIBUKA,
    STORED,
    SUPERSEDED,
    UNCHANGED,
    Exported,
    ImportReport,
    ReviewState,
    export,
    history,
    import_files,
    keep_aside,
    log_rows,
    masked_pair,
    read_decisions,
    read_state,
    summary,
    table,
)

__all__ = ["ASIDE", "EXPORTS_SCHEMA", "LOG_SCHEMA", "MANIFEST", "REFUSED", "STALE", "STATUS_BARU", "STATUS_DIBUKA",
           "STORED", "SUPERSEDED", "UNCHANGED", "Exported", "ImportReport", "ReviewState", "export", "history",
           "import_files", "keep_aside", "log_rows", "masked_pair", "read_decisions", "read_state", "summary",
           "table"]
