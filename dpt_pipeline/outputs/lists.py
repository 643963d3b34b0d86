"""Printable voter lists per TPS: what the PPS prints and what is posted at the desa office and the TPS.

The PPS (Panitia Pemungutan Suara) works per desa, the KPPS per TPS, so a desa gets one XLSX with a sheet
per TPS (the PPS keeps, checks and prints it) and every TPS one PDF (posted, or handed to its KPPS):
`<dir>/<kecamatan>/<desa>/DPT_<desa>.xlsx` and `<dir>/<kecamatan>/<desa>/TPS_001.pdf`.

Each list holds the columns a posted DPT shows and nothing more: no., NIK masked as the Pilkada 2020
documents did (10 of 16 digits starred: the first 4, province and regency, and the last 2 kept, so the
birth date and sex the NIK encodes are hidden), nama, L/P, usia (age on election day: the full birth date
is left out), alamat, RT, RW. No NKK, no birth date, no disability. Sorted by RW, RT and name; a header
with kabupaten, kecamatan, desa, the TPS, its voters by sex and the date printed.

XLSX: xlsxwriter, every text cell written as text (a name such as `=HYPERLINK(...)` is never a formula and
keeps Excel's quote prefix, so editing the cell does not make it one), numbers as numbers; A4 portrait,
fit to the page width, the column header repeated on every page, page numbers in the footer.
PDF: fpdf2 with DejaVu Sans as matplotlib ships it (a dependency already, so no system font is needed),
cut once per run to its Latin glyphs (loading the whole font costs 0.1 s a PDF, the cut one 0.015 s);
the labels in Helvetica Bold, a PDF core font.

Speed: the rows are joined, masked and sorted with polars; writing is cell by cell (xlsxwriter and fpdf2
have no other way), about 0.15 s per TPS of 600 voters for both files, in worker processes when there
are many desa.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import polars as pl

from dpt_pipeline.io.files import FILE_MODE
from dpt_pipeline.io.spreadsheet import FORMULA_START
from dpt_pipeline.io.workers import pool as workers_pool
from dpt_pipeline.outputs.reuse import Published, digest, row_digests

if TYPE_CHECKING:
    from fpdf import FPDF

log = logging.getLogger(__name__)

# NIK as the Pilkada 2020 public documents showed it: 10 of the 16 digits starred.
MASK_HEAD, MASK_TAIL = 4, 2
NIK_INVALID = "(tidak sah)"
# (column, header, PDF width in mm, XLSX width in characters)
COLUMNS: tuple[tuple[str, str, float, int], ...] = (
    ("no", "NO", 10, 6), ("nik", "NIK", 30, 19), ("nama", "NAMA", 62, 36), ("jenis_kelamin", "L/P", 9, 5),
    ("usia", "USIA", 10, 6), ("alamat", "ALAMAT", 47, 30), ("rt", "RT", 9, 5), ("rw", "RW", 9, 5),
)
NUMERIC = frozenset({"no", "usia", "rt", "rw"})
LIST_COLUMNS = ("kabupaten", "kecamatan", "desa", "kode_desa", "tps", *(c for c, *_ in COLUMNS))
# The glyphs the PDF font keeps (Latin-1, Latin Extended A and B, dashes, quotes, euro):
# every Indonesian name as written in a DPT. Any other character prints as "?" rather than as a hole.
PDF_RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x2010, 0x2027), (0x2030, 0x203A), (0x20AC, 0x20AC))
_OUTSIDE_FONT = "[^" + "".join(f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in PDF_RANGES) + "]"
FOLDER = "daftar"           # under <output.dir>/tps/
LISTS_PER_WORKER = 40       # TPS; a worker process is started per this many, up to MAX_WORKERS
MAX_WORKERS = 4
_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


def mask_nik(nik: pl.Expr) -> pl.Expr:
    """A NIK as posted: `6408**********33` (first 4 and last 2 digits kept); not 16 digits: `(tidak sah)`."""
    ok = nik.str.contains(r"^\d{16}$").fill_null(False)
    starred = pl.concat_str([nik.str.slice(0, MASK_HEAD), pl.lit("*" * (16 - MASK_HEAD - MASK_TAIL)),
                             nik.str.slice(16 - MASK_TAIL, MASK_TAIL)])
    return pl.when(ok).then(starred).otherwise(pl.lit(NIK_INVALID))


def age_on(born: pl.Expr, day: dt.date) -> pl.Expr:
    """Whole years on `day` (election day)."""
    return (pl.lit(day.year) - born.dt.year()
            - ((born.dt.month() * 100 + born.dt.day()) > day.month * 100 + day.day).cast(pl.Int32))


def list_rows(assignments: pl.DataFrame, voters: pl.DataFrame, names: dict[str, str], election_day: dt.date
              ) -> pl.DataFrame:
    """One row per voter with a TPS (`tps_assignments` joined with `voters`), in LIST_COLUMNS, sorted by
    desa, TPS, RW, RT and name, numbered from 1 within each TPS. A desa's kabupaten and kecamatan are the
    canonical names of its voters' region codes (the name as written where the code is unknown)."""
    # The voter's own RT and RW, as registered (tps_assignments holds the household's: its most common).
    v = voters.select("voter_id", "nik", "nama", "jenis_kelamin", "tanggal_lahir", "alamat",
                      pl.col("rw").cast(pl.Int32), pl.col("rt").cast(pl.Int32),
                      "kode_kabupaten", "kabupaten", "kode_kecamatan", "kecamatan")
    rows = assignments.select("voter_id", "kode_desa", "desa", "tps").join(v, on="voter_id", how="left")

    def canon(code: str, text: str) -> pl.Expr:
        return pl.coalesce(pl.col(code).replace_strict(names, default=None, return_dtype=pl.String),
                           pl.col(text).str.to_uppercase(), pl.lit("TIDAK DIKENAL"))

    # One kabupaten and kecamatan per desa (its voters' most common), so a TPS's header never varies by row.
    place = (rows.with_columns(canon("kode_kabupaten", "kabupaten").alias("kabupaten"),
                               canon("kode_kecamatan", "kecamatan").alias("kecamatan"))
             .group_by("kode_desa", "kabupaten", "kecamatan").len()
             .sort(["kode_desa", "len", "kabupaten", "kecamatan"], descending=[False, True, False, False])
             .unique("kode_desa", keep="first").drop("len"))
    out = (rows.drop("kabupaten", "kecamatan").join(place, on="kode_desa", how="left")
           .with_columns(mask_nik(pl.col("nik")).alias("nik"), age_on(pl.col("tanggal_lahir"), election_day)
                         .cast(pl.Int32).alias("usia"), pl.col("desa").fill_null(pl.col("kode_desa")))
           .sort(["kode_desa", "tps", "rw", "rt", "nama", "voter_id"], nulls_last=True)
           .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("kode_desa", "tps").alias("no")))
    return out.select(LIST_COLUMNS)


