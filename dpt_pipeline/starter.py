"""`dpt init FOLDER`: a commented config for the voter lists found in a folder, so that a first run on
one's own files needs no hand-written TOML.

Each list is surveyed by the ingest stage (`ingest.survey`: format, encoding, separator, headers); the RT
coordinates file is recognised by the TPS stage's reader. Every setting of `config.py` is written with its
default and the comment that explains it there (read from config.py's own source, the one place), commented
out so that the defaults apply until the staffer changes one. Only headers, counts and format names are
written: never a cell.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import logging
import os
import re
import tokenize
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpt_pipeline import config as config_module
from dpt_pipeline.config import SourceConfig, known_border_areas
from dpt_pipeline.core.reference import REGIONS
from dpt_pipeline.errors import ConfigError, InputError
from dpt_pipeline.ingest.regions import RegionTable
from dpt_pipeline.ingest.survey import FORMATS, UNREADABLE, Survey, survey
from dpt_pipeline.tps.coordinates import read_coordinates

log = logging.getLogger(__name__)

CONFIG_NAME = "pipeline.toml"
OUTPUT_DIR = "reports"
# What each [[sources]] key means, for the keys the survey fills or leaves to the staffer.
SOURCE_DOCS = {
    "name": "every output row carries it as `source`; letters, digits, '_' and '-'",
    "path": "relative to this file",
    "delimiter": "one of ; , tab |; unset, found from the header line on each run",
    "encoding": "utf-8, utf-8-sig, cp1252 (old Excel on Windows), latin-1; unset, found on each run",
    "date_format": "DD|MM|YYYY style; unset, every known format is tried and the one most dates fit goes first",
    "sheet": "the XLSX sheet to read (default: the first)",
    "header_row": "the header's line (row), 1-based; unset, found among the first 20 rows",
    "columns": "field = \"HEADER\" for headers the built-in aliases do not know",
    "defaults": "kabupaten / kecamatan / desa for a list that has no such column",
}


@dataclass(frozen=True)
class Written:
    """What `init` wrote: the config file, the lists it configured, the files it left commented out (with
    why) and the RT coordinates file it found."""

    path: Path
    sources: list[Path]
    skipped: list[tuple[Path, str]]
    coordinates: Path | None


def setting_docs(cls: type) -> dict[str, list[str]]:
    """field -> the comment lines config.py writes for it: the comment block right above the field and the
    comment at the end of its line."""
    docs: dict[str, list[str]] = {}
    pending: list[str] = []
    names = {f.name for f in dataclasses.fields(cls)}
    line_of: dict[int, str] = {}
    lines = inspect.getsource(cls).splitlines()
    for i, text in enumerate(lines, start=1):
        m = re.match(r"\s+(\w+)\s*:", text)
        if m and m.group(1) in names:
            line_of[i] = m.group(1)
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    for i in range(1, len(lines) + 1):
        stripped = lines[i - 1].strip()
        if stripped.startswith("#"):
            pending.append(comments.get(i, ""))
        elif i in line_of:
            docs[line_of[i]] = pending + ([comments[i]] if i in comments else [])
            pending = []
        else:
            pending = []
    return docs


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        value = value.as_posix()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if value is None:
        return '""'
    # JSON's string escapes are TOML's (backslash n, t, quote, uXXXX); DEL, which TOML refuses bare, too
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def _c(text: str) -> str:
    """Text for a comment: on one line (a file name may hold a line break)."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)


