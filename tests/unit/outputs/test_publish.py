"""Publish updates a copy of the published database in place: after any nights (and crashes between
them), it holds the same tables, rows and views as a database written from scratch for the same run."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpt_pipeline.io import database, runs
from dpt_pipeline.io.database import DIGESTS, digest, merge_table, read_previous
from dpt_pipeline.outputs import publish

ROOT = Path(__file__).resolve().parents[3]
NAMES = ["ANI", "BUDI", "SITI", "Ö'MAR", None]


def _voters(ids: list[int], edits: dict[int, int]) -> pl.DataFrame:
    """A voters table: one row per id, its fields drawn from the id (and its edit count)."""
    return pl.DataFrame({
        "voter_id": [f"src-{i:06x}" for i in ids],
        "source": ["src" if i % 3 else "lain" for i in ids],
        "source_row": [i for i in ids],
        "nama": [NAMES[(i + edits.get(i, 0)) % len(NAMES)] for i in ids],
        "tanggal_lahir": [dt.date(1960, 1, 1) + dt.timedelta(days=i * 37 + edits.get(i, 0)) for i in ids],
        "rt": pl.Series([i % 7 or None for i in ids], dtype=pl.Int32),
        "nik_valid": [bool(i % 2) for i in ids],
    }, schema_overrides={"source_row": pl.Int64})


def _tables(ids: list[int], edits: dict[int, int], night: int, with_rejects: bool) -> dict[str, pl.DataFrame]:
    t = {"voters": _voters(ids, edits),
         "runs": pl.DataFrame({"run_id": [f"r{k}" for k in range(night + 1)], "status": ["ok"] * (night + 1)})}
    if with_rejects:
        t["rejects"] = pl.DataFrame({"source": ["src", "lain"], "source_row": [1, 2],
                                     "reason": ["kosong", f"rusak {night % 2}"], "raw": ["", "x"]})
    return t


def _decisions(night: int) -> pl.DataFrame:
    return pl.DataFrame({"pair_id": [f"p{k}" for k in range(night)], "keputusan": ["SAMA"] * night},
                        schema={"pair_id": pl.String, "keputusan": pl.String})


def _dump(db: Path) -> dict[str, object]:
    """Every table (voters in voter_id order: a merge appends its new rows; the others as stored), every
    view's SQL and rows."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = sorted(r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                                  "WHERE table_type = 'BASE TABLE'").fetchall())
        out: dict[str, object] = {}
        for name in tables:
            frame = con.sql(f'SELECT * FROM "{name}"').pl()
            if name == "voters":
                frame = frame.sort("voter_id")
            if name == DIGESTS:
                frame = frame.sort("table_name")
            out[name] = frame
        for name, sql in con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall():
            out[f"view {name}"] = (sql, sorted(map(repr, con.execute(f'SELECT * FROM "{name}"').fetchall())))
    return out


def _assert_same(merged: Path, fresh: Path) -> None:
    a, b = _dump(merged), _dump(fresh)
    assert sorted(a) == sorted(b)
    for name in a:
        assert _same(a[name], b[name]), name


def _from_scratch(tables: dict[str, pl.DataFrame], published: Path, path: Path) -> Path:
    """The database a run writes with no database before it: its tables and the persistent ones as the
    published database has them, each written anew."""
    carried = {n: f for n in publish.PERSISTENT_TABLES if n not in tables
               and (f := read_previous(published, n)) is not None}
    shutil.rmtree(path.parent, ignore_errors=True)
    return publish.publish({**tables, **carried}, path)


night_plans = st.lists(st.tuples(
    st.sets(st.integers(0, 59), max_size=12),       # ids that leave
    st.sets(st.integers(60, 99), max_size=8),       # ids that come
    st.sets(st.integers(0, 99), max_size=12),       # ids edited
    st.booleans(),                                   # rejects made tonight
    st.sampled_from(["ok", "killed before COMMIT", "killed after COMMIT"]),
), min_size=1, max_size=4)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans=night_plans)
def test_nights_and_crashes_leave_what_a_fresh_write_makes(tmp_path_factory: pytest.TempPathFactory,
                                                           plans: list[tuple]) -> None:
    tmp = tmp_path_factory.mktemp("nights")
    out = tmp / "out"
    ids, edits = list(range(40)), {}
    with runs.lock(out, "run"):
        staging = runs.begin(out)
        publish.publish({**_tables(ids, edits, 0, True), "review_decisions": _decisions(0)}, staging / "dpt.duckdb",
                        previous=out / "dpt.duckdb")
        runs.commit(out)
    for night, (gone, come, edited, with_rejects, fate) in enumerate(plans, 1):
        prev_ids, prev_edits = ids, edits
        ids = [i for i in ids if i not in gone] + sorted(set(come) - set(ids))
        edits = {**edits, **{i: edits.get(i, 0) + 1 for i in edited}}
        tables = _tables(ids, edits, night, with_rejects)
        published = out / "dpt.duckdb"
        with runs.lock(out, "run"):
            staging = runs.begin(out)          # a crashed night before is discarded or rolled forward here
            if night % 2:                      # an import between nights: a persistent table changes
                copy = staging / "import.duckdb"
                shutil.copyfile(published, copy)
                with duckdb.connect(str(copy)) as con:
                    database.replace_table(con, "review_decisions", _decisions(night))
                copy.replace(published)
            before = _dump(published)
            expected = _from_scratch(tables, published, tmp / f"fresh{night}" / "dpt.duckdb")
            publish.publish(tables, staging / "dpt.duckdb", previous=published)
            if fate == "killed before COMMIT":   # the staged database stays behind, as a SIGKILL leaves it
                assert _dump(published).keys() == before.keys()
                assert all(_same(_dump(published)[k], v) for k, v in before.items())
                ids, edits = prev_ids, prev_edits
                continue
            if fate == "killed after COMMIT":    # the marker written, nothing moved yet: the next run finishes
                roll = runs._roll_forward
                runs._roll_forward = lambda out_dir: None  # type: ignore[assignment]
                try:
                    runs.commit(out)
                finally:
                    runs._roll_forward = roll
                assert runs.committed(out)
                runs.recover(out)
            else:
                runs.commit(out)
        _assert_same(published, expected)


