"""Typed configuration loaded from TOML.

Every table maps onto a frozen dataclass. An unknown key is an error naming the key; a path is absolute or
relative to the folder of the config file; a path that must exist is checked here, so that a run fails
before it starts rather than halfway.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpt_pipeline.core.reference import BORDER_AREAS, REGIONS
from dpt_pipeline.core.schema import CANONICAL_FIELDS, REGION_FIELDS
from dpt_pipeline.core.thresholds import HELD_AT, PRIOR_RECALL
from dpt_pipeline.errors import ConfigError
from dpt_pipeline.io.files import read_regular


@dataclass(frozen=True)
class OutputConfig:
    """[output]: where the database and reports go."""

    dir: Path
    database: str = "dpt.duckdb"

    @property
    def database_path(self) -> Path:
        return self.dir / self.database


@dataclass(frozen=True)
class SourceConfig:
    """[[sources]]: one voter list.

    `columns` maps a canonical field (nik, nama, ...) to the header the file uses for it, for headers the
    built-in aliases do not know. `defaults` gives kabupaten/kecamatan/desa for files that carry them in
    their name or not at all.
    """

    name: str
    path: Path
    delimiter: str | None = None
    encoding: str | None = None
    date_format: str | None = None
    sheet: str | None = None
    # The header's line (CSV) or row (XLSX) in the file, 1-based; unset, it is searched for among the first rows
    # (title rows above it are skipped).
    header_row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestConfig:
    """[ingest]: validation settings."""

    # The Kemendagri region table (kode, tingkat, jenis, nama, alias); the one shipped in the package unless
    # a config names its own.
    regions: Path = REGIONS
    # The day ages are computed at (the election day); decides the NIK century and the under-age flag.
    reference_date: dt.date | None = None
    min_age: int = 17
    # A list whose voters fall by more than this share since the last published run stops the publish
    # (`dpt run --accept-shrink NAME` lets it through); so does one with more than max_reject_share rejected.
    max_shrink: float = 0.2
    max_reject_share: float = 0.5


@dataclass(frozen=True)
class TpsConfig:
    """[tps]: polling-station rules (PKPU 7/2024 allows 600 per TPS for the Pilkada)."""

    max_voters: int = 600
    coordinates: Path | None = None     # RT coordinates: kode_desa, rw, rt, lat, lon
    maps: bool = True                   # under <output.dir>/tps/: an interactive map and a PNG per desa, tps.gpkg
    lists: bool = False                 # printable voter lists: an XLSX per desa, a PDF per TPS (tps/daftar/)
    # Each TPS holds at least this share of its desa's mean (voters / TPS), rounded down: a floor, not an
    # evening out. Above it sizes follow the walk, up to max_voters.
    min_share: float = 0.6
    sites: Path | None = None           # candidate TPS sites (school, balai desa): kode_desa, nama, lat, lon


@dataclass(frozen=True)
class BorderSide:
    """One side of a border area: a desa (Kemendagri code) and an inclusive RT range."""

    kode_desa: str
    rt_from: int
    rt_to: int


@dataclass(frozen=True)
class BorderArea:
    """[[linkage.border_areas]]: residents who may be registered on both sides of a border."""

    name: str
    sides: list[BorderSide]
    legal_kabupaten: str | None = None  # the side whose record is recommended to keep


@dataclass(frozen=True)
class LinkageConfig:
    """[linkage]: duplicate detection."""

    # Pairs at or above are listed for review. At 1,000,000 generated voters 0.05 lists 98.8% of the true
    # pairs (0.2: 98.1%) for 3.3 pairs to decide per 1,000 voters (0.2: 1.7), 36-37% of them true.
    review_threshold: float = 0.05
    model: Path | None = None           # a fitted model JSON to use instead of fitting (pinned)
    random_pairs: int = 300_000         # pairs drawn to estimate u
    seed: int = 0
    # The share of true double registrations that Bawaslu's rule (one NIK, one name, one birth date) finds:
    # the prior is the pairs it finds divided by this (score.fit). Stated, not fitted: plain re-registrations
    # keep all three, spelling variants, typos, placeholder dates, lost NIKs and second NIKs escape it, and
    # we take half to escape. (The generator's rolls, whose copies are corrupted more often than not, give
    # 0.39-0.40; an office that measures its own from decisions sets it here.)
    prior_recall: float = PRIOR_RECALL
    # Areas whose residents may be registered on both sides. A config without the key gets the known ones
    # (core/border_areas.toml: Dusun Sidrap); `border_areas = []` turns them off.
    border_areas: list[BorderArea] = field(default_factory=list)


@dataclass(frozen=True)
class ReviewConfig:
    """[review]: the camat's review files."""

    show_nik: bool = False   # NIK and NKK whole in the review files (default: masked)
    xlsx: bool = True        # write .xlsx (what a camat opens) beside each .csv
    learn_min: int = 50      # decisions of each kind (SAMA, BEDA) before the model learns from them


