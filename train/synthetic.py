"""A small synthetic FF++-like dataset (Kaggle layout) for tests and the demo; no downloads.

Faces come from public-domain photos shipped inside installed packages (scikit-image's
astronaut, matplotlib's grace_hopper). Each "identity" is one photo with its own mirror, tint,
scale, position and background; each manipulation class applies a different, clearly visible edit
to the face region (``original`` stays unedited). Files follow FF++ naming: ``original/NNN.mp4``
and ``<Method>/NNN_MMM.mp4`` (target_source), with identities paired like FF++ (a_b and b_a).

Use :func:`make_dataset` for the videos and :func:`make_etl_dataset` for videos + ETL output.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_detector.contract import FFPP_CLASSES, ORIGINAL
from edge_detector.csvsafe import escape_row
from edge_detector.cvfiles import read_image, video_writer

from .errors import ConfigError, TrainError
from .layout import SYNTHETIC_MARKER

log = logging.getLogger(__name__)

DEFAULT_CLASSES = ("original", "Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
FPS = 25.0
POSTER_STEP = 64
# Face boxes (x1, y1, x2, y2) in the source photos, found once with the runtime's FaceDetector.
_ASTRONAUT_FACE = (179, 58, 272, 177)
_HOPPER_FACE = (183, 123, 350, 330)


@dataclass(frozen=True)
class Identity:
    """How one synthetic person looks and moves."""

    number: int
    photo: int
    mirror: bool
    tint: tuple[float, float, float]
    background: tuple[int, int, int]
    face_frac: float  # face height / frame height
    centre: tuple[float, float]  # face centre as fractions of the frame
    pan: tuple[float, float]  # total drift over the clip, fractions of the frame


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`make_dataset` wrote."""

    root: Path
    classes: tuple[str, ...]
    identities: int
    frames: int
    size: tuple[int, int]  # (width, height)
    videos: dict[str, Path]  # "class/stem" -> file
    partner: dict[int, int]  # target identity -> source identity of its fakes


def _photos() -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    from matplotlib import cbook
    from skimage import data

    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    hopper = read_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    if hopper is None:
        raise TrainError("cannot read matplotlib's grace_hopper.jpg sample")
    return [(astronaut, _ASTRONAUT_FACE), (hopper, _HOPPER_FACE)]


