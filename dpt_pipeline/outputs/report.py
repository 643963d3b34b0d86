"""The run report: one self-contained HTML page (`reports/report.html`) that election-support staff read each
morning after the nightly run, with its charts embedded as base64 PNG.

Sections, each from the published database (opened read-only) and each skipped with a short note when its
tables are missing (an ingest-only run has no linkage tables; an older database has no `runs` table):

1. the run: id, times, status, version, config hash and input files (from `runs`, the last 'ok' row);
2. counts per stage (the run's `stages` JSON) and a chart of seconds per stage;
3. rejected rows per reason and source;
4. duplicate pairs per kecamatan and scope, claimed (>= 0.5) and to be checked (listed, below 0.5); groups and
   NIK conflicts;
5. pair evidence: the waterfall (`outputs.evidence`, the view pair_evidence) of the claimed pairs nearest the
   claim, the held pairs (ending on their rule) and the pairs just below it, a table and a chart each;
6. border areas: residents per area, desa and status;
7. review progress per kecamatan;
8. TPS quality: totals and one row per desa, with a link to the TPS maps when they lie beside the report;
9. change since the previous 'ok' run: every stage count of either run, before, now and the difference;
10. what the last `dpt review import` changed (`outputs.review_changes`): rows read per file, refused rows by
    reason, conflicts, voters newly struck or restored, groups changed, review files rewritten per kecamatan.

Privacy: only aggregates are read from the database into the page, and pair ids (a hash of two voter_ids),
voter and group ids shortened to 4 hex digits: never a whole voter_id, NIK, NKK, name, birth date or a
rejected row's `raw` text; every string is HTML-escaped (the templates' autoescaping). Speed:
every aggregation is one DuckDB query; Python only formats the (small) aggregated results; charts are
matplotlib's Figure API (Agg, no pyplot) at 80 dpi, and a chart the previous report holds drawn from the
same figures (its key in the page) is taken from it, not drawn again.

Layout: each section's builder returns blocks (a paragraph, a table of formatted cells, a chart, ...);
templates/report.html (over base.html, styled by report.css) lays them out and escapes every text.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from dpt_pipeline import __version__
from dpt_pipeline.core import decisions
from dpt_pipeline.core.schema import MODEL_HOLD, MODEL_PRIOR
from dpt_pipeline.core.thresholds import CLAIM
from dpt_pipeline.io.files import write_private
from dpt_pipeline.io.runs import final_path
from dpt_pipeline.outputs import border, evidence, review_changes
from dpt_pipeline.outputs.pages import render

log = logging.getLogger(__name__)

CHART_WIDTH = 7.0           # inches
CHART_HEIGHT = 3.0          # inches, the least; grows with the number of bars
CHART_MAX_HEIGHT = 8.0
DPI = 80
FONT = 9                    # points, every text of a chart
CHART_MAX_BARS = 25         # a chart shows at most this many bars (the largest); the table shows all
DASH = "–"
TPS_INDEX = Path("tps") / "index.html"
_COLOURS = colormaps["tab10"](np.arange(10))
BORDER_STATUSES = (border.BOTH, border.UNSURE, border.ONE)     # the columns' order
EVIDENCE_CLAIMED = 4        # waterfalls of the claimed pairs nearest the claim (the most doubtful claims)
EVIDENCE_HELD = 2           # of the held pairs with the highest weight (held by a rule, not by their weight)
EVIDENCE_BELOW = 2          # of the plain pairs just below the claim
IMPORT_ROWS_SHOWN = 10      # rows of each kind of change an import made shown (the table holds them all)
WATERFALL_WIDTH = 9.5       # inches: a bar and its two-line label per comparison
_HASH = re.compile(r"[0-9a-f]{16}")

class Num(str):
    """A cell already formatted as a number: right-aligned."""


Cell = str | int | float | None


# -- formatting (Indonesian: 1.234.567 and 3,5) -----------------------------------------------------------

def _int(value: object) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    return f"{int(value):,}".replace(",", ".")  # type: ignore[call-overload]


def _dec(value: object, digits: int = 1) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return DASH
    return f"{value:,.{digits}f}".translate(str.maketrans(",.", ".,"))


def _pct(value: object, digits: int = 2) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return DASH
    return _dec(100 * value, digits) + "%"


def _signed(value: int | float) -> str:
    text = _int(value) if float(value).is_integer() else _dec(value, 3)
    return f"+{text}" if value > 0 else text


def _when(value: object) -> str:
    if value is None:
        return DASH
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _duration(start: object, end: object) -> str:
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        return DASH
    seconds = int(round((end - start).total_seconds()))
    if seconds < 0:
        return DASH
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# -- blocks: what a section shows, laid out by templates/report.html -------------------------------------

@dataclass(frozen=True)
class _Cell:
    """A table cell or a column heading: its formatted text; `n`: a number (right-aligned); `hint`: a
    heading's hint, shown small below it (may be empty)."""
    text: str
    n: bool = False
    hint: str = ""


@dataclass(frozen=True)
class _Tr:
    """A table row; `cls`: "warn" (a problem, red), "total" (bold) or none."""
    cells: list[_Cell]
    cls: str = ""


@dataclass(frozen=True)
class _Table:
    kind: ClassVar[str] = "table"
    id: str
    headers: list[_Cell]
    rows: list[_Tr]


@dataclass(frozen=True)
class _P:
    """A paragraph; `cls`: "note" (grey, italic), "alert" (red) or none."""
    kind: ClassVar[str] = "p"
    text: str
    cls: str = ""
    id: str = ""


@dataclass(frozen=True)
class _H3:
    kind: ClassVar[str] = "h3"
    text: str
    gloss: str = ""         # shown small, in parentheses: the English words


@dataclass(frozen=True)
class _Link:
    kind: ClassVar[str] = "link"
    href: str
    text: str


@dataclass(frozen=True)
class _Unrecorded:
    """The run section's line when no 'ok' run is recorded, with the reason why."""
    kind: ClassVar[str] = "unrecorded"
    why: str


@dataclass(frozen=True)
class _Chart:
    """A PNG embedded as base64 (the template writes its data: URI); `key`: what it was drawn from."""
    kind: ClassVar[str] = "chart"
    data: str
    width: int
    height: int
    alt: str
    key: str = ""


_Block = _P | _H3 | _Link | _Unrecorded | _Table | _Chart


@dataclass(frozen=True)
class _Section:
    key: str
    title: str
    gloss: str
    blocks: list[_Block] = field(default_factory=list)
    failed: bool = False        # its builder failed: the heading without its gloss, and a note


