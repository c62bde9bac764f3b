"""Tracking-gated face detection: a full-frame SSD pass now and then, small windows in between.

On a 720p frame the full-frame SSD is most of the per-frame work. Between full passes a face
moves a few pixels, so the SSD only needs to look at a window around where it was, at a network
input scaled so the face keeps the pixel size it has in a full pass (the SSD's boxes depend on
that scale). A full pass runs every ``full_every`` frames, when a tracked face is lost, and on a
scene cut; faces that enter between full passes are found at the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from .faces import SSD_GRID
from .tracking import iou_matrix
from .types import FaceDetections

DETECT_MODES = ("full", "track")
DEFAULT_FULL_EVERY = 10
DEFAULT_DETECT = "track"  # full mode's boxes and median P_fake on the fixtures, ~2x faster (README)


class RegionDetector(Protocol):
    """A detector that can look at windows of a frame, in the coordinates ``network_size`` gives
    (the SSD: its resized input's pixels; BlazeFace: frame pixels), aligned to ``grid``."""

    grid: int

    def network_size(self, width: int, height: int) -> tuple[int, int]: ...

    def network_input(self, image_bgr: np.ndarray) -> np.ndarray: ...

    def detect_windows(self, image_bgr: np.ndarray,
                       windows: list[tuple[int, int, int, int] | None],
                       net_input: np.ndarray | None = None) -> list[FaceDetections]: ...


@dataclass(frozen=True)
class GateConfig:
    """Tuning of the gate; the defaults were measured on the fixture clips (see README).

    ``window_scale``: window side / face side before widening to the anchor grid. 2.5: median
    P_fake deviation from full mode 0 on every fixture clip, p90 <= 0.005, single frames up to
    0.09, IoU >= 0.998, 2.2x full mode end to end on 720p. 3 was exact to 0.04 but its 5-cell
    windows cost 13 ms instead of 10 (1.9x); at 2 P_fake moved by up to 0.39 on single frames of
    one clip (README). ``min_iou``: a window's best face must overlap the
    tracked box this much to continue the track; ``cut_threshold``: mean absolute difference
    (0..255) of 32x18 grey thumbnails above which a frame is a scene cut; ``min_net``: smallest
    side of a window's network input (a smaller window grows, keeping the scale); ``max_share``:
    when the windows' inputs add up to more than this share of a full pass, run a full pass.
    """

    full_every: int = DEFAULT_FULL_EVERY
    window_scale: float = 2.5
    min_iou: float = 0.3
    cut_threshold: float = 20.0
    min_net: int = 48
    max_share: float = 0.75

    def __post_init__(self) -> None:
        if self.full_every < 1:
            raise ValueError(f"full_every must be >= 1, got {self.full_every}")
        if self.window_scale < 1.0:
            raise ValueError(f"window_scale must be >= 1, got {self.window_scale}")


def scene_cut(prev: np.ndarray | None, thumb: np.ndarray, threshold: float) -> bool:
    """True when two grey thumbnails differ by more than ``threshold`` on average."""
    return prev is not None and float(cv2.absdiff(prev, thumb).mean()) > threshold


def thumbnail(image_bgr: np.ndarray) -> np.ndarray:
    """32x18 grey thumbnail (INTER_AREA averages away noise and small motion).

    The gate makes it from the detector's 300x300 input, not the frame: the same averages at
    about a tenth of the cost (0.9 ms on a 720p frame).
    """
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (32, 18), interpolation=cv2.INTER_AREA)


def plan_window(box: np.ndarray, scale: float, frame_wh: tuple[int, int],
                full_net: tuple[int, int], min_net: int,
                grid: int = SSD_GRID) -> tuple[int, int, int, int]:
    """Window around ``box`` (frame pixels) in the full pass's network input pixels.

    ``scale`` x the face's longer side at network scale (at least ``min_net``), centred on the face
    and widened to multiples of ``grid`` so the SSD sees the same pixels and anchors as in a full
    pass, clipped to the input.
    """
    fw, fh = frame_wh
    nw, nh = full_net
    sx, sy = nw / fw, nh / fh
    x1, y1, x2, y2 = float(box[0]) * sx, float(box[1]) * sy, float(box[2]) * sx, float(box[3]) * sy
    half = max(max(x2 - x1, y2 - y1) * scale, min_net) / 2.0
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0

    def span(c: float, n: int) -> tuple[int, int]:
        lo = max(int(np.floor((c - half) / grid)) * grid, 0)
        return lo, min(int(np.ceil((c + half) / grid)) * grid, n)

    (left, right), (top, bottom) = span(cx, nw), span(cy, nh)
    return left, top, right, bottom


class TrackGate:
    """Detects faces like ``detector.detect`` but only scans the whole frame when needed.

    Knows the detector only; the pipeline decides what the faces are used for. ``full_passes`` and
    ``window_passes`` count the SSD calls, for benchmarks and tests.
    """

    def __init__(self, detector: RegionDetector, config: GateConfig | None = None) -> None:
        self.detector = detector
        self.config = config or GateConfig()
        self.full_passes = 0
        self.window_passes = 0
        self._boxes = np.zeros((0, 4), np.float32)
        self._since_full = 0
        self._thumb: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the tracked faces (a new source)."""
        self._boxes = np.zeros((0, 4), np.float32)
        self._since_full = 0
        self._thumb = None

    def detect(self, image_bgr: np.ndarray) -> FaceDetections:
        """Faces of this frame, largest first, in frame pixels."""
        net = self.detector.network_input(image_bgr)  # resized once, for every SSD call
        thumb = thumbnail(net)
        cut = scene_cut(self._thumb, thumb, self.config.cut_threshold)
        self._thumb = thumb
        faces = None
        if len(self._boxes) and not cut and self._since_full < self.config.full_every:
            faces = self._track(image_bgr, net)  # None: a face was lost
        if faces is None:
            faces = self.detector.detect_windows(image_bgr, [None], net)[0]
            self.full_passes += 1
            self._since_full = 0
        self._since_full += 1
        self._boxes = faces.xyxy.copy()
        return faces

    def _track(self, image_bgr: np.ndarray, net: np.ndarray) -> FaceDetections | None:
        """Each tracked face re-found in its window; None when a full pass is due instead."""
        h, w = image_bgr.shape[:2]
        cfg = self.config
        full_net = self.detector.network_size(w, h)
        grid = getattr(self.detector, "grid", SSD_GRID)
        plans = [plan_window(b, cfg.window_scale, (w, h), full_net, cfg.min_net, grid)
                 for b in self._boxes]
        area = sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in plans)
        if area > cfg.max_share * full_net[0] * full_net[1]:
            return None  # large faces: a full pass costs about the same
        boxes, scores = [], []
        for box, found in zip(self._boxes, self.detector.detect_windows(image_bgr, plans, net),
                              strict=True):
            self.window_passes += 1
            if not len(found):
                return None
            ious = iou_matrix(box[None], found.xyxy)[0]
            best = int(np.argmax(ious))
            if ious[best] < cfg.min_iou:
                return None
            boxes.append(found.xyxy[best])
            scores.append(found.score[best])
        faces = FaceDetections(np.array(boxes, np.float32), np.array(scores, np.float32))
        faces = faces[np.argsort(-faces.area, kind="stable")]
        if len(faces) > 1:  # two windows that locked onto the same face: keep one
            iou = iou_matrix(faces.xyxy, faces.xyxy)
            keep = [i for i in range(len(faces)) if not (iou[i, :i] > 0.5).any()]
            faces = faces[np.array(keep)]
        return faces
