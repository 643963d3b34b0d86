"""The camat's loop on the sample, as it is lived: run, files out, decisions in (late, wrong, in conflict,
edited in place), run again."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dpt_pipeline import cli, pipeline, review
from dpt_pipeline.config import Config, load_config
from dpt_pipeline.core import decisions
from dpt_pipeline.core.keys import pair_ids
from dpt_pipeline.evaluate import evaluate_decisions, simulated_reviewer

ROOT = Path(__file__).resolve().parents[2]
TRUTH = ROOT / "sample_data" / "truth.csv"


# Every candidate pair listed, and learning from a handful of decisions: enough BEDA pairs to learn from.
LOW = "\n[review]\nlearn_min = 5\n"


def _config(tmp_path: Path, data: Path | None = None, extra: str = "") -> Path:
    """The sample config writing to tmp_path/out, without maps (these tests read tables and review files)."""
    text = (ROOT / "config" / "pipeline.toml").read_text().replace('dir = "../reports"', f'dir = "{tmp_path}/out"')
    if extra == LOW:
        text = text.replace("review_threshold = 0.05", "review_threshold = 1e-12")
    text = text.replace('"../sample_data/', f'"{data or ROOT / "sample_data"}/').replace(
        'regions = "regions.csv"', f'regions = "{ROOT / "dpt_pipeline" / "core" / "regions.csv"}"').replace(
        "[tps]\n", "[tps]\nmaps = false\n")
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "p.toml"
    path.write_text(text + extra)
    return path


@pytest.fixture(scope="module")
def night_one(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One first run on the sample, shared: each test starts from a copy of its output folder."""
    base = tmp_path_factory.mktemp("night_one")
    pipeline.run(load_config(_config(base)))
    return base / "out"


def _after_night_one(tmp_path: Path, night_one: Path) -> Config:
    shutil.copytree(night_one, tmp_path / "out", symlinks=True)
    return load_config(_config(tmp_path))


def _csvs(cfg) -> list[Path]:
    return sorted((cfg.output.dir / "review").glob("*/*.csv"))


def _query(db: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).pl()


def _asked(cfg) -> pl.DataFrame:
    cols = ["pair_id", "status", "keputusan", "catatan", "berkas"]
    return pl.concat([pl.DataFrame(schema={c: pl.String for c in cols}),
                      *[pl.read_csv(f, separator=";", infer_schema=False).select(cols) for f in _csvs(cfg)]])


def _rewrite(path: Path, edit) -> Path:
    rows = edit(pl.read_csv(path, separator=";", infer_schema=False))
    rows.write_csv(path, separator=";")
    return path


def test_decisions_shape_the_next_run(tmp_path: Path, night_one: Path) -> None:
    cfg = _after_night_one(tmp_path, night_one)
    assert _csvs(cfg) and sorted((cfg.output.dir / "review").glob("*/*.xlsx"))   # XLSX is the default
    inbox = simulated_reviewer(_csvs(cfg), TRUTH, tmp_path / "inbox")
    report = pipeline.review_import(cfg, inbox)
    assert report.stored.height > 0 and not report.refused and not report.stale
    decided = decisions.standing(report.stored)
    assert set(decided["keputusan"]) <= {"SAMA", "BEDA"} and "SAMA" in set(decided["keputusan"])
    assert not _asked(cfg)["pair_id"].is_in(decided["pair_id"].implode()).any()   # refreshed at once

    second = pipeline.run(cfg)
    db = second.database
    assert _query(db, "SELECT count(*) n FROM review_decisions")["n"].item() == report.stored.height
    assert not _asked(cfg)["pair_id"].is_in(decided["pair_id"].implode()).any()   # none asked again
    groups = _query(db, "SELECT group_id, voter_id FROM duplicate_groups")
    group_of = dict(zip(groups["voter_id"], groups["group_id"], strict=True))
    for row in decided.iter_rows(named=True):
        together = group_of.get(row["voter_id_l"]) is not None and (
            group_of.get(row["voter_id_l"]) == group_of.get(row["voter_id_r"]))
        assert together == (row["keputusan"] == "SAMA"), row
    struck = _query(db, "SELECT voter_id FROM struck_voters")
    placed = _query(db, "SELECT voter_id FROM tps_assignments")
    n_voters = _query(db, "SELECT count(*) n FROM voters")["n"].item()
    assert struck.height > 0 and placed.join(struck, on="voter_id").height == 0
    assert placed["voter_id"].is_unique().all() and placed.height == n_voters - struck.height
    assert second.tps["struck_duplicates"] == struck.height
    audit = decisions.audit(decisions.standing(_query(db, "SELECT * FROM review_decisions")),
                            _query(db, "SELECT * FROM struck_voters"), _query(db, "SELECT * FROM duplicate_groups"),
                            placed, _query(db, "SELECT voter_id FROM voters"))
    assert set(audit.values()) == {0}, audit
    scores = evaluate_decisions(db)
    # Held pairs (two NIKs, maybe twins) stay below a claim whatever reviewers say: their SAMA groups them.
    assert scores.precision >= 0.98 and scores.recall >= 0.95, scores