def _cell(value: Cell) -> _Cell:
    if isinstance(value, Num):
        return _Cell(str(value), True)
    if isinstance(value, str):
        return _Cell(value, False)
    if isinstance(value, bool):
        return _Cell("ya" if value else "tidak", False)
    if isinstance(value, int):
        return _Cell(_int(value), True)
    if isinstance(value, float):
        return _Cell(_dec(value), True)
    return _Cell(DASH, True)


def _table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[Cell]], *,
           total: Sequence[Cell] | None = None, warn: Sequence[bool] | None = None) -> _Table:
    """A table of formatted cells; headers may hold a hint after '|' (shown small)."""
    body = [_Tr([_cell(c) for c in row], "warn" if warn is not None and warn[i] else "")
            for i, row in enumerate(rows)]
    if total is not None:
        body.append(_Tr([_cell(c) for c in total], "total"))
    return _Table(table_id, [_Cell(h.partition("|")[0], hint=h.partition("|")[2]) for h in headers], body)


def _note(text: str) -> _P:
    return _P(text, cls="note")


def _missing(*names: str) -> _P:
    listed = ", ".join(names)
    return _note(f"Bagian ini dilewati: tabel {listed} tidak ada dalam database ini "
                 f"(table missing: e.g. an ingest-only run).")


# -- charts ------------------------------------------------------------------------------------------------

# Drawing a chart costs a few tenths of a second (matplotlib lays out every label), and most charts are the
# same from one report to the next (a review import changes the review chart alone). Each chart carries a
# key, a hash of what it is drawn from and of the code drawing it, in the page; a chart whose key the
# previous report holds is taken from it rather than drawn again.
_IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" width="\d+" height="\d+" '
                  r'data-chart="([0-9a-f]{64})"')
_drawn: dict[str, str] = {}     # key -> base64 PNG, from the previous report, while a report is written


def _previous_charts(page: Path) -> dict[str, str]:
    """The charts of the report at `page` (none when it is missing or unreadable), by key."""
    try:
        text = page.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    return {key: data for data, key in _IMG.findall(text)}


def _chart_key(draw: Callable[..., object], *inputs: object) -> str:
    code = draw.__code__    # type: ignore[attr-defined]
    parts = (__version__, matplotlib.__version__, code.co_code, repr(code.co_consts), DPI, FONT, CHART_WIDTH,
             CHART_HEIGHT, CHART_MAX_HEIGHT, CHART_MAX_BARS, WATERFALL_WIDTH, CLAIM, inputs)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _plain(text: str) -> str:
    """Text for matplotlib: a '$' is a dollar sign, not mathtext."""
    return text.replace("$", r"\$")


def _chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, xlabel: str,
           alt: str) -> _Chart:
    """A horizontal (stacked) bar chart, first label on top, as a PNG to embed in the page. Shows at
    most CHART_MAX_BARS bars: the caller passes them largest first when there may be more."""
    labels = [_plain(str(s)) for s in labels[:CHART_MAX_BARS]]
    n = len(labels)
    height = min(max(CHART_HEIGHT, 0.7 + 0.22 * n), CHART_MAX_HEIGHT)
    key = _chart_key(_chart, labels, [(name, [float(v) for v in values[:CHART_MAX_BARS]]) for name, values in series],
                     xlabel)
    if key in _drawn:
        return _Chart(_drawn[key], int(CHART_WIDTH * DPI), int(round(height * DPI)), alt, key)
    fig = Figure(figsize=(CHART_WIDTH, height), dpi=DPI)
    longest = max((len(s) for s in labels), default=1)
    left = min(0.42, 0.03 + 0.0108 * longest)
    right = 0.76 if len(series) > 1 else 0.93
    bottom, top = 0.5 / height, 1.0 - 0.12 / height
    ax = fig.add_axes((left, bottom, right - left, top - bottom))
    y = np.arange(n)
    base = np.zeros(n)
    for i, (name, values) in enumerate(series):
        v = np.asarray(values[:CHART_MAX_BARS], dtype=float)
        ax.barh(y, v, left=base, height=0.7, color=_COLOURS[i % len(_COLOURS)], label=_plain(name))
        base += v
    peak = float(base.max()) if n else 0.0
    for yi, total in zip(y.tolist(), base.tolist(), strict=True):
        ax.text(total + peak * 0.01, yi, _dec(total, 0 if total.is_integer() else 1), va="center", fontsize=FONT)
    ax.set_yticks(y, labels=labels, fontsize=FONT)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(0, peak * 1.2 if peak > 0 else 1)
    ax.tick_params(axis="x", labelsize=FONT)
    ax.set_xlabel(_plain(xlabel), fontsize=FONT)
    if len(series) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT, frameon=False, borderaxespad=0.0)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return _Chart(data, int(CHART_WIDTH * DPI), int(round(height * DPI)), alt, key)


def _top(rows: list[tuple], key: Callable[[tuple], float]) -> tuple[list[tuple], _P | None]:
    """The rows a chart shows (largest first) and a note when some are left out."""
    ranked = sorted(rows, key=key, reverse=True)
    if len(ranked) <= CHART_MAX_BARS:
        return ranked, None
    return ranked[:CHART_MAX_BARS], _note(f"Grafik: {CHART_MAX_BARS} terbesar dari {len(ranked)}; "
                                          f"tabel memuat semuanya.")


# -- the database ------------------------------------------------------------------------------------------

@dataclass
class _Db:
    con: duckdb.DuckDBPyConnection
    tables: set[str]

    def has(self, *names: str) -> bool:
        return all(n in self.tables for n in names)

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()

    def one(self, sql: str) -> tuple:
        row = self.con.execute(sql).fetchone()
        assert row is not None
        return row

    def names_cte(self) -> str:
        """A CTE `names(kode, nama)`: canonical region names (empty without the regions table)."""
        if self.has("regions"):
            return "names AS (SELECT kode, any_value(nama) AS nama FROM regions GROUP BY kode)"
        return "names AS (SELECT NULL::VARCHAR AS kode, NULL::VARCHAR AS nama WHERE false)"


@dataclass
class _Runs:
    present: bool                           # the runs table exists
    current: dict[str, Any] | None          # the last 'ok' run
    previous: dict[str, Any] | None         # the 'ok' run before it
    latest: dict[str, Any] | None           # the last run of any status


def _load_runs(db: _Db) -> _Runs:
    if not db.has("runs"):
        return _Runs(False, None, None, None)
    cur = db.con.execute("SELECT * FROM runs ORDER BY started_at NULLS FIRST")
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    ok = [r for r in rows if r.get("status") == "ok"]
    current = ok[-1] if ok else None
    previous = ok[-2] if len(ok) > 1 else None
    return _Runs(True, current, previous, rows[-1] if rows else None)


