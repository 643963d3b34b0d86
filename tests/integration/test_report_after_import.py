"""The run report after `dpt review import`, as the staff live it: a run on the sample, a camat's decisions
(a few wrong, two rows broken) imported, the report's change section read and checked against the database,
the review files on disk and the next run; then a camat taking some SAMA back."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from pagetables import page_tables

from dpt_pipeline import pipeline
from dpt_pipeline.config import Config, load_config
from dpt_pipeline.core import decisions
from dpt_pipeline.evaluate import simulated_reviewer
from dpt_pipeline.outputs import review_changes

ROOT = Path(__file__).resolve().parents[2]
TRUTH = ROOT / "sample_data" / "truth.csv"


def _config(tmp_path: Path) -> Config:
    text = (ROOT / "config" / "pipeline.toml").read_text().replace('dir = "../reports"', f'dir = "{tmp_path}/out"')
    text = text.replace('"../sample_data/', f'"{ROOT / "sample_data"}/').replace(
        "[tps]\n", "[tps]\nmaps = false\n")
    path = tmp_path / "p.toml"
    path.write_text(text + "\n[review]\nxlsx = false\n")
    return load_config(path)


def _q(cfg: Config, sql: str, params: list | None = None) -> pl.DataFrame:
    with duckdb.connect(str(cfg.output.database_path), read_only=True) as con:
        return con.sql(sql, params=params or None).pl()


def _n(text: str) -> int:
    return int(text.replace(".", ""))


def _effect(page: str) -> dict[str, int]:
    """The 'effect of the decisions' table: its English gloss -> count."""
    rows = page_tables(page)["tabel-impor-akibat"][1:]
    return {re.search(r"\(([^()]*)\)\s*$", r[0]).group(1): _n(r[1]) for r in rows}  # type: ignore[union-attr]


def _review_rows(cfg: Config) -> dict[str, int]:
    """Pairs listed in each review file on disk (kabupaten/kecamatan -> rows)."""
    return {f"{p.parent.name}/{p.stem}": pl.read_csv(p, separator=";", infer_schema=False).height
            for p in sorted((cfg.output.dir / "review").glob("*/*.csv"))}


def _struck(cfg: Config) -> set[str]:
    return set(_q(cfg, "SELECT voter_id FROM struck_voters")["voter_id"])


def _copy(first: tuple[Config, Path], tmp_path: Path) -> Config:
    """The fixture's output folder copied, for a test that runs the pipeline again."""
    shutil.copytree(first[0].output.dir, tmp_path / "out", symlinks=True)
    return _config(tmp_path)


def _masked(voter_id: str) -> str:
    return re.sub(r"[0-9a-f]{16}", lambda m: m.group(0)[:4] + "…", voter_id)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    """A run, then one import of a camat's files (a tenth of the words wrong, one unknown word, one pair_id
    edited): the config and the inbox."""
    tmp = tmp_path_factory.mktemp("import")
    cfg = _config(tmp)
    pipeline.run(cfg)
    inbox = simulated_reviewer(sorted((cfg.output.dir / "review").glob("*/*.csv")), TRUTH, tmp / "inbox",
                               share=0.8, wrong=0.1, seed=5)
    broken = max(inbox, key=lambda p: pl.read_csv(p, separator=";", infer_schema=False).height)
    rows = pl.read_csv(broken, separator=";", infer_schema=False)
    i = pl.int_range(pl.len())
    rows = rows.with_columns(
        pl.when(i == 0).then(pl.lit("MUNGKIN")).when(i == 1).then(pl.lit("SAMA")).otherwise("keputusan")
        .alias("keputusan"),
        pl.when(i == 1).then(pl.lit("0000000000000000")).otherwise("pair_id").alias("pair_id"))
    rows.write_csv(broken, separator=";")
    (tmp / "before.txt").write_text(repr(_review_rows(cfg)))
    pipeline.review_import(cfg, inbox)
    return cfg, inbox


