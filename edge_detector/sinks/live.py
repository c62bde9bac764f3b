"""Sinks for a person watching: the progress bar and the live window."""

from __future__ import annotations

import logging
import os
import sys

import cv2

from ..contract import ModelContract
from ..types import FrameResult, VideoInfo
from .base import Sink, StopRun

log = logging.getLogger(__name__)


class ProgressSink(Sink):
    """A click progress bar over the frames of a file (none for live sources or unknown length)."""

    def __init__(self, max_frames: int | None = None) -> None:
        self.max_frames = max_frames
        self.bar = None

    def open(self, info: VideoInfo, contract: ModelContract) -> None:
        if info.live or not info.frame_count:
            return
        import click

        total = min(info.frame_count, self.max_frames or info.frame_count)
        self.bar = click.progressbar(length=total, label=info.name, file=None, show_pos=True)
        self.bar.__enter__()

    def write(self, result: FrameResult) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()


def display_available() -> bool:
    """False on Linux without an X11 or Wayland display: opening a window there aborts in Qt."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class DisplaySink(Sink):
    """A live window; turns itself off (with one warning) where no GUI is available. ``q`` stops."""

    needs_overlay = True

    def __init__(self) -> None:
        self.title, self.on = "", False

    def open(self, info: VideoInfo, contract: ModelContract) -> None:
        self.title, self.on = f"edge-detect: {info.name}", display_available()
        if not self.on:
            log.warning("no display found (DISPLAY and WAYLAND_DISPLAY are unset); "
                        "continuing without a window")

    def write(self, result: FrameResult) -> None:
        if not self.on:
            return
        try:
            cv2.imshow(self.title, result.frame.image_bgr)
            pressed = cv2.waitKey(1) & 0xFF
        except cv2.error:
            log.warning("cannot open a display window (no GUI); continuing without --display")
            self.on = False
            return
        if pressed == ord("q"):
            raise StopRun

    def finish(self) -> None:
        if self.on:
            try:
                cv2.destroyWindow(self.title)
            except cv2.error:
                pass