def _json(text: object) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _stages(run: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """{stage: {"seconds": float|None, "rows": {name: number}}} from a run's JSON, tolerating damage."""
    parsed = _json(run.get("stages")) if run else None
    if not isinstance(parsed, dict):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for stage, info in parsed.items():
        info = info if isinstance(info, dict) else {}
        seconds = info.get("seconds")
        rows = info.get("rows")
        rows = rows if isinstance(rows, dict) else {}
        out[str(stage)] = {
            "seconds": float(seconds) if isinstance(seconds, int | float) and not isinstance(seconds, bool) else None,
            "rows": {str(k): v for k, v in rows.items() if isinstance(v, int | float) and not isinstance(v, bool)},
        }
    return out


# -- sections ----------------------------------------------------------------------------------------------

def _section_run(db: _Db, runs: _Runs) -> list[_Block]:
    out: list[_Block] = []
    run = runs.current
    if run is None:
        why = "tabel runs tidak ada (database lama)" if not runs.present else "belum ada proses berstatus ok"
        out.append(_Unrecorded(why))
    else:
        out.append(_table("tabel-proses", ["Keterangan|field", "Nilai|value"], [
            ("ID proses (run id)", run.get("run_id") or DASH),
            ("Perintah (command)", run.get("command") or DASH),
            ("Mode", run.get("mode") or DASH),
            ("Mulai (started)", _when(run.get("started_at"))),
            ("Selesai (finished)", _when(run.get("finished_at"))),
            ("Lama (duration)", _duration(run.get("started_at"), run.get("finished_at"))),
            ("Status", run.get("status") or DASH),
            ("Versi perangkat lunak (version)", run.get("version") or DASH),
            ("Hash konfigurasi (config hash)", run.get("config_hash") or DASH),
        ]))
        inputs = _json(run.get("inputs"))
        if isinstance(inputs, list) and inputs:
            rows: list[list[Cell]] = []
            for item in inputs:
                item = item if isinstance(item, dict) else {}
                rows_n = item.get("rows")
                rows.append([str(item.get("source") or DASH), str(item.get("path") or DASH),
                             rows_n if isinstance(rows_n, int) else None, str(item.get("sha256") or "")[:12] or DASH])
            out.append(_H3("Berkas masukan", "input files"))
            out.append(_table("tabel-masukan", ["Sumber|source", "Berkas|path", "Baris|rows", "sha256|first 12"], rows))
        else:
            out.append(_note("Berkas masukan tidak tercatat (no input files recorded)."))
    latest = runs.latest
    if latest is not None and latest is not run and latest.get("status") != "ok":
        error = str(latest.get("error") or "")
        out.append(_P(f"Perhatian: proses terakhir {latest.get('run_id') or DASH} ({_when(latest.get('started_at'))}) "
                      f"berstatus {latest.get('status')}" + (f": {error[:300]}" if error else "")
                      + ". Laporan ini dari proses ok terakhir.", cls="alert"))
    if db.has("ingest_summary"):
        rows2 = db.rows("SELECT source, format, data_rows, voters, rejects FROM ingest_summary ORDER BY source")
        out.append(_H3("Pemilih dan penolakan per sumber", "voters and rejects per source"))
        out.append(_table("tabel-sumber", ["Sumber|source", "Format", "Baris data|data rows", "Pemilih|voters",
                                           "Ditolak|rejects"], [list(r) for r in rows2],
                          total=["Jumlah", "", *(sum(r[i] or 0 for r in rows2) for i in (2, 3, 4))]))
    return out


def _section_stages(db: _Db, runs: _Runs) -> list[_Block]:
    out: list[_Block] = []
    if runs.current is None:
        out.append(_note("Tahap tidak tercatat: tidak ada proses ok dalam tabel runs (no run recorded)."))
        return out
    stages = _stages(runs.current)
    if not stages:
        out.append(_note("Tahap tidak tercatat untuk proses ini (no stages recorded)."))
        return out
    rows: list[list[Cell]] = []
    for stage, info in stages.items():
        first = True
        for name, value in (info["rows"].items() or [("", None)]):
            rows.append([stage if first else "", Num(_dec(info["seconds"], 3)) if first else "", name,
                         value if name else ""])
            first = False
    out.append(_table("tabel-tahap", ["Tahap|stage", "Detik|seconds", "Hitungan|count", "Jumlah|rows"], rows))
    timed = [(s, i["seconds"]) for s, i in stages.items() if i["seconds"] is not None]
    if timed:
        out.append(_chart([s for s, _ in timed], [("detik", [v for _, v in timed])], xlabel="detik (seconds)",
                          alt="Detik per tahap"))
    return out


def _section_rejects(db: _Db, runs: _Runs) -> list[_Block]:
    out: list[_Block] = []
    if not db.has("rejects"):
        return out + [_missing("rejects")]
    counts = db.rows("SELECT reason, source, count(*) FROM rejects GROUP BY ALL")
    sources = sorted({s for _, s, _ in counts if s is not None} | (
        {r[0] for r in db.rows("SELECT source FROM ingest_summary") if r[0] is not None}
        if db.has("ingest_summary") else set()))
    if not counts:
        out.append(_P("Tidak ada baris yang ditolak (no rejected rows)."))
        return out
    by: dict[str, dict[str, int]] = {}
    for reason, source, n in counts:
        by.setdefault(reason or DASH, {})[source] = n
    reasons = sorted(by, key=lambda r: (-sum(by[r].values()), r))
    rows: list[list[Cell]] = [[r, *(by[r].get(s, 0) for s in sources), sum(by[r].values())] for r in reasons]
    total: list[Cell] = ["Jumlah", *(sum(by[r].get(s, 0) for r in reasons) for s in sources),
                         sum(n for *_, n in counts)]
    out.append(_P("Baris yang bukan pemilih sama sekali; isi barisnya tidak ditampilkan (data pribadi)."))
    out.append(_table("tabel-penolakan", ["Alasan|reason", *sources, "Jumlah|total"], rows, total=total))
    out.append(_chart(reasons, [(s, [by[r].get(s, 0) for r in reasons]) for s in sources],
                      xlabel="baris ditolak (rejected rows)", alt="Penolakan per alasan dan sumber"))
    return out


def _section_duplicates(db: _Db, runs: _Runs) -> list[_Block]:
    out: list[_Block] = []
    if not db.has("duplicate_pairs", "voters"):
        return out + [_missing(*(t for t in ("duplicate_pairs", "voters") if not db.has(t)))]
    rows = db.rows(f"""
        WITH {db.names_cte()}
        SELECT coalesce(kab.nama, upper(trim(v.kabupaten)), 'TIDAK DIKENAL') AS kabupaten,
               coalesce(kec.nama, upper(trim(v.kecamatan)), 'TIDAK DIKENAL') AS kecamatan,
               count(*) FILTER (p.scope = 'dalam' AND p.match_probability >= {CLAIM}) AS dalam_klaim,
               count(*) FILTER (p.scope = 'lintas' AND p.match_probability >= {CLAIM}) AS lintas_klaim,
               count(*) FILTER (p.scope = 'dalam' AND p.match_probability < {CLAIM}) AS dalam_periksa,
               count(*) FILTER (p.scope = 'lintas' AND p.match_probability < {CLAIM}) AS lintas_periksa
        FROM duplicate_pairs p
        LEFT JOIN voters v ON v.voter_id = p.voter_id_l
        LEFT JOIN names kab ON kab.kode = v.kode_kabupaten
        LEFT JOIN names kec ON kec.kode = v.kode_kecamatan
        GROUP BY ALL ORDER BY kabupaten, kecamatan""")
    rows = [r for r in rows if any(r[2:])]
    claimed = sum(r[2] + r[3] for r in rows)
    check = sum(r[4] + r[5] for r in rows)
    out.append(_P(f"Pasangan diklaim satu orang (peluang ≥ {_dec(CLAIM, 1)}): {_int(claimed)}; "
                  f"perlu diperiksa (di bawah {_dec(CLAIM, 1)}, dari ambang daftar periksa): {_int(check)}. "
                  "Dihitung di kecamatan rekaman pertama pasangan. Dalam = satu sumber, lintas = antar sumber."))
    extra = []
    if db.has("duplicate_groups"):
        groups, members, strike = db.one("SELECT count(DISTINCT group_id), count(*), count(*) FILTER (NOT keep) "
                                         "FROM duplicate_groups")
        extra.append(f"Kelompok ganda (groups): {_int(groups)}, dengan {_int(members)} rekaman, "
                     f"{_int(strike)} di antaranya tidak disarankan disimpan.")
    else:
        extra.append("Tabel duplicate_groups tidak ada.")
    if db.has("nik_conflicts"):
        (conflicts,) = db.one("SELECT count(*) FROM nik_conflicts")
        extra.append(f"Konflik NIK (satu NIK, dua orang; nik_conflicts): {_int(conflicts)}.")
    else:
        extra.append("Tabel nik_conflicts tidak ada.")
    out.append(_P(" ".join(extra), id="ringkasan-ganda"))
    if not rows:
        out.append(_P("Tidak ada pasangan calon ganda (no duplicate pairs)."))
        return out
    headers = ["Kabupaten", "Kecamatan", "Dalam diklaim|within, claimed", "Lintas diklaim|across, claimed",
               "Dalam perlu diperiksa|within, to check", "Lintas perlu diperiksa|across, to check", "Jumlah|total"]
    body = [[*r, sum(r[2:])] for r in rows]
    total = ["Jumlah", "", *(sum(r[i] for r in rows) for i in range(2, 6)), claimed + check]
    out.append(_table("tabel-ganda", headers, body, total=total))
    shown, note = _top(rows, key=lambda r: sum(r[2:]))
    kec_count: dict[str, int] = {}
    for r in shown:
        kec_count[r[1]] = kec_count.get(r[1], 0) + 1
    labels = [r[1] if kec_count[r[1]] == 1 else f"{r[1]} ({r[0]})" for r in shown]
    series = [("dalam, diklaim", [r[2] for r in shown]), ("lintas, diklaim", [r[3] for r in shown]),
              ("dalam, periksa", [r[4] for r in shown]), ("lintas, periksa", [r[5] for r in shown])]
    out.append(_chart(labels, series, xlabel="pasangan (pairs)", alt="Calon ganda per kecamatan"))
    if note:
        out.append(note)
    return out


def _section_border(db: _Db, runs: _Runs) -> list[_Block]:
    out: list[_Block] = []
    if not db.has("border_residents"):
        return out + [_missing("border_residents")]
    counts = db.rows(f"""
        WITH {db.names_cte()}
        SELECT coalesce(b.area, '{DASH}'), coalesce(b.kode_desa, '{DASH}'), coalesce(any_value(n.nama), ''),
               coalesce(b.status, '{DASH}'), count(*)
        FROM border_residents b LEFT JOIN names n ON n.kode = b.kode_desa
        GROUP BY b.area, b.kode_desa, b.status""")
    if not counts and _stages(runs.current).get("link", {}).get("rows", {}).get("border_areas") == 0:
        out.append(_P("Tidak ada wilayah perbatasan yang dikonfigurasi (no border area configured: "
                      "[linkage] border_areas = [])."))
        return out
    if not counts:
        out.append(_P("Tidak ada penduduk wilayah perbatasan (no border residents)."))
        return out
    found = {r[3] for r in counts}
    statuses = [s for s in BORDER_STATUSES if s in found] + sorted(found - set(BORDER_STATUSES))
    by: dict[tuple[str, str, str], dict[str, int]] = {}
    for area, kode, nama, status, n in counts:
        by.setdefault((area, kode, nama), {})[status] = n
    keys = sorted(by)
    rows: list[list[Cell]] = [[*k, *(by[k].get(s, 0) for s in statuses), sum(by[k].values())] for k in keys]
    total: list[Cell] = ["Jumlah", "", "", *(sum(by[k].get(s, 0) for k in keys) for s in statuses),
                         sum(sum(v.values()) for v in by.values())]
    out.append(_P("Penduduk tiap sisi wilayah perbatasan menurut status pendaftarannya."))
    out.append(_table("tabel-perbatasan", ["Wilayah|area", "Kode desa", "Desa",
                                           *statuses, "Jumlah|total"], rows, total=total))
    return out


def _section_review(db: _Db, runs: _Runs) -> list[_Block]:
    out: list[_Block] = []
    if not db.has("review_summary"):
        return out + [_missing("review_summary")]
    rows = db.rows("SELECT kabupaten, kecamatan, terbuka, sama, beda, ragu FROM review_summary "
                   "ORDER BY kabupaten, kecamatan")
    if not rows:
        out.append(_P("Tidak ada pasangan untuk diperiksa (nothing to review)."))
        return out
    rows = [(r[0] or DASH, r[1] or DASH, *(int(x or 0) for x in r[2:])) for r in rows]
    out.append(_P("Pasangan per kecamatan: terbuka (belum diputuskan), SAMA, BEDA, RAGU. Pasangan lintas "
                  "kecamatan dihitung di kedua kecamatan."))
    total = ["Jumlah", "", *(sum(r[i] for r in rows) for i in range(2, 6)), sum(sum(r[2:]) for r in rows)]
    out.append(_table("tabel-pemeriksaan", ["Kabupaten", "Kecamatan", "Terbuka|open", "SAMA|same", "BEDA|different",
                                            "RAGU|unsure", "Jumlah|total"],
                      [[*r, sum(r[2:])] for r in rows], total=total))
    shown, note = _top(rows, key=lambda r: sum(r[2:]))
    kec_count: dict[str, int] = {}
    for r in shown:
        kec_count[r[1]] = kec_count.get(r[1], 0) + 1
    labels = [r[1] if kec_count[r[1]] == 1 else f"{r[1]} ({r[0]})" for r in shown]
    series = [(name, [r[i] for r in shown]) for i, name in ((2, "terbuka"), (3, "SAMA"), (4, "BEDA"), (5, "RAGU"))]
    out.append(_chart(labels, series, xlabel="pasangan (pairs)", alt="Kemajuan pemeriksaan per kecamatan"))
    if note:
        out.append(note)
    return out


def _section_tps(db: _Db, runs: _Runs, report_path: Path) -> list[_Block]:
    out: list[_Block] = []
    if (report_path.parent / TPS_INDEX).exists():
        out.append(_Link(TPS_INDEX.as_posix(), "Peta TPS per desa (TPS maps)"))
    if not db.has("tps_quality"):
        return out + [_missing("tps_quality")]
    (desa, voters, households, tps, tps_min, over_cap, split, extra, max_dev, mean_dist, max_dist, moved, both,
     fallback, struck) = db.one("""
        SELECT count(*), sum(voters), sum(households), sum(tps), sum(tps_minimum), sum(over_cap),
               sum(split_households), count(*) FILTER (extra_tps), max(max_deviation),
               sum(mean_distance_m * voters) FILTER (mean_distance_m IS NOT NULL)
                 / sum(voters) FILTER (mean_distance_m IS NOT NULL),
               max(max_distance_m), sum(moved), sum(voters_both_nights), sum(rts_fallback), sum(struck_duplicates)
        FROM tps_quality""")
    if not desa:
        out.append(_P("Tidak ada desa dalam tabel tps_quality."))
        return out
    churn = moved / both if both else None
    total_rows: list[list[Cell]] = [
        ["Desa", desa], ["Pemilih (voters)", voters], ["KK (households)", households],
        ["TPS", tps], ["TPS minimum (ceil(pemilih / kapasitas))", tps_min],
        ["TPS melebihi kapasitas (over cap)", over_cap], ["KK terpisah (households split)", split],
        ["Desa dengan TPS tambahan (extra TPS)", extra],
        ["Penyimpangan maks. dari n/k (max deviation, voters)", Num(_dec(max_dev, 2))],
        ["Rata-rata jarak, tertimbang pemilih (m)", Num(_dec(mean_dist, 0))],
        ["Jarak maks. (m)", Num(_dec(max_dist, 0))],
        ["RT tanpa koordinat (fallback)", fallback],
        ["Ganda yang dicoret (struck duplicates)", struck],
        ["Pindah TPS sejak malam sebelumnya (moved)",
         Num(f"{_int(moved)} dari {_int(both)} ({_pct(churn)})") if churn is not None
         else Num(f"{DASH} (proses pertama)")],
    ]
    problems = bool(over_cap) or bool(split)
    out.append(_table("tabel-tps-total", ["Ukuran|measure", "Nilai|value"], total_rows,
                      warn=[i in (5, 6) and problems for i in range(len(total_rows))]))
    rows = db.rows("""
        SELECT kode_desa, desa, voters, households, tps, tps_minimum, over_cap, split_households,
               rts_split, rts_fallback, max_deviation, mean_distance_m, p95_distance_m, max_distance_m,
               moved, churn, struck_duplicates
        FROM tps_quality ORDER BY kode_desa""")
    body: list[list[Cell]] = []
    warn = []
    for r in rows:
        (kode, name, v, hh, t, tmin, oc, sp, rs, rf, dev, mean_d, p95, mx, mv, ch, st) = r
        n_tps = Num(_int(t) + (f" (min. {_int(tmin)})" if t is not None and tmin is not None and t != tmin else ""))
        body.append([kode or DASH, name or DASH, v, hh, n_tps, oc, sp, rs, rf, Num(_dec(dev, 1)),
                     Num(_dec(mean_d, 0)), Num(_dec(p95, 0)), Num(_dec(mx, 0)),
                     Num(DASH if ch is None else f"{_int(mv)} ({_pct(ch)})"), st])
        warn.append(bool(oc) or bool(sp))
    out.append(_H3("Per desa"))
    out.append(_table("tabel-tps", [
        "Kode desa", "Desa", "Pemilih|voters", "KK|households", "TPS", "Melebihi kapasitas|over cap",
        "KK terpisah|split", "RT terbagi|RTs split", "RT tanpa koordinat|fallback", "Penyimpangan maks.|max deviation",
        "Jarak rata-rata (m)|mean", "Jarak p95 (m)", "Jarak maks. (m)", "Pindah|moved (churn)",
        "Ganda dicoret|struck"], body, warn=warn))
    return out


def _section_change(db: _Db, runs: _Runs) -> list[_Block]:
    out: list[_Block] = []
    if not runs.present:
        out.append(_note("Bagian ini dilewati: tabel runs tidak ada dalam database ini (older database)."))
        return out
    if runs.current is None:
        out.append(_note("Tidak ada proses ok yang tercatat (no successful run recorded)."))
        return out
    if runs.previous is None:
        out.append(_P("Belum ada proses sebelumnya (no previous run)."))
        return out
    prev, cur = _stages(runs.previous), _stages(runs.current)
    out.append(_P(f"Proses sebelumnya: {runs.previous.get('run_id') or DASH} "
                  f"({_when(runs.previous.get('started_at'))}); sekarang: {runs.current.get('run_id') or DASH} "
                  f"({_when(runs.current.get('started_at'))})."))
    keys: list[tuple[str, str]] = []
    for stages in (cur, prev):
        for stage, info in stages.items():
            keys.extend((stage, name) for name in info["rows"] if (stage, name) not in keys)
    if not keys:
        out.append(_note("Tidak ada hitungan tahap untuk dibandingkan (no stage counts)."))
        return out
    rows: list[list[Cell]] = []
    for stage, name in keys:
        before = prev.get(stage, {}).get("rows", {}).get(name)
        now = cur.get(stage, {}).get("rows", {}).get(name)
        diff = Num(_signed(now - before)) if before is not None and now is not None else Num(DASH)
        rows.append([stage, name, before, now, diff])
    out.append(_table("tabel-perubahan", ["Tahap|stage", "Hitungan|count", "Sebelumnya|previous", "Sekarang|current",
                                          "Selisih|difference"], rows))
    return out


def _masked(value: object) -> str:
    """A voter_id or group_id with its hash cut to 4 hex digits (`kutim-3fa9…`): enough to tell rows apart,
    not an id to copy out of the report."""
    return _HASH.sub(lambda m: m.group(0)[:4] + "…", str(value)) if value is not None else DASH


def _bits(value: float) -> str:
    """A weight in bits, signed, 3 decimals (Indonesian: +8,050)."""
    return ("+" if value > 0 else "") + _dec(value, 3)


def _waterfall(steps: Sequence[tuple], held_at: float | None, alt: str) -> _Chart:
    """Splink's waterfall of one pair (steps: comparison, level, weight, cumulative): the prior, then each
    comparison's weight (bits) as a bar from the running total, green up, red down; the dashed line at 0 bits
    is a probability of 0.5, the claim. A held pair ends on a hatched bar down to where the hold keeps it."""
    width, height = WATERFALL_WIDTH, CHART_HEIGHT + 0.4
    key = _chart_key(_waterfall, [tuple(None if v is None else (float(v) if isinstance(v, int | float) else str(v))
                                        for v in step) for step in steps], held_at)
    if key in _drawn:
        return _Chart(_drawn[key], int(width * DPI), int(round(height * DPI)), alt, key)
    def wrapped(code: str) -> str:   # a long level code on two lines, at its underscore
        return code.replace("_", "_\n", 1) if len(code) > 11 else code
    labels = [_plain("prior" if c == MODEL_PRIOR else f"{c}\n{wrapped(str(lv))}") for c, lv, *_ in steps]
    held = math.log2(held_at / (1 - held_at)) if held_at is not None and 0 < held_at < 1 else None
    totals = [0.0, *(float(t) for *_, t in steps), *([held] if held is not None else [])]
    lo, hi = min(totals), max(totals)
    pad = max(hi - lo, 1.0) * 0.12
    fig = Figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_axes((0.07, 0.24, 0.83, 0.70))
    before = 0.0
    for x, (comparison, _level, weight, cumulative) in enumerate(steps):
        if comparison == MODEL_HOLD:
            target = held if held is not None else before
            ax.bar(x, target - before, bottom=before, color="#bbbbbb", hatch="//", edgecolor="#555555", width=0.7)
            ax.text(x, max(before, target) + pad * 0.15, f"ditahan {_dec(held_at, 2)}", ha="center", va="bottom",
                    fontsize=FONT - 1)
            continue
        w = float(cumulative) if comparison == MODEL_PRIOR else float(weight or 0.0)
        base = 0.0 if comparison == MODEL_PRIOR else before
        colour = "#4c72b0" if comparison == MODEL_PRIOR else "#2ca02c" if w > 0 else "#d62728" if w < 0 else "#999999"
        ax.bar(x, w if w else (hi - lo) * 0.004, bottom=base, color=colour, width=0.7)
        ax.text(x, max(base, base + w) + pad * 0.15, _bits(w).replace(",000", "") if w else "0", ha="center",
                va="bottom", fontsize=FONT - 1)
        before = float(cumulative)
    claim = math.log2(CLAIM / (1 - CLAIM))   # the claim threshold in bits (0 at 0.5)
    ax.axhline(claim, color="#333333", linewidth=0.8, linestyle="--")
    ax.text(len(steps) - 0.4, claim, f" peluang {_dec(CLAIM, 1)}\n (klaim)", ha="left", va="center", fontsize=FONT - 1,
            color="#333333", clip_on=False)
    ax.set_xticks(range(len(steps)), labels=labels, fontsize=FONT - 1)
    ax.tick_params(axis="y", labelsize=FONT)
    ax.set_ylabel("bobot kumulatif (bits)", fontsize=FONT)
    ax.set_xlim(-0.6, len(steps) - 0.4)
    ax.set_ylim(lo - pad, hi + pad * 2)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return _Chart(data, int(width * DPI), int(round(height * DPI)), alt, key)


def _section_evidence(db: _Db, runs: _Runs) -> list[_Block]:
    out: list[_Block] = []
    if not db.has("duplicate_pairs", "model_levels", evidence.VIEW):
        return out + [_missing(*(t for t in ("duplicate_pairs", "model_levels", evidence.VIEW) if not db.has(t)))]
    picked = db.rows(f"""
        (SELECT pair_id, 'diklaim' FROM duplicate_pairs WHERE match_probability >= {CLAIM}
         ORDER BY match_probability, pair_id LIMIT {EVIDENCE_CLAIMED})
        UNION ALL
        (SELECT pair_id, 'ditahan' FROM duplicate_pairs WHERE tahan IS NOT NULL
         ORDER BY match_weight DESC, pair_id LIMIT {EVIDENCE_HELD})
        UNION ALL
        (SELECT pair_id, 'diperiksa' FROM duplicate_pairs WHERE match_probability < {CLAIM} AND tahan IS NULL
         ORDER BY match_probability DESC, pair_id LIMIT {EVIDENCE_BELOW})""")
    (n_pairs,) = db.one("SELECT count(*) FROM duplicate_pairs")
    out.append(_P(f"Untuk tiap pasangan: peluang awal (prior), lalu bobot tiap perbandingan (log2 m/u, dalam bit; "
                  f"nama dan tanggal lahir disesuaikan dengan kelangkaan nilainya), dijumlahkan menjadi bobot "
                  f"pasangan; bobot 0 = peluang 0,5. Ditampilkan: {EVIDENCE_CLAIMED} pasangan diklaim yang "
                  f"peluangnya paling dekat ke {_dec(CLAIM, 1)}, {EVIDENCE_HELD} pasangan yang ditahan aturan "
                  f"(tidak diklaim, berapa pun bobotnya) dan {EVIDENCE_BELOW} pasangan tertinggi di bawah "
                  f"{_dec(CLAIM, 1)}. Semua {_int(n_pairs)} pasangan ada di view {evidence.VIEW}."))
    out.append(_P("SQL untuk pasangan mana pun (any pair): dpt query --config FILE 'SELECT step, comparison, level, "
                  f"label, weight, cumulative, probability FROM {evidence.VIEW} WHERE pair_id = ... ORDER BY step'",
                  cls="note", id="bukti-sql"))
    if not picked:
        out.append(_P("Tidak ada pasangan calon ganda (no duplicate pairs)."))
        return out
    ids = [r[0] for r in picked]
    steps: dict[str, list[tuple]] = {}
    for r in db.rows(f"SELECT pair_id, step, comparison, level, label, weight, model_weight, cumulative, probability "
                     f"FROM {evidence.VIEW} WHERE pair_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY pair_id, step",
                     [ids]):
        steps.setdefault(r[0], []).append(r[1:])
    info = {r[0]: r[1:] for r in db.rows(
        "SELECT pair_id, match_probability, match_weight, scope FROM duplicate_pairs "
        "WHERE pair_id IN (SELECT unnest(?::VARCHAR[]))", [ids])}
    standing: dict[str, str] = {}
    if db.has("review_decisions"):
        history = db.con.sql("SELECT * FROM review_decisions").pl()
        standing = dict(decisions.standing(history).select("pair_id", "keputusan").iter_rows())
    for pair_id, kind in picked:
        rows = steps.get(pair_id, [])
        prob, weight, scope = info[pair_id]
        word = standing.get(pair_id)
        out.append(_H3(f"Pasangan {pair_id}: {kind}, peluang {_dec(prob, 4)}", "pair, probability"))
        held = [r for r in rows if r[1] == MODEL_HOLD]
        out.append(_P(f"Bobot pasangan {_dec(weight, 3)} bit; {'satu sumber' if scope == 'dalam' else 'antar sumber'}"
                      + (f"; keputusan petugas: {word}" if word else "; belum diputuskan petugas")
                      + (f". Ditahan di {_dec(prob, 2)} oleh aturan, bukan oleh bobot: {held[0][3]}" if held else "")
                      + ".", cls="alert" if held else ""))
        out.append(_table(f"tabel-bukti-{pair_id}", [
            "Langkah|step", "Perbandingan|comparison", "Tingkat|level", "Keterangan|label", "Bobot|bits",
            "Bobot rata-rata tingkat|level's weight", "Kumulatif|bits", "Peluang|probability"],
            [[r[0], r[1], r[2], r[3] or DASH, Num(DASH if r[4] is None else _bits(r[4])),
              Num(DASH if r[5] is None else _bits(r[5])), Num(_bits(r[6])), Num(_dec(r[7], 4))] for r in rows],
            warn=[r[1] == MODEL_HOLD for r in rows]))
        out.append(_waterfall([(r[1], r[2], r[4], r[6]) for r in rows], prob if held else None,
                              alt=f"Air terjun bobot pasangan {pair_id}"))
    return out


def _section_import(db: _Db, runs: _Runs) -> list[_Block]:
    out: list[_Block] = []
    if not db.has("review_imports"):
        return out + [_P("Belum ada impor keputusan (no review import yet).")]
    cur = db.con.execute("SELECT * FROM review_imports ORDER BY started_at DESC NULLS LAST, imported_at DESC LIMIT 1")
    cols = [d[0] for d in cur.description]
    found = cur.fetchone()
    if found is None:
        return out + [_P("Belum ada impor keputusan (no review import yet).")]
    last = dict(zip(cols, found, strict=True))
    import_id, when = last["import_id"], last["imported_at"]
    run = runs.current
    applied = run is not None and isinstance(run.get("started_at"), dt.datetime) and isinstance(
        last.get("started_at"), dt.datetime) and run["started_at"] > last["started_at"]
    out.append(_P(f"Impor terakhir: {import_id} ({_when(when)}), {_int(last['files'])} berkas. "
                  + (f"Proses {run.get('run_id') if run else DASH} sesudahnya sudah menerapkannya (TPS, kelompok)."
                     if applied else "Berlaku pada proses berikutnya: yang dicoret kehilangan TPS-nya, kelompok "
                     "ganda digabung atau dipisah."), id="impor-ringkas"))
    per_file: dict[str, dict[str, int]] = {}
    if db.has("review_import_log"):
        for file, hasil, n in db.rows("SELECT file, hasil, count(*) FROM review_import_log WHERE imported_at = ? "
                                      "GROUP BY ALL", [when]):
            per_file.setdefault(Path(str(file)).name, {})[hasil] = n
    outcomes = [("disimpan", "stored"), ("tidak berubah", "unchanged"), ("tersusul", "superseded"),
                ("usang", "stale: reopened"), ("ditolak", "refused")]
    out.append(_H3("Keputusan dibaca per berkas", "decisions read per file"))
    read = _json(last.get("file_names"))
    for name in read if isinstance(read, list) else []:
        per_file.setdefault(str(name), {})
    if per_file:
        files = sorted(per_file)
        out.append(_table("tabel-impor-berkas", ["Berkas|file", *(f"{a}|{b}" for a, b in outcomes), "Jumlah|total"],
                          [[f, *(per_file[f].get(a, 0) for a, _ in outcomes), sum(per_file[f].values())]
                           for f in files],
                          total=["Jumlah", *(sum(per_file[f].get(a, 0) for f in files) for a, _ in outcomes),
                                 sum(sum(v.values()) for v in per_file.values())]))
    else:
        out.append(_P("Tidak ada baris berkeputusan dalam berkas yang diimpor (no decided rows)."))
    refused = db.rows("SELECT kolom, pesan, count(*) FROM review_import_log WHERE imported_at = ? "
                      "AND hasil = 'ditolak' GROUP BY ALL ORDER BY 3 DESC, 1, 2", [when]) \
        if db.has("review_import_log") else []
    if refused:
        out.append(_H3("Baris ditolak per alasan", "refused rows by reason"))
        out.append(_table("tabel-impor-ditolak", ["Kolom|field", "Alasan|reason", "Baris|rows"],
                          [list(r) for r in refused], total=["Jumlah", "", sum(r[2] for r in refused)]))
    counts = dict(db.rows("SELECT jenis, count(*) FROM review_import_changes WHERE import_id = ? GROUP BY ALL",
                          [import_id])) if db.has("review_import_changes") else {}
    # A group once however many of its pairs were decided; two groups joined once per two; a new group once
    # per pair (or per group it grows); a pair in conflict once.
    groups = dict(db.rows(f"""
        SELECT jenis, CASE jenis
            WHEN '{review_changes.JOINED}' THEN count(DISTINCT group_id || '|' || group_id_2)
            WHEN '{review_changes.NEW}' THEN count(DISTINCT coalesce(group_id, group_id_2, pair_id))
            WHEN '{review_changes.IN_CONFLICT}' THEN count(*)
            ELSE count(DISTINCT group_id) END
        FROM review_import_changes WHERE import_id = ? AND pair_id IS NOT NULL GROUP BY jenis""",
                          [import_id])) if db.has("review_import_changes") else {}
    out.append(_H3("Akibat keputusan", "effect of the decisions"))
    out.append(_table("tabel-impor-akibat", ["Ukuran|measure", "Jumlah|count"], [
        ["Pasangan dalam konflik sebelum impor (conflicts before)", last["conflicts_before"]],
        ["Pasangan dalam konflik sesudah impor (conflicts after)", last["conflicts"]],
        ["Pasangan dibuka lagi: data berubah (reopened)", last["reopened"]],
        ["Pemilih baru dicoret oleh SAMA (newly struck)", counts.get(review_changes.STRUCK, 0)],
        ["Pemilih dipulihkan: SAMA ditarik (restored)", counts.get(review_changes.RESTORED, 0)],
        *([f"{label} ({gloss})", groups.get(kind, 0)] for kind, label, gloss in (
            (review_changes.CONFIRMED, "Kelompok dikonfirmasi SAMA", "groups confirmed"),
            (review_changes.SPLIT, "Kelompok akan dipisah oleh BEDA", "groups to split"),
            (review_changes.JOINED, "Kelompok akan digabung oleh SAMA", "groups to join"),
            (review_changes.NEW, "Kelompok baru atau diperluas oleh SAMA", "groups new or grown"),
            (review_changes.IN_CONFLICT, "Pasangan yang diputuskan tetapi kini konflik", "decided, in conflict"))),
    ], warn=[False, bool(last["conflicts"]), *([False] * 8)]))
    if db.has("review_import_changes"):
        listed = db.rows(f"""
            SELECT jenis, voter_id, voter_id_2, group_id, group_id_2, count(*) OVER (PARTITION BY jenis)
            FROM review_import_changes WHERE import_id = ?
            QUALIFY row_number() OVER (PARTITION BY jenis ORDER BY voter_id, voter_id_2) <= {IMPORT_ROWS_SHOWN}
            ORDER BY list_position(?, jenis), voter_id, voter_id_2""", [import_id, list(review_changes.KINDS)])
        if listed:
            out.append(_H3("Pemilih dan kelompok yang berubah", "voters and groups changed; ids shortened"))
            out.append(_table("tabel-impor-perubahan", ["Jenis|kind", "Pemilih|voter", "Pemilih lain / disimpan|other",
                                                        "Kelompok|group", "Kelompok lain|other group"],
                              [[r[0], *(_masked(v) if v else DASH for v in r[1:5])] for r in listed]))
            if any(r[5] > IMPORT_ROWS_SHOWN for r in listed):
                out.append(_note(f"Paling banyak {IMPORT_ROWS_SHOWN} baris per jenis; semuanya: dpt query --config "
                                 "FILE "
                                 f"\"SELECT * FROM review_import_changes WHERE import_id = '{import_id}'\""))
    if db.has("review_exports"):
        rewritten = db.rows("""
            WITH now AS (SELECT berkas, split_part(status, ' (', 1) AS status, min(diekspor) AS t, count(*) AS n
                         FROM review_exports WHERE ekspor = ? GROUP BY ALL),
            prev AS (SELECT e.berkas, count(*) AS n FROM review_exports e
                     JOIN (SELECT berkas, max(diekspor) AS t FROM review_exports
                           WHERE diekspor < (SELECT min(diekspor) FROM review_exports WHERE ekspor = ?)
                           GROUP BY berkas) l ON l.berkas = e.berkas AND l.t = e.diekspor GROUP BY ALL)
            SELECT coalesce(now.berkas, prev.berkas) AS berkas, any_value(prev.n),
                   sum(now.n) FILTER (now.status IS NOT NULL), list(now.status || '=' || now.n ORDER BY now.status)
            FROM now FULL JOIN prev ON prev.berkas = now.berkas GROUP BY 1 ORDER BY 1""", [import_id, import_id])
        out.append(_H3("Berkas pemeriksaan ditulis ulang per kecamatan", "review files rewritten, pairs listed"))
        if rewritten:
            statuses = sorted({s.partition("=")[0] for *_, lst in rewritten for s in (lst or []) if s})
            body: list[list[Cell]] = []
            for berkas, before_n, now_n, lst in rewritten:
                by = {s.partition("=")[0]: int(s.partition("=")[2]) for s in (lst or []) if s}
                body.append([berkas or DASH, before_n or 0, now_n or 0, *(by.get(s, 0) for s in statuses)])
            out.append(_table("tabel-impor-review", ["Berkas|kabupaten/kecamatan", "Sebelumnya|pairs before",
                                                     "Sekarang|pairs now", *statuses], body,
                              total=["Jumlah", *(sum(int(r[i] or 0) for r in body)  # type: ignore[call-overload]
                                                for i in range(1, 3 + len(statuses)))]))
        else:
            out.append(_P("Tidak ada berkas pemeriksaan (nothing left to review)."))
    return out


# key (the section's id), title (its heading, and its entry in the contents), gloss (the English words shown
# small after the heading).
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("proses", "Informasi proses", "run"),
    ("tahap", "Jumlah per tahap", "counts per stage"),
    ("penolakan", "Penolakan per alasan", "rejected rows by reason"),
    ("ganda", "Calon ganda per kecamatan", "duplicate pairs by kecamatan"),
    ("bukti", "Bukti pasangan yang paling meragukan", "pair evidence: why a pair was claimed"),
    ("perbatasan", "Wilayah perbatasan", "border areas"),
    ("pemeriksaan", "Kemajuan pemeriksaan", "review progress"),
    ("tps", "Kualitas TPS", "polling-station quality"),
    ("perubahan", "Perubahan sejak proses sebelumnya", "change since the previous run"),
    ("impor", "Perubahan karena impor keputusan", "what the last review import changed"),
)


