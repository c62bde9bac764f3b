"""DecisionPolicy: the one owner of threshold + aggregation, and the one score comparison."""

import numpy as np
import pytest

from edge_detector.policy import DEFAULT_THRESHOLD, DecisionPolicy


@pytest.mark.parametrize(("user", "model", "expected"), [
    (0.0, 0.7, 0.0),  # 0 is a threshold like any other, not "unset"
    (None, 0.7, 0.7), (0.3, 0.7, 0.3), (None, None, DEFAULT_THRESHOLD), (1.0, None, 1.0)])
def test_choose_prefers_the_user_then_the_model_then_the_default(user, model, expected):
    policy = DecisionPolicy.choose(user, model, "median")
    assert policy.threshold == expected and policy.aggregation == "median"


def test_label_is_fake_at_or_above_the_threshold():
    p = DecisionPolicy(0.4)
    assert [p.label(s) for s in (0.0, 0.39, 0.4, 1.0)] == ["REAL", "REAL", "FAKE", "FAKE"]
    assert DecisionPolicy(0.0).label(0.0) == "FAKE" and DecisionPolicy(1.0).label(0.999) == "REAL"


def test_labels_of_float32_scores_match_label_of_each_score():
    """float32(0.7) < 0.7: compared in float32 it would reach a 0.7 threshold and read FAKE."""
    scores = np.array([0.7, 0.69, 0.71], np.float32)
    policy = DecisionPolicy(0.7)
    one_by_one = [policy.label(float(s)) for s in scores]
    assert policy.labels(scores).tolist() == one_by_one == ["REAL", "REAL", "FAKE"]


@pytest.mark.parametrize(("kw", "match"), [
    ({"threshold": -0.1}, "threshold"), ({"threshold": float("nan")}, "threshold"),
    ({"threshold": 1.5}, "threshold"), ({"aggregation": "max"}, "aggregation")])
def test_bad_policies_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        DecisionPolicy(**kw)


def test_three_level_verdict_from_the_band():
    p = DecisionPolicy(0.5, "mean", (0.3, 0.7))
    scores = [0.0, 0.29, 0.3, 0.5, 0.69, 0.7, 1.0]
    expected = ["REAL", "REAL", "UNCERTAIN", "UNCERTAIN", "UNCERTAIN", "FAKE", "FAKE"]
    assert [p.label(s) for s in scores] == expected
    assert p.labels(np.array(scores)).tolist() == expected
    assert p.levels == 3 and p.is_fake(0.7) and not p.is_fake(0.69)
    assert "UNCERTAIN 0.30-0.70" in p.describe()


def test_user_threshold_forces_two_levels_and_models_without_a_band_keep_two():
    assert DecisionPolicy.choose(0.6, 0.5, "mean", (0.3, 0.7)).band is None
    assert DecisionPolicy.choose(0.6, 0.5, "mean", (0.3, 0.7)).label(0.65) == "FAKE"
    chosen = DecisionPolicy.choose(None, 0.5, "mean", (0.3, 0.7))
    assert chosen.band == (0.3, 0.7) and chosen.label(0.5) == "UNCERTAIN"
    old = DecisionPolicy.choose(None, 0.5, "mean", None)
    assert old.levels == 2 and old.label(0.5) == "FAKE" and old.label(0.49) == "REAL"


@pytest.mark.parametrize("band", [(0.7, 0.3), (0.5, 0.5), (-0.1, 0.5), (0.2, float("nan"))])
def test_inconsistent_policy_bands_are_refused(band):
    with pytest.raises(ValueError, match="band"):
        DecisionPolicy(0.5, "mean", band)
