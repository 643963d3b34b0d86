"""XLSX as a staffer makes it: a CSV opened in LibreOffice Calc (headless) and saved as XLSX."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence

import pytest

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
