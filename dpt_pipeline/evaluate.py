"""`dpt evaluate`: the published duplicate pairs against a truth file (the generator's truth.csv, or any
file mapping source and source_row to a person id, with an optional `case` column).

- precision, recall and F1 of the pipeline's claims (pairs with match_probability >= 0.5, and the pairs
  implied by its duplicate groups);
- how many true pairs are listed for review at all (every pair in duplicate_pairs, claimed or not);
- blocking recall: the true pairs among the candidate pairs the run compared, read from the incremental
  cache the run leaves in `<output>/cache/` (unknown without it), and candidate pairs per record;
- review load: listed pairs per 1,000 voters and the share of them that are true pairs, also for the pairs
  a camat actually decides (listed, not claimed);
- per case of the truth file: a true pair's case is that of its row which is not a first registration
  (`duplikat_asal`/`unik`), else the left row's; for each, true pairs, candidates, listed, claimed, recall.
  The hard negatives (twins, father and son, copied NIK, namesakes) count the pairs of two different
  persons who both carry the case that were candidates, listed or claimed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from dpt_pipeline.config import BorderArea
from dpt_pipeline.core.thresholds import CLAIM
from dpt_pipeline.errors import InputError
from dpt_pipeline.linkage.incremental import IDS_FILE, PAIRS_FILE

HARD_NEGATIVES = ("kembar", "ayah_anak", "nik_salinan", "nama_umum")
# Cases of a row that is a person's first (or only) registration: a pair takes the case of its other row.
FIRST_CASES = ("duplikat_asal", "unik")
PAIR = ["voter_id_l", "voter_id_r"]


@dataclass
class Scores:
    true_pairs: int
    claimed: int
    true_positives: int
    precision: float
    recall: float
    f1: float


@dataclass
class CaseFigures:
    """One case of the truth file. true_pairs .. listed_share: the true pairs whose case this is (recall =
    claimed / true pairs; None when there are none). For a hard negative also wrong_*: the pairs of two
    different persons who both carry the case among the candidates, the listed and the claimed pairs."""
    hard_negative: bool
    true_pairs: int
    candidates: int | None
    listed: int
    claimed: int
    recall: float | None
    listed_share: float | None
    wrong_candidates: int | None = None
    wrong_listed: int | None = None
    wrong_claimed: int | None = None


@dataclass
class ReviewLoad:
    """Listed pairs (all of duplicate_pairs) and the pairs to decide (listed, below the claim threshold)."""
    voters: int
    listed_pairs: int
    listed_per_1000_voters: float
    listed_true_share: float | None
    to_decide_pairs: int
    to_decide_per_1000_voters: float
    to_decide_true_share: float | None


@dataclass
class Evaluation:
    pairs: Scores
    groups: Scores
    hard_negatives_claimed: dict[str, int] = field(default_factory=dict)
    hard_negative_pairs: dict[str, int] = field(default_factory=dict)   # listed (claimed or not)
    true_pairs_not_candidates: int = 0   # kept for older readers: the true pairs never listed (= never_listed)
    listed_share: float = 1.0            # true pairs listed (claimed or not) / true pairs
    never_listed: int = 0                # true pairs below the review threshold or never compared
    blocking_recall: float | None = None   # true pairs among the candidate pairs / true pairs
    candidate_pairs: int | None = None
    candidates_per_record: float | None = None
    not_candidates: int | None = None    # true pairs blocking never proposed
    blocking_note: str | None = "no cache"   # why blocking figures are unknown, None when known
    review_load: ReviewLoad | None = None
    by_case: dict[str, CaseFigures] = field(default_factory=dict)
    threshold: float = CLAIM             # claimed: match_probability >= threshold
    # per configured border area: the true pairs with one record on each of two of its sides
    by_area: dict[str, CaseFigures] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _scores(claimed: pl.DataFrame, truth_pairs: pl.DataFrame) -> Scores:
    tp = claimed.join(truth_pairs, on=PAIR, how="semi").height
    p = tp / claimed.height if claimed.height else 1.0
    r = tp / truth_pairs.height if truth_pairs.height else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Scores(truth_pairs.height, claimed.height, tp, round(p, 4), round(r, 4), round(f1, 4))


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


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


def read_candidates(cache_dir: Path | None, voter_ids: pl.Series, among: pl.Series | None = None
                    ) -> tuple[pl.DataFrame | None, str | None, int | None]:
    """The candidate pairs (voter_id_l < voter_id_r) the run compared, from its incremental cache, None and
    how many there are; or None, why they are unknown (no cache, unreadable, made for other voters than the
    database's) and None.
    With `among` (voter_ids), only the pairs of two of them: at ten million voters the candidates are 278
    million pairs, too many to hold as pairs of voter_id strings."""
    if cache_dir is None or not (cache_dir / PAIRS_FILE).is_file() or not (cache_dir / IDS_FILE).is_file():
        return None, "no cache", None
    try:
        ids = pl.read_parquet(cache_dir / IDS_FILE, columns=["voter_id"]).with_row_index("rid")
        rids = pl.read_parquet(cache_dir / PAIRS_FILE, columns=["rid_l", "rid_r"])
    except (OSError, pl.exceptions.PolarsError) as e:
        return None, f"cache unreadable ({type(e).__name__})", None
    if ids.height != voter_ids.len() or ids.join(pl.DataFrame({"voter_id": voter_ids}), on="voter_id",
                                                 how="anti").height:
        return None, "cache made for other voters than the database's", None
    ids = ids.with_columns(pl.col("rid").cast(rids.schema["rid_l"]))
    total = rids.height
    if total and rids.select(pl.max_horizontal(pl.col("rid_l").max(), pl.col("rid_r").max())).item() >= ids.height:
        return None, "cache damaged (a pair names a record beyond its list of voters)", None
    if among is not None:
        keep = ids["voter_id"].is_in(among.implode()).to_numpy()
        rids = rids.filter(pl.Series(keep[rids["rid_l"].to_numpy()] & keep[rids["rid_r"].to_numpy()]))
    pairs = (rids.join(ids.rename({"rid": "rid_l", "voter_id": "a"}), on="rid_l")
             .join(ids.rename({"rid": "rid_r", "voter_id": "b"}), on="rid_r")
             .select(pl.min_horizontal("a", "b").alias("voter_id_l"), pl.max_horizontal("a", "b").alias("voter_id_r"))
             .unique())
    return pairs, None, total


def evaluate(database: Path, truth_path: Path, threshold: float = CLAIM, cache_dir: Path | None = None,
             border_areas: Sequence[BorderArea] = ()) -> Evaluation:
    """The published duplicates in `database` against the truth file; blocking figures from the incremental
    cache in `cache_dir` (`<output>/cache`), unknown when it is None or missing; figures for the true pairs
    across each of `border_areas` (one record on each of two sides)."""
    truth = read_truth(truth_path)
    with duckdb.connect(str(database), read_only=True) as con:
        voters = con.sql("SELECT voter_id, source, source_row, kode_desa, rt FROM voters").pl()
        pairs = con.sql("SELECT voter_id_l, voter_id_r, match_probability FROM duplicate_pairs").pl()
        groups = con.sql("SELECT group_id, voter_id FROM duplicate_groups").pl()
    pairs = pairs.select(pl.min_horizontal(PAIR).alias("voter_id_l"), pl.max_horizontal(PAIR).alias("voter_id_r"),
                         "match_probability").unique(PAIR)
    people = voters.join(truth, on=["source", "source_row"], how="inner").filter(pl.col("person_id").is_not_null())

    def all_pairs(members: pl.DataFrame, key: str) -> pl.DataFrame:
        m = members.select(key, "voter_id")
        return (m.join(m, on=key, suffix="_r").filter(pl.col("voter_id") < pl.col("voter_id_r"))
                .select(pl.col("voter_id").alias("voter_id_l"), "voter_id_r").unique())

    case_of = people.select("voter_id", "person_id", "case")

    def with_people(frame: pl.DataFrame) -> pl.DataFrame:
        return (frame.join(case_of.rename({"voter_id": "voter_id_l"}), on="voter_id_l")
                .join(case_of.rename({"voter_id": "voter_id_r"}), on="voter_id_r", suffix="_r"))

    truth_pairs = all_pairs(people, "person_id")
    # The candidates the figures read: pairs of two records of one person, or of two hard negatives.
    asked = pl.concat([truth_pairs["voter_id_l"], truth_pairs["voter_id_r"],
                       people.filter(pl.col("case").is_in(HARD_NEGATIVES))["voter_id"]]).unique()
    candidates, note, n_cand = read_candidates(cache_dir, voters["voter_id"], asked)
    claimed = pairs.filter(pl.col("match_probability") >= threshold).select(PAIR)
    listed = pairs.select(PAIR)
    grouped = all_pairs(groups, "group_id")

    # hard negatives: pairs of two different persons who both carry the case
    def wrong(frame: pl.DataFrame) -> dict[str, int]:
        w = (with_people(frame).filter((pl.col("person_id") != pl.col("person_id_r"))
                                       & (pl.col("case") == pl.col("case_r")) & pl.col("case").is_in(HARD_NEGATIVES))
             .group_by("case").len())
        got = dict(zip(w["case"].to_list(), w["len"].to_list(), strict=True))
        return {c: int(got.get(c, 0)) for c in HARD_NEGATIVES}

    hard_claimed, hard_listed = wrong(claimed), wrong(listed)
    hard_cand = wrong(candidates) if candidates is not None else None

    # true pairs: their case and what became of them
    # A first registration, a hard negative's own row (a twin who also has a copy) or no case: the other
    # row's case is the pair's.
    weak = pl.col("case").is_in([*FIRST_CASES, *HARD_NEGATIVES]).fill_null(True)
    weak_r = pl.col("case_r").is_in([*FIRST_CASES, *HARD_NEGATIVES]).fill_null(True)
    pair_case = pl.when(weak & ~weak_r).then(pl.col("case_r")).otherwise(pl.coalesce("case", "case_r"))
    flag = pl.lit(True)
    status = (with_people(truth_pairs)
              .select(*PAIR, pair_case.alias("case"))
              .join(listed.with_columns(flag.alias("listed")), on=PAIR, how="left")
              .join(claimed.with_columns(flag.alias("claimed")), on=PAIR, how="left"))
    if candidates is not None:
        status = status.join(candidates.with_columns(flag.alias("candidate")), on=PAIR, how="left")
    else:
        status = status.with_columns(pl.lit(False).alias("candidate"))   # not used: the figures are None
    status = status.with_columns(pl.col("listed", "claimed", "candidate").fill_null(False))
    per_case = (status.filter(pl.col("case").is_not_null()).group_by("case")
                .agg(pl.len().alias("n"), pl.col("candidate").sum().alias("cand"),
                     pl.col("listed").sum().alias("listed"), pl.col("claimed").sum().alias("claimed")))
    stats = {r["case"]: r for r in per_case.iter_rows(named=True)}
    present = set(truth["case"].drop_nulls().unique().to_list())
    by_case: dict[str, CaseFigures] = {}
    # duplicate cases by their number of true pairs, then the hard negatives
    for c in sorted(set(stats) | (present & set(HARD_NEGATIVES)),
                    key=lambda c: (c in HARD_NEGATIVES, -int(stats[c]["n"]) if c in stats else 0, c)):
        r = stats.get(c, {"n": 0, "cand": 0, "listed": 0, "claimed": 0})
        n = int(r["n"])
        hard = c in HARD_NEGATIVES
        by_case[c] = CaseFigures(
            hard_negative=hard, true_pairs=n, candidates=None if candidates is None else int(r["cand"]),
            listed=int(r["listed"]), claimed=int(r["claimed"]), recall=_share(int(r["claimed"]), n),
            listed_share=_share(int(r["listed"]), n),
            wrong_candidates=None if not hard or hard_cand is None else hard_cand[c],
            wrong_listed=hard_listed[c] if hard else None, wrong_claimed=hard_claimed[c] if hard else None)

    by_area: dict[str, CaseFigures] = {}
    for area in border_areas:
        side = pl.lit(None, dtype=pl.Int32)
        for i, sd in reversed(list(enumerate(area.sides))):
            side = pl.when((pl.col("kode_desa") == sd.kode_desa) & pl.col("rt").is_between(sd.rt_from, sd.rt_to)) \
                .then(pl.lit(i, dtype=pl.Int32)).otherwise(side)
        sides = voters.select("voter_id", side.alias("side")).drop_nulls("side")
        across = (status.join(sides.rename({"voter_id": "voter_id_l", "side": "s_l"}), on="voter_id_l")
                  .join(sides.rename({"voter_id": "voter_id_r", "side": "s_r"}), on="voter_id_r")
                  .filter(pl.col("s_l") != pl.col("s_r")))
        n, n_listed, n_claimed = across.height, int(across["listed"].sum()), int(across["claimed"].sum())
        by_area[area.name] = CaseFigures(
            hard_negative=False, true_pairs=n,
            candidates=None if candidates is None else int(across["candidate"].sum()), listed=n_listed,
            claimed=n_claimed, recall=_share(n_claimed, n), listed_share=_share(n_listed, n))

    n_true = truth_pairs.height
    n_listed_true = int(status["listed"].sum())
    n_cand_true = None if candidates is None else int(status["candidate"].sum())
    to_decide = pairs.filter(pl.col("match_probability") < threshold).select(PAIR)
    true_to_decide = to_decide.join(truth_pairs, on=PAIR, how="semi").height
    per_k = 1000 / voters.height if voters.height else 0.0
    load = ReviewLoad(voters.height, listed.height, round(listed.height * per_k, 3),
                      _share(n_listed_true, listed.height), to_decide.height, round(to_decide.height * per_k, 3),
                      _share(true_to_decide, to_decide.height))
    return Evaluation(
        _scores(claimed, truth_pairs), _scores(grouped, truth_pairs), hard_claimed, hard_listed,
        true_pairs_not_candidates=n_true - n_listed_true,
        listed_share=round(n_listed_true / n_true, 4) if n_true else 1.0,
        never_listed=n_true - n_listed_true,
        blocking_recall=None if n_cand_true is None else (round(n_cand_true / n_true, 4) if n_true else 1.0),
        candidate_pairs=n_cand,
        candidates_per_record=None if n_cand is None or not voters.height else round(n_cand / voters.height, 3),
        not_candidates=None if n_cand_true is None else n_true - n_cand_true,
        blocking_note=note, review_load=load, by_case=by_case, threshold=threshold, by_area=by_area)


def _num(v: float | int | None, fmt: str = "") -> str:
    return "-" if v is None else format(v, fmt)


def _table(first: str, header: str, figures: dict[str, CaseFigures], cells: Callable[[CaseFigures], str]
           ) -> list[str]:
    """A text table of per-case figures: a first column of names as wide as the longest, then `cells`."""
    if not figures:
        return []
    w = max(len(first), *map(len, figures))
    return [f"{first:<{w}}  {header}", *(f"{c:<{w}}  {cells(f)}" for c, f in figures.items())]


def format_report(ev: Evaluation) -> str:
    threshold = ev.threshold
    lines = ["               true pairs  claimed  correct  precision  recall      F1"]
    for name, s in ((f"pairs >= {threshold:g}", ev.pairs), ("groups", ev.groups)):
        lines.append(f"{name:<14} {s.true_pairs:>10} {s.claimed:>8} {s.true_positives:>8} {s.precision:>10.4f} "
                     f"{s.recall:>7.4f} {s.f1:>7.4f}")
    n_true = ev.pairs.true_pairs
    lines.append(f"true pairs listed for review (claimed or not): {n_true - ev.never_listed} of {n_true} "
                 f"({ev.listed_share:.4f}); never listed: {ev.never_listed}")
    if ev.blocking_recall is None:
        lines.append(f"blocking recall: unknown ({ev.blocking_note or 'no cache'})")
    else:
        lines.append(f"blocking recall: {ev.blocking_recall:.4f} ({ev.not_candidates} true pairs never candidates); "
                     f"{ev.candidate_pairs:,} candidate pairs, {ev.candidates_per_record:.3f} per record")
    rl = ev.review_load
    if rl is not None:
        def share(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.1f} % true pairs"

        lines.append(f"review load: {rl.listed_pairs:,} listed pairs, {rl.listed_per_1000_voters:.2f} per 1,000 "
                     f"voters, {share(rl.listed_true_share)}")
        lines.append(f"  to decide (listed, p < {threshold:g}): {rl.to_decide_pairs:,} pairs, "
                     f"{rl.to_decide_per_1000_voters:.2f} per 1,000 voters, {share(rl.to_decide_true_share)}")
    dup = {c: f for c, f in ev.by_case.items() if f.true_pairs}
    lines += _table("case", "true pairs  candidates  listed  claimed  recall  listed share", dup, lambda f: (
        f"{f.true_pairs:>10}  {_num(f.candidates):>10}  {f.listed:>6}  {f.claimed:>7}  {_num(f.recall, '.4f'):>6}  "
        f"{_num(f.listed_share, '.4f'):>12}"))
    hard = {c: f for c, f in ev.by_case.items() if f.hard_negative}
    lines += _table("hard negative", "pairs of two persons: candidates  listed  claimed", hard, lambda f: (
        f"{_num(f.wrong_candidates):>32}  {_num(f.wrong_listed):>6}  {_num(f.wrong_claimed):>7}"))
    lines.append("hard negatives claimed as one person (listed for review): " + ", ".join(
        f"{k} {v} ({ev.hard_negative_pairs.get(k, 0)})" for k, v in ev.hard_negatives_claimed.items()))
    for name, f in ev.by_area.items():
        lines.append(f"border area {name}: {f.true_pairs} true pairs across its sides, {f.claimed} claimed "
                     f"({_num(f.recall, '.4f')}), {f.listed} claimed or listed ({_num(f.listed_share, '.4f')})")
    return "\n".join(lines)


def evaluate_decisions(database: Path, threshold: float = CLAIM) -> Scores:
    """The pipeline's claims (pairs >= threshold) against reviewers' latest decisions: SAMA pairs are true
    pairs, BEDA pairs are not; RAGU and undecided pairs are left out."""
    from dpt_pipeline import review
    from dpt_pipeline.core import decisions

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

    from dpt_pipeline.io.spreadsheet import write_csv_for_excel

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
