"""Builds a ready pipeline from plain options; shared by the CLI, the folder scan and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

from .classifier import OnnxClassifier, default_threads
from .faces import FaceDetector
from .gating import DEFAULT_DETECT, DEFAULT_FULL_EVERY
from .pipeline import Pipeline

DEFAULT_THRESHOLD = 0.5  # for models whose contract carries no threshold


@dataclass(frozen=True)
class PipelineSpec:
    """Everything needed to construct a detector + classifier pipeline (picklable for workers)."""

    model: Path
    threshold: float | None = None  # None: the model contract's threshold, else 0.5
    every: int = 1
    face_conf: float = 0.5
    det_size: int = 300
    face_model: Path | None = None
    face_config: Path | None = None
    threads: int | None = None
    det_keep_aspect: bool = False
    face_model_sha256: str | None = None  # accept a detector file other than the built-in one
    face_config_sha256: str | None = None
    detect: str = DEFAULT_DETECT
    full_every: int = DEFAULT_FULL_EVERY


def build_pipeline(spec: PipelineSpec) -> Pipeline:
    threads = spec.threads or default_threads()
    cv2.setNumThreads(threads)
    classifier = OnnxClassifier(spec.model, threads=threads)
    detector = FaceDetector(spec.face_conf, spec.det_size, spec.face_model, spec.face_config,
                            keep_aspect=spec.det_keep_aspect, model_sha256=spec.face_model_sha256,
                            config_sha256=spec.face_config_sha256)
    threshold = spec.threshold
    if threshold is None:
        threshold = classifier.contract.threshold or DEFAULT_THRESHOLD
    return Pipeline(detector, classifier, threshold, spec.every, detect=spec.detect,
                    full_every=spec.full_every)
