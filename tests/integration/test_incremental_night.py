"""An incremental night equals a full run with the same model: every table of the database, the review files,
the TPS maps and layers. After a change to a desa's households (a family moved to another RT, a voter joining
a KK, one leaving), and after a night whose run was killed half-way (the crash leaves a staging folder and a
half-written cache behind; the next night must neither use nor be thrown off by them)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dpt_pipeline import cli
from dpt_pipeline.io import runs

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"

# What differs between any two runs, whatever they computed: when they ran, how long they took, their ids.
RUN_TABLES = {"runs", "table_digests"}   # table_digests: a digest of every table, these included
RUN_COLUMNS = {"seconds", "run_id", "export_id", "diekspor", "ekspor", "started_at", "finished_at", "exported_at",
               "imported_at", "import_id"}


def _config(tmp: Path, name: str, data: Path, *, model: Path | None = None) -> Path:
    text = (ROOT / "config" / "pipeline.toml").read_text().replace('dir = "../reports"', f'dir = "{tmp / name}"')
    text = text.replace('"../sample_data/', f'"{data}/').replace(
        'regions = "regions.csv"', f'regions = "{ROOT / "dpt_pipeline" / "core" / "regions.csv"}"')
    if model is not None:
        text = text.replace("[linkage]\n", f'[linkage]\nmodel = "{model}"\n')
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def night_one(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first night, published with its maps: the output folder."""
    tmp = tmp_path_factory.mktemp("night1")
    assert cli.main(["run", "--config", str(_config(tmp, "out", SAMPLE)), "-q"]) == 0
    return tmp / "out"


def _rows(path: Path) -> tuple[str, list[list[str]]]:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return lines[0], [line.split(";") for line in lines[1:]]


def _households_changed(tmp: Path) -> tuple[Path, str]:
    """The sample with one Kutim desa's households changed: a whole KK moved to another RT, a voter added
    to another KK, one voter gone. Returns the data folder and the desa changed."""
    data = tmp / "data"
    shutil.copytree(SAMPLE, data)
    path = data / "dpt_kutim.csv"
    header, rows = _rows(path)
    col = {h.strip().upper(): i for i, h in enumerate(header.split(";"))}
    nkk, rt, desa, nama, nik = col["NKK"], col["RT"], col["KELURAHAN/DESA"], col["NAMA"], col["NIK"]
    by_desa: dict[str, list[int]] = {}
    width = len(header.split(";"))
    for i, r in enumerate(rows):
        # Rows of the sample's damaged kinds (cut short, no NKK, no RT) stay as they are.
        if len(r) == width and r[nkk].isdigit() and r[rt].strip():
            by_desa.setdefault(r[desa], []).append(i)
    target = max(by_desa, key=lambda d: len(by_desa[d]))
    mine = by_desa[target]
    kks: dict[str, list[int]] = {}
    for i in mine:
        kks.setdefault(rows[i][nkk], []).append(i)
    families = [k for k, members in kks.items() if len(members) >= 2 and k]
    moved, joined = families[0], families[1]
    other_rt = next(rows[i][rt] for i in mine if rows[i][rt] != rows[kks[moved][0]][rt])
    for i in kks[moved]:
        rows[i][rt] = other_rt
    newcomer = list(rows[kks[joined][0]])
    newcomer[nama] = "ANAK BARU " + newcomer[nama].split(" ")[0]
    newcomer[nik] = newcomer[nik][:-4] + "9917" if len(newcomer[nik]) == 16 else newcomer[nik]
    gone = next(i for i in mine if rows[i][nkk] not in (moved, joined))
    rows = [r for i, r in enumerate(rows) if i != gone] + [newcomer]
    path.write_text("\ufeff" + "\n".join([header, *[";".join(r) for r in rows]]) + "\n", encoding="utf-8")
    return data, target


def _night(tmp: Path, published: Path, data: Path, name: str, *extra: str, model: Path | None = None) -> Path:
    out = tmp / name
    if not out.exists():
        shutil.copytree(published, out)
    assert cli.main(["run", "--config", str(_config(tmp, name, data, model=model)), "-q", *extra]) == 0
    return out


def _tables(db: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_type = 'BASE TABLE' ORDER BY 1").fetchall()]
        return {n: con.sql(f'SELECT * FROM "{n}"').pl() for n in names if n not in RUN_TABLES}


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop([c for c in frame.columns if c in RUN_COLUMNS])


def _files(folder: Path, pattern: str) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob(pattern)) if p.is_file()}


def _review_csv(folder: Path) -> dict[str, pl.DataFrame]:
    out = {}
    for p in sorted((folder / "review").rglob("*.csv")):
        frame = pl.read_csv(p, separator=";", infer_schema=False)
        out[p.relative_to(folder).as_posix()] = _comparable(frame)
    return out


