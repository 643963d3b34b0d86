"""Synthetic voter rolls for the sample data, the tests and the benchmarks (`dpt sample`): three regencies'
lists with the duplicates, look-alikes and damage of real exports, and the truth file that scores a run.
Never real people.
"""

from dpt_pipeline.synth.generate import CASES, HEADERS, NIK_TAGS, NO_NIK_TAGS, REJECT_TAGS, generate, main

__all__ = ["CASES", "HEADERS", "NIK_TAGS", "NO_NIK_TAGS", "REJECT_TAGS", "generate", "main"]