def _name(stem: str, taken: set[str]) -> str:
    """A source name from a file name: letters, digits, '_' and '-', lower case, unique."""
    base = re.sub(r"[^a-z0-9_-]+", "_", stem.lower()).strip("_-") or "sumber"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def _source_block(s: Survey, name: str, base: Path) -> list[str]:
    """The [[sources]] block of one surveyed list; commented out whole when ingest would refuse it."""
    if s.format is None:   # a file ingest does not read (an .xls): named, with what to do
        return [f"# {_c(s.path.name)}: not read: {s.refusal}", ""]
    out = [f"# {_c(s.path.name)}: {s.format}, {s.rows} data rows"
           + (f", encoding {s.encoding}" if s.encoding else "")
           + (f", separated by {'tab' if s.delimiter == chr(9) else repr(s.delimiter)}" if s.delimiter else "")]
    block = ["[[sources]]",
             f"name = {_toml(name):<28} # {SOURCE_DOCS['name']}",
             f"path = {_toml(_rel(s.path, base)):<28} # {SOURCE_DOCS['path']}"]
    # Detected each run, so left commented: a pinned encoding would misread the list once it is saved otherwise.
    if s.delimiter:
        block.append(f"# delimiter = {_toml(s.delimiter)}   # detected; {SOURCE_DOCS['delimiter']}")
    if s.encoding:
        enc = "utf-8" if s.encoding == "utf-8-sig" else s.encoding
        block.append(f"# encoding = {_toml(enc)}   # detected; {SOURCE_DOCS['encoding']}")
    if s.sheets:
        block.append(f"# sheet = {_toml(s.sheets[0])}  # sheets: {', '.join(map(repr, s.sheets))}; "
                     f"{SOURCE_DOCS['sheet']}")
    if s.date_format:
        block.append(f"# date_format = {_toml(s.date_format)}  # {s.date_share:.0%} of the sampled birth dates "
                     f"read so; {SOURCE_DOCS['date_format']}")
    elif "tanggal_lahir" in s.mapped:
        block.append(f"# date_format = \"DD-MM-YYYY\"  # no known format reads the birth dates; "
                     f"{SOURCE_DOCS['date_format']}")
    if s.header_row > 1:
        block.append(f"# header_row = {s.header_row}  # found so ({s.header_row - 1} title rows above it), "
                     f"as on each run; {SOURCE_DOCS['header_row']}")
    handled = {"name", "path", "delimiter", "encoding", "sheet", "date_format", "columns", "defaults",
               *(("header_row",) if s.header_row > 1 else ())}
    docs = setting_docs(SourceConfig)
    for f in dataclasses.fields(SourceConfig):   # settings added later are listed too, with their default
        if f.name not in handled:
            block += [f"# {line}" for line in docs.get(f.name, [])]
            block.append(f"# {f.name} = {_toml(_default(f))}")
    # How each header maps: only headers that look like headers are quoted (never a data line's cells).
    out.append("# columns found (header -> field):")
    for i, (h, shown, fld) in enumerate(zip(s.headers, s.shown, s.fields, strict=True)):
        label = repr(h) if shown else "(not shown: it does not look like a header)"
        out.append(f"#   {i + 1:>2}. {label:<30} -> {fld or 'not used'}")
    if s.missing:
        out.append(f"# no column for: {', '.join(s.missing)}")
    if s.refusal:
        out.append(f"# ingest refuses this file as it stands ({s.refusal}); if it is a voter list, map its headers "
                   "in [sources.columns] and uncomment the block")
    block.append(f"# [sources.columns]   # {SOURCE_DOCS['columns']}")
    block += [f"# {f} = \"\"" for f in s.missing] or ["# nama = \"NAMA ANDA\""]
    regions = [level for level in ("kabupaten", "kecamatan", "desa") if level in s.missing]
    if regions:
        block.append(f"# [sources.defaults]   # {SOURCE_DOCS['defaults']}")
        for level in regions:
            named = s.from_file_name.get(level)
            note = (f"the file name says {named!r} (used when not set)" if named else
                    f"this list has no {level} column: write its {level}")
            block.append(f"# {level} = \"\"   # {note}")
    return out + ([f"# {line}" for line in block] if s.refusal else block) + [""]


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _table(key: str, cls: type, active: dict[str, str]) -> list[str]:
    """One settings table: its docstring, then every setting with config.py's comment and its default,
    commented out unless `active` gives its value."""
    out = [f"[{key}]"]
    doc = (cls.__doc__ or "").strip().splitlines()[0]
    out.append(f"# {doc.split(': ', 1)[-1]}")
    docs = setting_docs(cls)
    hints = typing.get_type_hints(cls)
    later: list[str] = []
    for f in dataclasses.fields(cls):
        lines = [f"# {line}" for line in docs.get(f.name, [])]
        if f.name in active:
            lines.append(f"{f.name} = {active[f.name]}")
        elif key == "linkage" and f.name == "border_areas":
            lines += _border_areas()
            later += lines   # arrays of tables after the table's own keys
            continue
        elif f.name == "regions":
            lines.append(f"# {f.name} = \"regions.csv\"   # default: the Kemendagri table shipped in the package "
                         f"({Path(*REGIONS.parts[-3:]).as_posix()})")
        else:
            value = _default(f)
            if value is None:
                lines.append(f"# {f.name} = {_example(f.name, hints[f.name])}   # default: not set")
            else:
                lines.append(f"# {f.name} = {_toml(value)}   # default")
        out += lines
    return out + later + [""]


