"""What the benchmarks share: generated data in benchmarks/out, and a copy of the sample config pointed at it."""

from __future__ import annotations

import random
import shutil
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


def change_list(path: Path, share: float, rng: random.Random) -> int:
    """A night's change of one list, in place: `share`/2 of its lines removed, as many of them registered
    again at the end (a double registration); returns the rows changed."""
    raw = path.read_bytes()
    sep = b"\r\n" if b"\r\n" in raw[:100_000] else b"\n"
    lines = raw.split(sep)
    head, body = lines[0], [ln for ln in lines[1:] if ln.strip()]
    k = max(1, int(len(body) * share / 2))
    drop = set(rng.sample(range(len(body)), k))
    again = [body[i] for i in rng.sample(range(len(body)), k)]
    kept = [ln for i, ln in enumerate(body) if i not in drop]
    path.write_bytes(sep.join([head, *kept, *again]) + sep)
    return 2 * k


def keep_originals(data: Path) -> tuple[list[Path], Path]:
    """The lists in `data` and the folder their generated copies are kept in (made once), so that a changed
    list can be put back."""
    lists = sorted(data.glob("dpt_*.csv"))
    originals = data / "originals"
    if not originals.exists():
        originals.mkdir()
        for p in lists:
            shutil.copy(p, originals / p.name)
    return lists, originals
