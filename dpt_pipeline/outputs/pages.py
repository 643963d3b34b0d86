"""The one jinja2 environment of the HTML outputs (the run report and the TPS maps' page), and `render`.

Templates live in `templates/` beside this module (shipped as package data): `base.html` holds the page's
head and its `<style>`, each page extends it and includes its own CSS file (`report.css`, `maps.css`).
Autoescaping is on for every `.html` template, so a value (a desa name, a file name, a reason) is
HTML-escaped where the template puts it and the Python never escapes. trim_blocks / lstrip_blocks let a
template's tags sit on their own lines without leaving blank lines in the page; StrictUndefined turns a
misspelt name in a template into an error instead of an empty cell.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment


@functools.cache
def _env() -> Environment:
    # Built (and jinja2 imported, ~0.1 s) on the first page only: the maps' worker processes import
    # maps.py to draw PNGs and never render a page.
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("dpt_pipeline.outputs", "templates"),
                       autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=StrictUndefined)


def render(template: str, **context: Any) -> str:
    """The page `template` (a file name in templates/) rendered with `context`, autoescaped."""
    return _env().get_template(template).render(**context)
