"""Every data file inside the package is listed in pyproject's package-data: a non-editable install (pip
install .) ships only the files listed there, and the defaults (the region table, the border areas, the
report templates) must be there without the repository."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_data_file_of_the_package_is_package_data() -> None:
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    missing = []
    for path in sorted((ROOT / "dpt_pipeline").rglob("*")):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(ROOT)
        # the package holding it: the deepest folder with an __init__.py
        pkg = next(p for p in rel.parents if (ROOT / p / "__init__.py").exists())
        inside = rel.relative_to(pkg).as_posix()
        globs = listed.get(".".join(pkg.parts), [])
        if not any(fnmatch.fnmatch(inside, g) for g in globs):
            missing.append(f"{rel} (add to [tool.setuptools.package-data] \"{'.'.join(pkg.parts)}\")")
    assert missing == []
