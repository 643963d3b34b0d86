"""The linkage model: Fellegi-Sunter (`fellegi_sunter`), fitted by EM without labels (`em`), applied to
compared pairs (`scoring`), and improved by reviewers' decisions when they prove it (`learning`)."""

from dpt_pipeline.linkage.model.em import MIN_RULE_PAIRS, TrainingSession, estimate_u, fit
from dpt_pipeline.linkage.model.fellegi_sunter import (
    MAX_MODEL_BYTES,
    ComparisonParams,
    FellegiSunter,
    ModelFileError,
    level_matrix,
)
from dpt_pipeline.linkage.model.learning import with_decisions
from dpt_pipeline.linkage.model.scoring import score, term_frequencies

__all__ = ["MAX_MODEL_BYTES", "MIN_RULE_PAIRS", "ComparisonParams", "FellegiSunter", "ModelFileError",
           "TrainingSession", "estimate_u", "fit", "level_matrix", "score", "term_frequencies", "with_decisions"]
