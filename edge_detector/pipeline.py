"""The streaming generator behind the CLI: frames in, per-frame results with stage timings out.

Only this module knows that a detector and a classifier both exist; it depends on two small
protocols so tests can pass fakes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np

from .contract import ModelContract
from .faces import crop_faces
from .gating import DEFAULT_FULL_EVERY, DETECT_MODES, GateConfig, TrackGate
from .policy import DEFAULT_POLICY, DecisionPolicy
from .tracking import IouTracker
from .types import FaceDetections, Frame, FrameResult
from .verdicts import make_faces


class Detector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> FaceDetections: ...


class Classifier(Protocol):
    contract: ModelContract

    def predict(self, crops_bgr: np.ndarray) -> np.ndarray: ...


class Pipeline:
    """Detect, crop, classify (all faces of a frame in one batch) and track.

    With ``every > 1`` only every Nth frame is analysed; the others carry the last boxes and
    verdicts forward (``analysed=False``) so every frame still gets an overlay and a CSV row.
    ``detect="track"`` scans the whole frame only every ``full_every`` analysed frames (and on a
    lost face or a scene cut) and otherwise looks only around the faces it tracks
    (:mod:`edge_detector.gating`); ``"full"`` scans every analysed frame.
    """

    def __init__(
        self,
        detector: Detector,
        classifier: Classifier,
        policy: DecisionPolicy = DEFAULT_POLICY,
        every: int = 1,
        detect: str = "full",
        full_every: int = DEFAULT_FULL_EVERY,
    ) -> None:
        if detect not in DETECT_MODES:
            raise ValueError(f"detect must be one of {DETECT_MODES}, got {detect!r}")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.detector = detector
        self.classifier = classifier
        self.contract = classifier.contract
        self.policy = policy
        self.every = every
        self.detect_mode = detect
        self.full_every = full_every
        self.gate = TrackGate(detector, GateConfig(full_every)) if detect == "track" else None
        self.tracker = IouTracker()
        self._crops: np.ndarray | None = None

    def fresh(self) -> Pipeline:
        """The same detector, classifier and settings with fresh per-source state."""
        return Pipeline(self.detector, self.classifier, self.policy, self.every, self.detect_mode,
                        self.full_every)

    def analyse(self, frame: Frame) -> FrameResult:
        """Full analysis of one frame."""
        t0 = time.perf_counter()
        detect = self.gate.detect if self.gate is not None else self.detector.detect
        faces = detect(frame.image_bgr)
        t1 = time.perf_counter()
        size = self.contract.input_size
        self._crops = crops = crop_faces(
            frame.image_bgr, faces, size, self.contract.geometry, out=self._crops
        )
        t2 = time.perf_counter()
        probs = self.classifier.predict(crops)
        classified = make_faces(faces, probs, self.contract, self.policy, self.tracker.update(faces))
        t3 = time.perf_counter()
        timings = {
            "detect_ms": (t1 - t0) * 1e3,
            "crop_ms": (t2 - t1) * 1e3,
            "classify_ms": (t3 - t2) * 1e3,
        }
        return FrameResult(frame, classified, True, timings, crops_bgr=crops)

    def run(self, frames: Iterable[Frame]) -> Iterator[FrameResult]:
        """Results in frame order; ``decode_ms`` is the time spent waiting for each frame."""
        last: FrameResult | None = None
        count = 0
        it = iter(frames)
        while True:
            t0 = time.perf_counter()
            frame = next(it, None)
            if frame is None:
                return
            decode_ms = (time.perf_counter() - t0) * 1e3
            if last is None or count % self.every == 0:
                last = result = self.analyse(frame)
            else:
                result = FrameResult(frame, last.faces, False, {})
            result.timings_ms["decode_ms"] = decode_ms
            count += 1
            yield result
