"""Per-frame scores and the most suspicious thumbnails, kept small for the HTML report."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .contract import ModelContract
from .types import FrameResult, VideoInfo


def thumbnail_gap_s(info: VideoInfo) -> float:
    """Seconds between two suspicious frames worth showing: 1 s, less for clips under 12 s."""
    duration = (info.frame_count or 0) / info.fps if info.fps else 0.0
    return min(1.0, duration / 12) if duration else 1.0


@dataclass(frozen=True)
class TimelinePoint:
    """One analysed frame: its highest P_fake (None without a face) and that face's method."""

    frame: int
    time_s: float
    p_fake: float | None
    method: str | None
    label: str | None
    faces: int


@dataclass(frozen=True)
class Thumbnail:
    """A downscaled annotated frame, JPEG-encoded."""

    frame: int
    time_s: float
    p_fake: float
    method: str
    jpeg: bytes


class Timeline:
    """Collects one point per analysed frame and the top-k frames by P_fake."""

    def __init__(
        self, contract: ModelContract, top_k: int = 6, thumb_width: int = 480, min_gap_s: float = 1.0
    ) -> None:
        self.contract = contract
        self.points: list[TimelinePoint] = []
        self.top_k, self.thumb_width, self.min_gap_s = top_k, thumb_width, min_gap_s
        self._thumbs: list[Thumbnail] = []

    def add(self, r: FrameResult) -> None:
        if not r.analysed:
            return
        top = r.faces.most_suspicious()
        if top is None:
            self.points.append(TimelinePoint(r.frame.index, r.frame.time_s, None, None, None, 0))
            return
        self.points.append(
            TimelinePoint(r.frame.index, r.frame.time_s, top.p_fake, top.method, top.label, len(r.faces))
        )

    def _neighbours(self, time_s: float) -> list[Thumbnail]:
        return [t for t in self._thumbs if abs(t.time_s - time_s) < self.min_gap_s]

    def wants(self, p_fake: float, time_s: float) -> bool:
        """Top-k by P_fake, at most one thumbnail per ``min_gap_s`` so they show different moments."""
        if any(t.p_fake >= p_fake for t in self._neighbours(time_s)):
            return False
        return len(self._thumbs) < self.top_k or p_fake > min(t.p_fake for t in self._thumbs)

    def offer_thumbnail(self, r: FrameResult) -> None:
        """Call after drawing the overlay; encodes only frames that enter the top-k."""
        top = r.faces.most_suspicious() if r.analysed else None
        if top is None or not self.wants(top.p_fake, r.frame.time_s):
            return
        img = r.frame.image_bgr
        h, w = img.shape[:2]
        scale = min(1.0, self.thumb_width / w)
        small = cv2.resize(img, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:
            return
        thumb = Thumbnail(r.frame.index, r.frame.time_s, top.p_fake, top.method, np.asarray(buf).tobytes())
        beaten = self._neighbours(r.frame.time_s)
        self._thumbs = [t for t in self._thumbs if t not in beaten] + [thumb]
        self._thumbs.sort(key=lambda t: (-t.p_fake, t.frame))
        del self._thumbs[self.top_k :]

    @property
    def thumbnails(self) -> list[Thumbnail]:
        """Most suspicious first."""
        return list(self._thumbs)