@dataclass(frozen=True)
class Config:
    output: OutputConfig
    sources: list[SourceConfig]
    ingest: IngestConfig
    tps: TpsConfig
    path: Path
    linkage: LinkageConfig = field(default_factory=LinkageConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"{self.path}: no source named {name!r}")


_ENCODINGS = {"utf-8", "utf-8-sig", "cp1252", "windows-1252", "latin-1"}
_DELIMITERS = {",", ";", "\t", "|"}
# [sources].header_row: a title block above a header is a few lines; a header further down is no voter list.
HEADER_ROW_RANGE = (1, 1000)


def load_config(path: str | Path) -> Config:
    """Read and check a pipeline TOML file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = tomllib.loads(read_regular(path, "--config").decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    base = path.resolve().parent
    where = str(path)

    _check_keys(raw, {"output", "sources", "ingest", "tps", "linkage", "review"}, where, "")
    if "output" not in raw:
        raise ConfigError(f"{where}: missing required table [output]")
    if "sources" not in raw:
        raise ConfigError(f"{where}: missing [[sources]]: list at least one voter list")
    raw_sources = raw["sources"]
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError(f"{where}: [[sources]] must list at least one source")

    output = _build(OutputConfig, raw["output"], base, where, "output")
    sources = [_build(SourceConfig, s, base, where, f"sources[{i}]") for i, s in enumerate(raw_sources)]
    ingest = _build(IngestConfig, raw.get("ingest", {}), base, where, "ingest")
    tps = _build(TpsConfig, raw.get("tps", {}), base, where, "tps")
    linkage = _build(LinkageConfig, raw.get("linkage", {}), base, where, "linkage")
    if "border_areas" not in raw.get("linkage", {}):
        linkage = dataclasses.replace(linkage, border_areas=known_border_areas())
    review = _build(ReviewConfig, raw.get("review", {}), base, where, "review")

    names = [s.name for s in sources]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError(f"{where}: source name {n!r} is used twice; names must be unique")
        if not n or not all(c.isalnum() or c in "_-" for c in n):
            raise ConfigError(f"{where}: source name {n!r} may hold only letters, digits, '_' and '-'")
    for i, s in enumerate(sources):
        _check_source(s, where, f"sources[{i}]")
    _must_exist(ingest.regions, where, "ingest.regions")
    if tps.coordinates is not None:
        _must_exist(tps.coordinates, where, "tps.coordinates")
    if tps.sites is not None:
        _must_exist(tps.sites, where, "tps.sites")
    if linkage.model is not None:
        _must_exist(linkage.model, where, "linkage.model")
    _check_ranges(ingest, tps, linkage, review, where)
    return Config(output=output, sources=sources, ingest=ingest, tps=tps, path=path, linkage=linkage,
                  review=review)


def known_border_areas(path: Path = BORDER_AREAS) -> list[BorderArea]:
    """The border areas shipped with the package (`core/border_areas.toml`), checked like a config's."""
    where = str(path)
    try:
        raw = tomllib.loads(read_regular(path, "border areas").decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}: not valid TOML: {e}") from e
    _check_keys(raw, {"border_areas"}, where, "")
    areas: list[BorderArea] = _convert(list[BorderArea], raw.get("border_areas", []), path.parent, where,
                                       "border_areas")
    return areas


