"""The sinks of a job run by the server: the CLI's files plus what the page needs.

The video is VP8/WebM (Chromium does not play mp4v), scaled to fit the page; the timeline and the
most suspicious frames are written as plain files (timeline.json, thumb-N.jpg) so the page draws
them without parsing report.html; progress goes to a callback that can also cancel the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from .. import atomic
from ..contract import ModelContract
from ..results import RunResult
from ..sinks import (
    CsvSink,
    ImageSink,
    ReportSink,
    Sink,
    SummarySink,
    VideoSink,
    VideoWriter,
    write_error,
    write_json,
)
from ..sinks.explain import DEFAULT_EXPLAIN, ExplainSink
from ..sinks.files import WEB_VIDEO_FORMATS
from ..timeline import Timeline
from ..types import FrameResult, VideoInfo

EXPLAIN_DIR = "explain"  # occlusion maps, served as explain/<file> (names the worker recorded)

TIMELINE_FILE = "timeline.json"
THUMB_PATTERN = "thumb-{}.jpg"
# progress(frames_done, frames_total or None, fps or None) -> False to stop the run (cancelled)
ProgressFn = Callable[[int, int | None, float | None], bool]


class Cancelled(KeyboardInterrupt):
    """Raised by the progress sink; the runner finalises the outputs as for Ctrl-C."""


class JobProgressSink(Sink):
    """Reports frames done, total and FPS at most every ``every_s`` seconds, and once at the end."""

    def __init__(self, progress: ProgressFn, every_s: float = 0.25,
                 max_frames: int | None = None) -> None:
        self.progress, self.every_s, self.max_frames = progress, every_s, max_frames
        self.frames, self.total = 0, None
        self._t0 = self._last = 0.0

    def open(self, info: VideoInfo, contract: ModelContract) -> None:
        self.total = info.frame_count or None
        self._t0 = self._last = time.perf_counter()

    def _fps(self, now: float) -> float | None:
        return self.frames / (now - self._t0) if now > self._t0 and self.frames else None

    def write(self, result: FrameResult) -> None:
        self.frames += 1
        now = time.perf_counter()
        if now - self._last >= self.every_s:
            self._last = now
            if not self.progress(self.frames, self.total, self._fps(now)):
                raise Cancelled

    def close(self, run: RunResult) -> None:
        self.progress(self.frames, self.total, self._fps(time.perf_counter()))


class WebVideoSink(VideoSink):
    """``annotated.webm`` (VP8; mp4v/MJPG fallbacks), longer side at most ``max_side`` pixels."""

    def __init__(self, path: Path, max_side: int, max_frames: int | None = None) -> None:
        super().__init__(path, max_frames)
        self.max_side = max_side

    def open(self, info: VideoInfo, contract: ModelContract) -> None:
        scale = min(1.0, self.max_side / max(info.width, info.height, 1))
        size = (max(2, round(info.width * scale / 2) * 2), max(2, round(info.height * scale / 2) * 2))
        self.writer = VideoWriter(self.path, info.fps, size, frames_hint=info.frame_count,
                                  formats=WEB_VIDEO_FORMATS)
        self.path = self.writer.path
        self.set_timing(info)  # frames placed by timestamp at the source's rate, as the CLI does


class PageFilesSink(Sink):
    """``timeline.json`` (one point per analysed frame) and the top frames as ``thumb-N.jpg``."""

    needs_overlay = True

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.timeline: Timeline | None = None

    def open(self, info: VideoInfo, contract: ModelContract) -> None:
        duration = (info.frame_count or 0) / info.fps if info.fps else 0.0
        self.timeline = Timeline(contract, min_gap_s=min(1.0, duration / 12) if duration else 1.0)

    def write(self, result: FrameResult) -> None:
        self.timeline.add(result)
        self.timeline.offer_thumbnail(result)

    def close(self, run: RunResult) -> None:
        thumbs = []
        for rank, t in enumerate(self.timeline.thumbnails, 1):
            name = THUMB_PATTERN.format(rank)
            try:
                atomic.write_bytes(self.out_dir / name, t.jpeg)
            except OSError as exc:
                raise write_error(self.out_dir / name, exc) from exc
            thumbs.append({"file": name, "frame": t.frame, "time_s": t.time_s, "p_fake": t.p_fake,
                           "method": t.method, "fake": run.policy.is_fake(t.p_fake)})
        points = [[p.frame, round(p.time_s, 3), None if p.p_fake is None else round(p.p_fake, 4),
                   p.label] for p in self.timeline.points]
        write_json(self.out_dir / TIMELINE_FILE, {
            "threshold": run.policy.threshold, "band": list(run.policy.band) if run.policy.band
            else None, "fps": run.source.fps,
            "frame_count": run.source.frame_count, "every": run.every,
            "columns": ["frame", "time_s", "p_fake", "label"], "points": points, "thumbnails": thumbs,
        })


def job_sinks(info: VideoInfo, out_dir: Path, progress: ProgressFn, video_max_side: int,
              classifier=None, explain: int = DEFAULT_EXPLAIN) -> list[Sink]:
    """Progress first (a cancel stops the frame before the files see it); then the CLI's files in
    its order (summary.json lists those before it), then the page's files. With a
    ``classifier``, occlusion maps of the ``explain`` most suspicious faces (the page shows them
    under "Why FAKE?")."""
    sinks: list[Sink] = [JobProgressSink(progress), CsvSink(out_dir / "frames.csv")]
    if info.kind == "image":
        sinks.append(ImageSink(out_dir / "annotated.jpg"))
    else:
        sinks.append(WebVideoSink(out_dir / "annotated.webm", video_max_side))
    if classifier is not None and explain:
        sinks.append(ExplainSink(out_dir / EXPLAIN_DIR, classifier, explain))
    sinks += [SummarySink(out_dir / "summary.json"), ReportSink(out_dir / "report.html"),
              PageFilesSink(out_dir)]
    return sinks
