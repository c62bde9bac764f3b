"""DecisionPolicy: the one owner of threshold + aggregation, and the one score comparison."""

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


@pytest.mark.parametrize(("kw", "match"), [
    ({"threshold": -0.1}, "threshold"), ({"threshold": float("nan")}, "threshold"),
    ({"threshold": 1.5}, "threshold"), ({"aggregation": "max"}, "aggregation")])
def test_bad_policies_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        DecisionPolicy(**kw)
