"""Running unattended: one run at a time per output folder, outputs replaced all together or not at all,
and a record of every run.

- **Lock**: `<output>/.dpt.lock`, held with flock for the whole run. The kernel lets go of it when its
  process dies, however it dies, so a lock left by a killed run is simply taken over (and logged). The file
  says who holds it (pid, command, start time), for the message a second run prints.
- **Staging**: a run writes every output into `<output>/.staging/`. When it has succeeded, a COMMIT file
  listing the outputs is written (and synced), then each output is moved into place. A run killed before
  COMMIT leaves the previous outputs untouched (the next run deletes the staging folder); a run killed
  while moving is finished by the next run (roll forward), because COMMIT says what to move.
- **Record**: `<output>/runs.jsonl`, one JSON line when a run starts and one when it ends (ok, failed or
  interrupted); a start with no end and no lock holder was interrupted. The published database holds the
  same as the table `runs`. A damaged line (cut short, invalid bytes, not a run) is skipped with a warning.
- **Ownership**: `<output>/.dpt-output` marks a folder dpt created (or found empty). A folder holding
  other files is refused, so that a wrong `[output] dir` (a shared folder, `/`) is never written over.
  A folder left by an earlier dpt version (it holds runs.jsonl or the lock file) is adopted.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import resource
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dpt_pipeline.errors import ConfigError, DptError
from dpt_pipeline.io.files import FILE_MODE
from dpt_pipeline.io.hashing import sha256_file

log = logging.getLogger(__name__)

DIR_MODE = 0o750
LOCK_FILE = ".dpt.lock"
STAGING = ".staging"
OLD = ".old"
COMMIT = "COMMIT"
RUNS_FILE = "runs.jsonl"
MARKER = ".dpt-output"
RUNS_SCHEMA: dict[str, Any] = {
    "run_id": pl.String, "command": pl.String, "started_at": pl.Datetime("us"), "finished_at": pl.Datetime("us"),
    "status": pl.String, "mode": pl.String, "config_hash": pl.String, "inputs": pl.String, "stages": pl.String,
    "version": pl.String, "error": pl.String}


class RunActive(DptError):
    """Another run holds the output folder."""

    exit_code = 4


# -- lock --------------------------------------------------------------------------------------------------

def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def lock(out_dir: Path, command: str, *, wait: bool = False) -> Iterator[None]:
    """Hold the output folder for one run. Without `wait`, a second run exits at once with RunActive."""
    claim(out_dir)
    path = out_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    with os.fdopen(fd, "r+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            if not wait:
                raise RunActive(f"another dpt run is active on {out_dir} ({holder}); it was left alone. Try "
                                "again when it has finished, or pass --wait to wait for it") from None
            log.info("waiting for the run active on %s (%s)", out_dir, holder)
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        left = f.read().strip()
        if left:
            try:
                pid = int(json.loads(left).get("pid", 0))
            except (ValueError, AttributeError):
                pid = 0
            if pid and pid != os.getpid() and not _alive(pid):
                log.warning("taking over the lock of %s left by process %d, which is no longer running",
                            out_dir, pid)
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "command": command,
                            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}))
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            f.flush()
            fcntl.flock(f, fcntl.LOCK_UN)


def claim(out_dir: Path) -> None:
    """Make sure `out_dir` is a folder dpt may write into: one it created, found empty, or left by an
    earlier version; refuse any other (ConfigError), before anything is written there."""
    marker = out_dir / MARKER
    if marker.is_file() and not marker.is_symlink():
        return
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise ConfigError(f"[output] dir {out_dir} is not a folder (or is a symbolic link); choose a folder "
                          "for dpt's outputs")
    if out_dir.is_dir():
        try:
            entries = {p.name for p in out_dir.iterdir()}
        except OSError as e:
            raise ConfigError(f"[output] dir {out_dir} cannot be listed ({e.strerror}); choose a folder this "
                              "user may write") from None
        ours = {RUNS_FILE, LOCK_FILE}
        if entries and not entries & ours:
            raise ConfigError(
                f"[output] dir {out_dir} holds {len(entries)} files or folders that dpt did not write; dpt "
                "replaces what it finds in its output folder, so it writes only into an empty folder or one "
                "it created. Choose a new folder (it is created) or an empty one")
    out_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("This folder holds the outputs of dpt-pipeline; dpt replaces them on every run.\n")


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    if not info:
        return "holder unknown"
    return f"pid {info.get('pid')}, `dpt {info.get('command')}` since {info.get('since')}"


def is_locked(out_dir: Path) -> bool:
    """True while a run holds the folder."""
    path = out_dir / LOCK_FILE
    if not path.exists():
        return False
    with open(path, encoding="utf-8") as f:     # read-only: analysts in the group may ask too
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


# -- staging -----------------------------------------------------------------------------------------------

def recover(out_dir: Path) -> None:
    """Clean up after a run that died: finish moving a committed run's outputs into place, or drop an
    uncommitted staging folder. Call with the lock held."""
    staging = out_dir / STAGING
    if _committed(staging):
        log.warning("the last run on %s was stopped while moving its outputs into place; finishing that", out_dir)
        _roll_forward(out_dir)
    elif staging.exists() or staging.is_symlink():
        log.warning("the last run on %s did not finish; its partial outputs are discarded and the previous "
                    "outputs stay as they were", out_dir)
        _remove(staging)
    _remove(out_dir / OLD)


def committed(out_dir: Path) -> bool:
    """True when a run stopped while moving its committed outputs into place: the next run finishes it."""
    return _committed(out_dir / STAGING)


def _committed(staging: Path) -> bool:
    """True when the staging folder holds a complete COMMIT marker (written whole, then renamed) that
    names only outputs inside it."""
    return _commit_names(staging) is not None


def _commit_names(staging: Path) -> list[str] | None:
    """The outputs a COMMIT marker lists, or None when there is none or it cannot be ours: the staging
    folder or the marker a symbolic link, a name that is not a plain file name (`..`, `a/b`), or an
    output that is a symbolic link. A crafted marker must never move anything from or to outside."""
    if staging.is_symlink() or not staging.is_dir() or (staging / COMMIT).is_symlink():
        return None
    try:
        names = json.loads((staging / COMMIT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(names, list):
        return None
    for name in names:
        if (not isinstance(name, str) or name in ("", ".", "..", COMMIT, LOCK_FILE, MARKER, RUNS_FILE, OLD)
                or name != os.path.basename(name) or "\x00" in name or (staging / name).is_symlink()):
            log.warning("the staging folder of %s holds a COMMIT marker dpt did not write; it is ignored and "
                        "the staged outputs are discarded", staging.parent)
            return None
    return names


def _remove(path: Path) -> None:
    """Delete a folder of dpt's own (a symbolic link is unlinked, never followed)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def discard(out_dir: Path) -> None:
    """Drop an uncommitted staging folder (a failed run's partial outputs, which may hold NIK)."""
    staging = out_dir / STAGING
    if (staging.exists() or staging.is_symlink()) and not _committed(staging):
        try:
            _remove(staging)
        except OSError:
            log.warning("the partial outputs in %s could not be deleted; the next run deletes them", staging)