# Every number a setting holds, with the range it may take and why (checked after the types). A value
# outside would not fail loudly later: it would give wrong data, or a crash reported as a bug.
RANGES: dict[str, tuple[int, int, str]] = {
    "ingest.min_age": (16, 21, "voting ages in law run from 16 to 21; Indonesia's is 17 (UU 7/2017)"),
    "tps.max_voters": (1, 1000, "no PKPU has allowed more than 800 voters per TPS; 600 for the Pilkada 2024"),
    # Measured: drawing the pairs alone peaks at about 200 bytes a pair (2 GB for 10 million), before they
    # are compared; 10 million already measure a level seen once in 10,000 random pairs to 3%.
    "linkage.random_pairs": (10_000, 10_000_000, "fewer leave u of most levels at its floor of half a pair; "
                             "more take gigabytes of memory (about 200 bytes a pair) for no better estimate"),
    "linkage.seed": (0, 2**32 - 1, "numpy takes no negative seed; 32 bits are seeds enough"),
    "review.learn_min": (1, 10_000_000, "more decisions than any roll will have; set it that high to keep the "
                         "model from learning"),
    "linkage.border_areas[].sides[].rt_from": (1, 999, "RT numbers run from 001 to 999"),
    "linkage.border_areas[].sides[].rt_to": (1, 999, "RT numbers run from 001 to 999"),
}
# Shares, both ends included (NaN is refused: compared with it, every loss would pass).
SHARES: dict[str, str] = {
    "ingest.max_shrink": "the share of a list's voters it may lose since the last published run: 0 stops the "
                         "publish at any loss, 1 never",
    "ingest.max_reject_share": "the share of a list's rows that may be rejected: 0 stops the publish at any "
                               "reject, 1 never",
    "tps.min_share": "the share of its desa's mean size (voters / TPS) each TPS holds at least: 0 lets sizes "
                     "follow the walk alone, 1 evens them out",
    "linkage.prior_recall": "the share of true double registrations the deterministic rule finds; at least "
                            "0.05 (the prior divides by it: near 0 every candidate pair would be claimed)",
}
PRIOR_RECALL_MIN = 0.05
# Ages are computed on this day and the NIK's century decided by it: a typo's year (0226, 2206) would
# misdate every voter without an error.
REFERENCE_DATES = (dt.date(2000, 1, 1), dt.date(2100, 12, 31))
# Pairs at or above 0.5 are the pipeline's claim of one person: listing only from there would hide the
# pairs it doubts, and 0 would list every candidate pair. Held pairs (two NIKs) stand at 0.49 at most:
# the threshold may not pass them.
REVIEW_THRESHOLD = (0.0, HELD_AT)


def _check_ranges(ingest: IngestConfig, tps: TpsConfig, linkage: LinkageConfig, review: ReviewConfig,
                  where: str) -> None:
    values: list[tuple[str, str, int]] = [
        ("ingest.min_age", "ingest.min_age", ingest.min_age), ("tps.max_voters", "tps.max_voters", tps.max_voters),
        ("linkage.random_pairs", "linkage.random_pairs", linkage.random_pairs),
        ("linkage.seed", "linkage.seed", linkage.seed), ("review.learn_min", "review.learn_min", review.learn_min)]
    for i, area in enumerate(linkage.border_areas):
        for j, side in enumerate(area.sides):
            key = f"linkage.border_areas[{i}].sides[{j}]"
            values += [("linkage.border_areas[].sides[].rt_from", f"{key}.rt_from", side.rt_from),
                       ("linkage.border_areas[].sides[].rt_to", f"{key}.rt_to", side.rt_to)]
            if side.rt_from > side.rt_to:
                raise ConfigError(f"{where}: {key}: rt_from {side.rt_from} is above rt_to {side.rt_to}; the "
                                  f"range is inclusive, from the lower RT to the higher")
    for name, key, value in values:
        lo, hi, why = RANGES[name]
        if not lo <= value <= hi:
            raise ConfigError(f"{where}: {key} = {value} is out of range: it must be a whole number from "
                              f"{lo:_} to {hi:_} ({why})")
    for key, share in (("ingest.max_shrink", ingest.max_shrink), ("ingest.max_reject_share", ingest.max_reject_share),
                       ("linkage.prior_recall", linkage.prior_recall), ("tps.min_share", tps.min_share)):
        if not 0 <= share <= 1 or (key == "linkage.prior_recall" and share < PRIOR_RECALL_MIN):
            raise ConfigError(f"{where}: {key} = {share} is out of range: it must be a number from 0 to 1 "
                              f"({SHARES[key]})")
    lo_t, hi_t = REVIEW_THRESHOLD
    if not lo_t < linkage.review_threshold <= hi_t:
        raise ConfigError(f"{where}: linkage.review_threshold = {linkage.review_threshold} is out of range: it "
                          f"must lie above 0 and at most {hi_t} (0.5 and above is the pipeline's claim of one "
                          f"person, pairs held for a person's decision stand at {hi_t}, and 0 would list "
                          f"every candidate pair)")
    first, last = REFERENCE_DATES
    if ingest.reference_date is not None and not first <= ingest.reference_date <= last:
        raise ConfigError(f"{where}: ingest.reference_date = {ingest.reference_date} is out of range: it must "
                          f"lie between {first} and {last} (the election day ages are computed at)")