def _identity(number: int, seed: int) -> Identity:
    rng = np.random.default_rng([seed, number])
    return Identity(
        number=number,
        photo=number % 2,
        mirror=bool((number // 2) % 2),
        tint=tuple(float(v) for v in rng.uniform(0.8, 1.15, 3)),
        background=tuple(int(v) for v in rng.integers(20, 235, 3)),
        face_frac=float(rng.uniform(0.38, 0.5)),
        centre=(float(rng.uniform(0.35, 0.65)), float(rng.uniform(0.42, 0.58))),
        pan=(float(rng.uniform(-0.08, 0.08)), float(rng.uniform(-0.05, 0.05))),
    )


def _face_patch(photo: np.ndarray, box: tuple[int, int, int, int], ident: Identity) -> np.ndarray:
    """Square patch 2x the face box around the face, tinted and maybe mirrored."""
    x1, y1, x2, y2 = box
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, 2.0 * max(x2 - x1, y2 - y1)
    h, w = photo.shape[:2]
    pad = int(side)
    padded = cv2.copyMakeBorder(photo, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    left, top = int(cx - side / 2) + pad, int(cy - side / 2) + pad
    patch = padded[top : top + int(side), left : left + int(side)].astype(np.float32)
    patch *= np.array(ident.tint, np.float32)
    patch = np.clip(patch, 0, 255).astype(np.uint8)
    return patch[:, ::-1].copy() if ident.mirror else patch


def _edit(face: np.ndarray, cls: str) -> np.ndarray:
    """The class's visible artefact on a face region (BGR uint8, any size)."""
    s = face.shape[0]
    if cls == "Deepfakes":  # smooth, detail-less face
        return cv2.GaussianBlur(face, (0, 0), max(1.0, s / 60))
    if cls == "Face2Face":  # colour shift
        hsv = cv2.cvtColor(face, cv2.COLOR_BGR2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + 60) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] + 70, 0, 255)
        return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    if cls == "FaceSwap":  # blocky and posterised (full pixelation hides the face from the SSD)
        b = max(3, s // 12)
        small = cv2.resize(face, (max(1, s // b), max(1, s // b)), interpolation=cv2.INTER_AREA)
        blocks = cv2.resize(small, (face.shape[1], face.shape[0]), interpolation=cv2.INTER_NEAREST)
        mixed = cv2.addWeighted(face, 0.5, blocks, 0.5, 0)
        return ((mixed // POSTER_STEP) * POSTER_STEP + POSTER_STEP // 2).astype(np.uint8)
    if cls == "NeuralTextures":  # high-frequency stripes
        period = max(3.0, s / 14)
        stripes = 45 * np.sin(2 * np.pi * np.arange(face.shape[1]) / period)
        return np.clip(face + stripes[None, :, None], 0, 255).astype(np.uint8)
    if cls == "DeepFakeDetection":  # ghosting: blended with a shifted copy
        shifted = np.roll(face, max(2, s // 8), axis=1)
        return cv2.addWeighted(face, 0.5, shifted, 0.5, 0)
    if cls == "FaceShifter":  # washed out: low contrast, bright
        return cv2.convertScaleAbs(face, alpha=0.45, beta=125)
    if cls == ORIGINAL:
        return face
    raise ConfigError(f"no synthetic edit for class {cls!r}")


def _ellipse_mask(side: int, scale: float) -> np.ndarray:
    mask = np.zeros((side, side), np.float32)
    c = side // 2
    cv2.ellipse(mask, (c, c), (int(side * scale * 0.4), int(side * scale * 0.5)), 0, 0, 360, 1, -1)
    k = max(3, side // 10) | 1
    return cv2.GaussianBlur(mask, (k, k), 0)[..., None]


def _background(size: tuple[int, int], colour: tuple[int, int, int]) -> np.ndarray:
    w, h = size
    grad = np.linspace(0.7, 1.15, w, dtype=np.float32)[None, :, None]
    bg = np.ones((h, w, 3), np.float32) * np.array(colour, np.float32) * grad
    return np.clip(bg, 0, 255).astype(np.uint8)


def render_frame(patch: np.ndarray, ident: Identity, cls: str, t: float,
                 size: tuple[int, int]) -> np.ndarray:
    """Frame at time ``t`` in [0, 1]: background + moving, slowly zooming face patch."""
    w, h = size
    frame = _background(size, ident.background)
    zoom = 1.0 + 0.08 * t
    side = max(16, int(round(2.0 * ident.face_frac * h * zoom)))  # patch is 2x the face box
    p = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)
    edited = _edit(p, cls)
    face_mask = _ellipse_mask(side, 0.5)  # the edit covers the face, not the whole patch
    p = (edited * face_mask + p * (1 - face_mask)).astype(np.uint8)
    alpha = _ellipse_mask(side, 1.0)
    cx = int((ident.centre[0] + ident.pan[0] * t) * w)
    cy = int((ident.centre[1] + ident.pan[1] * t) * h)
    x0, y0 = cx - side // 2, cy - side // 2
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if fx1 <= fx0 or fy1 <= fy0:
        return frame
    sub = p[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0].astype(np.float32)
    a = alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    frame[fy0:fy1, fx0:fx1] = (sub * a + region * (1 - a)).astype(np.uint8)
    return frame


def write_video(path: Path, frames: list[np.ndarray], fps: float = FPS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = video_writer(path, "mp4v", fps, (w, h))
    if not writer.isOpened():
        raise TrainError(f"OpenCV cannot write mp4v video {path} (no FFmpeg/mp4v support?)")
    try:
        for f in frames:
            writer.write(f)
    finally:
        writer.release()


def _partners(n: int) -> dict[int, int]:
    """FF++-style pairs (0,1), (2,3), ...; an odd last identity pairs with identity 0."""
    out = {}
    for i in range(0, n - 1, 2):
        out[i], out[i + 1] = i + 1, i
    if n % 2:
        out[n - 1] = 0 if n > 1 else n - 1
    return out


def make_dataset(root: str | Path, identities: int = 20, frames: int = 12,
                 size: tuple[int, int] = (256, 192), classes: tuple[str, ...] = DEFAULT_CLASSES,
                 seed: int = 0) -> DatasetInfo:
    """Write a Kaggle-layout mini FF++ under ``root``: one video per identity and class."""
    if identities < 1 or frames < 1:
        raise ConfigError("identities and frames must be >= 1")
    unknown = [c for c in classes if c not in FFPP_CLASSES]
    if unknown or ORIGINAL not in classes:
        raise ConfigError(f"classes must include '{ORIGINAL}' and come from {FFPP_CLASSES}")
    root = Path(root)
    photos = _photos()
    partner = _partners(identities)
    videos: dict[str, Path] = {}
    meta = []
    for i in range(identities):
        ident = _identity(i, seed)
        photo, box = photos[ident.photo]
        patch = _face_patch(photo, box, ident)
        for cls in classes:
            stem = f"{i:03d}" if cls == ORIGINAL else f"{i:03d}_{partner[i]:03d}"
            path = root / cls / f"{stem}.mp4"
            ts = np.linspace(0.0, 1.0, frames) if frames > 1 else [0.0]
            write_video(path, [render_frame(patch, ident, cls, float(t), size) for t in ts])
            videos[f"{cls}/{stem}"] = path
            meta.append([f"{cls}/{stem}.mp4", "REAL" if cls == ORIGINAL else "FAKE", frames,
                         size[0], size[1], "mp4v", round(path.stat().st_size / 2**20, 3)])
    (root / "csv").mkdir(parents=True, exist_ok=True)
    with (root / "csv" / "FF++_Metadata.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["", "File Path", "Label", "Frame Count", "Width", "Height", "Codec",
                    "File Size(MB)"])
        w.writerows(escape_row([k, *row]) for k, row in enumerate(meta))
    # The marker travels: ETL -> etl_config.json -> export -> the model contract's synthetic_demo.
    (root / SYNTHETIC_MARKER).write_text(json.dumps({
        "synthetic": True, "generator": "train.synthetic", "identities": identities,
        "frames": frames, "classes": list(classes), "seed": seed,
        "note": "synthetic edits of public-domain photos; not FaceForensics++",
    }, indent=2))
    log.info("wrote %d synthetic videos (%d identities x %d classes) to %s",
             len(videos), identities, len(classes), root)
    return DatasetInfo(root, tuple(classes), identities, frames, size, videos, partner)


def make_etl_dataset(work_dir: str | Path, identities: int = 20, frames: int = 12,
                     frames_per_video: int = 4, crop_size: int = 128,
                     classes: tuple[str, ...] = DEFAULT_CLASSES, seed: int = 0,
                     workers: int = 1):
    """Synthetic videos in ``work_dir/videos`` + ETL output in ``work_dir/data``.

    Returns ``(DatasetInfo, EtlResult)``; ``EtlResult.data_dir`` is ready for ``train fit``.
    """
    from .etl import EtlConfig, run_etl

    work_dir = Path(work_dir)
    info = make_dataset(work_dir / "videos", identities, frames, classes=classes, seed=seed)
    cfg = EtlConfig(info.root, work_dir / "data", frames_per_video=frames_per_video,
                    size=crop_size, seed=seed, workers=workers, progress=False)
    return info, run_etl(cfg)
