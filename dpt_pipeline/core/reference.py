"""Reference data shipped inside the package, the defaults `config` falls back on: the Kemendagri region
table (`REGIONS`) and the known border areas (`BORDER_AREAS`). Package data (pyproject `package-data`), so a
config anywhere, and an installed copy without the repository, finds them."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _packaged(name: str) -> Path:
    # A package installed as folders (pip, editable or not) gives a real path; the readers take paths.
    return Path(str(files("dpt_pipeline.core").joinpath(name)))


REGIONS = _packaged("regions.csv")            # kode, tingkat, jenis, nama, alias (Kemendagri codes, not BPS)
BORDER_AREAS = _packaged("border_areas.toml")  # [[border_areas]] as in [[linkage.border_areas]]