def _check_source(s: SourceConfig, where: str, key: str) -> None:
    _must_exist(s.path, where, f"{key}.path")
    if s.delimiter is not None and s.delimiter not in _DELIMITERS:
        raise ConfigError(f"{where}: {key}.delimiter must be one of {sorted(_DELIMITERS)!r}")
    lo, hi = HEADER_ROW_RANGE
    if s.header_row is not None and not lo <= s.header_row <= hi:
        raise ConfigError(f"{where}: {key}.header_row = {s.header_row} is out of range: it must be a whole number "
                          f"from {lo} to {hi} (the header's line or row in the file, 1 for the first)")
    if s.encoding is not None and s.encoding.lower() not in _ENCODINGS:
        raise ConfigError(f"{where}: {key}.encoding must be one of {sorted(_ENCODINGS)}")
    for k in s.columns:
        if k not in CANONICAL_FIELDS:
            raise ConfigError(f"{where}: unknown key {key}.columns.{k}; fields are {', '.join(CANONICAL_FIELDS)}")
    for k in s.defaults:
        if k not in REGION_FIELDS:
            raise ConfigError(f"{where}: unknown key {key}.defaults.{k}; allowed: {', '.join(REGION_FIELDS)}")


def _must_exist(p: Path, where: str, key: str) -> None:
    if not p.exists():
        raise ConfigError(f"{where}: {key}: file {p} does not exist")


def _check_keys(data: dict[str, Any], allowed: set[str], where: str, prefix: str) -> None:
    for k in data:
        if k not in allowed:
            raise ConfigError(
                f"{where}: unknown key {prefix}{k}; allowed here: {', '.join(sorted(allowed))}"
            )


def _build(cls: type, data: Any, base: Path, where: str, key: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _check_keys(data, set(fields), where, f"{key}.")
    values = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}: missing required key {key}.{name}")
            continue
        values[name] = _convert(hints[name], data[name], base, where, f"{key}.{name}")
    return cls(**values)


def _convert(tp: Any, value: Any, base: Path, where: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is types.UnionType or origin is typing.Union:
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner[0], value, base, where, key)
    if tp is Path:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a path string")
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p).resolve()
    if tp is dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError as e:
            raise ConfigError(f"{where}: {key} must be a date like 2026-12-09") from e
    if origin is list:
        (inner_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: {key} must be a list")
        if isinstance(inner_tp, type) and dataclasses.is_dataclass(inner_tp):
            return [_build(inner_tp, v, base, where, f"{key}[{i}]") for i, v in enumerate(value)]
        return [_convert(inner_tp, v, base, where, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: {key} must be a number")
        return float(value)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where}: {key} must be a table of strings")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: {key} must be a whole number")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a string")
        return value
    raise ConfigError(f"{where}: {key}: unsupported setting type {tp}")  # pragma: no cover
