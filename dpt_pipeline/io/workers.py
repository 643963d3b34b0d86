"""Worker processes for the stages that use both cores (TPS solving, map drawing): one place that starts
them and makes sure none outlives its run.

Workers are spawned, not forked (the parent holds Polars' and DuckDB's thread pools). Each worker ignores
Ctrl-C (the parent decides what an interrupt means) and, on Linux, asks the kernel to kill it when its
parent dies, however the parent dies (SIGKILL included). When the parent stops the work (an error,
Ctrl-C, SIGTERM), the workers are terminated at once instead of finishing the queue.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

_PR_SET_PDEATHSIG = 1


def _worker_start(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):   # a libc without prctl: no such request
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:   # the parent died before the request above took effect
        os._exit(1)


@contextmanager
def pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers die with the run."""
    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_start, initargs=(os.getpid(),))
    try:
        yield executor
    except BaseException:
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            if p.is_alive():
                p.terminate()
        for p in processes:
            p.join(timeout=5)
        raise
    executor.shutdown(wait=True)
