"""The camat's loop on the sample: run, export, decide every pair from the truth file, import, run again."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from dpt_pipeline import pipeline, review
from dpt_pipeline.config import load_config
from dpt_pipeline.evaluate import decisions_from_truth, evaluate_decisions

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "pipeline.toml").read_text().replace('dir = "../reports"', f'dir = "{tmp_path}/out"')
    text = text.replace('"../sample_data/', f'"{ROOT / "sample_data"}/').replace(
        'regions = "regions.csv"', f'regions = "{ROOT / "config" / "regions.csv"}"')
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


def test_decisions_shape_the_next_run(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    first = pipeline.run(cfg)
    files = sorted((cfg.output.dir / "review").glob("*/*.csv"))
    assert files
    truth = pl.read_csv(ROOT / "sample_data" / "truth.csv", infer_schema=False).with_columns(
        pl.col("source_row").cast(pl.Int64))
    with duckdb.connect(str(first.database), read_only=True) as con:
        voters = con.sql("SELECT voter_id, source, source_row FROM voters").pl()
    person = dict(voters.join(truth, on=["source", "source_row"]).select("voter_id", "person_id").iter_rows())
    # A camat fills every decision from the truth and saves the file from Excel.
    for f in files:
        rows = pl.read_csv(f, separator=";", infer_schema=False)
        with duckdb.connect(str(first.database), read_only=True) as con:
            ids = con.sql("SELECT pair_id, voter_id_l, voter_id_r FROM duplicate_pairs").pl()
        rows = rows.join(ids, on="pair_id").with_columns(
            pl.struct("voter_id_l", "voter_id_r").map_elements(
                lambda s: "sama" if person.get(s["voter_id_l"]) == person.get(s["voter_id_r"]) else "Beda ",
                return_dtype=pl.String).alias("keputusan"))
        rows.drop("voter_id_l", "voter_id_r").write_csv(f, separator=";")
    imported = review.import_files(files, cfg.output.database_path)
    decided = review.latest(imported)
    assert decided.height > 0 and set(decided["keputusan"]) <= {"SAMA", "BEDA"}

    second = pipeline.run(cfg)
    with duckdb.connect(str(second.database), read_only=True) as con:
        groups = con.sql("SELECT group_id, voter_id FROM duplicate_groups").pl()
        kept = con.sql("SELECT count(*) FROM review_decisions").fetchall()[0][0]
        summary = con.sql("SELECT sum(sama) s, sum(beda) b, sum(terbuka) t FROM review_summary").fetchall()[0]
    assert kept == imported.height                      # the decisions survived the new database
    still_open = [pl.read_csv(f, separator=";", infer_schema=False).select("pair_id")
                  for f in (cfg.output.dir / "review").glob("*/*.csv")]
    asked = pl.concat(still_open or [pl.DataFrame(schema={"pair_id": pl.String})])
    assert asked.join(decided.select("pair_id"), on="pair_id").height == 0   # none asked again
    group_of = dict(zip(groups["voter_id"], groups["group_id"], strict=True))
    for row in decided.iter_rows(named=True):
        together = group_of.get(row["voter_id_l"]) is not None and (
            group_of.get(row["voter_id_l"]) == group_of.get(row["voter_id_r"]))
        assert together == (row["keputusan"] == "SAMA"), row
    assert summary[0] > 0 and summary[2] == 0
    # Confirmed duplicates that are not kept lose their TPS; every other voter has exactly one.
    with duckdb.connect(str(second.database), read_only=True) as con:
        struck = con.sql("SELECT DISTINCT g.voter_id FROM duplicate_groups g JOIN review_decisions d "
                         "ON d.keputusan = 'SAMA' AND g.voter_id IN (d.voter_id_l, d.voter_id_r) "
                         "WHERE NOT g.keep").pl()
        placed = con.sql("SELECT voter_id FROM tps_assignments").pl()
        n_voters = con.sql("SELECT count(*) FROM voters").fetchall()[0][0]
    assert struck.height > 0 and placed.join(struck, on="voter_id").height == 0
    assert placed["voter_id"].is_unique().all() and placed.height == n_voters - struck.height
    assert second.tps["struck_duplicates"] == struck.height
    scores = evaluate_decisions(second.database)
    assert scores.precision >= 0.98 and scores.recall >= 0.98, scores


def test_review_files_are_per_kecamatan_masked_and_sorted(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    result = pipeline.run(cfg)
    files = sorted((cfg.output.dir / "review").glob("*/*.csv"))
    assert {f.parent.name for f in files} == {"kutai-timur", "bontang", "kutai-kartanegara"}
    assert (cfg.output.dir / "review" / "kutai-timur" / "teluk-pandan.csv") in files
    seen: dict[str, int] = {}
    for f in files:
        raw = f.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        rows = pl.read_csv(f, separator=";", infer_schema=False)
        assert rows.columns == review.file_columns()
        assert rows["nik_1"].drop_nulls().str.contains(r"^\d{6}\*{6}\d{4}$|tidak sah").all()
        skor = rows["skor"].cast(pl.Float64).to_list()
        assert skor == sorted(skor, reverse=True)
        for p in rows["pair_id"]:
            seen[p] = seen.get(p, 0) + 1
    with duckdb.connect(str(result.database), read_only=True) as con:
        lintas = con.sql("SELECT pair_id FROM duplicate_pairs p JOIN voters l ON l.voter_id = p.voter_id_l "
                         "JOIN voters r ON r.voter_id = p.voter_id_r WHERE l.kode_kecamatan <> r.kode_kecamatan"
                         ).pl()["pair_id"]
        total = con.sql("SELECT count(*) FROM duplicate_pairs").fetchall()[0][0]
    assert len(seen) == total                                  # every undecided pair is asked
    assert all(seen[p] == 2 for p in lintas)                   # across kecamatan: in both camat's files


def _decide_all_from_truth(cfg, database: Path) -> pl.DataFrame:
    decided = decisions_from_truth(database, ROOT / "sample_data" / "truth.csv")
    path = cfg.output.dir / "all_decisions.csv"
    decided.write_csv(path, separator=";")
    return decided.with_columns(pl.lit(str(path)).alias("path"))


def test_model_learns_from_enough_decisions(tmp_path: Path) -> None:
    text = _config(tmp_path).read_text().replace("review_threshold = 0.2", "review_threshold = 1e-12")
    text += "\n[review]\nlearn_min = 5\n"
    (tmp_path / "p.toml").write_text(text)
    cfg = load_config(tmp_path / "p.toml")
    first = pipeline.run(cfg)
    decided = _decide_all_from_truth(cfg, first.database)
    assert (decided["keputusan"] == "BEDA").sum() >= 5
    review.import_files([Path(decided["path"][0])], cfg.output.database_path)
    em_only = (cfg.output.dir / "model.json").read_text()
    second = pipeline.run(cfg)
    learning = second.linkage["learning_from_decisions"]
    assert learning["used"] is True and learning["sama"] >= 5 and learning["beda"] >= 5
    for when in ("before", "after"):
        assert 0 <= learning[when]["precision"] <= 1 and 0 <= learning[when]["recall"] <= 1
    assert (cfg.output.dir / "model.json").read_text() != em_only


def test_a_changed_record_reopens_its_decided_pair(tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(ROOT / "sample_data", data)
    text = _config(tmp_path).read_text().replace(str(ROOT / "sample_data"), str(data))
    (tmp_path / "p.toml").write_text(text)
    cfg = load_config(tmp_path / "p.toml")
    first = pipeline.run(cfg)
    decided = _decide_all_from_truth(cfg, first.database)
    review.import_files([Path(decided["path"][0])], cfg.output.database_path)
    # Pick a decided pair within Kutim and change one of its rows (a new address).
    with duckdb.connect(str(first.database), read_only=True) as con:
        pick = con.sql("SELECT p.pair_id, l.source_row FROM duplicate_pairs p "
                       "JOIN voters l ON l.voter_id = p.voter_id_l JOIN voters r ON r.voter_id = p.voter_id_r "
                       "WHERE l.source = 'kutim' AND r.source = 'kutim' ORDER BY p.pair_id LIMIT 1").fetchall()[0]
    path = data / "dpt_kutim.csv"
    lines = path.read_bytes().split(b"\r\n")
    cells = lines[pick[1]].split(b";")
    cells[8] = b"JL. BARU NO. 9"                 # ALAMAT
    lines[pick[1]] = b";".join(cells)
    path.write_bytes(b"\r\n".join(lines))
    second = pipeline.run(cfg)
    with duckdb.connect(str(second.database), read_only=True) as con:
        pairs = con.sql("SELECT pair_id FROM duplicate_pairs").pl()["pair_id"].to_list()
    assert pick[0] not in pairs                  # the old pair is gone with the old row
    asked = pl.concat([pl.read_csv(f, separator=";", infer_schema=False).select("pair_id")
                       for f in (cfg.output.dir / "review").glob("*/*.csv")])["pair_id"].to_list()
    reopened = set(pairs) - set(decided["pair_id"].to_list())
    assert reopened and set(asked) == reopened   # the new pair, and only it, is asked