def write_report(database: Path, path: Path) -> Path:
    """Write the run report (one self-contained HTML file, charts embedded as base64 PNG) from the
    published database `database` (opened read-only) to `path`; chmod 0o640; returns `path`."""
    _drawn.update(_previous_charts(final_path(path)))
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'main'").fetchall()}
        db = _Db(con, tables)
        runs = _load_runs(db)
        builders: dict[str, Callable[[], list[_Block]]] = {
            "proses": lambda: _section_run(db, runs),
            "tahap": lambda: _section_stages(db, runs),
            "penolakan": lambda: _section_rejects(db, runs),
            "ganda": lambda: _section_duplicates(db, runs),
            "perbatasan": lambda: _section_border(db, runs),
            "pemeriksaan": lambda: _section_review(db, runs),
            "tps": lambda: _section_tps(db, runs, path),
            "perubahan": lambda: _section_change(db, runs),
            "bukti": lambda: _section_evidence(db, runs),
            "impor": lambda: _section_import(db, runs),
        }
        sections = []
        for key, title, gloss in SECTIONS:
            try:
                sections.append(_Section(key, title, gloss, builders[key]()))
            except duckdb.Error as e:
                # Only the error's type: a DuckDB message can quote a value, and values are personal data.
                log.warning("the run report's section %r could not be made (%s); the rest of the report is written",
                            key, type(e).__name__)
                sections.append(_Section(key, title, gloss, [
                    _note(f"Bagian ini tidak dapat dibuat ({type(e).__name__}); lihat log.")], failed=True))
    finally:
        con.close()
        _drawn.clear()

    run = runs.current
    subtitle = (f"Proses {run.get('run_id') or DASH}, {_when(run.get('started_at'))}, status {run.get('status')}"
                if run else "Proses tidak tercatat")
    page = render("report.html", sections=sections, subtitle=subtitle, database=database.name,
                  made=dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"))
    write_private(path, page)
    log.info("wrote the run report %s", final_path(path))
    return path
