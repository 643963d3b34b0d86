"""Fixtures of the ingest tests: XLSX as a staffer makes it (a CSV opened in LibreOffice Calc, headless, and saved
as XLSX), and `ingest_file` checking every file it reads through the incremental path as well."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl
import pytest
from reuse import assert_reuse_is_exact

from dpt_pipeline.config import SourceConfig
from dpt_pipeline.ingest import SourceSummary
from dpt_pipeline.ingest.regions import RegionTable

CalcFn = Callable[..., bytes]
# LibreOffice's code of a CSV's character set (its filter options): UTF-8, Windows-1252.
_CHARSETS = {"utf-8": "76", "cp1252": "1"}


@pytest.fixture(scope="session")
def calc_xlsx(tmp_path_factory: pytest.TempPathFactory) -> CalcFn:
    """`calc_xlsx(text, sep=";", encoding="utf-8", text_columns=())`: the XLSX that Calc saves of that CSV,
    its columns typed as Calc guesses (numbers as number cells) but `text_columns` (1-based) as text."""
    if shutil.which("soffice") is None and not os.environ.get("CI"):
        pytest.skip("needs LibreOffice (soffice); .ci/run installs it, and in CI it is never skipped")
    work = tmp_path_factory.mktemp("calc")
    profile = work / "profile"   # one profile for the session: the first start is the slow one
    count = 0

    def convert(text: str, *, sep: str = ";", encoding: str = "utf-8", text_columns: Sequence[int] = ()) -> bytes:
        nonlocal count
        count += 1
        src = work / f"list{count}.csv"
        src.write_bytes(text.encode(encoding))
        formats = "/".join(f"{c}/2" for c in text_columns)   # column/2: that column as text
        options = f"CSV:{ord(sep)},34,{_CHARSETS[encoding]},1" + (f",{formats}" if formats else "")
        out = work / "out"
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", f"--infilter={options}",
                        "--convert-to", "xlsx", "--outdir", str(out), str(src)],
                       check=True, capture_output=True, timeout=180)
        return (out / f"list{count}.xlsx").read_bytes()

    return convert


# -- every file an ingest test reads is read again reusing its own kept rows ------------------------------------

@pytest.fixture
def ingest_file(ingest_file: Callable[..., tuple[pl.DataFrame, pl.DataFrame, SourceSummary]], tmp_path: Path,
                regions: RegionTable) -> Callable[..., tuple[pl.DataFrame, pl.DataFrame, SourceSummary]]:
    """The shared `ingest_file`, and then, on each file it reads, the ingest that reuses last night's rows
    (`ingest.cache`): with all of the file's rows kept, and with every other one, the voters, rejects and
    summary must be the full ingest's. So every odd file of these tests checks the incremental path too."""

    def run(content: str | bytes, *, name: str = "src", file_name: str = "list.csv", encoding: str = "utf-8",
            **source_options: object) -> tuple[pl.DataFrame, pl.DataFrame, SourceSummary]:
        result = ingest_file(content, name=name, file_name=file_name, encoding=encoding, **source_options)
        cfg = SourceConfig(name=name, path=tmp_path / file_name, **source_options)  # type: ignore[arg-type]
        assert_reuse_is_exact(cfg, regions, result)
        return result

    return run