@dataclass(frozen=True)
class _Desa:
    """One desa's lists to write: its folder, its rows, the date printed."""

    folder: Path
    rows: pl.DataFrame
    printed: str
    pdf: bool
    font: str


def slug(name: str) -> str:
    """A folder or file name part: letters and digits, the rest `_` (`TELUK PANDAN` -> `TELUK_PANDAN`)."""
    return _UNSAFE.sub("_", name).strip("_") or "TIDAK_DIKENAL"


def write_lists(rows: pl.DataFrame, out_dir: Path, printed: dt.date, *, pdf: bool = True,
                reuse: Published | None = None) -> list[Path]:
    """Write every desa's XLSX and every TPS's PDF (rows from `list_rows`) under `out_dir`; the paths. With
    `reuse` (last night's tps folder, `outputs.reuse`), a desa whose lists would be written from the same
    rows, folder and date as last night's is taken from last night's folder instead."""
    if rows.is_empty():
        return []
    desa = rows.partition_by("kode_desa", maintain_order=True, as_dict=True)
    # Folder per kecamatan and desa name; two desa keys with one name in one kecamatan get their key too.
    named = {k[0]: (slug(str(g["kecamatan"][0])), slug(str(g["desa"][0]))) for k, g in desa.items()}
    seen: dict[tuple[str, str], int] = {}
    for pair in named.values():
        seen[pair] = seen.get(pair, 0) + 1
    day = printed.strftime("%d-%m-%Y")
    hashes = row_digests(rows, "kode_desa") if reuse is not None else {}
    taken: list[Path] = []
    tmp = Path(tempfile.mkdtemp(prefix="dpt-fonts-"))
    try:
        font = _latin_font(tmp) if pdf else ""
        jobs, pieces = [], []
        for (key, *_), g in desa.items():
            kec, name = named[key]
            folder = out_dir / kec / (name if seen[(kec, name)] == 1 else f"{name}_{slug(str(key))}")
            if reuse is not None:
                piece = f"lists:{key}"
                dg = digest("lists", key, folder.relative_to(reuse.staged).as_posix(), day, pdf, hashes[str(key)])
                if reuse.take(piece, dg):
                    taken += sorted(folder.iterdir())
                    continue
                pieces.append((piece, dg))
            jobs.append(_Desa(folder, g, day, pdf, font))
        done = _write_all(jobs, sum(j.rows.select("tps").n_unique() for j in jobs))
        if reuse is not None:
            for (piece, dg), files in zip(pieces, done, strict=True):
                reuse.record(piece, dg, [Path(p) for p in files])
        return sorted([*taken, *(Path(p) for files in done for p in files)])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_all(jobs: list[_Desa], n_tps: int) -> list[list[str]]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(cpus, MAX_WORKERS, len(jobs), n_tps // LISTS_PER_WORKER)
    if workers < 2:
        return [_write_desa(j) for j in jobs]
    with workers_pool(workers) as pool:
        return list(pool.map(_write_desa, jobs, chunksize=2))


def _write_desa(job: _Desa) -> list[str]:
    """One desa: its XLSX, then a PDF per TPS."""
    job.folder.mkdir(parents=True, exist_ok=True)
    tps = job.rows.partition_by("tps", maintain_order=True)
    first = job.rows.row(0, named=True)
    written = [_write_xlsx(job.folder / f"DPT_{slug(str(first['desa']))}.xlsx", tps, job.printed)]
    if job.pdf:
        written += [_write_pdf(job.folder / f"TPS_{int(t['tps'][0]):03d}.pdf", t, job.printed, job.font)
                    for t in tps]
    for p in written:
        os.chmod(p, FILE_MODE)
    return [str(p) for p in written]


def header_lines(t: pl.DataFrame, printed: str) -> list[tuple[str, str]]:
    """The header of one TPS's list: (label, value) pairs."""
    first = t.row(0, named=True)
    sex = t["jenis_kelamin"]
    men, women = int((sex == "L").sum()), int((sex == "P").sum())
    counts = f"laki-laki {men:,} · perempuan {women:,}".replace(",", ".")
    if (other := t.height - men - women) > 0:
        counts += f" · tidak diketahui {other:,}".replace(",", ".")
    return [("Kabupaten/Kota", str(first["kabupaten"])), ("Kecamatan", str(first["kecamatan"])),
            ("Desa/Kelurahan", str(first["desa"])), ("TPS", f"{int(first['tps']):03d}"),
            ("Jumlah pemilih", f"{t.height:,}".replace(",", ".") + f" ({counts})"), ("Dicetak", printed)]


TITLE = "DAFTAR PEMILIH TETAP (DPT)"


def _write_xlsx(path: Path, tps: list[pl.DataFrame], printed: str) -> Path:
    import xlsxwriter

    formula = re.compile(FORMULA_START)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False, "constant_memory": True})
    wb.set_properties({"created": _made(printed)})   # not the clock's time: the same list, the same bytes
    try:
        bold = wb.add_format({"bold": True})
        title = wb.add_format({"bold": True, "font_size": 14})
        head = wb.add_format({"bold": True, "border": 1, "bg_color": "#D9D9D9", "align": "center"})
        cell = wb.add_format({"border": 1, "indent": 1})       # text: a space from the number to its left
        numeric = wb.add_format({"border": 1})
        centred = wb.add_format({"border": 1, "align": "center"})
        quoted = wb.add_format({"border": 1, "indent": 1, "quote_prefix": True})
        plain_quoted = wb.add_format({"quote_prefix": True})
        for t in tps:
            number = int(t["tps"][0])
            ws = wb.add_worksheet(f"TPS {number:03d}")
            for i, (_, _, _, width) in enumerate(COLUMNS):
                ws.set_column(i, i, width)
            ws.write_string(0, 0, TITLE, title)
            lines = header_lines(t, printed)
            for r, (label, value) in enumerate(lines, start=1):
                ws.write_string(r, 0, label, bold)
                ws.write_string(r, 2, value, plain_quoted if formula.match(value) else None)
            top = len(lines) + 2
            ws.write_row(top, 0, [h for _, h, _, _ in COLUMNS], head)
            data = t.select([c for c, *_ in COLUMNS])
            for r, row in enumerate(data.iter_rows(), start=top + 1):
                for c, (name, value) in enumerate(zip(data.columns, row, strict=True)):
                    if value is None:
                        ws.write_blank(r, c, None, cell)
                    elif name in NUMERIC:
                        ws.write_number(r, c, value, numeric)
                    else:
                        ws.write_string(r, c, value, quoted if formula.match(value)
                                        else centred if name == "jenis_kelamin" else cell)
            ws.set_paper(9)            # A4
            ws.set_portrait()
            ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
            ws.fit_to_pages(1, 0)      # the width of one page, as many pages down as needed
            ws.repeat_rows(top)
            desa = lines[2][1].replace("&", "&&")
            ws.set_header(f"&L&8{desa} · TPS {number:03d}&R&8{TITLE}")
            ws.set_footer(f"&L&8Dicetak {printed}&R&8Halaman &P dari &N")
    finally:
        wb.close()
    return path