def _assert_same_outputs(incremental: Path, full: Path) -> None:
    a, b = _tables(incremental / "dpt.duckdb"), _tables(full / "dpt.duckdb")
    assert sorted(a) == sorted(b)
    for name in a:
        assert _comparable(a[name]).equals(_comparable(b[name])), name
    ra, rb = _review_csv(incremental), _review_csv(full)
    assert sorted(ra) == sorted(rb) and ra
    for name in ra:
        assert ra[name].equals(rb[name]), name
    ta, tb = _files(incremental / "tps", "*"), _files(full / "tps", "*")
    assert sorted(ta) == sorted(tb) and ta
    for name in ta:
        if name.endswith(".gpkg"):   # a GeoPackage records when it was written: its layers are compared
            assert _layers(incremental / "tps" / name) == _layers(full / "tps" / name), name
        else:
            assert ta[name] == tb[name], name


def _layers(path: Path) -> dict[str, list[tuple[object, ...]]]:
    import pyogrio

    out = {}
    for name, _ in pyogrio.list_layers(path):
        table = pyogrio.read_arrow(path, layer=str(name))[1]
        out[str(name)] = sorted(tuple(map(str, row.values())) for row in table.to_pylist())
    return out


def _model(published: Path, tmp: Path) -> Path:
    model = tmp / "model_fit.json"
    shutil.copy(published / "cache" / "model_fit.json", model)
    return model


def test_a_night_with_a_desa_s_households_changed_equals_a_full_run(night_one: Path, tmp_path: Path) -> None:
    data, desa = _households_changed(tmp_path)
    inc = _night(tmp_path, night_one, data, "incremental")
    full = _night(tmp_path, night_one, data, "full", "--full", model=_model(night_one, tmp_path))
    link = json.loads((inc / "run_summary.json").read_text())["linkage"]
    assert link["mode"] == "incremental" and link["reused_pairs"] > 0 and link["reused_records"] > 0
    _assert_same_outputs(inc, full)
    # The change reached the TPS: the moved family sits in its new RT tonight.
    before = _tables(night_one / "dpt.duckdb")["tps_assignments"]
    after = _tables(inc / "dpt.duckdb")["tps_assignments"]
    changed = after.join(before, on=["voter_id", "rt", "tps"], how="anti")
    assert changed.height > 0 and changed["desa"].str.to_uppercase().str.contains(desa.upper()).any()


def test_a_night_after_a_crash_equals_a_full_run(night_one: Path, tmp_path: Path) -> None:
    data, _ = _households_changed(tmp_path)
    crashed = tmp_path / "incremental"
    shutil.copytree(night_one, crashed)
    cfg = _config(tmp_path, "incremental", data)
    proc = subprocess.Popen([sys.executable, "-m", "dpt_pipeline.cli", "run", "--config", str(cfg), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    # Killed once tonight's cache is being written into the staging folder: a cache half there.
    while not (crashed / runs.STAGING / "cache").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (crashed / runs.STAGING).exists()
    assert runs.history(crashed)["status"].to_list()[-1] != "ok"
    inc = _night(tmp_path, night_one, data, "incremental")
    assert not (inc / runs.STAGING).exists()
    assert json.loads((inc / "run_summary.json").read_text())["linkage"]["mode"] == "incremental"
    full = _night(tmp_path, night_one, data, "full", "--full", model=_model(night_one, tmp_path))
    _assert_same_outputs(inc, full)


def test_a_roll_blocked_compared_and_scored_on_disk_equals_one_in_memory(night_one: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """From `blocking.SPILL_FROM` records on, the pairs are blocked, compared, fitted and scored a part at a
    time on disk. Forced here on the sample, in about seven parts: every output equals the run in memory's,
    nothing of the spill reaches the published folder, and the next night reuses the cache it wrote."""
    from dpt_pipeline.linkage import blocking, night

    with monkeypatch.context() as m:
        m.setattr(blocking, "SPILL_FROM", 1)
        m.setattr(blocking, "SPILL_RECORDS_PER_PART", 700)
        parts: list[int] = []
        real = night.compare_parts
        m.setattr(night, "compare_parts",
                  lambda records, files, *a: parts.append(len(files)) or real(records, files, *a))
        spilled = _night(tmp_path, night_one, SAMPLE, "spilled", "--full")
        assert parts and parts[0] >= 5
        assert not list(spilled.rglob(night.SPILL)) and not (spilled / runs.STAGING).exists()
        after = _night(tmp_path, spilled, SAMPLE, "after")
    in_memory = _night(tmp_path, night_one, SAMPLE, "memory", "--full")
    _assert_same_outputs(spilled, in_memory)
    link = json.loads((after / "run_summary.json").read_text())["linkage"]
    assert link["mode"] == "incremental" and link["reused_pairs"] == link["candidate_pairs"] > 0
