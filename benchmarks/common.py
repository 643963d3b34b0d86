"""What the benchmarks share: generated data in benchmarks/out, and a copy of the sample config pointed at it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"


def generate(data: Path, voters: int, seed: int) -> bool:
    """Generate `voters` with the project's generator into `data`, unless it is there already; True if it
    was generated now."""
    if (data / "truth.csv").exists():
        return False
    subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "sample", "--out", str(data), "--voters", str(voters),
                    "--seed", str(seed), "-q"], check=True)
    return True


def config(data: Path, name: str = "bench.toml", replace: dict[str, str] | None = None) -> Path:
    """A copy of config/pipeline.toml that reads the lists in `data` and writes to `data`/out, with the
    further text swaps in `replace` (old -> new)."""
    text = ((ROOT / "config" / "pipeline.toml").read_text()
            .replace("../sample_data/", "").replace('dir = "../reports"', 'dir = "out"')
            .replace('regions = "regions.csv"', f'regions = "{ROOT / "dpt_pipeline" / "core" / "regions.csv"}"'))
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    path = data / name
    path.write_text(text)
    return path