def _made(printed: str) -> dt.datetime:
    """The time a list says it was made: midnight (UTC) of the day printed on it."""
    return dt.datetime.strptime(printed, "%d-%m-%Y").replace(tzinfo=dt.UTC)


def _latin_font(folder: Path) -> str:
    """DejaVu Sans as matplotlib ships it, cut to PDF_RANGES, written into `folder`."""
    import matplotlib
    from fontTools import subset

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    out = []
    for name in ("DejaVuSans",):
        opts = subset.Options()
        opts.layout_features, opts.hinting, opts.name_IDs, opts.notdef_outline = [], False, ["*"], True
        opts.drop_tables = [*opts.drop_tables, "FFTM"]
        font = subset.load_font(io.BytesIO((source / f"{name}.ttf").read_bytes()), opts)   # closed at once
        cutter = subset.Subsetter(opts)
        cutter.populate(unicodes=[u for a, b in PDF_RANGES for u in range(a, b + 1)])
        cutter.subset(font)
        target = folder / f"{name}-latin.ttf"
        subset.save_font(font, str(target), opts)
        out.append(str(target))
    return out[0]


ROW_MM = 5.0
# Labels, the title and the column header are plain ASCII: a PDF core font (nothing embedded) is enough,
# and saves a second TrueType font a file.
BOLD = "helvetica"
MARGIN_MM = 12.0


