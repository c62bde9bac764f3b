"""Small typed records passed between pipeline stages (images are always BGR uint8)."""

from __future__ import annotations

from collections.abc import Iterator
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


# A classifier's probabilities may miss 1 per face by this much (int8 models round each class to
# 1/255) and leave [0, 1] by the range tolerance before they are clipped.
PROB_SUM_TOLERANCE = 5e-2
PROB_RANGE_TOLERANCE = 1e-3


@dataclass(frozen=True, eq=False)
class Face:
    """One row of :class:`Faces`, as plain Python values (for drawing and CSV rows)."""

    index: int
    xyxy: tuple[float, float, float, float]
    det_score: float
    probs: np.ndarray
    p_fake: float
    label: str
    method: str
    method_prob: float
    track: int


_FLOAT_COLUMNS = ("det_score", "p_fake", "method_prob")
_TEXT_COLUMNS = ("label", "method")


@dataclass(frozen=True, eq=False)
class Faces:
    """Every classified face of one frame as read-only columns of equal length n.

    One object instead of parallel lists keeps boxes, scores and verdicts from drifting apart:
    ``xyxy`` (n,4) float32 pixels, ``det_score`` (n,) float32 detector confidence, ``probs``
    (n,k) float32 class probabilities, ``p_fake`` (n,) float32 in [0, 1], ``label`` and
    ``method`` (n,) str, ``method_prob`` (n,) float32 and ``track`` (n,) int64 (-1: untracked).
    """

    xyxy: np.ndarray
    det_score: np.ndarray
    probs: np.ndarray
    p_fake: np.ndarray
    label: np.ndarray
    method: np.ndarray
    method_prob: np.ndarray
    track: np.ndarray

    def __post_init__(self) -> None:
        cols = {
            "xyxy": _numeric("xyxy", self.xyxy, np.float32),
            "probs": _numeric("probs", self.probs, np.float32),
            "track": _numeric("track", self.track, np.int64),
            **{name: _numeric(name, getattr(self, name), np.float32) for name in _FLOAT_COLUMNS},
            **{name: _text(name, getattr(self, name)) for name in _TEXT_COLUMNS},
        }
        if cols["xyxy"].ndim != 2 or cols["xyxy"].shape[1] != 4:
            raise ValueError(f"xyxy must have shape (n, 4), got {cols['xyxy'].shape}")
        if cols["probs"].ndim != 2:
            raise ValueError(f"probs must have shape (n, classes), got {cols['probs'].shape}")
        n = len(cols["xyxy"])
        for name, col in cols.items():
            if name not in ("xyxy", "probs") and col.ndim != 1:
                raise ValueError(f"{name} must have shape (n,), got {col.shape}")
            if len(col) != n:
                raise ValueError(f"{name} has {len(col)} rows but xyxy has {n}")
        for name in ("p_fake", "method_prob", "probs"):
            col = cols[name]
            if col.size and not (np.isfinite(col).all() and col.min() >= 0.0 and col.max() <= 1.0):
                raise ValueError(
                    f"{name} must be in [0, 1], got values from {col.min():.4g} to {col.max():.4g}")
        probs = cols["probs"]
        tolerance = PROB_SUM_TOLERANCE + probs.shape[1] * PROB_RANGE_TOLERANCE
        sums = probs.sum(axis=1)
        if n and np.abs(sums - 1.0).max() > tolerance:
            raise ValueError(f"probs rows must sum to 1, got sums {', '.join(f'{v:.4g}' for v in sums)}")
        for name, col in cols.items():
            col.flags.writeable = False
            object.__setattr__(self, name, col)

    @classmethod
    def empty(cls, num_classes: int = 0) -> Faces:
        """No faces (``num_classes`` sizes the empty ``probs`` column)."""
        f32 = np.zeros((0,), np.float32)
        return cls(np.zeros((0, 4), np.float32), f32, np.zeros((0, num_classes), np.float32), f32,
                   np.array([], str), np.array([], str), f32, np.zeros((0,), np.int64))

    def __len__(self) -> int:
        return len(self.p_fake)

    def __getitem__(self, i: int) -> Face:
        i = range(len(self))[i]  # IndexError for rows that do not exist; negative indices count back
        return Face(i, tuple(float(c) for c in self.xyxy[i]), float(self.det_score[i]), self.probs[i],
                    float(self.p_fake[i]), str(self.label[i]), str(self.method[i]),
                    float(self.method_prob[i]), int(self.track[i]))

    def __iter__(self) -> Iterator[Face]:
        return (self[i] for i in range(len(self)))

    def most_suspicious(self) -> Face | None:
        """The face with the highest P_fake (the first of equals), or None without faces."""
        return self[int(np.argmax(self.p_fake))] if len(self) else None


def _numeric(name: str, values, dtype: type) -> np.ndarray:
    """A copy of ``values`` as ``dtype``; no silent casts from text, or from floats to track ids."""
    arr = np.array(values)
    if arr.size and arr.dtype.kind not in ("iu" if dtype is np.int64 else "iuf"):
        raise ValueError(f"{name} must be {np.dtype(dtype).name} numbers, got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)  # np.array already copied


def _text(name: str, values) -> np.ndarray:
    arr = np.array(values, dtype=object)
    if not all(isinstance(v, str) for v in arr.ravel()):
        raise ValueError(f"{name} must hold strings")
    return np.array(values, dtype=str) if arr.size else np.zeros(arr.shape, str)


@dataclass
class FrameResult:
    """Everything known about one frame after the pipeline ran (or reused) analysis on it."""

    frame: Frame
    faces: Faces
    analysed: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The model-size BGR crops the classifier saw, one per face (analysed frames only). A view of a
    # buffer the pipeline reuses on the next frame: copy what you keep.
    crops_bgr: np.ndarray | None = None


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
    # three-level models: REAL below threshold_real, FAKE at or above threshold_fake
    threshold_real: float | None = None
    threshold_fake: float | None = None
