"""SSD face detector: latency per input size and thread count, and faces found on fixture images."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from edge_detector.cvfiles import read_image
from edge_detector.faces import FaceDetector

from .media import fixtures_faces_dir
from .results import DetectorCell, DetectorResult
from .stats import TimingPlan, time_interleaved

log = logging.getLogger(__name__)
DETECTOR_SIZES = (300, 224, 160)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def bench_detector(frame_bgr: np.ndarray, sizes: tuple[int, ...], threads: list[int],
                   plan: TimingPlan, conf: float = 0.5) -> DetectorResult:
    """``detect()`` on one frame (what the pipeline calls), plus a face count per fixture image."""
    h, w = frame_bgr.shape[:2]
    result = DetectorResult((w, h))
    before = cv2.getNumThreads()
    dets = {size: FaceDetector(conf, size) for size in sizes}
    on_clip = {str(size): len(det.detect(frame_bgr)) for size, det in dets.items()}
    try:
        for t in threads:  # the thread count is process-wide: sizes interleave, threads do not
            cv2.setNumThreads(t)
            timed = time_interleaved(
                {size: (lambda det=det: det.detect(frame_bgr)) for size, det in dets.items()}, plan)
            for size, lat in timed.items():
                result.cells.append(DetectorCell(size, t, lat))
                log.info("detector %d threads=%d: p50 %.2f ms", size, t, lat.p50_ms)
    finally:
        cv2.setNumThreads(before)
    result.faces_found["benchmark clip (1 face)"] = on_clip
    faces = fixtures_faces_dir()
    if faces is not None:
        result.fixtures_dir = str(faces)
        result.faces_found.update(count_faces(faces, sizes, conf))
    return result


def count_faces(folder: Path, sizes: tuple[int, ...], conf: float) -> dict[str, dict[str, int]]:
    """image name -> {input size: faces found}."""
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    dets = {s: FaceDetector(conf, s) for s in sizes}
    out: dict[str, dict[str, int]] = {}
    for p in images:
        img = read_image(p)
        if img is None:
            continue
        out[p.name] = {str(s): len(d.detect(img)) for s, d in dets.items()}
    return out
