"""The house rules of the package layout (README, Design): data flows down.

- a stage (a subpackage: ingest, linkage, review, tps, outputs, synth) imports no other stage;
- what stages share lives below all of them (errors, config, io, core) and imports no stage;
- nothing imports `cli`; only `pipeline` and `evaluate` (and the package's lazy face) tie stages together.

Every import in every module is checked, those inside functions too, so a late import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "dpt_pipeline"
STAGES = ("ingest", "linkage", "review", "tps", "outputs", "synth")
# What each shared layer may import, besides itself.
SHARED = {"errors": (), "io": ("errors",), "core": ("errors", "io"), "config": ("errors", "io", "core")}
# starter (`dpt init`) ties the ingest stage's survey of a folder to the config it writes, as evaluate does.
TOP = ("pipeline", "evaluate", "starter", "cli", "__init__")


def _part(dotted: str) -> str:
    """The layer a dotted module name below dpt_pipeline belongs to ('' for the package itself)."""
    return dotted.split(".")[0] if dotted else ""


def imports_of(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, module below dpt_pipeline) of every import of the package in the file at `path`; `from
    dpt_pipeline import x` counts as importing `x`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parts = path.relative_to(package.parent).with_suffix("").parts
    # the package a relative import starts from: the one holding the module (an __init__ holds itself)
    here = list(parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name.removeprefix("dpt_pipeline.")) for a in node.names
                      if a.name.startswith("dpt_pipeline.")]
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:   # relative: resolved against this module's package
                base = here[:len(here) - node.level + 1]
                name = ".".join([*base, *([name] if name else [])])
                if not node.module:   # from . import x: each name is a module of that package
                    found += [(node.lineno, ".".join([*base[1:], a.name])) for a in node.names]
                    continue
            if name == "dpt_pipeline":
                found += [(node.lineno, a.name) for a in node.names]
            elif name.startswith("dpt_pipeline."):
                found.append((node.lineno, name.removeprefix("dpt_pipeline.")))
    return found


def layer_of(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else "__init__"


def allowed(layer: str, target: str) -> bool:
    """May a module of `layer` import the module `target` (below dpt_pipeline)?"""
    t = _part(target)
    if t == "cli":
        return False
    if t in ("", "__version__") or t == layer:
        return True
    if layer in SHARED:
        return t in SHARED[layer]
    if layer in STAGES:
        return t in SHARED
    return layer in TOP


def violations(package: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(package.rglob("*.py")):
        layer = layer_of(path, package)
        for line, target in imports_of(path, package):
            if not allowed(layer, target):
                out.append(f"{path.relative_to(package.parent)}:{line}: {layer} imports {target}")
    return out


def test_no_stage_imports_another_and_nothing_imports_the_cli() -> None:
    assert violations() == []


def test_every_module_belongs_to_a_known_layer() -> None:
    layers = {layer_of(p) for p in PACKAGE.rglob("*.py")}
    assert layers <= {*STAGES, *SHARED, *TOP}, layers - {*STAGES, *SHARED, *TOP}


@pytest.mark.parametrize(("where", "code", "problem"), [
    ("tps/x.py", "from dpt_pipeline.linkage import clustering\n", "tps imports linkage"),
    ("ingest/x.py", "def f():\n    from dpt_pipeline import review\n", "ingest imports review"),
    ("pipeline.py", "from dpt_pipeline.cli import main\n", "pipeline imports cli"),
    ("core/x.py", "from dpt_pipeline.config import Config\n", "core imports config"),
    ("io/x.py", "import dpt_pipeline.outputs.publish\n", "io imports outputs.publish"),
    ("outputs/x.py", "from ..linkage import model\n", "outputs imports linkage"),
])
def test_the_rule_catches_a_stage_reaching_sideways(tmp_path: Path, where: str, code: str, problem: str) -> None:
    root = tmp_path / "dpt_pipeline"
    (root / where).parent.mkdir(parents=True, exist_ok=True)
    (root / where).write_text(code)
    (root / "outputs").mkdir(exist_ok=True)
    (root / "outputs" / "fine.py").write_text("from dpt_pipeline.io.files import FILE_MODE\nfrom . import x\n")
    assert [v.split(": ", 1)[1] for v in violations(root)] == [problem]
