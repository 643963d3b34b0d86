"""Synthetic voter rolls for the sample data, the tests and the benchmarks (`dpt sample`): three regencies'
lists with the duplicates, look-alikes and damage of real exports, and the truth file that scores a run.
Never real people.

`generator.generate` runs the stages in a fixed order over one random stream (`state`): `population`
(households, persons, the groups set apart, dates and NIKs) over `regions` (desa, RT/RW, addresses; the desa
in `desa.csv`), `names`, `duplicates` (the copies' rows and the TPS), `corruption` (the copies' slips and the
truth cases), `damage` (rejects and damaged voters), `render` (the files as each office writes them);
`formats` holds the files' shapes and the truth's cases and tags, `common` the small helpers.
"""

from dpt_pipeline.synth.generator import CASES, HEADERS, NIK_TAGS, NO_NIK_TAGS, REJECT_TAGS, generate, main

__all__ = ["CASES", "HEADERS", "NIK_TAGS", "NO_NIK_TAGS", "REJECT_TAGS", "generate", "main"]
