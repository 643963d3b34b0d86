"""Why a pair scored what it scored: the `pair_evidence` view, Splink's waterfall as rows.

For every pair of `duplicate_pairs`: step 0 the prior (`model_levels`, log2(λ/(1-λ))), then one step per
comparison in the model's order with the pair's level, its label and the pair's weight (`w_<comparison>`,
bits; a term-frequency level's differs from the level's average `model_weight`), and `cumulative`, the
prior plus the weights so far, with its `probability` 1 / (1 + 2^-cumulative). The last comparison's
cumulative is the pair's match_weight, and its probability the published match_probability, unless a hold
keeps the pair below a claim: then one more step, `tahan`, with the hold's code and rule, no weight, and the
published (held) probability. Query it with

    SELECT step, comparison, level, label, weight, cumulative, probability
    FROM pair_evidence WHERE pair_id = '...' ORDER BY step
"""

from __future__ import annotations

from collections.abc import Sequence

from dpt_pipeline.core.schema import MODEL_HOLD, MODEL_PRIOR

VIEW = "pair_evidence"
NEEDS = ("duplicate_pairs", "model_levels")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def view_sql(comparisons: Sequence[str]) -> str:
    """The SELECT of the `pair_evidence` view over duplicate_pairs (a level column `<c>` and a weight column
    `w_<c>` per comparison `c`) and model_levels."""
    cols = ", ".join(f"{_q(c)}, {_q('w_' + c)}" for c in comparisons)
    into = ", ".join(f"({_q(c)}, {_q('w_' + c)}) AS {_q(c)}" for c in comparisons)
    return f"""
        WITH prior AS (SELECT label, weight FROM model_levels WHERE comparison = '{MODEL_PRIOR}'),
        levels AS (SELECT pair_id, {cols} FROM duplicate_pairs),
        steps AS (
            SELECT p.pair_id, 0 AS step, '{MODEL_PRIOR}' AS comparison, 'lambda' AS level, prior.label,
                   prior.weight, prior.weight AS model_weight
            FROM duplicate_pairs p CROSS JOIN prior
            UNION ALL
            SELECT u.pair_id, m.urutan, u.comparison, u.level, m.label, u.weight, m.weight
            FROM levels UNPIVOT INCLUDE NULLS ((level, weight) FOR comparison IN ({into})) u
            JOIN model_levels m ON m.comparison = u.comparison AND m.level = u.level),
        summed AS (
            SELECT *, sum(weight) OVER (PARTITION BY pair_id ORDER BY step ROWS UNBOUNDED PRECEDING) AS cumulative
            FROM steps)
        SELECT pair_id, step, comparison, level, label, weight, model_weight, cumulative,
               1.0 / (1.0 + pow(2.0, -cumulative)) AS probability
        FROM summed
        UNION ALL
        SELECT p.pair_id, h.urutan, '{MODEL_HOLD}', p.tahan, h.label, NULL, NULL, p.match_weight,
               p.match_probability
        FROM duplicate_pairs p JOIN model_levels h ON h.comparison = '{MODEL_HOLD}' AND h.level = p.tahan"""


def comparisons_sql() -> str:
    """The model's comparisons in order, from model_levels (the prior and the holds aside)."""
    return (f"SELECT comparison FROM model_levels WHERE comparison NOT IN ('{MODEL_PRIOR}', '{MODEL_HOLD}') "
            "GROUP BY comparison ORDER BY min(urutan)")