def test_the_report_shows_what_the_import_read_per_file(first: tuple[Config, Path]) -> None:
    cfg, inbox = first
    page = (cfg.output.dir / "report.html").read_text(encoding="utf-8")
    assert '<section id="impor">' in page
    (when,) = _q(cfg, "SELECT imported_at FROM review_imports")["imported_at"]
    log = _q(cfg, "SELECT file, hasil, count(*) AS n FROM review_import_log WHERE imported_at = ? GROUP BY ALL",
             [when])
    table = page_tables(page)["tabel-impor-berkas"]
    head = [h.split()[0] if h.split()[0] != "tidak" else "tidak berubah" for h in table[0]]
    shown = {(row[0], head[i]): _n(v) for row in table[1:-1] for i, v in enumerate(row[1:-1], start=1)}
    expect = {(Path(r["file"]).name, r["hasil"]): r["n"] for r in log.iter_rows(named=True)}
    assert {k: v for k, v in shown.items() if v} == expect
    assert {f for f, _ in shown} == {p.name for p in inbox}
    assert _n(table[-1][-1]) == log["n"].sum()
    refused = _q(cfg, "SELECT kolom, pesan, count(*) AS n FROM review_import_log WHERE imported_at = ? AND "
                      "hasil = 'ditolak' GROUP BY ALL ORDER BY n DESC, kolom, pesan", [when])
    assert refused.height == 2                     # the unknown word and the unknown pair
    assert [[r[0], r[1], _n(r[2])] for r in page_tables(page)["tabel-impor-ditolak"][1:-1]] == [
        list(r) for r in refused.iter_rows()]


def test_the_report_shows_who_the_import_strikes_and_the_next_run_does_strike_them(
        first: tuple[Config, Path], tmp_path: Path) -> None:
    cfg = _copy(first, tmp_path)
    page = (cfg.output.dir / "report.html").read_text(encoding="utf-8")
    effect = _effect(page)
    history = _q(cfg, "SELECT * FROM review_decisions")
    standing = decisions.standing(history)
    ranks, _ = pipeline.keep_ranks(cfg, _q(cfg, "SELECT * FROM voters"))
    predicted = set(decisions.resolve(standing, ranks).struck["voter_id"])     # no decision before this import
    assert effect["newly struck"] == len(predicted) > 0 and effect["restored"] == 0
    assert effect["conflicts after"] == int((standing["keputusan"] == decisions.KONFLIK).sum())
    assert effect["conflicts before"] == 0
    # The groups the decisions change: the word standing on each pair, with the run's groups of its records.
    groups = _q(cfg, "SELECT voter_id, group_id FROM duplicate_groups")
    pairs = (standing.join(groups.rename({"voter_id": "voter_id_l", "group_id": "gl"}), on="voter_id_l", how="left")
             .join(groups.rename({"voter_id": "voter_id_r", "group_id": "gr"}), on="voter_id_r", how="left"))
    one = pairs.filter(pl.col("gl") == pl.col("gr"))
    assert effect["decided, in conflict"] == int((standing["keputusan"] == decisions.KONFLIK).sum()) > 0
    assert effect["groups to split"] == one.filter(pl.col("keputusan") == "BEDA")["gl"].n_unique() > 0
    assert effect["groups confirmed"] == one.filter(pl.col("keputusan") == "SAMA")["gl"].n_unique() > 0
    sama_out = pairs.filter((pl.col("keputusan") == "SAMA") & ~(pl.col("gl") == pl.col("gr")).fill_null(False))
    joined = sama_out.filter(pl.col("gl").is_not_null() & pl.col("gr").is_not_null())
    assert effect["groups to join"] == joined.select("gl", "gr").unique().height
    grown = sama_out.filter(pl.col("gl").is_null() | pl.col("gr").is_null())
    assert effect["groups new or grown"] == grown.select(pl.coalesce("gl", "gr", "pair_id")).n_unique() > 0
    split = one.filter(pl.col("keputusan") == "BEDA")

    pipeline.run(cfg)
    assert _struck(cfg) == predicted                  # what the report said the next run would do
    after = _q(cfg, "SELECT voter_id, group_id FROM duplicate_groups")
    beda = standing.filter(pl.col("keputusan") == "BEDA").select("voter_id_l", "voter_id_r")
    group_of = dict(zip(after["voter_id"], after["group_id"], strict=True))
    apart = [group_of.get(a) is None or group_of.get(a) != group_of.get(b) for a, b in beda.iter_rows()]
    assert all(apart) and split.height
    again = (cfg.output.dir / "report.html").read_text(encoding="utf-8")
    assert "sesudahnya sudah menerapkannya" in again      # the run's report still shows the import, as applied


