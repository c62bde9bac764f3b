"""The decision policy: the one place where a score meets the threshold.

Built once (by the CLI, a folder scan or a test) and passed down to the verdicts, the video
aggregation, the overlay and the report, so they can never disagree about what FAKE means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FAKE, REAL, UNCERTAIN, NO_FACE = "FAKE", "REAL", "UNCERTAIN", "NO_FACE"
AGGREGATIONS = ("mean", "median", "fraction", "trimmed", "logit")
TRIM = 0.1  # "trimmed": the mean of the middle 80 % of the face scores
DEFAULT_THRESHOLD = 0.5  # for models whose contract carries no threshold
# The CLI's, the folder scan's and the server's video aggregate: on the 7 FF++ fixture clips and
# their crf 40 re-encodes the median of the faces' P_fake put the most videos on the right side
# (README, "Verdicts on compressed video"); a few odd frames cannot move it.
DEFAULT_AGGREGATION = "median"


@dataclass(frozen=True)
class DecisionPolicy:
    """P_fake at or above ``threshold`` is FAKE; ``aggregation`` turns face scores into a video score.

    With a ``band`` (threshold_real, threshold_fake) from the model's contract the verdict has
    three levels: REAL below the first, FAKE at or above the second, UNCERTAIN in between. A
    user's ``--threshold`` always means two levels.
    """

    threshold: float = DEFAULT_THRESHOLD
    aggregation: str = "mean"
    band: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.threshold, int | float) and math.isfinite(self.threshold)
                and 0.0 <= self.threshold <= 1.0):
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        if self.band is not None:
            lo, hi = self.band
            if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo < hi <= 1.0):
                raise ValueError(f"verdict band must satisfy 0 <= real < fake <= 1, got {self.band}")

    @classmethod
    def choose(cls, threshold: float | None, model_threshold: float | None,
               aggregation: str = "mean", model_band: tuple[float, float] | None = None
               ) -> DecisionPolicy:
        """The user's threshold (two levels), else the model's validation-chosen one and its
        three-level band when it has one, else the default.

        ``0`` is a threshold like any other: only ``None`` falls through.
        """
        if threshold is not None:
            return cls(float(threshold), aggregation)
        if model_threshold is not None:
            return cls(float(model_threshold), aggregation, model_band)
        if model_band is not None:
            return cls(float(sum(model_band) / 2), aggregation, model_band)
        return cls(DEFAULT_THRESHOLD, aggregation)

    @property
    def levels(self) -> int:
        return 3 if self.band else 2

    @property
    def fake_at(self) -> float:
        """The P_fake at or above which a score is FAKE."""
        return self.band[1] if self.band else self.threshold

    def is_fake(self, score: float) -> bool:
        """The single comparison of a score with the FAKE threshold."""
        return score >= self.fake_at

    def label(self, score: float) -> str:
        if self.is_fake(score):
            return FAKE
        if self.band and score >= self.band[0]:
            return UNCERTAIN
        return REAL

    def labels(self, scores: np.ndarray) -> np.ndarray:
        """:meth:`label` for each score, compared in float64 like a Python float would be."""
        s = np.asarray(scores, np.float64)
        out = np.where(s >= self.fake_at, FAKE, REAL).astype(object)
        if self.band:
            out[(s >= self.band[0]) & (s < self.fake_at)] = UNCERTAIN
        return out.astype(str)

    def describe(self) -> str:
        """One line for reports: what each verdict means in P_fake."""
        if self.band:
            return (f"REAL below {self.band[0]:.2f}, UNCERTAIN {self.band[0]:.2f}-"
                    f"{self.band[1]:.2f}, FAKE at or above {self.band[1]:.2f}")
        return f"FAKE at or above {self.threshold:.2f}"


DEFAULT_POLICY = DecisionPolicy()  # for callers without a model or a user choice (tests, tools)
