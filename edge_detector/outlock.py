"""One writer per output folder: two runs or scans into one folder would corrupt each other's
summary.csv and per-video files, so each holds an exclusive lock on ``<folder>/.edge-detect.lock``
while it writes, and a second one is refused with a clear message.

The lock is ``flock(2)``: released by the kernel when the process ends however it ends (kill -9
included), so a stale lock file never blocks a later run. The file stays as a marker of an
output folder (a folder scan never reads folders that hold it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import SinkError
from .fsnames import display_name

LOCK_FILE = ".edge-detect.lock"


class LockHeld(Exception):
    """Another live process holds the lock; ``holder`` is the pid it wrote ("?" if none)."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


@contextlib.contextmanager
def pid_lock(path: str | os.PathLike, mode: int = 0o666) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed, our pid written in it) for the
    block; :class:`LockHeld` when another process holds it. Shared by the runtime's output lock
    and the ETL's one-run-per-folder lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield Path(path)
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the folder's lock for the block; SinkError (exit 5) when another process holds it."""
    path = Path(folder) / LOCK_FILE
    stack = contextlib.ExitStack()
    try:
        held = stack.enter_context(pid_lock(path))
    except LockHeld as exc:
        raise SinkError(f"output folder {display_name(folder)} is in use by another edge-detect "
                        f"(pid {exc.holder}); wait for it to finish or choose another -o") from None
    except OSError as exc:
        raise SinkError(f"cannot lock output folder {display_name(folder)}: "
                        f"{exc.strerror or exc}") from exc
    with stack:
        yield held
