"""Small typed records passed between pipeline stages (images are always BGR uint8)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``image_bgr`` is HxWx3 uint8 in OpenCV's BGR order."""

    index: int
    time_s: float
    image_bgr: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a source before reading it; ``frame_count`` is None when unknown."""

    name: str
    width: int
    height: int
    fps: float
    frame_count: int | None
    live: bool
    kind: str


@dataclass(frozen=True)
class FaceDetections:
    """Faces of one image: boxes ``xyxy`` (n,4) float32 in pixels and ``score`` (n,) float32."""

    xyxy: np.ndarray
    score: np.ndarray

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        score = np.asarray(self.score, dtype=np.float32).reshape(-1)
        if len(xyxy) != len(score):
            raise ValueError(f"xyxy has {len(xyxy)} rows but score has {len(score)}")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "score", score)

    @classmethod
    def empty(cls) -> FaceDetections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return len(self.score)

    def __getitem__(self, key) -> FaceDetections:
        return FaceDetections(self.xyxy[key], self.score[key])

    @property
    def area(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]


@dataclass(frozen=True)
class FaceVerdict:
    """The classifier's reading of one face."""

    probs: np.ndarray
    p_fake: float
    label: str
    method: str
    method_prob: float
    track: int = -1


@dataclass
class FrameResult:
    """Everything known about one frame after the pipeline ran (or reused) analysis on it."""

    frame: Frame
    faces: FaceDetections
    verdicts: list[FaceVerdict]
    analysed: bool
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackSummary:
    """Verdict for one face track (one person, as far as IoU tracking can tell)."""

    track: int
    faces: int
    mean_p_fake: float
    verdict: str


@dataclass(frozen=True)
class VideoSummary:
    """Video-level verdict and the numbers it was made from."""

    verdict: str
    aggregation: str
    score: float
    mean_p_fake: float | None
    median_p_fake: float | None
    fake_frame_fraction: float | None
    frames_read: int
    frames_analysed: int
    frames_with_faces: int
    faces_classified: int
    top_method: str | None
    method_share: dict[str, float]
    tracks: list[TrackSummary]
    threshold: float
