"""Every file a staffer points dpt at is refused, not read forever, when it is a FIFO, a device or a folder:
the region table, the RT coordinates, a pinned model and the config itself, as the voter lists are."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dpt_pipeline import tps
from dpt_pipeline.config import load_config
from dpt_pipeline.errors import InputError, StorageError
from dpt_pipeline.ingest.regions import RegionTable
from dpt_pipeline.io.files import read_regular
from dpt_pipeline.linkage import model as score


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    """A read that blocks fails the test after 10 s instead of hanging the suite."""
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("the read blocked")

    before = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)


READERS: dict[str, Callable[[Path], object]] = {
    "regions": RegionTable.load,
    "coordinates": tps.read_coordinates,
    "model": score.FellegiSunter.load,
    "config": load_config,
}


def _kinds(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "folder").mkdir()
    return {"FIFO": fifo, "device": Path("/dev/zero"), "directory": tmp_path / "folder"}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("kind", ["FIFO", "device", "directory"])
def test_what_is_not_a_regular_file_is_refused_at_once(tmp_path: Path, reader: str, kind: str) -> None:
    path = _kinds(tmp_path)[kind]
    with pytest.raises(StorageError, match="not a regular file") as e:
        READERS[reader](path)
    assert str(path) in str(e.value)


def test_a_missing_file_is_an_input_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"does not exist; check \[tps\].coordinates"):
        read_regular(tmp_path / "nothing.csv", "[tps].coordinates")


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"x" * 100_000)
    assert read_regular(tmp_path / "a.csv", "[sources].path") == b"x" * 100_000


def test_a_review_file_that_is_a_fifo_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    import datetime as dt

    import polars as pl

    from dpt_pipeline import review

    fifo = _kinds(tmp_path)["FIFO"]
    empty = pl.DataFrame()
    with pytest.raises(StorageError, match="FIFO"):
        review.read_decisions([fifo], exports=empty, shown=empty, voters=empty,
                              history=empty, imported_at=dt.datetime(2026, 12, 1))
