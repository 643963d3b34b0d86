"""CSV files a spreadsheet opens: Indonesian Excel settings, and no cell taken for a formula (OWASP)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import polars as pl

from dpt_pipeline.io.files import FILE_MODE

# A cell a spreadsheet program would run as a formula (OWASP, CSV injection): = + - @, tab, carriage return.
FORMULA_START = r"^[=+\-@\t\r]"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would take for a formula get a leading `'` (shown as text, the value
    otherwise intact). Only for files a spreadsheet opens: DuckDB keeps the original value."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns([pl.when(pl.col(c).str.contains(FORMULA_START)).then(pl.lit("'") + pl.col(c))
                               .otherwise(pl.col(c)).alias(c) for c in text])


def unneutralised(e: pl.Expr) -> pl.Expr:
    """A cell as its writer meant it: the `'` that `neutralise_formulas` put before a formula start taken off
    again (a reviewer's note read back)."""
    return pl.when(e.str.contains("^'" + FORMULA_START.removeprefix("^"))).then(e.str.slice(1)).otherwise(e)


# A text of digits that Excel opening a CSV would take for a number and damage: 12 digits or more (shown,
# and saved back, in scientific notation; past 15 digits the rest become 0: a NIK's 16th) or a leading 0.
DAMAGED_AS_NUMBER = r"^(?:\d{12,}|0\d+)$"


def keep_digits_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that Excel would read as a damaged number get a leading `'`: Excel and Calc then keep them
    as text, every digit intact (the `'` shows; dpt's ingest reads a NIK so written as the NIK). Not the
    `="..."` trick, which is a formula."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns([pl.when(pl.col(c).str.contains(DAMAGED_AS_NUMBER)).then(pl.lit("'") + pl.col(c))
                               .otherwise(pl.col(c)).alias(c) for c in text])