def test_the_report_counts_the_review_files_it_rewrote(first: tuple[Config, Path]) -> None:
    cfg, _ = first
    page = (cfg.output.dir / "report.html").read_text(encoding="utf-8")
    table = page_tables(page)["tabel-impor-review"]
    now = {r[0]: _n(r[2]) for r in table[1:-1] if _n(r[2])}
    assert now == _review_rows(cfg)                    # the files on disk, as the camat opens them
    before = eval((cfg.output.dir.parent / "before.txt").read_text())  # noqa: S307 - our own repr of a dict
    assert {r[0]: _n(r[1]) for r in table[1:-1] if _n(r[1])} == before
    assert sum(now.values()) < sum(before.values())


def test_a_sama_taken_back_restores_the_voter_in_the_report_and_in_the_next_run(
        first: tuple[Config, Path], tmp_path: Path) -> None:
    cfg, inbox = _copy(first, tmp_path), first[1]
    pipeline.run(cfg)                                  # the first import applied
    struck_before = _struck(cfg)
    # A camat corrects their own file: some SAMA become BEDA.
    target = max(inbox, key=lambda p: (pl.read_csv(p, separator=";", infer_schema=False)["keputusan"] == "SAMA").sum())
    rows = pl.read_csv(target, separator=";", infer_schema=False)
    sama = rows.with_row_index("_i").filter(pl.col("keputusan") == "SAMA")["_i"].head(3).to_list()
    rows = rows.with_columns(pl.when(pl.int_range(pl.len()).is_in(sama)).then(pl.lit("BEDA"))
                             .otherwise("keputusan").alias("keputusan"))
    fixed = tmp_path / "fixed" / target.parent.name / target.name
    fixed.parent.mkdir(parents=True)
    rows.write_csv(fixed, separator=";")
    pipeline.review_import(cfg, [fixed])
    page = (cfg.output.dir / "report.html").read_text(encoding="utf-8")
    effect = _effect(page)
    (import_id,) = _q(cfg, "SELECT import_id FROM review_imports ORDER BY started_at DESC LIMIT 1")["import_id"]
    assert _q(cfg, "SELECT count(*) AS n FROM review_imports")["n"].item() == 2
    assert f"Impor terakhir: {import_id}" in page

    pipeline.run(cfg)
    struck_after = _struck(cfg)
    restored, newly = struck_before - struck_after, struck_after - struck_before
    assert effect["restored"] == len(restored) > 0 and effect["newly struck"] == len(newly)
    listed = [r for r in page_tables(page)["tabel-impor-perubahan"][1:] if r[0] == review_changes.RESTORED]
    assert {r[1] for r in listed} <= {_masked(v) for v in restored} and listed
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.search(r"(kutim|bontang|kukar)-[0-9a-f]{16}", text)       # ids shortened, never whole
    for nik, nama in _q(cfg, "SELECT nik, nama FROM voters WHERE voter_id IN (SELECT unnest(?::VARCHAR[]))",
                        [sorted(restored)]).iter_rows():
        assert (nik is None or nik not in text) and nama not in text
