"""The review file a camat works in: its columns, and how it is written as XLSX (the default) and CSV.

One row per pair, the two records' fields side by side (nama beside nama, tanggal beside tanggal), the
fields that differ marked, the decision column at the left with a drop-down, an input message and an error
alert, frozen panes so the names stay in view, the record recommended to keep and why, the score as a
number (Calc and Excel show it with the decimal comma of Indonesian settings). Cells are typed: text stays
text (a name starting with `=` is never a formula), numbers stay numbers. Written with xlsxwriter, the data
rows column-wise (`write_xlsx`).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import polars as pl

from dpt_pipeline.core.decisions import KEPUTUSAN
from dpt_pipeline.io.files import FILE_MODE
from dpt_pipeline.io.spreadsheet import FORMULA_START, write_csv_for_excel, write_sheet_rows

# The two records' fields, in the order a reviewer compares them: (column stem, header label).
FIELDS: tuple[tuple[str, str], ...] = (
    ("nik", "NIK"), ("tanggal_lahir", "tanggal lahir"), ("jenis_kelamin", "jenis kelamin"),
    ("tempat_lahir", "tempat lahir"), ("nkk", "NKK"), ("alamat", "alamat"), ("rt", "RT"), ("rw", "RW"),
    ("desa", "desa"), ("kecamatan", "kecamatan"), ("kabupaten", "kabupaten"), ("tps", "TPS"),
    ("sumber", "sumber"), ("baris", "baris"))
COMPARED = ("nama", *(f for f, _ in FIELDS if f not in ("sumber", "baris")))
LEFT = ("keputusan", "nama_1", "nama_2", "skor", "status", "catatan", "simpan", "alasan_simpan", "alasan")
RIGHT = ("berbeda", "pair_id", "ekspor", "berkas")
NUMERIC = {"skor", "rt_1", "rt_2", "rw_1", "rw_2", "tps_1", "tps_2", "baris_1", "baris_2"}
FROZEN = "D2"          # row 1 and the columns keputusan, nama_1, nama_2 stay in view
SHEET = "periksa"      # the sheet the import reads (a camat may add others)


def columns() -> list[str]:
    """The columns of a review file, left to right."""
    sides = [f"{f}_{i}" for f, _ in FIELDS for i in (1, 2)]
    sides.insert(sides.index("nik_2") + 1, "nik_beda")
    return [*LEFT, *sides, *RIGHT]


INSTRUCTIONS = (
    ("Cara mengisi", ""),
    ("keputusan", "SAMA = kedua baris satu orang; BEDA = dua orang; RAGU = belum yakin (tulis alasannya di "
                  "catatan). Kosongkan bila belum diperiksa."),
    ("skor", "keyakinan sistem (%) bahwa kedua baris satu orang; sistem tidak pernah mencoret sendiri"),
    ("status", "BARU, RAGU sebelumnya, KONFLIK (petugas lain atau keputusan lain bertentangan: putuskan "
               "lagi) atau DIBUKA LAGI (data berubah sejak ekspor)"),
    ("simpan", "baris yang disarankan tetap terdaftar bila SAMA (1 atau 2), alasannya di alasan_simpan"),
    ("sel berwarna", "kolom yang isinya berbeda antara baris 1 dan baris 2; daftarnya di kolom berbeda"),
    ("nik_beda", "di digit mana kedua NIK berbeda (# pada NIK yang disamarkan)"),
    ("pair_id, ekspor, berkas", "jangan diubah: dipakai saat impor untuk mencocokkan keputusan"),
    ("Mengurutkan", "urutkan selalu seluruh baris, jangan satu kolom saja: keputusan harus tetap di samping "
                    "pasangannya"),
    ("Setelah selesai", "simpan berkas ini (xlsx atau csv) dan kirim ke operator untuk `dpt review import`"),
)


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """The review file as CSV for Excel in Indonesian settings: `;`, UTF-8 with BOM, the score with a
    decimal comma, formulas neutralised (in `write_csv_for_excel`)."""
    out = frame.with_columns(pl.col("skor").round(1).cast(pl.String).str.replace(".", ",", literal=True))
    return write_csv_for_excel(out, path)


def write_xlsx(frame: pl.DataFrame, path: Path, differ: pl.DataFrame | None = None) -> Path:
    """The review file as XLSX. `differ` (same rows, boolean columns named after COMPARED) marks the fields
    whose two values differ.

    xlsxwriter writes the workbook with its header row (styles, validation, conditional format, panes,
    widths, filter, print setup, the `petunjuk` sheet); the data rows are then built column by column
    (`io.spreadsheet.write_sheet_rows`: typed and escaped as xlsxwriter would write them) and put in."""
    import xlsxwriter
    from xlsxwriter.utility import xl_col_to_name

    cols = frame.columns
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    # Text stays text: no string is ever taken for a formula, a number or a link.
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                      "strings_to_urls": False, "nan_inf_to_errors": True})
    edge = {"bottom": 1, "bottom_color": "#A6A6A6"}
    # A text that looks like a formula keeps Excel's quote prefix, so that editing the cell (F2, Enter) does
    # not turn it into one either (OWASP, CSV injection).
    looks = {"base": edge, "band": {**edge, "bg_color": "#F2F2F2"}, "score": {**edge, "num_format": "0.0"},
             "decide": {**edge, "bg_color": "#FFF2CC", "locked": False}, "marked": {**edge, "bg_color": "#FFD8A8"},
             "q_base": {**edge, "quote_prefix": True}, "q_band": {**edge, "bg_color": "#F2F2F2", "quote_prefix": True},
             "q_marked": {**edge, "bg_color": "#FFD8A8", "quote_prefix": True}}
    try:
        ws = wb.add_worksheet(SHEET)
        header = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78", "text_wrap": True,
                                "valign": "vcenter", "border": 1})
        formats = {name: wb.add_format(props) for name, props in looks.items()}
        conflict = wb.add_format({"bg_color": "#F4B6B6"})
        last_row = max(frame.height, 1)
        ws.write_row(0, 0, cols, header)
        if frame.height:
            # Placeholders in the last row, replaced below: every style gets its index, the sheet its extent.
            for j, fmt in enumerate(formats.values()):
                ws.write_blank(frame.height, j % len(cols), None, fmt)
            ws.write_blank(frame.height, len(cols) - 1, None, formats["base"])
        status = xl_col_to_name(cols.index("status"))
        ws.conditional_format(f"{status}2:{status}{last_row + 1}",
                              {"type": "formula", "criteria": f'=LEFT(${status}2,7)="KONFLIK"', "format": conflict})
        k = xl_col_to_name(cols.index("keputusan"))
        ws.data_validation(f"{k}2:{k}{last_row + 1}", {
            "validate": "list", "source": list(KEPUTUSAN), "ignore_blank": True,
            "input_title": "Keputusan", "input_message": "SAMA = satu orang, BEDA = dua orang, RAGU = belum yakin "
                                                         "(isi catatan).",
            "error_title": "Keputusan tidak dikenal", "error_message": "Tulis SAMA, BEDA atau RAGU, atau kosongkan "
                                                                      "sel ini.", "error_type": "stop"})
        ws.freeze_panes(FROZEN)
        widths = {"keputusan": 12, "status": 26, "catatan": 28, "alasan": 60, "simpan": 8, "alasan_simpan": 34,
                  "berbeda": 30, "nik_beda": 30}
        for i, col in enumerate(cols):
            longest = max([len(col), *(len(str(v)) for v in frame[col].head(200).to_list() if v is not None)])
            ws.set_column(i, i, widths.get(col, min(max(8, longest + 2), 40)))
        ws.set_row(0, 30)
        ws.autofilter(0, 0, last_row, len(cols) - 1)
        # Printed, every column of a pair fits one line of an A3 landscape page, the header on every page.
        ws.set_landscape()
        ws.set_paper(8)
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0)
        info = wb.add_worksheet("petunjuk")
        bold = wb.add_format({"bold": True, "valign": "top"})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        for r, (a, b) in enumerate(INSTRUCTIONS):
            info.write_string(r, 0, a, bold)
            info.write_string(r, 1, b, wrap)
        info.set_column(0, 0, 24)
        info.set_column(1, 1, 110)
    finally:
        wb.close()
    if frame.height:
        xf = {name: fmt.xf_index for name, fmt in formats.items()}
        numbers = {c for c in NUMERIC if c in cols and frame[c].dtype.is_numeric()}
        write_sheet_rows(buffer.getvalue(), path, frame, _styles(frame, differ, xf, numbers), numbers)
    else:
        path.write_bytes(buffer.getvalue())
    os.chmod(path, FILE_MODE)
    return path


def _styles(frame: pl.DataFrame, differ: pl.DataFrame | None, xf: dict[str, int], numbers: set[str]
            ) -> pl.DataFrame:
    """The xf index of every data cell: rows banded, the decision column to fill in, the score with one
    decimal, the fields that differ marked, and any text that looks like a formula with the quote prefix
    (in the band or mark of its cell)."""
    band = (pl.int_range(pl.len()) % 2 == 1)     # spreadsheet rows 3, 5, ...
    marks = differ if differ is not None else pl.DataFrame()
    flags = marks.select([pl.col(c).fill_null(False) for c in marks.columns]) if marks.width else marks

    def look(name: str, prefix: str = "") -> pl.Expr:
        stem = name.removesuffix("_1").removesuffix("_2")
        plain = pl.when(band).then(pl.lit(xf[f"{prefix}band"])).otherwise(pl.lit(xf[f"{prefix}base"]))
        if stem != name and stem in flags.columns:
            return pl.when(pl.col(f"_m_{stem}")).then(pl.lit(xf[f"{prefix}marked"])).otherwise(plain)
        return plain

    exprs = []
    for c in frame.columns:
        e = (pl.lit(xf["decide"]) if c == "keputusan" else pl.lit(xf["score"]) if c == "skor" else look(c))
        if c not in numbers:
            risky = pl.col(c).cast(pl.String).str.contains(FORMULA_START).fill_null(False)
            e = pl.when(risky).then(look(c, "q_")).otherwise(e)
        exprs.append(e.cast(pl.UInt32).alias(c))
    data = frame.hstack(flags.rename({c: f"_m_{c}" for c in flags.columns}).get_columns()) if flags.width else frame
    return data.select(exprs)
