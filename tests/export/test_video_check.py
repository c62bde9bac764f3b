"""The fixture-video check's verdict bookkeeping and aggregate margins (no media needed)."""

import numpy as np
import pytest

from edge_detector.policy import DecisionPolicy
from export.video_check import AGGREGATES, VideoCheck, _margin


def test_aggregates_of_known_scores():
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99])
    assert AGGREGATES["mean"](p) == pytest.approx(0.549)
    assert AGGREGATES["median"](p) == pytest.approx(0.55)
    assert AGGREGATES["trimmed_mean_10"](p) == pytest.approx(np.mean(p[1:-1]))
    assert AGGREGATES["mean_logit"](np.array([0.5, 0.5])) == pytest.approx(0.5)
    # one confident frame moves the mean logit more than the mean
    q = np.array([0.5] * 9 + [0.9999])
    assert AGGREGATES["mean_logit"](q) > AGGREGATES["mean"](q)


def test_margin_counts_uncertain_as_not_right_and_reports_the_worst_distance():
    policy = DecisionPolicy(0.5, "mean", (0.3, 0.7))
    checks = [VideoCheck("a", "original", "c23", 5, {"mean": 0.1}),
              VideoCheck("b", "Deepfakes", "c23", 5, {"mean": 0.9}),
              VideoCheck("c", "Face2Face", "crf40", 5, {"mean": 0.6}),  # UNCERTAIN
              VideoCheck("d", "original", "crf40", 5, {"mean": float("nan")})]
    m = _margin(checks, "mean", policy)
    assert m == {"right": 2, "worst_margin": pytest.approx(-0.1)}
