"""Learning from reviewers' decisions: their SAMA pairs estimate m beside EM, adopted only when a held-out
share of the decisions says the claims get no worse."""

from __future__ import annotations

import logging

import numpy as np
import polars as pl

from dpt_pipeline.core import decisions, frames
from dpt_pipeline.core.thresholds import CLAIM
from dpt_pipeline.linkage.comparisons import NULL, ComparisonSet
from dpt_pipeline.linkage.model.fellegi_sunter import ComparisonParams, FellegiSunter, level_matrix
from dpt_pipeline.linkage.model.scoring import score

log = logging.getLogger(__name__)


def with_decisions(model: FellegiSunter, same_pairs: pl.DataFrame, cset: ComparisonSet,
                   prior_pairs: float = 50.0) -> FellegiSunter:
    """m counted on pairs reviewers decided are one person (their level columns), blended with EM's m as
    if EM's estimate were `prior_pairs` such pairs. Fixed-weight levels stay fixed; u and lambda stay."""
    levels = level_matrix(same_pairs, cset)
    params = []
    for k, (c, p) in enumerate(zip(cset.comparisons, model.comparisons, strict=True)):
        counts = np.bincount(levels[:, k], minlength=len(c.codes)).astype(float) if len(levels) else \
            np.zeros(len(c.codes))
        counts[NULL] = 0
        m_em = np.asarray(p.m, dtype=float)
        m = (counts + prior_pairs * m_em) / (counts[1:].sum() + prior_pairs)
        m[NULL] = 0.0
        params.append(ComparisonParams(p.name, list(p.codes), [float(x) for x in m], list(p.u), dict(p.fixed),
                                       list(p.conditions), list(p.u_plain)))
    return FellegiSunter(params, model.lambda_, model.em_iterations, model.random_pairs, dict(model.prior))


def learn_from_decisions(model: FellegiSunter, compared: frames.Frame, records: pl.DataFrame, cset: ComparisonSet,
                         decided: pl.DataFrame, minimum: int) -> tuple[FellegiSunter, dict[str, object]]:
    """Once reviewers have decided `minimum` pairs each way, their SAMA pairs may estimate m beside EM. A
    fifth of the decisions is held out (chosen by pair_id, so the same every night); the model learnt on
    the rest is adopted, learning from them all, only if the held-out F1 does not fall. `info` says which
    happened and why."""
    labelled = frames.collect(decided.lazy().filter(pl.col("keputusan").is_in([decisions.SAMA, decisions.BEDA]))
                              .join(compared.lazy(), on=["rid_l", "rid_r"], how="inner"), compared)
    n_same = int((labelled["keputusan"] == decisions.SAMA).sum())
    n_diff = labelled.height - n_same
    info: dict[str, object] = {"sama": n_same, "beda": n_diff, "minimum": minimum, "used": False}
    if n_same < minimum or n_diff < minimum:
        info["reason"] = f"fewer than {minimum} SAMA or BEDA decisions on compared pairs"
        return model, info
    held = labelled["pair_id"].str.slice(0, 1).is_in(["0", "1", "2"])
    train, test = labelled.filter(~held), labelled.filter(held)
    if test.height == 0 or train.height == 0:
        info["reason"] = "no decisions to hold out, so no way to check that learning helps"
        return model, info

    def levels_of_same(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("keputusan") == decisions.SAMA)

    def measure(m: FellegiSunter) -> dict[str, float]:
        s = score(test, records, cset, m)
        claimed = s["match_probability"] >= CLAIM
        same = s["keputusan"] == decisions.SAMA
        tp = int((claimed & same).sum())
        p, r = tp / max(int(claimed.sum()), 1), tp / max(int(same.sum()), 1)
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4)}

    info["held_out"] = test.height
    info["before"] = measure(model)
    info["after"] = measure(with_decisions(model, levels_of_same(train), cset))
    before, after = info["before"]["f1"], info["after"]["f1"]  # type: ignore[index]
    if after < before:
        info["reason"] = f"held-out F1 would fall ({before} -> {after}): the EM model is kept"
        log.warning("the model did not learn from the camat's decisions: on the decisions held back to check it, "
                    "it would get worse (F1 from %s to %s); the model fitted tonight is used", before, after)
        return model, info
    info["used"] = True
    info["reason"] = f"held-out F1 {before} -> {after}"
    log.info("the model learned from %s SAMA and %s BEDA decisions (F1 on the decisions held back to check it: "
             "%s -> %s)", f"{n_same:,}", f"{n_diff:,}", before, after)
    return with_decisions(model, levels_of_same(labelled), cset), info