def _write_pdf(path: Path, t: pl.DataFrame, printed: str, font: str) -> Path:
    from fpdf import FPDF

    lines = header_lines(t, printed)
    running = f"{lines[2][1]} · TPS {lines[3][1]} · {TITLE}"
    widths = [w for _, _, w, _ in COLUMNS]
    right = MARGIN_MM + sum(widths)

    class ListPdf(FPDF):
        def header(self) -> None:
            self.set_font("dejavu", "", 7)
            self.set_xy(MARGIN_MM, 7)
            self.cell(0, 4, running)
            y = 13.0
            if self.page_no() == 1:
                self.set_font(BOLD, "B", 13)
                self.text(MARGIN_MM, y + 5, TITLE)
                y += 9
                for label, value in lines:
                    self.set_font(BOLD, "B", 9)
                    self.text(MARGIN_MM, y + 3.5, label)
                    self.set_font("dejavu", "", 9)
                    self.text(MARGIN_MM + 32, y + 3.5, ": " + value)
                    y += 4.8
                y += 2
            self.set_font(BOLD, "B", 8)
            self.set_fill_color(217, 217, 217)
            self.rect(MARGIN_MM, y, sum(widths), ROW_MM, style="DF")
            x = MARGIN_MM
            for (_, label, w, _) in COLUMNS:
                self.text(x + 1, y + 3.6, label)
                x += w
            self.set_xy(MARGIN_MM, y + ROW_MM)

        def footer(self) -> None:
            self.set_font("dejavu", "", 7)
            self.set_xy(MARGIN_MM, -10)
            self.cell(90, 4, f"Dicetak {printed}")
            self.cell(sum(widths) - 90, 4, f"Halaman {self.page_no()} dari {{nb}}", align="R")

    pdf = ListPdf("P", "mm", "A4")
    pdf.set_creation_date(_made(printed))   # not the clock's time: the same list, the same bytes
    pdf.set_title(f"{TITLE} {lines[2][1]} TPS {lines[3][1]}")
    pdf.add_font("dejavu", "", font)
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN_MM, 10, MARGIN_MM)
    pdf.set_draw_color(160, 160, 160)
    pdf.set_line_width(0.2)
    bottom = 297 - 14.0
    data = t.select([pl.col(c).cast(pl.String).str.replace_all(_OUTSIDE_FONT, "?").fill_null("")
                     for c, *_ in COLUMNS])
    # Text widths in mm at 8 pt, from the font's advance widths, for the whole list at once (fpdf2's
    # get_string_width costs more than drawing the text).
    advance = cast("dict[int, int]", pdf.fonts["dejavu"].cw)   # by code point
    mm = 8 * 0.001 / pdf.k
    table = {chr(u): advance[u] * mm for a, b in PDF_RANGES for u in range(a, b + 1)}
    placed = data.with_columns([
        pl.col(c).str.split("").list.eval(pl.element().replace_strict(table, default=0.0, return_dtype=pl.Float64))
        .list.sum().alias(f"_{c}") for c in data.columns])
    pdf.add_page()
    pdf.set_font("dejavu", "", 8)
    y = pdf.get_y()
    right_aligned = [c == "no" or c in NUMERIC for c, *_ in COLUMNS]
    for row in placed.iter_rows():
        values, measured = row[:len(COLUMNS)], row[len(COLUMNS):]
        if y + ROW_MM > bottom:
            pdf.add_page()
            pdf.set_font("dejavu", "", 8)
            y = pdf.get_y()
        x = MARGIN_MM
        for c, value in enumerate(values):
            w = widths[c]
            if measured[c] > w - 2:
                _squeezed(pdf, x + 1, y + 3.6, value, w - 2, measured[c])
            elif right_aligned[c]:
                pdf.text(x + w - 1 - measured[c], y + 3.6, value)
            elif value:
                pdf.text(x + 1, y + 3.6, value)
            x += w
        pdf.line(MARGIN_MM, y + ROW_MM, right, y + ROW_MM)
        y += ROW_MM
    pdf.output(str(path))
    return path


SMALLEST_PT = 6.0


def _squeezed(pdf: FPDF, x: float, y: float, value: str, width: float, at_8pt: float) -> None:
    """A long name or address in a smaller font so that it fits its cell whole (never cut): on one line down
    to SMALLEST_PT, else on two lines of the row, split at the space nearest the middle."""
    size = math.floor(8 * width / at_8pt * 2) / 2
    spaces = [i for i, ch in enumerate(value) if ch == " "]
    if size >= SMALLEST_PT or not spaces:
        pdf.set_font_size(max(size, 4.0))
        pdf.text(x, y, value)
    else:
        cut = min(spaces, key=lambda i: abs(i - len(value) / 2))
        lines = value[:cut], value[cut + 1:]
        longest = max(pdf.get_string_width(line) for line in lines)   # at 8 pt: rare, so fpdf2 measures
        pdf.set_font_size(max(4.0, min(SMALLEST_PT, math.floor(8 * width / longest * 2) / 2)))
        pdf.text(x, y - 1.5, lines[0])
        pdf.text(x, y + 0.9, lines[1])
    pdf.set_font_size(8)
