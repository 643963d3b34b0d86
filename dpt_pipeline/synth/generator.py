"""Synthetic voter rolls (DPT) for Kutai Timur and its neighbours, with a ground truth.

`generate(out_dir, voters, seed)` writes three voter lists in three KPU-office styles, `truth.csv` (who is
who, what was done to each row) and `rt_coordinates.csv` (a point per desa/RW/RT). It is a pure function of
(voters, seed): the only randomness is `np.random.default_rng(seed)`, drawn in a fixed order, and every
sort is total, so the same arguments give byte-identical files.

Everything is vectorised with numpy/polars; Python loops run only over small things (name lists, desa,
rule tables, corruption kinds, the few malformed rows).

The people: households (KK) of 1-7 adults with an NKK, NIKs built as PP KK CC DDMMYY SSSS (+40 on the day
for women) from the kecamatan of first registration (about 15 % migrants from Sulawesi, Java, Kalimantan
Selatan, NTT...), names from East Kalimantan's mix (Bugis, Banjar, Javanese, Kutai, Dayak, Arabic-Muslim).
Duplicates (same `person_id` on two rows): Dusun Sidrap (Kutim Martadinata RT 19-25 = Bontang Guntung RT
19-25), movers between the lists, double entries within a list; the second copy is corrupted the way real
rolls are (old spelling, Muhammad variants, titles, typos, NIK typos/transpositions, swapped dates...).
Some copies stand for the double registrations that are hard to see: one person with two valid NIKs
(`dua_nik`: the region part typed over, or a second NIK issued elsewhere for the same birth date), a copy
without a usable NIK (`tanpa_nik`), a placeholder birth date on the copy only (`tanggal_placeholder`), and
a NIK slip together with a date slip (`dua_salah`).
Hard negatives (different persons that look alike): twins, sons named after their father, a relative's NIK
on someone else's row, common names with the same birth year. Malformed rows: rejects (empty name, too
few/many columns, separator-only lines) and damaged-but-valid voters (Excel NIK, apostrophes, fake NIKs...).

The stages live in their own modules (see the package's docstring); this module ties them together in the
order the draws are made.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dpt_pipeline.synth.corruption import Corruption
from dpt_pipeline.synth.damage import Damage
from dpt_pipeline.synth.duplicates import Duplicates
from dpt_pipeline.synth.formats import CASES, HEADERS, NIK_TAGS, NO_NIK_TAGS, REJECT_TAGS, SOURCES
from dpt_pipeline.synth.names import Names
from dpt_pipeline.synth.population import REF_DATE, Population
from dpt_pipeline.synth.render import Rendering

__all__ = [
    "CASES",
    "HEADERS",
    "NIK_TAGS",
    "NO_NIK_TAGS",
    "REF_DATE",
    "REJECT_TAGS",
    "SOURCES",
    "generate",
]


class _Gen(Population, Names, Duplicates, Corruption, Damage, Rendering):
    """One generator run: the shared state (state._State) with every stage's methods."""


def generate(out_dir: Path, voters: int, seed: int) -> dict[str, object]:
    """Write the synthetic lists into out_dir; return a summary (files, rows per source, counts per case).

    Same (voters, seed) -> byte-identical files. `voters` is the number of data rows over the three lists.
    """
    if voters < 500:
        raise ValueError("voters must be at least 500")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    g = _Gen(voters, seed)
    g.households()
    g.select_groups()
    g.names()
    g.identity()
    g.rows()
    g.corrupt()
    g.tps()
    g.malformed()
    return g.render(out_dir)


def main(argv: list[str] | None = None) -> int:
    """Command line: write the lists (--out, --voters, --seed) and print the summary as JSON."""
    ap = argparse.ArgumentParser(description="Write synthetic DPT lists with a ground truth.")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--voters", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=20261128)
    a = ap.parse_args(argv)
    print(json.dumps(generate(a.out, a.voters, a.seed), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
