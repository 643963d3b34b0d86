"""Stage 5, outputs: everything the run hands to people, written at the end of a run: the DuckDB file and
its views (`publish`), read-only queries (`query`), the HTML report (`report`), the TPS maps (`maps`) and
the border-residents files (`border`). The HTML comes from the templates in `templates/`.
"""