def final_path(path: Path) -> Path:
    """Where `path`, written into a staging folder, will be once the run commits (a message names that)."""
    parts = path.parts
    if STAGING not in parts:
        return path
    i = len(parts) - 1 - parts[::-1].index(STAGING)
    return Path(*parts[:i], *parts[i + 1:])


def begin(out_dir: Path) -> Path:
    """A fresh staging folder to write this run's outputs into. Call with the lock held."""
    recover(out_dir)
    staging = out_dir / STAGING
    staging.mkdir(parents=True, mode=DIR_MODE)
    return staging


def commit(out_dir: Path) -> None:
    """Move every output written into the staging folder into place, all or (after a crash, at the next
    run) the rest of them."""
    staging = out_dir / STAGING
    for root, dirs, files in os.walk(staging):   # owner and group only, whatever a stage left
        for d in dirs:
            os.chmod(os.path.join(root, d), DIR_MODE)
        for name in files:
            os.chmod(os.path.join(root, name), FILE_MODE)
    names = sorted(p.name for p in staging.iterdir() if p.name != COMMIT)
    for root, _, files in os.walk(staging):      # every output on disk before the marker says "done"
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                os.fsync(f.fileno())
    tmp = staging / (COMMIT + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:  # the marker appears whole or not at all
        json.dump(names, f)
        f.flush()
        os.fsync(f.fileno())
    with _signals_held():      # SIGTERM or Ctrl-C wait until every output is in place
        os.replace(tmp, staging / COMMIT)
        _roll_forward(out_dir)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (in the main thread) while outputs move into place; they arrive after."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _roll_forward(out_dir: Path) -> None:
    staging = out_dir / STAGING
    names = _commit_names(staging)
    if names is None:
        _remove(staging)
        return
    old = out_dir / OLD
    _remove(old)
    old.mkdir()
    for name in names:
        src, dst = staging / name, out_dir / name
        if not src.exists():          # moved before the crash
            continue
        if src.is_dir():
            if dst.exists():
                shutil.rmtree(old / name, ignore_errors=True)
                os.replace(dst, old / name)
            os.replace(src, dst)
        else:
            os.replace(src, dst)
    (staging / COMMIT).unlink()
    shutil.rmtree(staging)
    _remove(old)


# -- record ------------------------------------------------------------------------------------------------

def config_hash(paths: list[Path]) -> str:
    """One hash over the config file and the reference files it names (regions, coordinates, model)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p.name).encode())
        h.update(sha256_file(p).encode() if p.exists() else b"-")
    return h.hexdigest()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class Run:
    """The record of one run; `start` and `finish` append it to runs.jsonl."""

    out_dir: Path
    command: str
    mode: str = "full"
    run_id: str = field(default_factory=lambda: now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6])
    started_at: dt.datetime = field(default_factory=now)
    finished_at: dt.datetime | None = None
    status: str = "running"
    config_hash: str = ""
    inputs: list[dict[str, object]] = field(default_factory=list)
    stages: dict[str, dict[str, object]] = field(default_factory=dict)
    version: str = ""
    error: str | None = None

    def row(self) -> dict[str, object]:
        return {"run_id": self.run_id, "command": self.command, "started_at": self.started_at,
                "finished_at": self.finished_at, "status": self.status, "mode": self.mode,
                "config_hash": self.config_hash, "inputs": json.dumps(self.inputs, ensure_ascii=False),
                "stages": json.dumps(self.stages, ensure_ascii=False), "version": self.version, "error": self.error}

    def _append(self) -> None:
        path = self.out_dir / RUNS_FILE
        line = json.dumps(self.row(), default=str, ensure_ascii=False) + "\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as e:       # a full disk must not hide the run's own error
            log.warning("the run record could not be written to %s (%s)", path, e.strerror)

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._append()

    def stage(self, name: str, seconds: float, rows: dict[str, int] | None = None) -> None:
        """A stage's seconds, row counts and the peak memory of the run so far (this process or a worker)."""
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        self.stages[name] = {"seconds": round(seconds, 3), "rows": rows or {}, "peak_mb": round(peak)}

    def finish(self, status: str, error: str | None = None) -> None:
        self.finished_at, self.status, self.error = now(), status, error
        self._append()


def history(out_dir: Path) -> pl.DataFrame:
    """Every run recorded for the folder, oldest first; a run that started but never ended is
    `interrupted` (or `running` while a run holds the lock)."""
    path = out_dir / RUNS_FILE
    rows: dict[str, dict[str, object]] = {}
    damaged: list[int] = []
    data = path.read_bytes() if path.is_file() else b""
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line.decode("utf-8"))
        except ValueError:           # a line cut short by a crash, or invalid bytes
            r = None
        if not isinstance(r, dict) or not isinstance(r.get("run_id"), str):
            damaged.append(number)
            continue
        rows[r["run_id"]] = {k: None if r.get(k) is None else str(r[k]) for k in RUNS_SCHEMA}
    if damaged:
        shown = ", ".join(map(str, damaged[:10])) + (" ..." if len(damaged) > 10 else "")
        log.warning("%s: %d damaged lines skipped (line %s); the other runs are read", path, len(damaged), shown)
    frame = pl.DataFrame(list(rows.values()), schema={k: pl.String for k in RUNS_SCHEMA}, orient="row")
    frame = frame.with_columns(pl.col("started_at", "finished_at").str.to_datetime(time_unit="us", strict=False))
    active = is_locked(out_dir)
    last_running = frame.filter(pl.col("status") == "running")["run_id"].tail(1).to_list()
    frame = frame.with_columns(
        pl.when((pl.col("status") == "running") & ~(pl.lit(active) & pl.col("run_id").is_in(last_running)))
        .then(pl.lit("interrupted")).otherwise(pl.col("status")).alias("status"))
    return frame.cast(RUNS_SCHEMA).sort("started_at")  # type: ignore[arg-type]
