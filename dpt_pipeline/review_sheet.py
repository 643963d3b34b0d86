"""The review file a camat works in: its columns, and how it is written as XLSX (the default) and CSV.

One row per pair, the two records' fields side by side (nama beside nama, tanggal beside tanggal), the
fields that differ marked, the decision column at the left with a drop-down, an input message and an error
alert, frozen panes so the names stay in view, the record recommended to keep and why, the score as a
number (Calc and Excel show it with the decimal comma of Indonesian settings). Cells are typed: text stays
text (a name starting with `=` is never a formula), numbers stay numbers.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from dpt_pipeline.decisions import KEPUTUSAN
from dpt_pipeline.publish import FILE_MODE, write_csv_for_excel

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
    ("Setelah selesai", "simpan berkas ini (xlsx atau csv) dan kirim ke operator untuk `dpt review import`"),
)


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """The review file as CSV for Excel in Indonesian settings: `;`, UTF-8 with BOM, the score with a
    decimal comma, formulas neutralised (in `write_csv_for_excel`)."""
    out = frame.with_columns(pl.col("skor").round(1).cast(pl.String).str.replace(".", ",", literal=True))
    return write_csv_for_excel(out, path)


def write_xlsx(frame: pl.DataFrame, path: Path, differ: pl.DataFrame | None = None) -> Path:
    """The review file as XLSX. `differ` (same rows, boolean columns named after COMPARED) marks the
    fields whose two values differ."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    cols = frame.columns
    wb = Workbook()
    ws = wb.active
    ws.title = "periksa"
    header_fill = PatternFill("solid", fgColor="1F4E78")
    band_fill = PatternFill("solid", fgColor="F2F2F2")
    differ_fill = PatternFill("solid", fgColor="FFD8A8")
    decide_fill = PatternFill("solid", fgColor="FFF2CC")
    conflict_fill = PatternFill("solid", fgColor="F4B6B6")
    thin = Side(style="thin", color="A6A6A6")
    ws.append(cols)
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    marks = differ.to_dicts() if differ is not None else [{} for _ in range(frame.height)]
    for r, (row, mark) in enumerate(zip(frame.iter_rows(), marks, strict=True), start=2):
        for c, (name, value) in enumerate(zip(cols, row, strict=True), start=1):
            cell = ws.cell(row=r, column=c)
            if value is None:
                pass
            elif name in NUMERIC:
                cell.value = value
            else:
                # Set as a string cell: openpyxl would otherwise take "=..." for a formula.
                cell.value = str(value)
                cell.data_type = TYPE_STRING
            stem = name.rsplit("_", 1)[0]
            if name == "keputusan":
                cell.fill = decide_fill
            elif name == "status" and value and str(value).startswith("KONFLIK"):
                cell.fill = conflict_fill
            elif stem in mark and mark[stem] and name[-2:] in ("_1", "_2"):
                cell.fill = differ_fill
            elif r % 2 == 1:
                cell.fill = band_fill
            cell.border = Border(top=thin, bottom=thin)
        ws.cell(row=r, column=cols.index("skor") + 1).number_format = "0.0"
    ws.freeze_panes = FROZEN
    widths = {"keputusan": 12, "status": 26, "catatan": 28, "alasan": 60, "simpan": 8, "alasan_simpan": 34,
              "berbeda": 30, "nik_beda": 30}
    for i, col in enumerate(cols, start=1):
        longest = max([len(col), *(len(str(v)) for v in frame[col].head(200).to_list() if v is not None)])
        ws.column_dimensions[get_column_letter(i)].width = widths.get(col, min(max(8, longest + 2), 40))
    ws.row_dimensions[1].height = 30
    k = get_column_letter(cols.index("keputusan") + 1)
    dv = DataValidation(type="list", formula1=f'"{",".join(KEPUTUSAN)}"', allow_blank=True,
                        showErrorMessage=True, errorStyle="stop", errorTitle="Keputusan tidak dikenal",
                        error="Tulis SAMA, BEDA atau RAGU, atau kosongkan sel ini.",
                        showInputMessage=True, promptTitle="Keputusan",
                        prompt="SAMA = satu orang, BEDA = dua orang, RAGU = belum yakin (isi catatan).")
    dv.add(f"{k}2:{k}{max(frame.height + 1, 2)}")
    ws.add_data_validation(dv)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{max(frame.height + 1, 2)}"
    # Printed, every column of a pair fits one line of an A3 landscape page, the header on every page.
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A3
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = "1:1"
    info = wb.create_sheet("petunjuk")
    for a, b in INSTRUCTIONS:
        info.append([a, b])
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 110
    info["A1"].font = Font(bold=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    os.chmod(path, FILE_MODE)
    return path
