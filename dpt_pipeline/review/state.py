"""The review loop's tables in the published database, and the review state read from it once per command.

`review_exports` remembers every pair a review file listed (its two voter_ids, the export, the file owner
`berkas` and the status shown), `review_exported_voters` the records as the files showed them,
`review_reopened` the pairs a changed record sent back, `review_import_log` the outcome of every imported
row; `review_decisions` (DECISION_SCHEMA) is the history of decisions, read through `core.decisions`.
A database from before a table existed reads as that table empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from dpt_pipeline.core import decisions
from dpt_pipeline.core.decisions import DECISION_SCHEMA
from dpt_pipeline.errors import InputError
from dpt_pipeline.io.database import has_table

# The fields of a record a review file shows (and review_exported_voters keeps), and the two whose column
# in the file is named otherwise.
SIDE_FIELDS = ("source", "source_row", "nama", "nik", "tanggal_lahir", "jenis_kelamin", "tempat_lahir", "nkk",
               "alamat", "rt", "rw", "desa", "kecamatan", "kabupaten", "tps")
SIDE_NAMES = {"source": "sumber", "source_row": "baris"}
EXPORTS_SCHEMA: dict[str, pl.DataType] = {
    "ekspor": pl.String(), "berkas": pl.String(), "diekspor": pl.Datetime("us"), "pair_id": pl.String(),
    "voter_id_l": pl.String(), "voter_id_r": pl.String(), "match_probability": pl.Float64(),
    "alasan": pl.String(), "status": pl.String()}
REOPENED_SCHEMA: dict[str, pl.DataType] = {
    "pair_id_lama": pl.String(), "voter_id_l": pl.String(), "voter_id_r": pl.String(), "berubah": pl.String(),
    "keputusan_lama": pl.String(), "file": pl.String(), "baris": pl.Int64(), "dibuka_at": pl.Datetime("us")}
LOG_SCHEMA: dict[str, pl.DataType] = {
    "imported_at": pl.Datetime("us"), "file": pl.String(), "baris": pl.Int64(), "pair_id": pl.String(),
    "hasil": pl.String(), "kolom": pl.String(), "pesan": pl.String()}


def table(con: duckdb.DuckDBPyConnection, name: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A table of the database in `schema` (columns it lacks are null), empty when absent (a database from
    before it existed)."""
    if not has_table(con, name):
        return pl.DataFrame(schema=schema)
    frame = con.sql(f'SELECT * FROM "{name}"').pl()
    missing = [c for c in schema if c not in frame.columns]
    return frame.with_columns([pl.lit(None, schema[c]).alias(c) for c in missing]).select(list(schema)).cast(
        schema)  # type: ignore[arg-type]


def history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every decision imported so far (decisions.history_frame of review_decisions)."""
    return decisions.history_frame(table(con, "review_decisions", DECISION_SCHEMA))


@dataclass
class ReviewState:
    """What the review loop reads from a published database, read once per command."""

    voters: pl.DataFrame
    names: dict[str, str]
    history: pl.DataFrame
    exports: pl.DataFrame      # review_exports
    shown: pl.DataFrame        # review_exported_voters
    listed: pl.DataFrame       # review_pairs (or duplicate_pairs before it existed)
    pairs: pl.DataFrame        # duplicate_pairs
    reopened: pl.DataFrame     # review_reopened

    def named_voters(self) -> pl.DataFrame:
        """The voters a review step can name: the records of every listed, decided or reopened pair. Their
        keep order (decisions.rule_columns) is, between any two of them, the one over the whole roll (every
        keep rule is a condition on a record's own fields), at a tenth of the cost."""
        ids = pl.concat([f.select(pl.col(c).alias("voter_id")) for f in (self.listed, self.history, self.reopened)
                         for c in ("voter_id_l", "voter_id_r")])
        return self.voters.join(ids.unique(), on="voter_id", how="semi")


def read_state(con: duckdb.DuckDBPyConnection, database: Path) -> ReviewState:
    """The review state of the database open on `con` (at `database`, named in the error): the voters, the
    region names, the decision history and the review tables. Refused before any run wrote pairs."""
    if not has_table(con, "duplicate_pairs"):
        raise InputError("the database holds no duplicate pairs (only `dpt ingest` ran?): run `dpt run` first",
                         path=database)
    cols = "pair_id, voter_id_l, voter_id_r, match_probability, alasan"
    pairs = con.sql(f"SELECT {cols} FROM duplicate_pairs").pl()
    regions = con.sql("SELECT kode, nama FROM regions").pl()
    return ReviewState(
        voters=con.sql("SELECT * FROM voters").pl(),
        names=dict(zip(regions["kode"].to_list(), regions["nama"].to_list(), strict=True)),
        history=history(con), exports=table(con, "review_exports", EXPORTS_SCHEMA),
        shown=(con.sql("SELECT * FROM review_exported_voters").pl() if has_table(con, "review_exported_voters")
               else pl.DataFrame(schema={"voter_id": pl.String()})),
        listed=con.sql(f"SELECT {cols} FROM review_pairs").pl() if has_table(con, "review_pairs") else pairs,
        pairs=pairs, reopened=table(con, "review_reopened", REOPENED_SCHEMA))
