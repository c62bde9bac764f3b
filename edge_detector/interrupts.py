"""SIGINT and SIGTERM end a run the same way: finalise the outputs, write the summary, exit 128+N.

``docker stop``, systemd and ``timeout`` send SIGTERM; Ctrl-C sends SIGINT. The first signal raises
KeyboardInterrupt where the main thread is (the runner catches it and finalises); a second one
while finishing is ignored, so finalising is never cut short by an impatient Ctrl-C (no traceback,
no torn file); a third exits at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

_received: list[int] = []


def _handler(signum: int, frame) -> None:
    _received.append(signum)
    if len(_received) == 1:
        raise KeyboardInterrupt
    if len(_received) >= 3:
        os._exit(128 + _received[0])


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Route SIGINT/SIGTERM to :func:`_handler` for the duration (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        # After a signal the process is on its way out: keep counting signals, so one that lands
        # between here and exit is still ignored (the default handler would kill us with -2).
        if not _received:
            for s, h in old.items():
                signal.signal(s, h)


def signalled() -> bool:
    """Whether SIGINT/SIGTERM arrived during :func:`handle_signals` (the process should end)."""
    return bool(_received)


def exit_code() -> int:
    """128 + the first signal received (130 for Ctrl-C, 143 for SIGTERM); 130 if none was."""
    return 128 + (_received[0] if _received else signal.SIGINT)


@contextlib.contextmanager
def children_ignore_sigint() -> Iterator[None]:
    """Processes started inside inherit an ignored SIGINT, so a terminal's Ctrl-C (sent to the
    whole process group) reaches only the parent, which stops its workers in order."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