def test_identical_nights_change_no_assignment(tmp_path: Path, night_one: Path) -> None:
    cfg = _after_night_one(tmp_path, night_one)
    inbox = simulated_reviewer(_csvs(cfg), TRUTH, tmp_path / "inbox", share=0.5, seed=3)
    pipeline.review_import(cfg, inbox)
    a = _query(pipeline.run(cfg).database, "SELECT voter_id, kode_desa, tps FROM tps_assignments ORDER BY voter_id")
    b = _query(pipeline.run(cfg).database, "SELECT voter_id, kode_desa, tps FROM tps_assignments ORDER BY voter_id")
    assert a.height > 0 and a.equals(b)


def test_a_night_old_file_keeps_its_good_decisions_and_reopens_the_changed_pair(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "sample_data", data)
    cfg = load_config(_config(tmp_path, data))
    first = pipeline.run(cfg)
    night1 = simulated_reviewer(_csvs(cfg), TRUTH, tmp_path / "night1")     # the camat works on night 1's files
    # Before they send them back, a record of a listed pair within Kutim is corrected in its list.
    pick = _query(first.database, "SELECT p.pair_id, l.source_row FROM duplicate_pairs p "
                  "JOIN voters l ON l.voter_id = p.voter_id_l JOIN voters r ON r.voter_id = p.voter_id_r "
                  "WHERE l.source = 'kutim' AND r.source = 'kutim' ORDER BY p.pair_id LIMIT 1").row(0)
    path = data / "dpt_kutim.csv"
    lines = path.read_bytes().split(b"\r\n")
    cells = lines[pick[1]].split(b";")
    cells[8] = b"JL. BARU NO. 9"                 # ALAMAT
    lines[pick[1]] = b";".join(cells)
    path.write_bytes(b"\r\n".join(lines))
    pipeline.run(cfg)
    report = pipeline.review_import(cfg, night1)                           # a night late
    assert not report.refused and report.stored.height > 0
    stale_pairs = {n.row for n in report.stale}
    assert stale_pairs and all("alamat" in n.problem for n in report.stale)
    assert report.reopened >= 1
    again = _asked(cfg).filter(pl.col("status").str.starts_with(review.STATUS_DIBUKA))
    assert again.height >= 1 and not again["pair_id"].is_in([pick[0]]).any()   # the new pair, not the old one
    log = _query(cfg.output.database_path, "SELECT hasil, count(*) n FROM review_import_log GROUP BY 1")
    assert dict(log.iter_rows())[review.STALE] == len(report.stale)


def test_one_bad_row_refuses_only_itself_and_the_command_says_so(tmp_path: Path, night_one: Path) -> None:
    cfg = _after_night_one(tmp_path, night_one)
    cfg_path = cfg.path
    [f, *_] = simulated_reviewer(_csvs(cfg), TRUTH, tmp_path / "inbox")
    rows = pl.read_csv(f, separator=";", infer_schema=False)
    assert rows.height >= 2
    _rewrite(f, lambda r: r.with_columns(pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("YA"))
                                         .otherwise(pl.col("keputusan")).alias("keputusan")))
    proc = subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "review", "import", "--config", str(cfg_path),
                           str(f)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == cli.ROWS_REFUSED, proc.stderr
    assert f"{rows.height - 1} decisions stored" in proc.stdout and "1 refused" in proc.stdout
    assert f"file {f}, row 3, field 'keputusan'" in proc.stderr and "YA" not in proc.stderr
    stored = _query(cfg.output.database_path, "SELECT count(*) n FROM review_decisions")["n"].item()
    assert stored == rows.height - 1


