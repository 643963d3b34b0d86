"""Last stage, publish: every table of the run into one DuckDB file that analysts query ad hoc.

The database is written beside the old one and moved into place at the end, so a reader never sees a
half-written run and a failed run leaves the previous night's database untouched.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import duckdb
import polars as pl

from dpt_pipeline.io.database import read_previous, replace_table
from dpt_pipeline.io.files import FILE_MODE
from dpt_pipeline.outputs import evidence

log = logging.getLogger(__name__)



# Tables a run does not make but carries from the previous database into the new one: people's work.
PERSISTENT_TABLES: tuple[str, ...] = ("review_decisions", "review_exports", "review_exported_voters",
                                      "review_reopened", "review_import_log", "review_imports",
                                      "review_import_changes")


# Views for the questions analysts ask most; each is made when the tables it reads are in the database.
VIEWS: dict[str, tuple[tuple[str, ...], str]] = {
    "v_pairs": (("duplicate_pairs", "voters"), """
        SELECT p.pair_id, p.match_probability, p.alasan, p.scope,
               l.nama AS nama_1, r.nama AS nama_2, l.nik AS nik_1, r.nik AS nik_2,
               l.tanggal_lahir AS tanggal_lahir_1, r.tanggal_lahir AS tanggal_lahir_2,
               l.nkk AS nkk_1, r.nkk AS nkk_2, l.alamat AS alamat_1, r.alamat AS alamat_2,
               l.desa AS desa_1, r.desa AS desa_2, l.kecamatan AS kecamatan_1, r.kecamatan AS kecamatan_2,
               l.kabupaten AS kabupaten_1, r.kabupaten AS kabupaten_2, l.source AS sumber_1, r.source AS sumber_2,
               l.source_row AS baris_1, r.source_row AS baris_2, p.voter_id_l, p.voter_id_r
        FROM duplicate_pairs p JOIN voters l ON l.voter_id = p.voter_id_l JOIN voters r ON r.voter_id = p.voter_id_r
        ORDER BY p.match_probability DESC, p.pair_id"""),
    "v_review_progress": (("review_summary",), """
        SELECT kabupaten, kecamatan, terbuka, sama, beda, ragu, sama + beda + ragu AS diputuskan,
               round(100.0 * (sama + beda) / nullif(terbuka + sama + beda + ragu, 0), 1) AS persen_selesai
        FROM review_summary ORDER BY terbuka DESC, kabupaten, kecamatan"""),
    "v_tps_load": (("tps_summary", "tps_quality"), """
        SELECT s.kode_desa, s.desa, s.tps, s.voters, q.tps AS tps_di_desa,
               round(100.0 * s.voters / max(s.voters) OVER (), 1) AS persen_terbesar,
               round(s.voters - q.voters / q.tps, 1) AS selisih_dari_rata2, s.households, s.rts,
               round(s.mean_distance_m) AS rata2_jarak_m, round(s.p95_distance_m) AS p95_jarak_m
        FROM tps_summary s JOIN tps_quality q USING (kode_desa) ORDER BY s.kode_desa, s.tps"""),
    "v_rejects_by_reason": (("rejects",), """
        SELECT source, reason, count(*) AS rows FROM rejects GROUP BY ALL ORDER BY source, rows DESC"""),
    "v_border_residents": (("border_residents", "voters"), """
        SELECT b.area, b.kode_desa, b.rt, b.status, v.nama, v.nik, v.source, v.source_row,
               b.pasangan_kode_desa, b.match_probability, b.voter_id, b.pasangan_voter_id
        FROM border_residents b JOIN voters v USING (voter_id) ORDER BY b.area, b.kode_desa, b.rt"""),
}


def _create_views(con: duckdb.DuckDBPyConnection) -> None:
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_type = 'BASE TABLE'").fetchall()}
    for name, (needs, sql) in VIEWS.items():
        if set(needs) <= present:
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
    if set(evidence.NEEDS) <= present:   # its columns are the model's comparisons
        names = [r[0] for r in con.execute(evidence.comparisons_sql()).fetchall()]
        con.execute(f'CREATE OR REPLACE VIEW "{evidence.VIEW}" AS {evidence.view_sql(names)}')


def publish(tables: dict[str, pl.DataFrame], path: Path, *, previous: Path | None = None,
            carry: tuple[str, ...] = ()) -> Path:
    """Write `tables` (name -> frame) as DuckDB tables in a new database file at `path`; the persistent
    tables and those named in `carry` come from the `previous` database (default: `path`) unless the run
    made them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    carried = {}
    for name in (*PERSISTENT_TABLES, *carry):
        if name not in tables and (prev := read_previous(previous or path, name)) is not None:
            carried[name] = prev
    _write(tmp, {**tables, **carried}, path)
    log.info("wrote the database %s (%d tables)", previous or path, len(tables))
    return path


def _write(tmp: Path, tables: dict[str, pl.DataFrame], target: Path) -> None:
    """Write (or replace) `tables` and the views into the database `tmp`, then move it to `target`."""
    con = duckdb.connect(str(tmp))
    try:
        for name, frame in tables.items():
            replace_table(con, name, frame)
        _create_views(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, target)


def replace_tables(tables: dict[str, pl.DataFrame], path: Path, target: Path | None = None) -> Path:
    """Replace (or add) `tables` in the database at `path`, keeping every other table: a copy is written
    beside `target` (default: `path`) and moved there, so a reader never sees half of the change."""
    target = target or path
    tmp = target.with_name(target.name + ".tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.copyfile(path, tmp)
    _write(tmp, tables, target)
    log.info("updated %d tables of the database %s", len(tables), path)
    return target
