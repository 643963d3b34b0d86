"""The linkage's thresholds, in one place: what the pipeline claims, and where a held pair stands. The
review threshold (which pairs a person is shown) is a setting: `[linkage] review_threshold`."""

from __future__ import annotations

# match_probability at or above: the pipeline's claim that both rows are one person (duplicate groups,
# `claimed` in the run summary, the report, the border report, `dpt evaluate`).
CLAIM = 0.5
# A held pair's probability is kept at most at this (`compare.Hold`): below a claim, and the highest review
# threshold a config may set (config.REVIEW_THRESHOLD), so a held pair that scores that high is listed.
HELD_AT = 0.49
# The share of true double registrations the prior's deterministic rule (Bawaslu's NIK, name and birth date)
# is taken to find: the default of `[linkage] prior_recall` and of the public `linkage.link`.
PRIOR_RECALL = 0.5