def test_two_camats_who_disagree_strike_nobody_until_one_decision_stands(tmp_path: Path, night_one: Path) -> None:
    cfg = _after_night_one(tmp_path, night_one)
    asked = _asked(cfg)
    border = asked.group_by("pair_id").agg(pl.col("berkas")).filter(pl.col("berkas").list.len() == 2)
    assert border.height > 0
    pair, (owner_a, owner_b) = border.row(0)

    night1 = {o: (cfg.output.dir / "review" / f"{o}.csv").read_bytes() for o in (owner_a, owner_b)}

    def decide(owner: str, word: str, folder: str) -> Path:
        """The camat's copy of the night's file, with their word on the pair."""
        dst = tmp_path / folder / f"{owner.split('/')[1]}.csv"
        dst.parent.mkdir(exist_ok=True)
        dst.write_bytes(night1[owner])
        return _rewrite(dst, lambda r: r.with_columns(pl.when(pl.col("pair_id") == pair).then(pl.lit(word))
                                                      .otherwise(None).alias("keputusan")))

    first = pipeline.review_import(cfg, [decide(owner_a, "SAMA", "a")])
    assert first.conflicts == 0
    second = pipeline.review_import(cfg, [decide(owner_b, "BEDA", "b")])       # a minute later, the other camat
    assert second.conflicts == 1 and second.stored.height == 1
    back = _asked(cfg).filter(pl.col("pair_id") == pair)
    assert back.height == 2 and set(back["berkas"]) == {owner_a, owner_b}       # in both camats' files
    assert back["status"].str.starts_with(decisions.STATUS_KONFLIK).all()
    night = pipeline.run(cfg)
    ids = _query(night.database, f"SELECT voter_id_l, voter_id_r FROM review_exports WHERE pair_id = '{pair}'").row(0)
    struck = _query(night.database, "SELECT voter_id FROM struck_voters")["voter_id"].to_list()
    assert not set(ids) & set(struck)                                            # nobody struck on a conflict
    history = _query(night.database, f"SELECT berkas, keputusan FROM review_decisions WHERE pair_id = '{pair}'")
    assert sorted(history.rows()) == sorted([(owner_a, "SAMA"), (owner_b, "BEDA")])   # nothing replaced
    pipeline.review_import(cfg, [decide(owner_b, "SAMA", "c")])                 # camat B agrees after all
    settled = pipeline.run(cfg)
    struck = _query(settled.database, "SELECT voter_id FROM struck_voters")["voter_id"].to_list()
    assert len(set(ids) & set(struck)) == 1 and not _asked(cfg)["pair_id"].is_in([pair]).any()


def test_a_file_edited_in_place_is_kept_aside_before_the_next_night(tmp_path: Path, night_one: Path, caplog) -> None:
    cfg = _after_night_one(tmp_path, night_one)
    f = _csvs(cfg)[0]
    _rewrite(f, lambda r: r.with_columns(pl.lit("SAMA").alias("keputusan")))
    edited = f.read_bytes()
    second = pipeline.run(cfg)
    kept = cfg.output.dir / review.ASIDE / second.run_id / f.relative_to(cfg.output.dir / "review")
    assert kept.read_bytes() == edited and "kept at" in caplog.text
    assert f.read_bytes() != edited                                              # the new night's file
    third = pipeline.run(cfg)                                                    # untouched files are not kept
    assert not (cfg.output.dir / review.ASIDE / third.run_id).exists()
    report = pipeline.review_import(cfg, [kept])
    assert report.stored.height + len(report.refused) + len(report.stale) > 0
    # Imported from the review folder itself: replaced by the new files, unless a row of it was refused.
    g = _csvs(cfg)[0]
    _rewrite(g, lambda r: r.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("YA"))
                                         .otherwise(pl.lit("BEDA")).alias("keputusan")))
    edited = g.read_bytes()
    report = pipeline.review_import(cfg, [g])
    assert len(report.refused) == 1
    aside = list((cfg.output.dir / review.ASIDE).glob(f"*/{g.relative_to(cfg.output.dir / 'review')}"))
    assert any(a.read_bytes() == edited for a in aside)


