"""The outputs of a run, each a :class:`Sink` (see :mod:`.base`), plus the atomic file writers.

:func:`default_sinks` picks the sinks for the CLI's options; callers may pass their own list.
"""

from __future__ import annotations

from pathlib import Path

from ..types import VideoInfo
from .base import Sink, StopRun, free_bytes, write_error
from .explain import DEFAULT_EXPLAIN, MAX_EXPLAIN, ExplainSink
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
    "DEFAULT_EXPLAIN", "LOW_SPACE_BYTES", "MAX_EXPLAIN", "NO_FACE_LABEL", "CsvSink", "CsvWriter",
    "DisplaySink", "ExplainSink", "ImageSink",
    "ProgressSink", "ReportSink", "Sink", "StopRun", "SummarySink", "VideoSink", "VideoWriter",
    "csv_columns", "default_sinks", "display_available", "free_bytes", "write_error",
    "write_image", "write_json",
]


def default_sinks(info: VideoInfo, out_dir: Path | None, *, video: bool = True,
                  report: bool = True, progress: bool = False, display: bool = False,
                  max_frames: int | None = None, explain: int | None = None,
                  classifier=None) -> list[Sink]:
    """The CLI's outputs, in closing order: files first, then the report, then summary.json
    listing them (and any that could not be written); ``out_dir=None`` writes no file.
    ``explain``: occlusion maps of that many suspicious faces (and track maxima), computed with
    ``classifier``, made before the report that shows them."""
    sinks: list[Sink] = []
    if out_dir is not None:
        sinks.append(CsvSink(out_dir / "frames.csv"))
        if info.kind == "image":
            sinks.append(ImageSink(out_dir / "annotated.jpg"))
        elif video:
            sinks.append(VideoSink(out_dir / "annotated.mp4", max_frames))
        if explain:
            sinks.append(ExplainSink(out_dir / "explain", classifier, explain))
        if report:
            sinks.append(ReportSink(out_dir / "report.html"))
        sinks.append(SummarySink(out_dir / "summary.json"))
    if progress:
        sinks.append(ProgressSink(max_frames))
    if display:
        sinks.append(DisplaySink())
    return sinks
