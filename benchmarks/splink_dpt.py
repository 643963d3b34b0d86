"""Splink on the same voters our pipeline deduplicates: a reference point for the linkage benchmark.

Runs Splink (DuckDB backend, dedupe_only) over every voter of a published database, with light cleaning
and a configuration a careful Splink user would write for this roll, then scores its pairs against the
generator's truth exactly as `dpt evaluate` scores ours: true pairs are all pairs of voters sharing a
person_id, claimed pairs are those with match_probability >= 0.5; precision, recall and F1 of the claims.
The threshold that maximises F1 is reported as well, for information (it is chosen with the truth, so it
is an upper bound, not a figure Splink would reach unaided). Wall time of each step (load, train,
predict, evaluate) and the peak RSS of the process (DuckDB runs in-process, so its threads count) too.

Splink is NOT a dependency of the project. Install it into its own virtualenv (benchmarks/out is
git-ignored):

    python3 -m venv benchmarks/out/splink-venv
    benchmarks/out/splink-venv/bin/pip install 'splink==5.0.0' duckdb polars pyarrow

and run it with that venv's python on the database and truth file of the linkage benchmark:

    benchmarks/out/splink-venv/bin/python benchmarks/splink_dpt.py \\
        --database benchmarks/out/linkage_1000000_7/out/dpt.duckdb \\
        --truth benchmarks/out/linkage_1000000_7/truth.csv --json benchmarks/out/splink_1000000.json

The database is copied to a temporary folder and the copy opened read-only; the original is never
touched. `--model FILE` also writes the trained model (Splink's JSON). Not part of the test suite.

The configuration, in brief:

- cleaning (SQL): names upper-cased; degrees after a comma, titles (H., HJ., DRS. ...), BIN/BINTI and the
  father's name dropped; Muhammad abbreviations to MUHAMMAD; OE/DJ/TJ to U/J/C (pre-1972 spelling);
  punctuation out, spaces collapsed. Derived: first and last word, words sorted, name without spaces;
  the date of birth as YYYY-MM-DD, its year, year-month, month-day and a day/month-swapped copy; NIK and
  NKK kept only when 16 digits; RT key (kode_desa/rw/rt).
- comparisons: name (exact with term-frequency adjustment; same words in another order or other spacing;
  Jaro-Winkler >= 0.95, 0.88, 0.70 without spaces); NIK and date of birth in ONE comparison, since the
  NIK holds the date (same NIK and date; same NIK; NIK one digit off with the same serial, same date;
  same date, term-frequency adjusted; NIK one digit off; date one character off or swapped; day/month
  swapped; same year-month; same year); place of birth (exact, term-frequency adjusted; Jaro-Winkler
  >= 0.9); sex; KK and address in ONE comparison (same NKK; same RT; same desa; same kecamatan).
- prediction blocking (about 12.7 million pairs at 1M voters): NIK; NKK; date + first word; date + last
  word; date + place of birth; name + year; sorted words + year; name without spaces + year; name +
  month-day.
- training: u by random sampling (5e6 pairs, seed 7), except the three NIK-agreement levels, which
  random pairs practically never reach: their u is counted exactly over all pairs; the prior from the
  deterministic rules NIK + date and name + date + place with an assumed recall of 0.8; m by EM in three
  sessions blocked on NIK, on name + date and on name + NKK.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

# Titles before a name (H., HJ., DRS., ...) and the Muhammad abbreviations, as upper-case regexes.
TITLES = r"\b(H|HJ|HAJI|HAJJAH|DRS|DRA|DR|IR|PROF|IBU|BPK|BAPAK|NY|TN|SDR|SDRI|ST|KH|USTADZ)\.\s*"
MUHAMMAD = r"\b(M|MUH|MOH|MOCH|MUCH|MHD|MUHAMAD|MUHAMMED|MOHAMMAD|MOHAMAD|MOHAMED|MOHAMMED|MUHAMMAD)\b\.?"

PREPARE_SQL = f"""
CREATE TABLE voters_splink AS
WITH base AS (
    SELECT voter_id, nik, nkk, tempat_lahir, tanggal_lahir, jenis_kelamin, rt, rw, kode_desa, kode_kecamatan,
           upper(coalesce(nama, '')) AS n0
    FROM src.voters
), named AS (
    SELECT *,
        -- degrees after a comma (", S.PD"), titles, BIN/BINTI + father's name, Muhammad variants,
        -- punctuation, the pre-1972 spelling (OE, DJ, TJ: SOEMARNI = SUMARNI); then spaces collapsed
        trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
            regexp_replace(regexp_replace(regexp_replace(
            split_part(n0, ',', 1), '{TITLES}', '', 'g'),
            '\\s(BIN|BINTI)\\s.*$', ''),
            '{MUHAMMAD}', 'MUHAMMAD', 'g'),
            '''', '', 'g'),
            '[^A-Z ]', ' ', 'g'),
            'OE', 'U', 'g'), 'DJ', 'J', 'g'), 'TJ', 'C', 'g'),
            '\\s+', ' ', 'g')) AS n1
    FROM base
)
SELECT
    voter_id AS unique_id,
    nullif(n1, '') AS nama,
    nullif(split_part(n1, ' ', 1), '') AS nama_depan,
    nullif(regexp_extract(n1, '(\\S+)$', 1), '') AS nama_belakang,
    nullif(array_to_string(list_sort(string_split(n1, ' ')), ' '), '') AS nama_urut,
    nullif(replace(n1, ' ', ''), '') AS nama_rapat,
    strftime(tanggal_lahir, '%Y-%m-%d') AS tgl,
    strftime(tanggal_lahir, '%Y') AS tahun,
    strftime(tanggal_lahir, '%Y-%m') AS tahun_bulan,
    strftime(tanggal_lahir, '%m-%d') AS bulan_hari,
    strftime(tanggal_lahir, '%Y-%d-%m') AS tgl_tukar,
    CASE WHEN regexp_full_match(nik, '[0-9]{{16}}') THEN nik END AS nik,
    CASE WHEN regexp_full_match(nkk, '[0-9]{{16}}') THEN nkk END AS nkk,
    nullif(trim(regexp_replace(upper(tempat_lahir), '[^A-Z]+', ' ', 'g')), '') AS tempat_lahir,
    CASE WHEN jenis_kelamin IN ('L', 'P') THEN jenis_kelamin END AS jenis_kelamin,
    kode_desa,
    kode_kecamatan,
    CASE WHEN kode_desa IS NOT NULL AND rt IS NOT NULL THEN kode_desa || '/' || rw || '/' || rt END AS kode_rt
FROM named
"""


TRUTH_SQL = """
CREATE TABLE person AS
SELECT v.voter_id AS unique_id, t.person_id, t."case" AS kasus
FROM src.voters v
JOIN read_csv(?, all_varchar = true) t ON t.source = v.source AND CAST(t.source_row AS BIGINT) = v.source_row
WHERE t.person_id IS NOT NULL AND t.person_id <> ''
"""

HARD_NEGATIVES = ("kembar", "ayah_anak", "nik_salinan", "nama_umum")


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


NIK_TYPO = ("damerau_levenshtein({l}, {r}) <= 1 AND right({l}, 4) = right({r}, 4) "
            "AND abs(ascii(substr({l}, 7, 1)) - ascii(substr({r}, 7, 1))) <> 4")


def nik_u_values(con: duckdb.DuckDBPyConnection, records: int) -> dict[str, float]:
    """u of the NIK levels that random sampling cannot estimate: the share of all record pairs that fall in
    each, counted exactly (an upper bound on u, since the few true matches among them are counted too)."""
    typo = NIK_TYPO.format(l="a.nik", r="b.nik")
    same, other = con.execute("""
        SELECT count(*) FILTER (WHERE a.tgl = b.tgl), count(*) FILTER (WHERE a.tgl IS DISTINCT FROM b.tgl)
        FROM voters_splink a JOIN voters_splink b ON a.nik = b.nik AND a.unique_id < b.unique_id""").fetchall()[0]
    typo_same = con.execute(f"""
        SELECT count(*) FROM voters_splink a JOIN voters_splink b
        ON a.tgl = b.tgl AND right(a.nik, 4) = right(b.nik, 4) AND a.unique_id < b.unique_id
        WHERE a.nik <> b.nik AND {typo}""").fetchall()[0][0]
    pairs = records * (records - 1) / 2
    return {"same_nik_same_date": max(same, 1) / pairs, "same_nik_other_date": max(other, 1) / pairs,
            "nik_typo_same_date": max(typo_same, 1) / pairs}


def settings(splink, u_nik: dict[str, float]):  # splink is the module, imported in main()
    """The Splink model: comparisons, blocking rules for prediction."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    block_on = splink.block_on
    nama = cl.CustomComparison(
        output_column_name="nama",
        comparison_description="cleaned name",
        comparison_levels=[
            cll.NullLevel("nama"),
            cll.ExactMatchLevel("nama").configure(tf_adjustment_column="nama"),
            cll.Or(cll.ExactMatchLevel("nama_urut"), cll.ExactMatchLevel("nama_rapat")).configure(
                label_for_charts="same words in another order, or other spacing"),
            cll.JaroWinklerLevel("nama_rapat", 0.95),
            cll.JaroWinklerLevel("nama_rapat", 0.88),
            cll.JaroWinklerLevel("nama_rapat", 0.70),
            cll.ElseLevel(),
        ],
    )
    # NIK and date of birth in one comparison. The NIK is 6 digits of region, 6 of birth date (day + 40
    # for women) and 4 of serial, so the two are not independent: two people of one region born on one day
    # have NIKs a digit apart, and a date one digit off comes with a NIK one digit off. One comparison lets
    # u (random pairs) and m (EM) see them together. A NIK "one digit off" counts only where the serial
    # agrees and the digit is not the sex's +40. Random sampling almost never meets the first three levels;
    # their u is counted over all pairs instead (nik_u_values).
    nik_typo = NIK_TYPO.format(l="nik_l", r="nik_r")
    nik_tgl = cl.CustomComparison(
        output_column_name="nik_tanggal_lahir",
        comparison_description="NIK and date of birth (YYYY-MM-DD)",
        comparison_levels=[
            cll.And(cll.NullLevel("nik"), cll.NullLevel("tgl")),
            cll.CustomLevel("nik_l = nik_r AND tgl_l = tgl_r", label_for_charts="same NIK, same date").configure(
                u_probability=u_nik["same_nik_same_date"], fix_u_probability=True),
            cll.CustomLevel("nik_l = nik_r", label_for_charts="same NIK, other date").configure(
                u_probability=u_nik["same_nik_other_date"], fix_u_probability=True),
            cll.CustomLevel(f"{nik_typo} AND tgl_l = tgl_r", label_for_charts="NIK one digit off, same date").configure(
                u_probability=u_nik["nik_typo_same_date"], fix_u_probability=True),
            cll.ExactMatchLevel("tgl").configure(tf_adjustment_column="tgl",
                                                 label_for_charts="same date, NIK differs or missing"),
            cll.CustomLevel(nik_typo, label_for_charts="NIK one digit off, other date"),
            cll.DamerauLevenshteinLevel("tgl", 1).configure(label_for_charts="date one digit off or swapped"),
            cll.CustomLevel("tgl_tukar_l = tgl_r", label_for_charts="day and month swapped"),
            cll.ExactMatchLevel("tahun_bulan"),
            cll.ExactMatchLevel("tahun"),
            cll.ElseLevel(),
        ],
    )
    tempat = cl.JaroWinklerAtThresholds("tempat_lahir", [0.9]).configure(term_frequency_adjustments=True)
    jk = cl.ExactMatch("jenis_kelamin")
    # The KK and the address in one comparison: members of a KK share its address, so two comparisons
    # would count the same evidence twice.
    keluarga = cl.CustomComparison(
        output_column_name="keluarga",
        comparison_description="family card (NKK), then where registered: RT, desa, kecamatan",
        comparison_levels=[
            cll.And(cll.NullLevel("nkk"), cll.NullLevel("kode_desa")),
            cll.ExactMatchLevel("nkk"),
            cll.ExactMatchLevel("kode_rt"),
            cll.ExactMatchLevel("kode_desa"),
            cll.ExactMatchLevel("kode_kecamatan"),
            cll.ElseLevel(),
        ],
    )
    return splink.SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[nama, nik_tgl, tempat, jk, keluarga],
        blocking_rules_to_generate_predictions=[
            block_on("nik"),
            block_on("nkk"),
            block_on("tgl", "nama_depan"),
            block_on("tgl", "nama_belakang"),
            block_on("tgl", "tempat_lahir"),
            block_on("nama", "tahun"),
            block_on("nama_urut", "tahun"),
            block_on("nama_rapat", "tahun"),
            block_on("nama", "bulan_hari"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def scores(con: duckdb.DuckDBPyConnection, claimed_sql: str, true_pairs: int) -> dict[str, float | int]:
    """Precision, recall and F1 of the claimed pairs (l, r with l < r) as dpt evaluate computes them."""
    claimed, tp = con.execute(f"""
        SELECT count(*), count(pl.person_id) FILTER (WHERE pl.person_id = pr.person_id)
        FROM ({claimed_sql}) c
        LEFT JOIN person pl ON pl.unique_id = c.l
        LEFT JOIN person pr ON pr.unique_id = c.r""").fetchall()[0]
    p = tp / claimed if claimed else 1.0
    r = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"true_pairs": true_pairs, "claimed": claimed, "true_positives": tp,
            "precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", type=Path, required=True, help="published dpt.duckdb (table voters)")
    ap.add_argument("--truth", type=Path, required=True, help="the generator's truth.csv")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--model", type=Path, help="write the trained Splink model (settings with m and u) here")
    ap.add_argument("--u-max-pairs", type=float, default=5e6, help="pairs sampled to estimate u (default 5e6)")
    ap.add_argument("--prior-recall", type=float, default=0.8,
                    help="assumed recall of the deterministic rules that estimate the prior (default 0.8)")
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, one per core)")
    ap.add_argument("-v", "--verbose", action="store_true", help="Splink's own log lines")
    args = ap.parse_args()
    for path in (args.database, args.truth):
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            return 2

    t_all = time.perf_counter()
    import splink
    from splink import DuckDBAPI, Linker, block_on

    seconds: dict[str, float] = {}
    peak: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="splink_dpt_"))
    try:
        # load: copy the database, open the copy read-only, clean into an in-memory table
        t = time.perf_counter()
        copy = tmp / "dpt.duckdb"
        shutil.copyfile(args.database, copy)
        con = duckdb.connect()
        if args.threads:
            con.execute(f"SET threads = {int(args.threads)}")
        con.execute(f"ATTACH '{copy}' AS src (READ_ONLY)")
        con.execute(PREPARE_SQL)
        con.execute(TRUTH_SQL, [str(args.truth)])
        con.execute("DETACH src")
        records = con.execute("SELECT count(*) FROM voters_splink").fetchall()[0][0]
        threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        seconds["load"], peak["load"] = round(time.perf_counter() - t, 1), peak_mb()

        # train: u on random pairs (counted for the NIK levels), the prior from deterministic rules, m by EM
        # in three sessions
        t = time.perf_counter()
        u_nik = nik_u_values(con, records)
        db_api = DuckDBAPI(connection=con)
        df = db_api.register("voters_splink")
        linker = Linker(df, settings(splink, u_nik), log_level=logging.INFO if args.verbose else logging.WARNING)
        linker.training.estimate_u_using_random_sampling(max_pairs=args.u_max_pairs, seed=7)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("nik", "tgl"), block_on("nama", "tgl", "tempat_lahir")], recall=args.prior_recall)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("nik"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("nama", "tgl"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("nama", "nkk"))
        prior = linker._settings_obj._probability_two_random_records_match
        if args.model:
            args.model.parent.mkdir(parents=True, exist_ok=True)
            linker.misc.save_model_to_json(str(args.model), overwrite=True)
        seconds["train"], peak["train"] = round(time.perf_counter() - t, 1), peak_mb()

        # predict: every pair the blocking rules produce, scored
        t = time.perf_counter()
        predictions = linker.inference.predict()
        pred = predictions.physical_name
        con.execute(f"""CREATE TABLE pairs AS SELECT least(unique_id_l, unique_id_r) AS l,
                        greatest(unique_id_l, unique_id_r) AS r, match_probability AS p FROM {pred}""")
        scored = con.execute("SELECT count(*) FROM pairs").fetchall()[0][0]
        seconds["predict"], peak["predict"] = round(time.perf_counter() - t, 1), peak_mb()

        # cluster: Splink's connected components at 0.5, as groups
        t = time.perf_counter()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.5)
        con.execute(f"CREATE TABLE groups AS SELECT cluster_id, unique_id FROM {clusters.physical_name}")
        seconds["cluster"], peak["cluster"] = round(time.perf_counter() - t, 1), peak_mb()

        # evaluate: as dpt evaluate does, against all pairs of voters sharing a person_id
        t = time.perf_counter()
        true_pairs = con.execute("""SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM
                                    (SELECT count(*) AS n FROM person GROUP BY person_id)""").fetchall()[0][0]
        at_half = scores(con, "SELECT l, r FROM pairs WHERE p >= 0.5", true_pairs)
        grouped = scores(con, """SELECT a.unique_id AS l, b.unique_id AS r FROM groups a JOIN groups b
                                 ON a.cluster_id = b.cluster_id AND a.unique_id < b.unique_id""", true_pairs)
        best = con.execute("""
            WITH j AS (
                SELECT c.p, (pl.person_id IS NOT NULL AND pl.person_id = pr.person_id)::INT AS ok
                FROM pairs c LEFT JOIN person pl ON pl.unique_id = c.l LEFT JOIN person pr ON pr.unique_id = c.r
            ), by_p AS (SELECT p, count(*) AS n, sum(ok) AS tp FROM j GROUP BY p),
            cum AS (SELECT p, sum(n) OVER w AS claimed, sum(tp) OVER w AS tp FROM by_p
                    WINDOW w AS (ORDER BY p DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
            SELECT p, claimed, tp, 2 * tp / (claimed + ?) AS f1 FROM cum ORDER BY f1 DESC, p DESC LIMIT 1
        """, [true_pairs]).fetchall()[0]
        at_best = scores(con, f"SELECT l, r FROM pairs WHERE p >= {best[0]!r}", true_pairs)
        blocked_true = con.execute("""SELECT count(*) FROM pairs c JOIN person pl ON pl.unique_id = c.l
                                      JOIN person pr ON pr.unique_id = c.r
                                      WHERE pl.person_id = pr.person_id""").fetchall()[0][0]
        hard = {}
        for kasus in HARD_NEGATIVES:
            hard[kasus] = con.execute("""SELECT count(*) FROM pairs c JOIN person pl ON pl.unique_id = c.l
                JOIN person pr ON pr.unique_id = c.r WHERE c.p >= 0.5 AND pl.person_id <> pr.person_id
                AND pl.kasus = ? AND pr.kasus = ?""", [kasus, kasus]).fetchall()[0][0]
        seconds["evaluate"], peak["evaluate"] = round(time.perf_counter() - t, 1), peak_mb()
        con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds["total"] = round(time.perf_counter() - t_all, 1)

    result = {
        "tool": "splink", "splink_version": splink.__version__, "duckdb_version": duckdb.__version__,
        "backend": "duckdb", "link_type": "dedupe_only", "records": records,
        "duckdb_threads": threads, "u_max_pairs": args.u_max_pairs, "prior_recall_assumed": args.prior_recall,
        "probability_two_random_records_match": prior, "u_fixed_by_count": u_nik,
        "predictions": scored, "true_pairs_among_predictions": blocked_true,
        "pairs_at_0_5": at_half, "groups_at_0_5": grouped,
        "best_f1_threshold": best[0], "pairs_at_best_f1_threshold": at_best,
        "hard_negatives_claimed": hard, "seconds": seconds, "peak_rss_mb": peak_mb(), "peak_rss_mb_after": peak,
    }
    rows = [
        ("Splink version", f"{splink.__version__} (DuckDB {duckdb.__version__})"),
        ("records", f"{records:,}"),
        ("pairs scored (blocked)", f"{scored:,} ({blocked_true:,} of {true_pairs:,} true pairs among them)"),
        ("precision / recall / F1, pairs >= 0.5",
         f"{at_half['precision']:.4f} / {at_half['recall']:.4f} / {at_half['f1']:.4f}"),
        ("precision / recall / F1, Splink clusters at 0.5",
         f"{grouped['precision']:.4f} / {grouped['recall']:.4f} / {grouped['f1']:.4f}"),
        (f"precision / recall / F1, best threshold {best[0]:.4g} (chosen with the truth)",
         f"{at_best['precision']:.4f} / {at_best['recall']:.4f} / {at_best['f1']:.4f}"),
        ("hard negatives claimed", ", ".join(f"{k} {v}" for k, v in hard.items())),
        *((f"{step} seconds", f"{s:.1f}") for step, s in seconds.items()),
        ("peak RSS", f"{peak_mb():,.0f} MB"),
    ]
    print("| Splink, dedupe_only | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