def test_ragu_comes_back_with_its_note(tmp_path: Path, night_one: Path) -> None:
    cfg = _after_night_one(tmp_path, night_one)
    f = _csvs(cfg)[0]
    pair = pl.read_csv(f, separator=";", infer_schema=False)["pair_id"][0]
    dst = tmp_path / "in" / f.name
    dst.parent.mkdir()
    shutil.copy(f, dst)
    _rewrite(dst, lambda r: r.with_columns(
        pl.when(pl.col("pair_id") == pair).then(pl.lit("RAGU")).alias("keputusan"),
        pl.when(pl.col("pair_id") == pair).then(pl.lit("tanya kepala desa")).alias("catatan")))
    pipeline.review_import(cfg, [dst])
    pipeline.run(cfg)
    row = _asked(cfg).filter((pl.col("pair_id") == pair) & (pl.col("berkas").str.ends_with(f.stem)))
    assert row.select("keputusan", "catatan").row(0) == ("RAGU", "tanya kepala desa")
    assert row["status"].item().startswith(decisions.STATUS_RAGU)


def test_learning_is_adopted_only_when_the_held_out_f1_does_not_fall(tmp_path: Path, monkeypatch) -> None:
    cfg = load_config(_config(tmp_path, extra=LOW))
    pipeline.run(cfg)
    inbox = simulated_reviewer(_csvs(cfg), TRUTH, tmp_path / "inbox")
    pipeline.review_import(cfg, inbox)
    em_only = (cfg.output.dir / "model.json").read_text()
    learning = pipeline.run(cfg).linkage["learning_from_decisions"]
    assert learning["sama"] >= 5 and learning["beda"] >= 5 and learning["reason"]
    before, after = learning["before"]["f1"], learning["after"]["f1"]
    assert learning["used"] == (after >= before)
    assert ((cfg.output.dir / "model.json").read_text() != em_only) == learning["used"]
    # When what it learns makes the held-out fifth worse (here: a model that claims nothing), it is not adopted.
    import dataclasses

    from dpt_pipeline.linkage.model import learning

    monkeypatch.setattr(learning, "with_decisions", lambda m, *a, **k: dataclasses.replace(m, lambda_=1e-30))
    bad = pipeline.run(cfg).linkage["learning_from_decisions"]
    assert bad["after"]["f1"] < bad["before"]["f1"] and bad["used"] is False and "kept" in bad["reason"]
    assert (cfg.output.dir / "model.json").read_text() == em_only


@pytest.mark.skipif(shutil.which("soffice") is None and not os.environ.get("CI"),
                    reason="needs LibreOffice (soffice); .ci/run installs it, and in CI it is never skipped")
def test_a_file_saved_by_calc_in_indonesian_settings_imports_whole(tmp_path: Path, night_one: Path) -> None:
    """The camat decides in the XLSX; LibreOffice Calc (id-ID locale) saves it as XLSX and as CSV."""
    import openpyxl

    cfg = _after_night_one(tmp_path, night_one)
    xlsx = sorted((cfg.output.dir / "review").glob("*/*.xlsx"), key=lambda p: -p.stat().st_size)[0]
    work = tmp_path / "camat"
    work.mkdir()
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["periksa"]
    n = ws.max_row - 1
    for r in range(2, ws.max_row + 1):
        ws.cell(row=r, column=1).value = "BEDA" if r % 2 else "SAMA"
    edited = work / xlsx.name
    wb.save(edited)
    profile = tmp_path / "lo-profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse">'
        '<value>id-ID</value></prop></item></oor:items>')
    out = {}
    for fmt, flt in (("xlsx", "xlsx:Calc MS Excel 2007 XML"), ("csv", "csv:Text - txt - csv (StarCalc):59,34,76,1")):
        dst = work / fmt
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", flt,
                        "--outdir", str(dst), str(edited)], check=True, capture_output=True, timeout=180)
        out[fmt] = dst / f"{edited.stem}.{fmt}"
        assert out[fmt].exists()
    for fmt in ("xlsx", "csv"):
        report = pipeline.review_import(cfg, [out[fmt]])
        assert not report.refused, (fmt, [str(x) for x in report.refused[:3]])
        assert report.stored.height + len(report.same_again) == n, fmt


