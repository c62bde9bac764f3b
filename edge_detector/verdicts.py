"""Turns class probabilities into per-face verdicts: P_fake = 1 - P(original)."""

from __future__ import annotations

import numpy as np

from .contract import ModelContract
from .policy import DEFAULT_POLICY, FAKE, REAL, UNCERTAIN, DecisionPolicy
from .types import FaceDetections, Faces

__all__ = ["FAKE", "REAL", "UNCERTAIN", "display_method", "make_faces"]

# Classes that are not a manipulation method but a training aid: shown by what they detect.
PSEUDO_METHODS = {"SelfBlended": "blending traces (method unknown)"}


def display_method(name: str | None) -> str | None:
    """A class name as people read it: pseudo-fake classes say what they found, not a method."""
    return PSEUDO_METHODS.get(name, name) if name is not None else None


def make_faces(detections: FaceDetections, probs: np.ndarray, contract: ModelContract,
               policy: DecisionPolicy = DEFAULT_POLICY, track: np.ndarray | None = None) -> Faces:
    """One row per detection; the method is the most probable non-original class."""
    probs = np.asarray(probs, np.float32).reshape(len(detections), contract.num_classes)
    orig = contract.original_index
    others = np.array([i for i in range(contract.num_classes) if i != orig])
    p_fake = np.clip(1.0 - probs[:, orig], 0.0, 1.0)
    best = others[np.argmax(probs[:, others], axis=1)]
    return Faces(
        xyxy=detections.xyxy,
        det_score=detections.score,
        probs=probs,
        p_fake=p_fake,
        label=policy.labels(p_fake),
        method=np.array(contract.class_names)[best],
        method_prob=probs[np.arange(len(probs)), best],
        track=np.full(len(probs), -1, np.int64) if track is None else track,
    )
