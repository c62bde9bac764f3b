"""What every output of a run is: a sink that opens, takes each frame result, and closes.

The runner opens every sink with the source info and the model contract, hands each of them every
:class:`FrameResult`, calls :meth:`Sink.finish` on all of them however the loop ended (error,
Ctrl-C, SIGTERM), and then :meth:`Sink.close` with the typed run result. Streams (CSV, video) are
final after ``finish``; outputs that need the verdict (summary.json, report.html) are written in
``close``. Adding an output means adding a sink, not editing the runner.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ..contract import ModelContract
from ..errors import SinkError
from ..fsnames import display_name
from ..results import RunResult
from ..types import FrameResult, VideoInfo


class StopRun(Exception):  # noqa: N818 - a request, not an error
    """Raised by a sink's ``write`` to end the run early and normally (``q`` in the live window)."""


class Sink:
    """Base class with no-op steps; subclasses override what they need."""

    name = ""  # the key of this sink's file in RunResult.outputs ("" for sinks without a file)
    needs_overlay = False  # wants frames with boxes, labels and the header drawn on them

    def files(self) -> list[Path]:
        """Every file this sink may write (``--force`` is needed when any of them exists)."""
        path = getattr(self, "path", None)
        return [Path(path)] if path is not None else []

    def open(self, info: VideoInfo, contract: ModelContract) -> None:
        """Called once before the first frame."""

    def write(self, result: FrameResult) -> None:
        """Called for every frame, in order."""

    def finish(self) -> None:
        """End the stream (flush, finalise); always called once ``open`` succeeded."""

    def totals_ms(self) -> dict[str, float]:
        """Time this sink spent per stage over the whole run, merged into the speed figures."""
        return {}

    def close(self, run: RunResult) -> None:
        """Write what needs the verdict; add written files to ``run.outputs``."""


def write_error(path: str | os.PathLike, exc: OSError) -> SinkError:
    """One line for a failed write; a full disk says so plainly."""
    why = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else (exc.strerror or str(exc))
    return SinkError(f"cannot write {display_name(path)}: {why}")


def free_bytes(folder: str | os.PathLike) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize
