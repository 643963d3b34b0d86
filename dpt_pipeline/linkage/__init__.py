"""Stage 2, linkage: the same person registered twice, within a list and across regencies.

standardize (names, places, dates) -> blocking (candidate pairs) -> comparisons (a level per comparison) ->
model (Fellegi-Sunter: EM, scoring, learning from decisions) -> clustering (duplicate groups). `dpt` declares
the DPT comparisons, `febrl` the FEBRL ones; `incremental` keeps last night's comparisons; `night` is the
nightly run's linkage, `linking.link` the same engine for a notebook:

    from dpt_pipeline.linkage import Comparison, Level, link
"""

from dpt_pipeline.linkage.blocking import BlockingPass, NikEditPass, PassReport, candidate_pairs, default_passes
from dpt_pipeline.linkage.comparisons import Comparison, ComparisonSet, Hold, Level, Similarity, either_null, same, sim
from dpt_pipeline.linkage.dpt import dpt_comparisons, dpt_training
from dpt_pipeline.linkage.linking import Linked, link
from dpt_pipeline.linkage.model import FellegiSunter, TrainingSession, fit, score

__all__ = ["BlockingPass", "Comparison", "ComparisonSet", "FellegiSunter", "Hold", "Level", "Linked", "NikEditPass",
           "PassReport", "Similarity", "TrainingSession", "candidate_pairs", "default_passes", "dpt_comparisons",
           "dpt_training", "either_null", "fit", "link", "same", "score", "sim"]
