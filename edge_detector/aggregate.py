"""Frame results -> one video verdict, overall and per face track.

Only analysed frames count: frames that merely reuse an earlier result would weight it twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from .contract import ModelContract
from .policy import AGGREGATIONS, DEFAULT_POLICY, FAKE, NO_FACE, TRIM, DecisionPolicy
from .types import FrameResult, TrackSummary, VideoSummary

__all__ = ["AGGREGATIONS", "NO_FACE", "VideoAggregator", "face_score"]


def face_score(p_fake: np.ndarray, aggregation: str) -> float:
    """One video score from its faces' P_fake (every aggregate but ``fraction``, which counts
    frames): the one implementation the runtime and the fixture-video check share."""
    p = np.asarray(p_fake, np.float64)
    if aggregation == "median":
        return float(np.median(p))
    if aggregation == "trimmed":  # the mean of the middle 80 %
        k = int(len(p) * TRIM)
        return float(np.sort(p)[k:len(p) - k].mean()) if len(p) > 2 * k else float(p.mean())
    if aggregation == "logit":  # mean log-odds, back to a probability
        q = np.clip(p, 1e-6, 1 - 1e-6)
        return float(1.0 / (1.0 + np.exp(-np.mean(np.log(q / (1 - q))))))
    if aggregation == "mean":
        return float(p.mean())
    raise ValueError(f"no face-score aggregate {aggregation!r}")


class VideoAggregator:
    """Accumulates per-face scores as results stream by; :meth:`summary` can be called any time."""

    def __init__(self, contract: ModelContract, policy: DecisionPolicy = DEFAULT_POLICY) -> None:
        self.contract = contract
        self.policy = policy
        self.frames_read = 0
        self.frames_analysed = 0
        self.frames_with_faces = 0
        self.fake_frames = 0
        # every face's P_fake in a growing buffer: the header asks for the running score on
        # every frame, and converting a Python list each time grew with the video
        self._buf = np.empty(1024, np.float64)
        self._n = 0
        self._probs_sum = np.zeros(contract.num_classes, np.float64)
        self._methods: Counter[str] = Counter()
        self._tracks: dict[int, list[float]] = defaultdict(list)

    def update(self, result: FrameResult) -> None:
        self.frames_read += 1
        if not result.analysed:
            return
        self.frames_analysed += 1
        faces = result.faces
        if not len(faces):
            return
        self.frames_with_faces += 1
        if self.policy.is_fake(float(faces.p_fake.max())):
            self.fake_frames += 1
        p_fake = faces.p_fake.tolist()
        if self._n + len(p_fake) > len(self._buf):
            self._buf = np.resize(self._buf, max(2 * len(self._buf), self._n + len(p_fake)))
        self._buf[self._n:self._n + len(p_fake)] = p_fake
        self._n += len(p_fake)
        self._probs_sum += faces.probs.sum(axis=0, dtype=np.float64)
        for track, p in zip(faces.track.tolist(), p_fake, strict=True):
            self._tracks[track].append(p)
        self._methods.update(faces.method[faces.label == FAKE].tolist())

    @property
    def _p_fake(self) -> np.ndarray:
        return self._buf[:self._n]

    @property
    def running_score(self) -> float | None:
        return self._score() if self._n else None

    def _score(self) -> float:
        if self.policy.aggregation == "fraction":
            return self.fake_frames / max(self.frames_with_faces, 1)
        return face_score(self._p_fake, self.policy.aggregation)

    def _top_method(self) -> str | None:
        if not self._n:
            return None
        if self._methods:
            return self._methods.most_common(1)[0][0]
        probs = self._probs_sum.copy()
        probs[self.contract.original_index] = -1.0  # the strongest manipulation hint even if REAL
        return self.contract.class_names[int(np.argmax(probs))]

    def summary(self) -> VideoSummary:
        n = len(self._p_fake)
        if n == 0:
            verdict, score = NO_FACE, float("nan")
        else:
            score = self._score()
            verdict = self.policy.label(score)
        total_fake = sum(self._methods.values())
        return VideoSummary(
            verdict=verdict,
            aggregation=self.policy.aggregation,
            score=score,
            mean_p_fake=float(np.mean(self._p_fake)) if n else None,
            median_p_fake=float(np.median(self._p_fake)) if n else None,
            fake_frame_fraction=self.fake_frames / self.frames_with_faces if n else None,
            frames_read=self.frames_read,
            frames_analysed=self.frames_analysed,
            frames_with_faces=self.frames_with_faces,
            faces_classified=n,
            top_method=self._top_method(),
            method_share={m: c / total_fake for m, c in self._methods.most_common()},
            tracks=[
                TrackSummary(t, len(p), float(np.mean(p)), self.policy.label(float(np.mean(p))))
                for t, p in sorted(self._tracks.items())
            ],
            threshold=self.policy.threshold,
            threshold_real=self.policy.band[0] if self.policy.band else None,
            threshold_fake=self.policy.band[1] if self.policy.band else None,
        )
