"""Sample frames evenly over a whole video, decoding only what is needed.

Two strategies: ``seek`` (set the frame position, then read one frame) and ``grab`` (walk the
stream with ``grab()`` and ``retrieve()`` only the wanted frames). ``grab`` never skips a frame
but decodes every frame up to the last wanted one; ``seek`` decodes from the previous keyframe.
:func:`time_decoders` measures both on real files (``python -m train bench-decode``).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_detector.cvfiles import check_pixels, video_capture
from edge_detector.errors import LimitError

from .errors import ConfigError, TrainError

log = logging.getLogger(__name__)

DECODERS = ("seek", "grab")
DEFAULT_DECODER = "grab"
DEFAULT_FPS = 25.0


class VideoReadError(TrainError):
    """A video cannot be opened or has no decodable frames."""


@dataclass(frozen=True)
class VideoProbe:
    """Stream facts from the container (``frame_count`` as reported, may be approximate)."""

    frame_count: int
    fps: float
    width: int
    height: int


@dataclass(frozen=True)
class SampledFrame:
    """One sampled frame; ``image_bgr`` is None when decoding that frame failed."""

    index: int
    time_s: float
    image_bgr: np.ndarray | None


def sample_indices(frame_count: int, k: int) -> list[int]:
    """Centres of ``k`` equal segments of the video: spread over all of it, never only the start."""
    if frame_count <= 0 or k <= 0:
        return []
    k = min(k, frame_count)
    return sorted({int(math.floor((i + 0.5) * frame_count / k)) for i in range(k)})


def _open(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise VideoReadError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise VideoReadError("empty file (0 bytes)")
    cap = video_capture(path)  # safe for names that are not UTF-8
    if not cap.isOpened():
        cap.release()
        raise VideoReadError("cannot open video (not a video or corrupt container)")
    try:  # the frame size against the pixel budget, before any frame is decoded
        check_pixels(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
                     int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0), "video")
    except LimitError as exc:
        cap.release()
        raise VideoReadError(str(exc)) from exc
    return cap


def probe(cap: cv2.VideoCapture) -> VideoProbe:
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = float(fps) if fps and math.isfinite(fps) and 1.0 <= fps <= 1000.0 else DEFAULT_FPS
    return VideoProbe(
        frame_count=max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
        fps=fps,
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
    )


def _count_by_grabbing(cap: cv2.VideoCapture) -> int:
    n = 0
    while cap.grab():
        n += 1
    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    return n


def _read_seek(cap: cv2.VideoCapture, indices: list[int]) -> Iterator[tuple[int, np.ndarray | None]]:
    pos = 0  # after a read the decoder sits on the next frame: avoid needless seeks
    for idx in indices:
        if idx != pos:
            cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
        ok, img = cap.read()
        pos = idx + 1
        yield idx, img if ok else None


def _read_grab(cap: cv2.VideoCapture, indices: list[int]) -> Iterator[tuple[int, np.ndarray | None]]:
    wanted = iter(indices)
    target = next(wanted, None)
    pos = 0
    while target is not None:
        if not cap.grab():
            break
        if pos == target:
            ok, img = cap.retrieve()
            yield target, img if ok else None
            target = next(wanted, None)
        pos += 1
    while target is not None:  # stream ended early: the rest are unreadable
        yield target, None
        target = next(wanted, None)


def read_sampled(
    path: str | os.PathLike, k: int, decoder: str = DEFAULT_DECODER
) -> tuple[VideoProbe, list[SampledFrame]]:
    """Decode ``k`` evenly spaced frames of ``path``; raises :class:`VideoReadError` if none decode."""
    if decoder not in DECODERS:
        raise ConfigError(f"unknown decoder {decoder!r}; choose one of {', '.join(DECODERS)}")
    cap = _open(Path(path))
    try:
        info = probe(cap)
        count = info.frame_count or _count_by_grabbing(cap)
        if count <= 0:
            raise VideoReadError("video reports no frames")
        info = VideoProbe(count, info.fps, info.width, info.height)
        reader = _read_seek if decoder == "seek" else _read_grab
        frames = [
            SampledFrame(idx, idx / info.fps, img)
            for idx, img in reader(cap, sample_indices(count, k))
        ]
    finally:
        cap.release()
    if not any(f.image_bgr is not None for f in frames):
        raise VideoReadError("no decodable frames (truncated or corrupt stream)")
    return info, frames


@dataclass(frozen=True)
class DecodeTiming:
    """Seconds to sample ``k`` frames from every file with one decoder."""

    decoder: str
    files: int
    frames: int
    seconds: float


def time_decoders(paths: list[Path], k: int, repeats: int = 2) -> list[DecodeTiming]:
    """Best-of-``repeats`` wall time of each decoder over ``paths`` (for choosing the default)."""
    out = []
    for decoder in DECODERS:
        best, frames = float("inf"), 0
        for _ in range(repeats):
            t0 = time.perf_counter()
            frames = sum(len(read_sampled(p, k, decoder)[1]) for p in paths)
            best = min(best, time.perf_counter() - t0)
        out.append(DecodeTiming(decoder, len(paths), frames, best))
    return out
