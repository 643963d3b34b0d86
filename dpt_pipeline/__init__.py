"""dpt-pipeline: clean the Indonesian voter roll (DPT) and map voters to polling stations (TPS).

    import dpt_pipeline as dpt
    result = dpt.run(dpt.load_config("config/pipeline.toml"))     # what `dpt run` does
    linked = dpt.link(voters)                                      # the linkage engine on a polars frame

The names below are loaded when first used, so that `import dpt_pipeline` (and the `dpt` command's start)
stays cheap. The house: `pipeline` runs the stages (`ingest`, `linkage`, `review`, `tps`, `outputs`) in
order over the shared layers (`io`, `core`, `config`, `errors`); `synth` makes the sample rolls.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module that holds it
_PUBLIC = {
    "run": "dpt_pipeline.pipeline", "RunResult": "dpt_pipeline.pipeline",
    "Config": "dpt_pipeline.config", "load_config": "dpt_pipeline.config",
    "link": "dpt_pipeline.linkage", "Linked": "dpt_pipeline.linkage", "Comparison": "dpt_pipeline.linkage",
    "ComparisonSet": "dpt_pipeline.linkage", "Level": "dpt_pipeline.linkage",
    "BlockingPass": "dpt_pipeline.linkage", "TrainingSession": "dpt_pipeline.linkage",
    "dpt_comparisons": "dpt_pipeline.linkage",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'dpt_pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
