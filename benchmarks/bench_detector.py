"""Face detectors: the SSD per input size and the shipped BlazeFace models, per thread count;
latency on one frame and faces found on the fixture images."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from edge_detector.blazeface import BlazeFaceDetector
from edge_detector.blazeface_files import MODELS as BLAZEFACE_MODELS
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
    dets = {str(size): FaceDetector(conf, size) for size in sizes}
    on_clip = {key: len(det.detect(frame_bgr)) for key, det in dets.items()}
    try:
        for t in threads:  # the thread count is process-wide: detectors interleave, threads do not
            cv2.setNumThreads(t)
            both = {**dets, **{n: BlazeFaceDetector(n, conf, threads=t) for n in BLAZEFACE_MODELS}}
            on_clip.update({n: len(both[n].detect(frame_bgr)) for n in BLAZEFACE_MODELS})
            timed = time_interleaved(
                {key: (lambda det=det: det.detect(frame_bgr)) for key, det in both.items()}, plan)
            for key, lat in timed.items():
                det = both[key]
                result.cells.append(DetectorCell(det.input_size, t, lat, det.name))
                log.info("detector %s threads=%d: p50 %.2f ms", key, t, lat.p50_ms)
    finally:
        cv2.setNumThreads(before)
    result.faces_found["benchmark clip (1 face)"] = on_clip
    faces = fixtures_faces_dir()
    if faces is not None:
        result.fixtures_dir = str(faces)
        result.faces_found.update(count_faces(faces, sizes, conf))
    return result


def count_faces(folder: Path, sizes: tuple[int, ...], conf: float) -> dict[str, dict[str, int]]:
    """image name -> {SSD input size or BlazeFace model: faces found}."""
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    dets = {**{str(s): FaceDetector(conf, s) for s in sizes},
            **{n: BlazeFaceDetector(n, conf) for n in BLAZEFACE_MODELS}}
    out: dict[str, dict[str, int]] = {}
    for p in images:
        img = read_image(p)
        if img is None:
            continue
        out[p.name] = {k: len(d.detect(img)) for k, d in dets.items()}
    return out
