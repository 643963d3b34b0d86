"""Last night's TPS files taken again where they are provably what tonight would write.

The tps folder (`<output>/tps/`) holds a manifest, `.manifest.json`: per piece (a desa's PNG and page, a
kecamatan overview, a desa's printable lists, the GeoPackage) the digest of everything the piece is drawn
from and the files it produced, with their sizes and sha256. The digest covers the piece's rows of the
tables it is drawn from (`row_digests`: polars' row hashes, which hold within one polars version), its
settings and names, and the code: the source of the modules and templates that draw it and the versions
of the libraries they draw with (`code_digest`). A manifest of other code is not read at all.

Tonight, a piece whose digest is as in the published manifest is not drawn again: its files are hard
linked (`os.link`; copied where the folder cannot hold a link) from the published folder into the staging
folder, each checked against the size and sha256 the manifest recorded, after the link, so that what is
staged is what was checked. Any file missing or changed, and the piece is drawn again. A linked file is
never written to (a write would go through to the published file): the drawing code skips it.

The manifest moves into place with the folder it describes (`io.runs.commit` moves the tps folder whole),
so after a crash, whatever its moment, it describes the files beside it. It holds no time: a run that
draws everything writes the same manifest as one that takes pieces from last night.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from importlib import metadata, resources
from pathlib import Path

import polars as pl

from dpt_pipeline import __version__
from dpt_pipeline.io import cachefiles
from dpt_pipeline.io.files import FILE_MODE
from dpt_pipeline.io.hashing import sha256_file

log = logging.getLogger(__name__)

MANIFEST = ".manifest.json"
FORMAT = 1
_SOURCES = ("maps.py", "interactive.py", "gis.py", "lists.py", "pages.py", "reuse.py")
_LIBRARIES = ("polars", "numpy", "matplotlib", "shapely", "pyogrio", "jinja2", "markupsafe", "xlsxwriter", "fpdf2",
              "fonttools")


@functools.cache
def code_digest() -> str:
    """The code that draws the tps folder: the drawing modules, templates and vendored files, byte for byte,
    and the versions of dpt and of the libraries they draw with."""
    h = hashlib.sha256(f"{FORMAT}|{__version__}".encode())
    for lib in _LIBRARIES:
        try:
            h.update(f"|{lib}={metadata.version(lib)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"|{lib}=-".encode())
    root = resources.files("dpt_pipeline.outputs")
    files = [root / name for name in _SOURCES]
    for folder in ("templates", "vendor"):
        stack = [root / folder]
        while stack:
            d = stack.pop()
            for p in sorted(d.iterdir(), key=lambda p: p.name):
                (stack.append(p) if p.is_dir() else files.append(p))
    for p in files:
        h.update(f"|{p.name}|".encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def row_digests(frame: pl.DataFrame, by: str) -> dict[str, bytes]:
    """Per value of `by`, a digest of its rows of `frame` in their order, and of the columns and their types."""
    if frame.is_empty():
        return {}
    head = repr([(c, str(t)) for c, t in frame.schema.items()]).encode()
    rows = frame.select(pl.col(by).cast(pl.String), frame.hash_rows(seed=0).alias("_h"))
    out = {}
    for (key,), g in rows.partition_by(by, as_dict=True, maintain_order=True).items():
        out[str(key)] = hashlib.sha256(head + g["_h"].to_numpy().tobytes()).digest()
    return out


def digest(*parts: object) -> str:
    """One digest of `parts` (bytes as they are, anything else by its repr), with the code's."""
    h = hashlib.sha256(code_digest().encode())
    for p in parts:
        b = p if isinstance(p, bytes) else repr(p).encode()
        h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()


class Published:
    """Last night's tps folder (`published`, may not exist) and tonight's (`staged`); `take` and `record`
    each piece, then `write` tonight's manifest."""

    def __init__(self, published: Path | None, staged: Path) -> None:
        self.published = published
        self.staged = staged
        self.taken = 0           # pieces taken from last night
        self.drawn = 0           # pieces drawn tonight
        self._old: dict[str, dict] = {}
        self._new: dict[str, dict] = {}
        path = published / MANIFEST if published is not None else None
        if path is None or not path.is_file() or path.is_symlink():
            return
        try:
            m = cachefiles.read_json(path)
            if m.get("format") == FORMAT and m.get("code") == code_digest():
                self._old = {k: v for k, v in m["pieces"].items() if isinstance(v, dict)}
        except (cachefiles.Damaged, KeyError, TypeError, AttributeError) as e:
            log.warning("the manifest of %s cannot be read (%s); every TPS map and list is drawn again", published,
                        e if isinstance(e, cachefiles.Damaged) else "not one this version writes")

    def unchanged(self, piece: str, digest: str) -> bool:
        """True when last night's `piece` was drawn from the same digest (its files not yet checked)."""
        e = self._old.get(piece)
        return e is not None and e.get("digest") == digest

    def take(self, piece: str, digest: str) -> bool:
        """Last night's files of `piece` into the staging folder, if it was drawn from the same `digest` and
        every file is as the manifest recorded it; True if taken (else nothing is left staged)."""
        if self.published is None or not self.unchanged(piece, digest):
            return False
        files: dict[str, list] = self._old[piece].get("files", {})
        linked: list[Path] = []
        try:
            for rel, (size, sha) in files.items():
                src, dst = self.published / rel, self.staged / rel
                if Path(rel).is_absolute() or ".." in Path(rel).parts or src.is_symlink() or not src.is_file():
                    raise LookupError(rel)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.unlink(missing_ok=True)
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copyfile(src, dst)
                    os.chmod(dst, FILE_MODE)
                linked.append(dst)
                if dst.stat().st_size != size or sha256_file(dst) != sha:   # the staged file is what was checked
                    raise LookupError(rel)
        except (LookupError, OSError, ValueError, TypeError):
            for p in linked:
                p.unlink(missing_ok=True)
            return False
        self._new[piece] = self._old[piece]
        self.taken += 1
        return True

    def published_file(self, rel: str, piece: str) -> Path | None:
        """Last night's file `rel` of `piece`, if it is as the manifest recorded it (else None)."""
        e = self._old.get(piece)
        if self.published is None or e is None or rel not in e.get("files", {}):
            return None
        src = self.published / rel
        size, sha = e["files"][rel]
        if src.is_symlink() or not src.is_file() or src.stat().st_size != size or sha256_file(src) != sha:
            return None
        return src

    def record(self, piece: str, digest: str, files: Iterable[Path]) -> None:
        """`piece`, drawn tonight from `digest`, wrote `files` (in the staging folder)."""
        self._new[piece] = {"digest": digest, "files": {
            p.relative_to(self.staged).as_posix(): [p.stat().st_size, sha256_file(p)] for p in sorted(files)}}
        self.drawn += 1

    def write(self) -> Path:
        """Tonight's manifest, beside the files it describes."""
        path = self.staged / MANIFEST
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": FORMAT, "code": code_digest(), "pieces": dict(sorted(self._new.items()))},
                          indent=0, sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")
        os.chmod(path, FILE_MODE)
        return path
