"""What a staffer sees: `dpt run` on the shipped sample config, in a real pseudo-terminal and through a pipe.

On a terminal the progress bar lives at the bottom and every log line prints whole above it (one rich
console for both); through a pipe (cron) every line is a plain timestamped log line. Neither names the
staging folder or the model's inner workings, and the run closes with where the report and review files
are and what to do next.
"""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from ptyrun import in_a_terminal

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
WIDTH, HEIGHT = 200, 60
BAR = "━"
RUN_ID = re.compile(r"\d{8}T\d{6}-\w{6}")


def _config(tmp_path: Path, name: str, **tps: str) -> Path:
    """The shipped config/pipeline.toml with its output folder in tmp_path/<name>."""
    text = (ROOT / "config" / "pipeline.toml").read_text().replace('dir = "../reports"',
                                                                     f'dir = "{tmp_path / name}"')
    text = text.replace('"../sample_data/', f'"{SAMPLE}/')
    for k, v in tps.items():
        text = text.replace("[tps]\n", f"[tps]\n{k} = {v}\n")
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


class Screen:
    """Just enough of a terminal to replay what dpt writes: text with the wrap at the right margin, CR, LF,
    cursor up, erase line, colours. An escape sequence it does not know fails the test, so that the replay
    never silently differs from a terminal. The lines scrolled off the top are kept (a scrollback)."""

    CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")

    def __init__(self, width: int) -> None:
        self.width = width
        self.lines: list[list[str]] = [[]]
        self.row = self.col = 0
        self.wrap_next = False        # xterm: a character in the last column wraps only when the next one comes
        self.bar_drawn_above_the_bottom = 0   # characters of the progress bar drawn on any line but the last

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                m = self.CSI.match(text, i)
                assert m, f"an escape sequence the replay does not know: {text[i:i + 12]!r}"
                self._csi(m.group(1), m.group(2))
                i = m.end()
                continue
            if ch == "\r":
                self.col, self.wrap_next = 0, False
            elif ch == "\n":
                self._down()
            else:
                assert ch >= " ", f"a control character the replay does not know: {ch!r}"
                assert unicodedata.east_asian_width(ch) not in "WF", f"a wide character: {ch!r}"
                self._put(ch)
            i += 1

    def _down(self) -> None:
        self.row += 1
        self.wrap_next = False
        if self.row == len(self.lines):
            self.lines.append([])

    def _put(self, ch: str) -> None:
        if self.wrap_next:
            self._down()
            self.col = 0
        if ch == BAR and self.row != len(self.lines) - 1:
            self.bar_drawn_above_the_bottom += 1
        line = self.lines[self.row]
        line.extend(" " * (self.col + 1 - len(line)))
        line[self.col] = ch
        if self.col == self.width - 1:
            self.wrap_next = True
        else:
            self.col += 1

    def _csi(self, params: str, final: str) -> None:
        if final == "m" or (final in "hl" and params == "?25"):   # colours; cursor hidden or shown
            return
        if final == "K":
            line = self.lines[self.row]
            if params == "2":
                line.clear()
            else:
                assert params in ("", "0"), params
                del line[self.col:]
            return
        if final == "A":
            self.row = max(0, self.row - int(params or 1))
            self.wrap_next = False
            return
        raise AssertionError(f"an escape sequence the replay does not know: ESC[{params}{final}")

    def text(self) -> list[str]:
        return ["".join(line).rstrip() for line in self.lines]


def _in_a_terminal(argv: list[str]) -> tuple[int, str]:
    """Run argv in a new pseudo-terminal of WIDTH x HEIGHT; its exit code and all it wrote."""
    return in_a_terminal(argv, width=WIDTH, height=HEIGHT)


LOG_LINE = re.compile(r"^(?:\d\d:\d\d:\d\d| {8}) (DEBUG|INFO|WARNING|ERROR|CRITICAL) +(.*)$")
PLAIN_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: (.*)$")


def _log_records(lines: list[str]) -> list[tuple[str, str]]:
    """(level, message) of every log line drawn by rich; a wrapped message is joined again."""
    records: list[tuple[str, str]] = []
    for line in lines:
        if m := LOG_LINE.match(line):
            records.append((m.group(1), m.group(2).strip()))
        elif records and line.startswith(" " * 18) and line.strip():
            level, text = records[-1]
            records[-1] = (level, f"{text} {line.strip()}")
        else:
            break   # the closing summary
    return records