def test_a_decided_pair_no_longer_listed_comes_back_scored(tmp_path: Path, night_one: Path) -> None:
    """A RAGU and a conflict on pairs the blocking does not even find tonight (two unrelated records) are
    scored and listed again, with their status; nobody is struck on them."""
    cfg = _after_night_one(tmp_path, night_one)
    voters = _query(cfg.output.database_path, "SELECT voter_id FROM voters ORDER BY voter_id LIMIT 4")["voter_id"]
    a, b, c, d = voters.to_list()
    rows = []
    for (left, right), word, owner in (((a, b), "RAGU", "kutai-timur/teluk-pandan"),
                                       ((c, d), "SAMA", "kutai-timur/teluk-pandan"),
                                       ((c, d), "BEDA", "bontang/bontang-utara")):
        pid = pair_ids(pl.DataFrame({"voter_id_l": [left], "voter_id_r": [right]})).item()
        rows.append({"pair_id": pid, "voter_id_l": left, "voter_id_r": right, "keputusan": word, "catatan": "x",
                     "file": "f.csv", "baris": 2, "imported_at": dt.datetime(2026, 11, 30), "berkas": owner,
                     "diekspor": dt.datetime(2026, 11, 29)})
    history = pl.DataFrame(rows, schema=decisions.DECISION_SCHEMA)
    with duckdb.connect(str(cfg.output.database_path)) as con:
        con.register("h", history)
        con.execute("CREATE OR REPLACE TABLE review_decisions AS SELECT * FROM h")
    result = pipeline.run(cfg)
    back = _asked(cfg).filter(pl.col("pair_id").is_in(history["pair_id"].implode()))
    assert set(back["pair_id"]) == set(history["pair_id"])
    assert {s.split(" (")[0] for s in back["status"]} == {decisions.STATUS_RAGU, decisions.STATUS_KONFLIK}
    struck = _query(result.database, "SELECT voter_id FROM struck_voters")["voter_id"].to_list()
    assert not {a, b, c, d} & set(struck)
    listed = _query(result.database, "SELECT pair_id, blocking_passes FROM review_pairs")
    assert listed.filter(pl.col("pair_id").is_in(history["pair_id"].implode())).height == 2


def test_files_refreshed_by_an_import_keep_records_as_the_whole_roll_would(tmp_path: Path, night_one: Path) -> None:
    """An import ranks only the records a review file or decision names (ReviewState.named_voters); the
    files it writes, and who its decisions strike, are those the keep order over the whole roll gives."""
    cfg = _after_night_one(tmp_path, night_one)
    pipeline.review_import(cfg, simulated_reviewer(_csvs(cfg), TRUTH, tmp_path / "inbox", share=0.7, wrong=0.2,
                                                   seed=5))
    db = cfg.output.database_path
    with duckdb.connect(str(db), read_only=True) as con:
        state = review.read_state(con, db)
    named = state.named_voters()
    assert 0 < named.height < state.voters.height
    files, struck = {}, {}
    for name, records in (("named", named), ("roll", state.voters)):
        keep = pipeline.keep_ranks(cfg, records)
        work = tmp_path / name
        work.mkdir()
        shutil.copyfile(db, work / db.name)
        exported = pipeline._refresh_review(cfg, work / db.name, work, "E", state, keep)
        files[name] = {p.relative_to(work): pl.read_csv(p, separator=";", infer_schema=False)
                       for p in exported.paths if p.suffix == ".csv"}
        struck[name] = decisions.resolve(decisions.standing(state.history), keep[0]).struck
    assert files["named"].keys() == files["roll"].keys() and files["roll"]
    for path, frame in files["roll"].items():
        assert frame.equals(files["named"][path]), path
    assert struck["roll"].height and struck["named"].equals(struck["roll"])
    simpan = pl.concat([f["simpan"] for f in files["roll"].values()])
    assert simpan.n_unique() == 2      # both records are recommended somewhere: the order matters
