"""Outputs written once the verdict is known: the annotated image, summary.json, report.html."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..contract import ModelContract
from ..results import RunResult, summary_record
from ..timeline import Timeline, thumbnail_gap_s
from ..types import FrameResult, VideoInfo
from .base import Sink
from .files import write_image, write_json


class ImageSink(Sink):
    """``annotated.jpg``: the last annotated frame (an image source has exactly one)."""

    name = "image"
    needs_overlay = True

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.last: np.ndarray | None = None

    def write(self, result: FrameResult) -> None:
        self.last = result.frame.image_bgr

    def close(self, run: RunResult) -> None:
        if self.last is not None:
            run.outputs[self.name] = write_image(self.path, self.last)


class SummarySink(Sink):
    """``summary.json``: the record of the run, replaced atomically; it lists the files before it."""

    name = "summary"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def close(self, run: RunResult) -> None:
        run.outputs[self.name] = write_json(self.path, summary_record(run))


class ReportSink(Sink):
    """``report.html``: P_fake over time and the most suspicious annotated frames.

    The report package (and jinja2) is imported only here, when a report is written.
    """

    name = "report"
    needs_overlay = True  # thumbnails show the boxes and labels

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.timeline: Timeline | None = None

    def open(self, info: VideoInfo, contract: ModelContract) -> None:
        self.timeline = Timeline(contract, min_gap_s=thumbnail_gap_s(info))

    def write(self, result: FrameResult) -> None:
        self.timeline.add(result)
        self.timeline.offer_thumbnail(result)

    def close(self, run: RunResult) -> None:
        from ..report import write_report

        run.outputs[self.name] = write_report(self.path, run, self.timeline)