def _example(name: str, tp: Any) -> str:
    args = typing.get_args(tp)
    if "date" in str(tp) or name == "reference_date":
        return "2026-12-09"
    if any(a is Path for a in args):
        return f'"{name}.json"' if name == "model" else f'"{name}.csv"'
    return '""'


def _border_areas() -> list[str]:
    """The known border areas, commented: they apply while [linkage] has no border_areas key."""
    out = ["# default: the known border areas shipped in the package, below. Blocks written here replace them;",
           "# border_areas = []   # turns them off (a key of [linkage]: it stays above any [[linkage.border_areas]])"]
    for a in known_border_areas():
        out += ["# [[linkage.border_areas]]", f"# name = {_toml(a.name)}"]
        if a.legal_kabupaten:
            out.append(f"# legal_kabupaten = {_toml(a.legal_kabupaten)}   # the side whose record is kept")
        out.append("# sides = [")
        out += [f"#   {{ kode_desa = {_toml(s.kode_desa)}, rt_from = {s.rt_from}, rt_to = {s.rt_to} }},"
                for s in a.sides]
        out.append("# ]")
    return out


def find_lists(folder: Path) -> list[Path]:
    """The files of `folder` (not its subfolders) that may be voter lists, by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$"))
                  and p.suffix.lower() in {*FORMATS, *UNREADABLE})


def render(folder: Path, out: Path) -> tuple[str, Written]:
    """The text of the config for the lists in `folder`, to be written at `out`."""
    regions = RegionTable.load(REGIONS)
    taken: set[str] = set()
    base = out.parent
    sources: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    coordinates: list[Path] = []
    blocks: list[str] = []
    for path in find_lists(folder):
        s = survey(path, regions)
        if s.refusal and s.format == "csv":
            try:   # not a voter list: perhaps the RT coordinates
                read_coordinates(path)
                coordinates.append(path)
                continue
            except InputError:
                pass
        blocks += _source_block(s, _name(path.stem, taken), base)
        if s.refusal:
            skipped.append((path, s.refusal))
        else:
            sources.append(path)
        log.info("%s: %s", _c(path.name), f"left commented out ({s.refusal})" if s.refusal else
                 f"{s.format}, {len(s.headers)} columns, {s.rows} rows")
    if not sources:
        found = ", ".join(_c(p.name) for p, _ in skipped) or "none"
        raise ConfigError(f"{folder}: no voter list found to configure (files looked at: {found}; a voter list "
                          f"is a {', '.join(sorted(FORMATS))} file with a NAMA column and a NIK or TANGGAL LAHIR "
                          "column)")
    coords = coordinates[0] if len(coordinates) == 1 else None
    head = [f"# Written by `dpt init {folder}`: the voter lists of that folder, as they were detected.",
            "# Check each [[sources]] block (the detected columns are listed above it), fill what is marked,",
            f"# then run: dpt run --config {out.name}",
            "# Lines starting with # are comments: a commented setting keeps its default; remove the # to change it.",
            "# Paths are relative to this file.", ""]
    output = _table("output", config_module.OutputConfig, {"dir": _toml(OUTPUT_DIR)})
    ingest = _table("ingest", config_module.IngestConfig, {})
    tps_active = {"coordinates": _toml(_rel(coords, base))} if coords else {}
    tps = _table("tps", config_module.TpsConfig, tps_active)
    if len(coordinates) > 1:
        tps.insert(-1, "# RT coordinates files found: " + ", ".join(_c(p.name) for p in coordinates)
                   + "; choose one as coordinates")
    tables = {"output": output, "ingest": ingest, "tps": tps,
              "linkage": _table("linkage", config_module.LinkageConfig, {}),
              "review": _table("review", config_module.ReviewConfig, {})}
    text = "\n".join([*head, *tables["output"], *blocks, *tables["ingest"], *tables["tps"], *tables["linkage"],
                      *tables["review"]]).rstrip("\n") + "\n"
    return text, Written(out, sources, skipped, coords)


def init(folder: Path, out: Path | None = None, *, force: bool = False) -> Written:
    """Write the config for the lists in `folder` to `out` (default FOLDER/pipeline.toml); an existing file
    is kept unless `force`."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder")
    out = out if out is not None else folder / CONFIG_NAME
    if out.exists() and not force:
        raise ConfigError(f"{out} exists already; choose another with --out PATH, or replace it with --force")
    text, written = render(folder, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w" if force else "x", encoding="utf-8") as fh:
        fh.write(text)
    return written

