"""Test media made on the fly from public-domain photos that ship inside installed packages."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def astronaut_bgr() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def grace_hopper_bgr() -> np.ndarray:
    import matplotlib.cbook as cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)


def scene(width: int, height: int, t: int, face: np.ndarray | None = None, scale: float = 0.8) -> np.ndarray:
    """A grey frame with the face photo pasted in, drifting a few pixels per frame."""
    frame = np.full((height, width, 3), 90, np.uint8)
    if face is None:
        return frame
    side = int(min(width, height) * scale)
    photo = cv2.resize(face, (side * face.shape[1] // face.shape[0], side))
    ph, pw = photo.shape[:2]
    x = min(max((width - pw) // 2 + (t % 20) - 10, 0), width - pw)
    y = (height - ph) // 2
    frame[y : y + ph, x : x + pw] = photo
    return frame


def write_video(
    path: Path,
    frames: int = 30,
    size: tuple[int, int] = (480, 320),
    fps: float = 25.0,
    no_face_frames: set[int] | frozenset[int] = frozenset(),
) -> Path:
    """An mp4v video of the astronaut; frames listed in ``no_face_frames`` show an empty scene."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened(), "mp4v writer failed to open"
    face = astronaut_bgr()
    for t in range(frames):
        writer.write(scene(size[0], size[1], t, None if t in no_face_frames else face))
    writer.release()
    return path


def read_frames(path: Path) -> list[np.ndarray]:
    """Every decodable frame of a video, in order."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"cannot open {path}"
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return frames


def read_video_stats(path: Path) -> tuple[int, float, tuple[int, int]]:
    """(frames actually decoded, container FPS, (w, h))."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"cannot reopen {path}"
    fps = cap.get(cv2.CAP_PROP_FPS)
    n, wh = 0, (0, 0)
    while True:
        ok, img = cap.read()
        if not ok:
            break
        n += 1
        wh = (img.shape[1], img.shape[0])
    cap.release()
    return n, fps, wh
