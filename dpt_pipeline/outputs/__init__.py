"""Stage 5, outputs: everything the run hands to people, written at the end of a run: the DuckDB file and
its views (`publish`), read-only queries (`query`), the HTML report (`report`), the TPS maps (`maps`) and
the border-residents files (`border`). The HTML pages are jinja2 templates in `templates/`
(base.html, report.html, maps.html and their CSS), rendered with autoescaping by `pages`, the one
environment; report and maps compute and format the figures, the templates lay them out.
"""
