"""The decision policy: the one place where a score meets the threshold.

Built once (by the CLI, a folder scan or a test) and passed down to the verdicts, the video
aggregation, the overlay and the report, so they can never disagree about what FAKE means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FAKE, REAL, NO_FACE = "FAKE", "REAL", "NO_FACE"
AGGREGATIONS = ("mean", "median", "fraction")
DEFAULT_THRESHOLD = 0.5  # for models whose contract carries no threshold


@dataclass(frozen=True)
class DecisionPolicy:
    """P_fake at or above ``threshold`` is FAKE; ``aggregation`` turns face scores into a video score."""

    threshold: float = DEFAULT_THRESHOLD
    aggregation: str = "mean"

    def __post_init__(self) -> None:
        if not (isinstance(self.threshold, int | float) and math.isfinite(self.threshold)
                and 0.0 <= self.threshold <= 1.0):
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")

    @classmethod
    def choose(cls, threshold: float | None, model_threshold: float | None,
               aggregation: str = "mean") -> DecisionPolicy:
        """The user's threshold, else the model's validation-chosen one, else the default.

        ``0`` is a threshold like any other: only ``None`` falls through.
        """
        for value in (threshold, model_threshold):
            if value is not None:
                return cls(float(value), aggregation)
        return cls(DEFAULT_THRESHOLD, aggregation)

    def is_fake(self, score: float) -> bool:
        """The single comparison of a score with the threshold."""
        return score >= self.threshold

    def label(self, score: float) -> str:
        return FAKE if self.is_fake(score) else REAL

    def labels(self, scores: np.ndarray) -> np.ndarray:
        """:meth:`label` for each score, compared in float64 like a Python float would be."""
        return np.where(self.is_fake(np.asarray(scores, np.float64)), FAKE, REAL)


DEFAULT_POLICY = DecisionPolicy()  # for callers without a model or a user choice (tests, tools)