def _same(a: object, b: object) -> bool:
    return a.equals(b) if isinstance(a, pl.DataFrame) else a == b  # type: ignore[union-attr]


def _night(tables: dict[str, pl.DataFrame], out: Path) -> Path:
    staging = out / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    publish.publish(tables, staging / "dpt.duckdb", previous=out / "dpt.duckdb")
    (staging / "dpt.duckdb").replace(out / "dpt.duckdb")
    return out / "dpt.duckdb"


def test_only_the_changed_tables_are_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = list(range(50))
    _night(_tables(ids, {}, 0, True), tmp_path)
    written: list[str] = []
    def spy(real: Callable[..., object]) -> Callable[..., object]:
        def call(con: duckdb.DuckDBPyConnection, table: str, *a: object, **k: object) -> object:
            written.append(table)
            return real(con, table, *a, **k)
        return call

    for name in ("replace_table", "merge_table"):
        monkeypatch.setattr(publish, name, spy(getattr(publish, name)))
    _night(_tables(ids, {}, 2, True), tmp_path)         # the same rejects as night 0
    assert written == ["runs"]
    written.clear()
    _night(_tables(ids[1:], {3: 1}, 3, True), tmp_path)
    assert written == ["voters", "runs", "rejects"]


def test_voters_are_merged_not_written_again(tmp_path: Path) -> None:
    ids = list(range(100))
    db = _night(_tables(ids, {}, 0, False), tmp_path)
    frame = _tables(ids[2:] + [100], {5: 1}, 1, False)["voters"]
    with duckdb.connect(str(db)) as con:
        con.execute("BEGIN")
        assert merge_table(con, "voters", frame, "voter_id") == (3, 2)   # 2 gone, 1 edited; 1 new, 1 edited
        con.execute("COMMIT")
        stored = con.sql("SELECT * FROM voters").pl()
    assert stored.sort("voter_id").equals(frame.sort("voter_id"))
    assert stored["voter_id"].to_list()[-2:] == ["src-000005", "src-000064"]   # the new rows come last


def test_a_new_schema_or_a_key_not_unique_replaces_the_table(tmp_path: Path) -> None:
    ids = list(range(20))
    db = _night(_tables(ids, {}, 0, False), tmp_path)
    wider = _voters(ids, {}).with_columns(pl.lit("x").alias("baru"))
    twice = pl.concat([_voters(ids, {}), _voters(ids[:1], {})])
    with duckdb.connect(str(db)) as con:
        for frame in (wider, twice):
            assert merge_table(con, "voters", frame, "voter_id") is None
            assert con.sql("SELECT * FROM voters").pl().equals(frame)


def test_a_table_changed_by_other_means_is_written_again(tmp_path: Path) -> None:
    tables = _tables(list(range(30)), {}, 0, True)
    db = _night(tables, tmp_path)
    with duckdb.connect(str(db)) as con:      # an analyst who opened the database for writing
        con.execute("DELETE FROM rejects WHERE source = 'lain'")
        con.execute("DELETE FROM voters WHERE source_row < 3")
    _night(tables, tmp_path)
    _assert_same(db, _from_scratch(tables, db, tmp_path / "fresh" / "dpt.duckdb"))


def test_a_loose_file_is_written_from_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _night({**_tables(list(range(30)), {}, 0, True), "review_decisions": _decisions(2)}, tmp_path)
    with duckdb.connect(str(db)) as con:       # free blocks left behind by a large table dropped
        con.execute("CREATE TABLE besar AS SELECT range AS x, range::VARCHAR AS y FROM range(300000)")
        con.execute("CHECKPOINT")
        con.execute("DROP TABLE besar")
        con.execute("CHECKPOINT")
    assert publish._loose(db)
    tables = _tables(list(range(5, 35)), {}, 1, True)
    expected = _from_scratch(tables, db, tmp_path / "fresh" / "dpt.duckdb")
    _night(tables, tmp_path)
    _assert_same(db, expected)
    assert not publish._loose(db)


def test_digests_agree_across_processes_and_tell_changes_apart() -> None:
    frame = _voters(list(range(200)), {})
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from tests.unit.outputs.test_publish import _voters; "
            "from dpt_pipeline.io.database import digest; print(digest(_voters(list(range(200)), {})))")
    other = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True,
                           cwd=ROOT).stdout.strip()
    assert other == digest(frame)
    assert len({digest(frame), digest(frame.reverse()), digest(_voters(list(range(200)), {7: 1})),
                digest(frame.with_columns(pl.col("rt").cast(pl.Int64))), digest(frame.head(0))}) == 5


def test_a_reader_holding_the_published_file_neither_stops_nor_sees_the_update(tmp_path: Path) -> None:
    db = _night(_tables(list(range(30)), {}, 0, False), tmp_path)
    code = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); print('ready', flush=True); "
            "sys.stdin.readline(); print(c.execute('SELECT count(*) FROM voters').fetchall()[0][0], flush=True)")
    reader = subprocess.Popen([sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        _night(_tables(list(range(10)), {}, 1, False), tmp_path)
        assert reader.stdin is not None
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "30"       # last night's file, whole
    finally:
        reader.kill()
        reader.communicate()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM voters").fetchall()[0][0] == 10
