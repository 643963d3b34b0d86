"""`dpt evaluate`: the published duplicate pairs against a truth file (the generator's truth.csv, or any
file mapping source and source_row to a person id): precision, recall and F1 of the pipeline's claims
(pairs with match_probability >= 0.5, and the pairs implied by its duplicate groups), and the hard
negatives (twins, father and son, copied NIK, namesakes) it claimed wrongly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from dpt_pipeline.errors import InputError

HARD_NEGATIVES = ("kembar", "ayah_anak", "nik_salinan", "nama_umum")


@dataclass
class Scores:
    true_pairs: int
    claimed: int
    true_positives: int
    precision: float
    recall: float
    f1: float


@dataclass
class Evaluation:
    pairs: Scores
    groups: Scores
    hard_negatives_claimed: dict[str, int] = field(default_factory=dict)
    hard_negative_pairs: dict[str, int] = field(default_factory=dict)
    true_pairs_not_candidates: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _scores(claimed: pl.DataFrame, truth_pairs: pl.DataFrame) -> Scores:
    tp = claimed.join(truth_pairs, on=["voter_id_l", "voter_id_r"], how="semi").height
    p = tp / claimed.height if claimed.height else 1.0
    r = tp / truth_pairs.height if truth_pairs.height else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Scores(truth_pairs.height, claimed.height, tp, round(p, 4), round(r, 4), round(f1, 4))


def read_truth(path: Path) -> pl.DataFrame:
    try:
        truth = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as e:
        raise InputError(f"cannot be read: {e}", path=path) from e
    missing = {"source", "source_row", "person_id"} - set(truth.columns)
    if missing:
        raise InputError(f"truth file lacks columns {sorted(missing)}", path=path, row=0)
    if "case" not in truth.columns:
        truth = truth.with_columns(pl.lit(None, dtype=pl.String).alias("case"))
    return truth.select("source", pl.col("source_row").cast(pl.Int64), "person_id", "case")


def evaluate(database: Path, truth_path: Path, threshold: float = 0.5) -> Evaluation:
    truth = read_truth(truth_path)
    with duckdb.connect(str(database), read_only=True) as con:
        voters = con.sql("SELECT voter_id, source, source_row FROM voters").pl()
        pairs = con.sql("SELECT voter_id_l, voter_id_r, match_probability FROM duplicate_pairs").pl()
        groups = con.sql("SELECT group_id, voter_id FROM duplicate_groups").pl()
    people = voters.join(truth, on=["source", "source_row"], how="inner").filter(pl.col("person_id").is_not_null())

    def all_pairs(members: pl.DataFrame, key: str) -> pl.DataFrame:
        m = members.select(key, "voter_id")
        return (m.join(m, on=key, suffix="_r").filter(pl.col("voter_id") < pl.col("voter_id_r"))
                .select(pl.col("voter_id").alias("voter_id_l"), "voter_id_r").unique())

    truth_pairs = all_pairs(people, "person_id")
    claimed = pairs.filter(pl.col("match_probability") >= threshold).select("voter_id_l", "voter_id_r")
    grouped = all_pairs(groups, "group_id")
    case_of = people.select("voter_id", "person_id", "case")
    wrong = (claimed.join(case_of.rename({"voter_id": "voter_id_l"}), on="voter_id_l")
             .join(case_of.rename({"voter_id": "voter_id_r"}), on="voter_id_r", suffix="_r")
             .filter(pl.col("person_id") != pl.col("person_id_r")))
    listed = (pairs.join(case_of.rename({"voter_id": "voter_id_l"}), on="voter_id_l")
              .join(case_of.rename({"voter_id": "voter_id_r"}), on="voter_id_r", suffix="_r")
              .filter(pl.col("person_id") != pl.col("person_id_r")))
    hard_claimed = {c: wrong.filter((pl.col("case") == c) & (pl.col("case_r") == c)).height for c in HARD_NEGATIVES}
    hard_listed = {c: listed.filter((pl.col("case") == c) & (pl.col("case_r") == c)).height for c in HARD_NEGATIVES}
    return Evaluation(_scores(claimed, truth_pairs), _scores(grouped, truth_pairs), hard_claimed, hard_listed,
                      truth_pairs.join(pairs, on=["voter_id_l", "voter_id_r"], how="anti").height)


def format_report(ev: Evaluation) -> str:
    lines = ["               true pairs  claimed  correct  precision  recall      F1"]
    for name, s in (("pairs >= 0.5", ev.pairs), ("groups", ev.groups)):
        lines.append(f"{name:<14} {s.true_pairs:>10} {s.claimed:>8} {s.true_positives:>8} {s.precision:>10.4f} "
                     f"{s.recall:>7.4f} {s.f1:>7.4f}")
    lines.append("hard negatives claimed as one person (listed for review): " + ", ".join(
        f"{k} {v} ({ev.hard_negative_pairs.get(k, 0)})" for k, v in ev.hard_negatives_claimed.items()))
    lines.append(f"true pairs below the review threshold or never compared: {ev.true_pairs_not_candidates}")
    return "\n".join(lines)


def evaluate_decisions(database: Path, threshold: float = 0.5) -> Scores:
    """The pipeline's claims (pairs >= threshold) against reviewers' latest decisions: SAMA pairs are true
    pairs, BEDA pairs are not; RAGU and undecided pairs are left out."""
    from dpt_pipeline import decisions, review

    with duckdb.connect(str(database), read_only=True) as con:
        pairs = con.sql("SELECT pair_id, match_probability FROM duplicate_pairs").pl()
        history = review.history(con)
    decided = decisions.standing(history).filter(pl.col("keputusan").is_in([decisions.SAMA, decisions.BEDA]))
    j = decided.join(pairs, on="pair_id", how="left").with_columns(
        (pl.col("match_probability").fill_null(0.0) >= threshold).alias("claimed"),
        (pl.col("keputusan") == decisions.SAMA).alias("same"))
    tp = int((j["claimed"] & j["same"]).sum())
    claimed = int(j["claimed"].sum())
    true = int(j["same"].sum())
    p = tp / claimed if claimed else 1.0
    r = tp / true if true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Scores(true, claimed, tp, round(p, 4), round(r, 4), round(f1, 4))


def simulated_reviewer(files: list[Path], truth_path: Path, out_dir: Path, *, share: float = 1.0,
                       wrong: float = 0.0, seed: int = 0) -> list[Path]:
    """A camat, for measurement: decides a random `share` of the undecided rows of each review CSV from the
    truth file (a `wrong` share of them wrongly), keeps RAGU rows as they are, and saves the files under
    `out_dir` as Excel in Indonesian settings would (`;`, UTF-8 with BOM). Returns the files written."""
    import numpy as np

    from dpt_pipeline.publish import write_csv_for_excel

    truth = read_truth(truth_path).select("source", "source_row", "person_id")
    rng = np.random.default_rng(seed)
    written = []
    for f in files:
        rows = pl.read_csv(f, separator=";", infer_schema=False, encoding="utf8-lossy")
        if rows.height == 0:
            continue
        person = rows.select(pl.int_range(pl.len()).alias("_i"), "sumber_1", "baris_1", "sumber_2", "baris_2")
        for i in (1, 2):
            person = person.join(truth.select(pl.col("source").alias(f"sumber_{i}"),
                                              pl.col("source_row").cast(pl.String).alias(f"baris_{i}"),
                                              pl.col("person_id").alias(f"p{i}")),
                                 on=[f"sumber_{i}", f"baris_{i}"], how="left")
        person = person.sort("_i")
        same = (person["p1"] == person["p2"]).fill_null(False).to_numpy()
        decide = rng.random(rows.height) < share
        flip = rng.random(rows.height) < wrong
        word = np.where(same ^ flip, "SAMA", "BEDA")
        open_row = rows["keputusan"].is_null().to_numpy()
        new = np.where(decide & open_row, word, rows["keputusan"].fill_null("").to_numpy())
        out = rows.with_columns(pl.Series("keputusan", new).replace("", None))
        # Cells as the file had them: the neutralising quote is the spreadsheet's, not the reviewer's.
        out = out.with_columns([pl.col(c).str.strip_prefix("'") for c, t in out.schema.items() if t == pl.String])
        dst = out_dir / f.parent.name / f.name
        written.append(write_csv_for_excel(out, dst))
    return written
