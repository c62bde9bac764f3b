"""The benchmark's input: a generated clip of a face moving slightly inside a 720p frame."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from edge_detector.atomic import atomic_path
from edge_detector.cvfiles import read_image, video_capture, video_writer

from .model_files import BenchSetupError

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]


def fixtures_faces_dir() -> Path | None:
    """``$EDGE_FIXTURES/faces`` (default ``../shared/fixtures/faces``) when it exists."""
    root = Path(os.environ.get("EDGE_FIXTURES", REPO.parent / "shared" / "fixtures"))
    faces = root / "faces"
    return faces if faces.is_dir() else None


def face_photo_bgr() -> np.ndarray:
    """scikit-image's public-domain astronaut portrait, else a fixture portrait."""
    try:
        from skimage import data

        return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    except ImportError:
        faces = fixtures_faces_dir()
        img = read_image(faces / "portrait_480p.jpg") if faces else None
        if img is None:
            raise BenchSetupError(
                "cannot make the benchmark video: install scikit-image (dev/train extra), "
                "set EDGE_FIXTURES, or pass --video"
            ) from None
        return img


def clip_frame(photo: np.ndarray, width: int, height: int, t: int) -> np.ndarray:
    """Grey frame with the photo scaled to 60% of the height, drifting and bobbing a few pixels."""
    frame = np.full((height, width, 3), 90, np.uint8)
    side = int(height * 0.6)
    ph, pw = side, side * photo.shape[1] // photo.shape[0]
    small = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
    x = (width - pw) // 2 + int(round(12 * np.sin(t / 9.0)))
    y = (height - ph) // 2 + int(round(6 * np.cos(t / 13.0)))
    frame[y : y + ph, x : x + pw] = small
    return frame


def make_clip(path: Path, width: int = 1280, height: int = 720, frames: int = 150,
              fps: float = 30.0) -> Path:
    """Write (once) an mp4v clip; the file name carries its size so variants never collide."""
    if path.is_file() and path.stat().st_size > 0:
        return path
    with atomic_path(path, keep_suffix=True) as part:  # the writer picks mp4 from the suffix
        writer = video_writer(part, "mp4v", fps, (width, height))
        if not writer.isOpened():
            raise BenchSetupError(f"cannot open an mp4v writer for {part}")
        photo = face_photo_bgr()
        try:
            for t in range(frames):
                writer.write(clip_frame(photo, width, height, t))
        finally:
            writer.release()
    log.info("wrote benchmark clip %s (%dx%d, %d frames)", path, width, height, frames)
    return path


def first_frame(video: Path) -> np.ndarray:
    cap = video_capture(video)
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise BenchSetupError(f"cannot read a frame from {video}")
    return frame
