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


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the folder's lock for the block; SinkError (exit 5) when another process holds it."""
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise SinkError(f"cannot lock output folder {display_name(folder)}: "
                        f"{exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise SinkError(f"output folder {display_name(folder)} is in use by another edge-detect "
                            f"(pid {holder}); wait for it to finish or choose another -o") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock
