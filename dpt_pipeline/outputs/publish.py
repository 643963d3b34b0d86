"""Last stage, publish: every table of the run into one DuckDB file that analysts query ad hoc.

The database is made beside the published one (in the staging folder) and moved into place with the
run's other outputs (`io.runs.commit`), so a reader never sees a half-written run, a failed or killed run
leaves the previous night's database untouched, and an analyst who has the published file open keeps
reading last night's (os.replace leaves their file as it was; DuckDB would refuse to write into a file
another process holds open, even read-only).

Most nights change little, so the published file is copied (a fraction of a second for a large file) and
updated, in one transaction: the tables whose digest (`io.database`) differs from the recorded one are
replaced, `voters` is merged by voter_id (the gone and changed rows deleted, the new and changed ones
inserted), the tables neither made by the run nor carried are dropped, and the views are made again. The
result holds the same tables and rows as a database written from scratch; the merged voters come in
another row order (query with ORDER BY). A file with much free space in it (the blocks of replaced tables
are reused, but a file never shrinks) is written from scratch instead, and so is the first one.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Collection
from pathlib import Path

import duckdb
import polars as pl

from dpt_pipeline.io.database import DIGESTS, digest, forget, merge_table, replace_table, stored_digest
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


# Tables merged row by row rather than replaced, by their key: the large ones whose rows mostly stay.
MERGED: dict[str, str] = {"voters": "voter_id"}
# A published file with more free blocks than this share of its blocks is written again from scratch.
LOOSE = 0.4


def _drop_views(con: duckdb.DuckDBPyConnection) -> None:
    for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary "
                               "AND database_name = current_database()").fetchall():
        con.execute(f'DROP VIEW "{name}"')


def _create_views(con: duckdb.DuckDBPyConnection) -> None:
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_type = "
                                         "'BASE TABLE' AND table_catalog = current_database()").fetchall()}
    for name, (needs, sql) in VIEWS.items():
        if set(needs) <= present:
            con.execute(f'CREATE VIEW "{name}" AS {sql}')
    if set(evidence.NEEDS) <= present:   # its columns are the model's comparisons
        names = [r[0] for r in con.execute(evidence.comparisons_sql()).fetchall()]
        con.execute(f'CREATE VIEW "{evidence.VIEW}" AS {evidence.view_sql(names)}')


def publish(tables: dict[str, pl.DataFrame], path: Path, *, previous: Path | None = None,
            carry: tuple[str, ...] = ()) -> Path:
    """Make the database at `path` hold `tables` (name -> frame), the persistent tables and those named
    in `carry` as the `previous` database (default: `path`) has them unless the run made them, and no
    other table."""
    _update(tables, previous or path, path, keep={*PERSISTENT_TABLES, *carry})
    return path


def replace_tables(tables: dict[str, pl.DataFrame], path: Path, target: Path | None = None) -> Path:
    """Replace (or add) `tables` in the database at `path`, keeping every other table, into `target`
    (default: `path`)."""
    target = target or path
    _update(tables, path, target, keep=None)
    return target


def _update(tables: dict[str, pl.DataFrame], source: Path, target: Path, keep: Collection[str] | None) -> None:
    """Write into `target` the database `source` with `tables` replaced and, unless `keep` is None (every
    table kept), only the tables of `keep` kept besides them: `source` copied and updated in place, or a
    new file when there is no source or it is loose."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    digests = {name: digest(frame) for name, frame in tables.items()}
    fresh = not source.exists() or _loose(source)
    if not fresh:
        shutil.copyfile(source, tmp)
    con = duckdb.connect(str(tmp))
    try:
        if fresh:
            _write(con, tables, digests, source if source.exists() else None, keep)
        else:
            _merge(con, tables, digests, keep)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, target)


def _loose(path: Path) -> bool:
    """True when the database file at `path` is mostly free blocks (it is then written again)."""
    with duckdb.connect(str(path), read_only=True) as con:
        total, free = con.execute("SELECT total_blocks, free_blocks FROM pragma_database_size()").fetchall()[0]
    if total and free > LOOSE * total:
        log.info("the database %s is %d%% free space; it is written again from scratch", path, 100 * free // total)
        return True
    return False


def _write(con: duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame], digests: dict[str, str],
           source: Path | None, keep: Collection[str] | None) -> None:
    """Write `tables` into the new database on `con`, and the kept tables of `source` as they are there."""
    for name, frame in tables.items():
        replace_table(con, name, frame, known=digests[name])
    if source is not None:
        _carry(con, tables, source, keep)
    _create_views(con)
    log.info("database written from scratch (%d tables)", len(tables))


def _carry(con: duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame], source: Path,
           keep: Collection[str] | None) -> None:
    """Copy the kept tables of `source` the run did not make into the database on `con`, as they are."""
    quoted = str(source).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS _dpt_source (READ_ONLY)")
    try:
        there = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = "
                                           "'_dpt_source' AND table_type = 'BASE TABLE'").fetchall()}
        carried = sorted(n for n in there - set(tables) - {DIGESTS} if keep is None or n in keep)
        for name in carried:
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _dpt_source."{name}"')
        if carried and DIGESTS in there:
            con.execute(f"INSERT INTO {DIGESTS} SELECT * FROM _dpt_source.{DIGESTS} "
                        "WHERE table_name IN (SELECT unnest(?::VARCHAR[]))", [carried])
    finally:
        con.execute("DETACH _dpt_source")


def _merge(con: duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame], digests: dict[str, str],
           keep: Collection[str] | None) -> None:
    """Update the copied database on `con` to hold `tables`, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    _drop_views(con)
    if keep is not None:
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables "
                                   "WHERE table_type = 'BASE TABLE' AND table_catalog = current_database()").fetchall():
            if name not in tables and name not in keep and name != DIGESTS:
                forget(con, name)
    replaced, merged = [], []
    for name, frame in tables.items():
        if stored_digest(con, name) == digests[name]:
            continue
        if name in MERGED:
            done = merge_table(con, name, frame, MERGED[name], known=digests[name])
            merged.append(f"{name} -{done[0]:,} +{done[1]:,} rows" if done else f"{name} written again")
        else:
            replace_table(con, name, frame, known=digests[name])
            replaced.append(name)
    _create_views(con)
    con.execute("COMMIT")
    log.info("database updated in place: %d of %d tables replaced%s", len(replaced), len(tables),
             f"; merged {', '.join(merged)}" if merged else "")
