"""Test helper: a command run on a new pseudo-terminal, as a staffer runs it (the one place the tests do)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import termios
import time


def in_a_terminal(argv: list[str], *, width: int = 80, height: int = 24, env: dict[str, str] | None = None,
                  timeout: float = 600) -> tuple[int, str]:
    """Run argv (argv[0] a path) on a new pseudo-terminal of width x height, with `env` added to the
    environment; its exit code and everything it wrote (stdout and stderr are the terminal)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        try:
            os.environ.update(env or {})
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(fd, 65536)
        except OSError:   # EIO: the child has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")