def _normalised(records: list[tuple[str, str]], out: Path) -> list[tuple[str, str]]:
    """Messages of two runs made comparable: the output folder, run id and seconds taken out, and the spaces
    (rich wraps a message longer than the terminal between words, or inside a path that has no space)."""
    return [(level, re.sub(r"\d+\.\ds\b", "Ns", RUN_ID.sub("RUN", re.sub(r"\s+", "", text).replace(str(out), "OUT"))))
            for level, text in records]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int, str, str]]:
    """`dpt run` on the sample in a terminal and through a pipe, each into a fresh output folder."""
    tmp = tmp_path_factory.mktemp("terminal")
    done = {}
    cfg = _config(tmp, "tty")
    code, written = _in_a_terminal([sys.executable, "-m", "dpt_pipeline.cli", "run", "--config", str(cfg)])
    done["tty"] = (tmp / "tty", code, written, "")
    cfg = _config(tmp, "pipe")
    proc = subprocess.run([sys.executable, "-m", "dpt_pipeline.cli", "run", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=600, check=False)
    done["pipe"] = (tmp / "pipe", proc.returncode, proc.stdout, proc.stderr)
    return done


def test_in_a_terminal_log_lines_print_whole_above_the_progress_bar(runs) -> None:
    out, code, written, _ = runs["tty"]
    assert code == 0, written[-3000:]
    screen = Screen(WIDTH)
    screen.feed(written)
    assert BAR in written                              # there was a progress bar...
    assert screen.bar_drawn_above_the_bottom == 0      # ...drawn only ever on the bottom line
    lines = screen.text()
    assert not any(BAR in line for line in lines)      # ...which what followed overwrote: no bar is left
    records = _log_records(lines)
    assert [m for _, m in records if m.startswith("dpt run started")], lines[:5]
    # Every line the run logged, and nothing else, whole: the same messages as the plain log of the pipe run.
    pipe_out, _, _, pipe_err = runs["pipe"]
    plain = [PLAIN_LINE.match(line) for line in pipe_err.splitlines()]
    assert all(plain), pipe_err
    assert _normalised(records, out) == _normalised([(m.group(1), m.group(2)) for m in plain if m], pipe_out)


def test_the_last_screen_says_where_the_report_is_and_what_to_do_next(runs) -> None:
    out, _, written, _ = runs["tty"]
    screen = Screen(WIDTH)
    screen.feed(written)
    last = "\n".join(screen.text()[-HEIGHT:])
    assert f"report:       {out / 'report.html'}" in last
    assert f"review files: {out / 'review'}/" in last
    assert f"database:     {out / 'dpt.duckdb'}" in last
    assert "send the review files in" in last and "to the camat" in last
    assert f"dpt review import --config {out.parent / 'tty.toml'} {out / 'review'}/*/*.xlsx" in last
    assert "to review, pairs per kecamatan:" in last and re.search(r"\n +KUTAI TIMUR +TELUK PANDAN +\d+", last)
    assert re.search(r"\nTPS: +4,988 voters in \d+ TPS over \d+ desa", last)
    assert (out / "report.html").is_file() and any((out / "review").glob("*/*.xlsx"))


@pytest.mark.parametrize("how", ["tty", "pipe"])
def test_no_line_names_the_staging_folder_or_the_model_internals(runs, how: str) -> None:
    _, code, written, err = runs[how]
    assert code == 0
    text = written + err
    for jargon in (".staging", "EM session", "('nik',)", "Fellegi-Sunter", "blocking pass"):
        assert jargon not in text, jargon
    assert re.search(r"found \d{1,3}(,\d{3})* candidate pairs to compare \(\d+\.\d s\)", text)
    assert re.search(r"learned the model from \d{1,3}(,\d{3})* candidate pairs", text)


def test_through_a_pipe_every_log_line_is_plain_and_timestamped(runs) -> None:
    out, code, stdout, stderr = runs["pipe"]
    assert code == 0, stderr
    assert "\x1b" not in stdout + stderr and BAR not in stderr
    lines = [line for line in stderr.splitlines() if line]
    assert lines and all(PLAIN_LINE.match(line) for line in lines)
    assert f"report:       {out / 'report.html'}" in stdout


def test_quiet_on_a_terminal_prints_nothing_when_nothing_is_wrong(runs, tmp_path: Path) -> None:
    out, _, _, _ = runs["tty"]
    cfg = tmp_path / "quiet.toml"    # the same output folder, without the maps (the quick way)
    cfg.write_text((out.parent / "tty.toml").read_text().replace("[tps]\n", "[tps]\nmaps = false\n"))
    code, written = _in_a_terminal([sys.executable, "-m", "dpt_pipeline.cli", "tps", "--config", str(cfg), "-q"])
    assert code == 0 and written == ""
    code, written = _in_a_terminal([sys.executable, "-m", "dpt_pipeline.cli", "tps", "--config", str(cfg)])
    assert code == 0
    screen = Screen(WIDTH)
    screen.feed(written)
    assert screen.bar_drawn_above_the_bottom == 0 and BAR not in "".join(screen.text())
    last = "\n".join(screen.text())
    assert "dpt tps finished" in last and f"report:       {out / 'report.html'}" in last
    assert ".staging" not in written
