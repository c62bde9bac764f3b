"""The outputs of a run, each a :class:`Sink` (see :mod:`.base`), plus the atomic file writers.

:func:`default_sinks` picks the sinks for the CLI's options; callers may pass their own list.
"""

from __future__ import annotations

from pathlib import Path

from ..types import VideoInfo
from .base import Sink, StopRun, free_bytes, write_error
from .files import (
    LOW_SPACE_BYTES,
    NO_FACE_LABEL,
    CsvSink,
    CsvWriter,
    VideoSink,
    VideoWriter,
    csv_columns,
    write_image,
    write_json,
)
from .live import DisplaySink, ProgressSink, display_available
from .verdict import ImageSink, ReportSink, SummarySink

__all__ = [
    "LOW_SPACE_BYTES", "NO_FACE_LABEL", "CsvSink", "CsvWriter", "DisplaySink", "ImageSink",
    "ProgressSink", "ReportSink", "Sink", "StopRun", "SummarySink", "VideoSink", "VideoWriter",
    "csv_columns", "default_sinks", "display_available", "free_bytes", "write_error",
    "write_image", "write_json",
]


def default_sinks(info: VideoInfo, out_dir: Path | None, *, video: bool = True,
                  report: bool = True, progress: bool = False, display: bool = False,
                  max_frames: int | None = None) -> list[Sink]:
    """The CLI's outputs, in closing order: files first, then the report, then summary.json
    listing them (and any that could not be written); ``out_dir=None`` writes no file."""
    sinks: list[Sink] = []
    if out_dir is not None:
        sinks.append(CsvSink(out_dir / "frames.csv"))
        if info.kind == "image":
            sinks.append(ImageSink(out_dir / "annotated.jpg"))
        elif video:
            sinks.append(VideoSink(out_dir / "annotated.mp4", max_frames))
        if report:
            sinks.append(ReportSink(out_dir / "report.html"))
        sinks.append(SummarySink(out_dir / "summary.json"))
    if progress:
        sinks.append(ProgressSink(max_frames))
    if display:
        sinks.append(DisplaySink())
    return sinks
