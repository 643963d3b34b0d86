"""outputs.reuse: a piece is taken from last night's folder only when its digest is the same and every file
is as the manifest recorded it; otherwise nothing is staged and the piece is drawn again."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from dpt_pipeline.outputs import reuse


def _night(tmp_path: Path) -> tuple[Path, Path]:
    """Last night's folder with one piece of two files and its manifest, and tonight's empty staging."""
    published, staged = tmp_path / "tps", tmp_path / "staging" / "tps"
    made = reuse.Published(None, published)
    (published / "sub").mkdir(parents=True)
    (published / "a.html").write_text("page")
    (published / "sub" / "b.pdf").write_bytes(b"%PDF list")
    made.record("desa:1", "d1", [published / "a.html", published / "sub" / "b.pdf"])
    made.write()
    return published, staged


def test_same_digest_and_files_are_hard_linked(tmp_path: Path) -> None:
    published, staged = _night(tmp_path)
    tonight = reuse.Published(published, staged)
    assert tonight.take("desa:1", "d1")
    for rel in ("a.html", "sub/b.pdf"):
        assert os.path.samefile(published / rel, staged / rel)
    tonight.write()
    assert json.loads((staged / reuse.MANIFEST).read_text()) == json.loads((published / reuse.MANIFEST).read_text())


@pytest.mark.parametrize("spoil", ["digest", "changed", "missing", "other code", "damaged manifest"])
def test_anything_different_and_nothing_is_taken(tmp_path: Path, spoil: str, monkeypatch: pytest.MonkeyPatch) -> None:
    published, staged = _night(tmp_path)
    wanted = "d1"
    if spoil == "digest":
        wanted = "d2"
    elif spoil == "changed":   # same size, other bytes
        (published / "sub" / "b.pdf").write_bytes(b"%PDF lisT")
    elif spoil == "missing":
        (published / "sub" / "b.pdf").unlink()
    elif spoil == "other code":
        monkeypatch.setattr(reuse, "code_digest", lambda: "another version")
    else:
        (published / reuse.MANIFEST).write_text("{not json")
    tonight = reuse.Published(published, staged)
    assert not tonight.take("desa:1", wanted)
    assert not [p for p in staged.rglob("*") if p.is_file()]   # nothing half-staged is left
    assert tonight.taken == 0


def test_row_digests_follow_every_value_and_type() -> None:
    frame = pl.DataFrame({"kode_desa": ["a", "a", "b"], "tps": [1, 2, 1], "lat": [0.5, 0.5, None]})
    base = reuse.row_digests(frame, "kode_desa")
    assert set(base) == {"a", "b"}
    moved = reuse.row_digests(frame.with_columns(pl.when(pl.col("tps") == 2).then(3).otherwise(pl.col("tps"))
                                                 .alias("tps")), "kode_desa")
    assert moved["a"] != base["a"] and moved["b"] == base["b"]
    assert reuse.row_digests(frame.with_columns(pl.col("tps").cast(pl.Int32)), "kode_desa")["b"] != base["b"]
    assert reuse.digest("x", 600) != reuse.digest("x", 601)