def write_csv_for_excel(frame: pl.DataFrame, path: Path, *, digits_as_text: bool = False,
                        decimal_comma: bool = False) -> Path:
    """A CSV that Excel in Indonesian regional settings opens as it is: ';' separated, UTF-8 with BOM, no
    cell taken for a formula (and, with `digits_as_text`, no NIK taken for a number; with `decimal_comma`,
    float columns written 3,25 as numbers, a negative one too); readable by owner and group only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = neutralise_formulas(frame)
    # The header row too: a column named by whoever wrote the query (`AS "=HYPERLINK(...)"`).
    out = out.rename({c: "'" + c for c in out.columns if re.match(FORMULA_START, c)})
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf")
        (keep_digits_as_text(out) if digits_as_text else out).write_csv(f, separator=";", decimal_comma=decimal_comma)
    os.chmod(path, FILE_MODE)
    return path


# XLSX cells written column-wise (a review file's 40,000 rows in well under a second, where xlsxwriter's cell
# by cell writing and closing took seconds per file): the rows of a sheet as the XML xlsxwriter would write
# for the same cells, spliced into a workbook xlsxwriter wrote with everything else (styles, validation,
# panes, print setup, other sheets). Text is an inline string, escaped exactly as xlsxwriter escapes a cell's
# text (its control-character `_xHHHH_` escapes included), numbers are numbers.
XLSX_TEXT_MAX = 32767   # a cell's text, in UTF-16 units: longer text is cut there (as xlsxwriter does)
_CONTROL = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20))]
_NEEDS_ESCAPE = r"[&<>\x00-\x08\x0B-\x1F\x{FFFE}\x{FFFF}]|_x[0-9a-fA-F]{4}_"


def _utf16_cut(text: str) -> str:
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > XLSX_TEXT_MAX:
            return text[:i]
    return text


def _xml_text(values: pl.Series) -> pl.Series:
    """Text as a cell's XML: cut at XLSX_TEXT_MAX, a literal `_xHHHH_` escaped as `_x005F_xHHHH_`, control
    characters (not allowed in XML) and U+FFFE/U+FFFF as `_xHHHH_` (what Excel and Calc read back as the
    character), then `&`, `<`, `>` as entities; only the few cells that need it are touched."""
    s = values.cast(pl.String)
    long = (s.str.len_chars() > XLSX_TEXT_MAX // 2).fill_null(False)
    if long.any():   # a handful of cells at most: cut where xlsxwriter cuts, without splitting an emoji
        at = long.arg_true()
        s = s.scatter(at, pl.Series([_utf16_cut(v) for v in s.gather(at).to_list()], dtype=pl.String))
    dirty = s.str.contains(_NEEDS_ESCAPE).fill_null(False)
    if dirty.any():
        at = dirty.arg_true()
        sub = s.gather(at).str.replace_all(r"(_x[0-9a-fA-F]{4}_)", "_x005F${1}")
        for ch in (*_CONTROL, "\ufffe", "\uffff"):
            sub = sub.str.replace_all(ch, f"_x{ord(ch):04X}_", literal=True)
        for ch, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            sub = sub.str.replace_all(ch, entity, literal=True)
        s = s.scatter(at, sub)
    return s


def _column_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def write_sheet_rows(workbook: bytes, path: Path, values: pl.DataFrame, styles: pl.DataFrame,
                     numbers: set[str], *, sheet: int = 1) -> None:
    """Write the XLSX `workbook` (a zip, as xlsxwriter wrote it) to `path` with the rows of worksheet `sheet`
    below its header row replaced by `values`, every cell in the style (xf index) of the same
    cell of `styles`. Columns in `numbers` with a numeric type are numbers (NaN and infinities as xlsxwriter
    writes them: the errors #NUM! and #DIV/0!); every other cell is text, in the shared strings as
    xlsxwriter puts it there; a null or empty cell is a blank cell that keeps its style."""
    import zipfile

    member, strings = f"xl/worksheets/sheet{sheet}.xml", "xl/sharedStrings.xml"
    with zipfile.ZipFile(io.BytesIO(workbook)) as src:
        parts = {info.filename: src.read(info) for info in src.infolist()}
        infos = src.infolist()
    sst = parts[strings].decode("utf-8")
    counts = re.search(r'<sst [^>]*count="(\d+)" uniqueCount="(\d+)"', sst)
    if counts is None:
        raise ValueError("the workbook's shared strings have no counts")
    rows, table, cells, unique = _sheet_rows(values, styles, numbers, first_string=int(counts[2]))
    sst = (sst[:counts.start(1)] + str(int(counts[1]) + cells) + sst[counts.end(1):counts.start(2)]
           + str(int(counts[2]) + unique) + sst[counts.end(2):])
    end = sst.rindex("</sst>")
    parts[strings] = (sst[:end] + table + sst[end:]).encode("utf-8")
    xml = parts[member].decode("utf-8")
    start = xml.index("</row>", xml.index('<row r="1"')) + len("</row>")    # after the header row
    end = xml.index("</sheetData>")
    parts[member] = (xml[:start] + rows + xml[end:]).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in infos:
            dst.writestr(info, parts[info.filename], compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)


def _sheet_rows(values: pl.DataFrame, styles: pl.DataFrame, numbers: set[str], *, first_string: int
                ) -> tuple[str, str, int, int]:
    """The `<row>` elements from row 2, the `<si>` elements of their text (numbered from `first_string`),
    how many text cells and how many distinct texts."""
    n, width = values.height, values.width
    rn = pl.Series("_r", range(2, 2 + n), dtype=pl.Int64).cast(pl.String)
    # The text of every text cell, numbered in the shared strings table (one entry per distinct text).
    texts = {j: _xml_text(values[c]) for j, c in enumerate(values.columns)
             if not (c in numbers and values[c].dtype.is_numeric())}
    blank = {j: (values[values.columns[j]].cast(pl.String).fill_null("") == "") for j in texts}
    long = pl.concat([pl.DataFrame({"_j": pl.Series([j] * n, dtype=pl.Int32), "_i": pl.int_range(n, eager=True),
                                    "_t": t}).filter(~blank[j]) for j, t in texts.items()]) if texts else None
    index: dict[int, pl.Series] = {}
    table, cells, unique = "", 0, 0
    if long is not None and long.height:
        distinct = long.select(pl.col("_t").unique(maintain_order=True))
        distinct = distinct.with_columns(pl.int_range(first_string, first_string + pl.len()).alias("_k"))
        keyed = long.join(distinct, on="_t", how="left")
        for (j,), got in keyed.partition_by("_j", as_dict=True).items():
            index[int(j)] = pl.Series([None] * n, dtype=pl.Int64).scatter(got["_i"], got["_k"])
        keep = pl.when(pl.col("_t").str.contains(r"^\s|\s$")).then(pl.lit(' xml:space="preserve"')).otherwise(
            pl.lit(""))
        table = distinct.select(pl.concat_str([pl.lit("<si><t"), keep, pl.lit(">"), pl.col("_t"),
                                               pl.lit("</t></si>")]).str.join("")).item()
        cells, unique = long.height, distinct.height
    work: dict[str, pl.Series] = {"_r": rn}
    exprs: list[pl.Expr] = []
    for j, c in enumerate(values.columns):
        v, s = pl.col(f"v{j}"), pl.col(f"s{j}")
        head = [pl.lit(f'<c r="{_column_name(j)}'), pl.col("_r"), pl.lit('" s="'), s]
        work[f"s{j}"] = styles[c].cast(pl.String)
        empty = pl.concat_str([*head, pl.lit('"/>')])
        if j in texts:
            work[f"v{j}"] = index[j] if j in index else pl.Series([None] * n, dtype=pl.Int64)
            exprs.append(pl.when(v.is_null()).then(empty).otherwise(
                pl.concat_str([*head, pl.lit('" t="s"><v>'), v.cast(pl.String), pl.lit("</v></c>")])))
            continue
        col = values[c]
        work[f"v{j}"] = col.cast(pl.Float64) if col.dtype == pl.Float32 else col
        number = pl.concat_str([*head, pl.lit('"><v>'), v.cast(pl.String), pl.lit("</v></c>")])
        if col.dtype.is_float():
            error = (pl.when(v.is_nan()).then(pl.lit('" t="e"><f>#NUM!</f><v>#NUM!</v></c>'))
                     .when(v > 0).then(pl.lit('" t="e"><f>1/0</f><v>#DIV/0!</v></c>'))
                     .otherwise(pl.lit('" t="e"><f>-1/0</f><v>#DIV/0!</v></c>')))
            number = pl.when(v.is_finite()).then(number).otherwise(pl.concat_str([*head, error]))
        exprs.append(pl.when(v.is_null()).then(empty).otherwise(number))
    row = pl.concat_str([pl.lit('<row r="'), pl.col("_r"), pl.lit(f'" spans="1:{width}">'), *exprs, pl.lit("</row>")])
    rows = pl.DataFrame(work).select(row.str.join("")).item() if n else ""
    return rows, table, cells, unique
