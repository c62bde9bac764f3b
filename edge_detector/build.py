"""Builds a ready pipeline from plain options; shared by the CLI, the folder scan and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2

from .blazeface import BlazeFaceDetector
from .blazeface_files import MODELS as BLAZEFACE_MODELS
from .classifier import OnnxClassifier, default_threads
from .faces import FaceDetector
from .gating import DEFAULT_DETECT, DEFAULT_FULL_EVERY
from .pipeline import Pipeline
from .policy import DEFAULT_AGGREGATION, DecisionPolicy


@dataclass(frozen=True)
class PipelineSpec:
    """Everything needed to construct a detector + classifier pipeline (picklable for workers).

    The CLI builds one; a folder scan hands the same object to every worker.
    """

    model: Path
    threshold: float | None = None  # None: the model contract's threshold (see DecisionPolicy.choose)
    aggregation: str = DEFAULT_AGGREGATION
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
    face_detector: str = "ssd"  # or a BlazeFace model: FACE_DETECTORS

    def files(self) -> dict[str, Path]:
        """The files this spec reads (the model, detector overrides), by field name."""
        names = ("model", "face_model", "face_config")
        return {n: Path(getattr(self, n)) for n in names if getattr(self, n) is not None}

    def with_files(self, paths: dict[str, Path]) -> PipelineSpec:
        """The same spec reading copies of its files (e.g. on a Dask worker)."""
        return replace(self, **paths)


FACE_DETECTORS = ("ssd", *BLAZEFACE_MODELS)


def build_detector(spec: PipelineSpec, threads: int) -> FaceDetector | BlazeFaceDetector:
    """The SSD (with its file overrides and input size) or a shipped BlazeFace model."""
    if spec.face_detector == "ssd":
        return FaceDetector(spec.face_conf, spec.det_size, spec.face_model, spec.face_config,
                            keep_aspect=spec.det_keep_aspect, model_sha256=spec.face_model_sha256,
                            config_sha256=spec.face_config_sha256)
    if spec.face_detector not in FACE_DETECTORS:
        raise ValueError(f"face_detector must be one of {FACE_DETECTORS}, got {spec.face_detector!r}")
    return BlazeFaceDetector(spec.face_detector, spec.face_conf, threads=threads)


def build_pipeline(spec: PipelineSpec) -> Pipeline:
    threads = spec.threads or default_threads()
    cv2.setNumThreads(threads)
    classifier = OnnxClassifier(spec.model, threads=threads)
    detector = build_detector(spec, threads)
    policy = DecisionPolicy.choose(spec.threshold, classifier.contract.threshold, spec.aggregation,
                                   classifier.contract.band)
    return Pipeline(detector, classifier, policy, spec.every, detect=spec.detect,
                    full_every=spec.full_every)
