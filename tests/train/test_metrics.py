"""Metrics (scikit-learn) against hand-computed values and brute force; intervals, thresholds,
baselines, degenerate inputs and the degenerate-model check."""

from __future__ import annotations

import numpy as np
import pytest

from train.degenerate import check_degenerate
from train.metrics import (
    average_precision,
    binary_baselines,
    binary_metrics,
    bootstrap_auc_ci,
    confusion_matrix,
    equal_error_rate,
    macro_f1,
    multiclass_baselines,
    per_class,
    roc_auc,
    roc_curve,
    youden_threshold,
)


def test_auc_ap_eer_on_a_worked_example():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    assert roc_auc(y, s) == pytest.approx(0.75)
    assert average_precision(y, s) == pytest.approx((1 / 2) * 1 + (1 / 2) * (2 / 3))
    assert equal_error_rate(y, s) == pytest.approx(0.5)
    roc = roc_curve(y, s)
    np.testing.assert_allclose(roc.fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(roc.tpr, [0, 0.5, 0.5, 1, 1])


def test_auc_matches_brute_force_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounding creates many ties
    pos, neg = s[y == 1], s[y == 0]
    brute = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert roc_auc(y, s) == pytest.approx(brute, abs=1e-12)
    assert roc_auc(y, -s) == pytest.approx(1 - brute, abs=1e-12)


def test_perfect_and_inverted_scores():
    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.9])
    m = binary_metrics(y, s)
    assert (m.auc, m.ap, m.eer, m.accuracy) == (1.0, 1.0, 0.0, 1.0)
    inv = binary_metrics(y, 1 - s)
    assert inv.auc == 0.0 and inv.eer == pytest.approx(1.0) and inv.accuracy == 0.0


def test_degenerate_inputs_give_none_with_reason():
    only_fake = binary_metrics(np.ones(4, bool), np.array([0.2, 0.6, 0.7, 0.9]))
    assert only_fake.auc is None and only_fake.eer is None
    assert only_fake.ap == pytest.approx(1.0) and only_fake.accuracy == 0.75
    assert "only fake" in only_fake.reason
    only_real = binary_metrics(np.zeros(3, bool), np.array([0.2, 0.6, 0.1]))
    assert only_real.auc is None and only_real.ap is None and "only real" in only_real.reason
    empty = binary_metrics(np.zeros(0, bool), np.zeros(0))
    assert empty.accuracy is None and empty.reason == "no samples"


def test_confusion_matrix_precision_recall_macro_f1():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    cm = confusion_matrix(y_true, y_pred, 4)
    assert cm.tolist() == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    prec, rec, f1 = per_class(y_true, y_pred, 4)
    assert prec[:3] == pytest.approx([1.0, 0.5, 0.5]) and prec[3] is None
    assert rec[:3] == pytest.approx([2 / 3, 0.5, 1.0]) and rec[3] is None
    # class 3 never occurs: excluded from the macro average
    expected = np.mean([0.8, 0.5, 2 / 3])
    assert macro_f1(y_true, y_pred) == pytest.approx(expected)
    assert f1[:3] == pytest.approx([0.8, 0.5, 2 / 3]) and f1[3] is None


def test_bootstrap_interval_is_seeded_and_brackets_the_auc():
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(150), np.ones(150)].astype(bool)
    s = rng.normal(y * 1.0, 1.0)
    auc = roc_auc(y, s)
    lo, hi = bootstrap_auc_ci(y, s)
    assert lo < auc < hi and 0.05 < hi - lo < 0.2
    assert bootstrap_auc_ci(y, s) == (lo, hi)  # seeded
    assert bootstrap_auc_ci(y, s, seed=7) != (lo, hi)
    assert bootstrap_auc_ci(np.ones(5, bool), np.arange(5.0)) is None
    assert binary_metrics(y, s).auc_ci95 == (lo, hi)


def test_vectorised_resample_auc_equals_scikit_learn_on_each_resample():
    from sklearn.metrics import roc_auc_score

    from train.metrics import _resampled_aucs

    rng = np.random.default_rng(2)
    pos, neg = np.round(rng.normal(0.5, 1, 40), 1), np.round(rng.normal(0, 1, 30), 1)  # ties
    w_pos = rng.multinomial(40, np.full(40, 1 / 40), size=5).astype(float)
    w_neg = rng.multinomial(30, np.full(30, 1 / 30), size=5).astype(float)
    got = _resampled_aucs(pos, neg, w_pos, w_neg)
    for b in range(5):
        s = np.r_[np.repeat(pos, w_pos[b].astype(int)), np.repeat(neg, w_neg[b].astype(int))]
        t = np.r_[np.ones(40), np.zeros(30)]
        assert got[b] == pytest.approx(roc_auc_score(t, s), abs=1e-12)


def test_youden_threshold_separates_and_needs_both_classes():
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    assert youden_threshold(y, s) == pytest.approx(0.45)  # midway between 0.3 and 0.6
    m = binary_metrics(y, s, threshold=0.45)
    assert m.accuracy == 1.0 and m.threshold == 0.45
    assert youden_threshold(np.ones(3), s[:3]) is None
    # all fakes score above 0.95 and reals below: the cut stays inside (0, 1)
    t = youden_threshold(y, np.array([0.9, 0.92, 0.93, 0.97, 0.98, 0.99]))
    assert 0.93 < t < 0.97


def test_baselines_are_those_of_trivial_models():
    y = np.array([0, 1, 1, 1, 2, 2, 1, 1])
    base = multiclass_baselines(y)
    assert base["majority_class_index"] == 1 and base["majority_accuracy"] == pytest.approx(5 / 8)
    # F1 of always-class-1 on class 1 is 2*(5/8)/(1+5/8); the other two classes score 0
    assert base["majority_macro_f1"] == pytest.approx((2 * 5 / 8 / (1 + 5 / 8)) / 3)
    b = binary_baselines(y != 0)
    assert b["auc"] == 0.5 and b["all_fake_accuracy"] == pytest.approx(7 / 8)
    assert b["ap"] == pytest.approx(7 / 8)


def test_degenerate_check_flags_constant_and_one_class_models_only():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 25)
    const = np.tile([0.4, 0.2, 0.2, 0.2], (100, 1))
    d = check_degenerate(const, 0, labels, ("original", "a", "b", "c"))
    assert d is not None and "near-constant P_fake" in d["reason"] and d["p_fake_distinct"] == 1
    # varies, but 'a' wins 97 of 100 crops while the truth is balanced
    skew = np.tile([0.1, 0.6, 0.15, 0.15], (100, 1))
    skew[:, 0] = rng.uniform(0.0, 0.3, 100)
    skew[:3] = [0.9, 0.05, 0.03, 0.02]
    skew /= skew.sum(1, keepdims=True)
    d = check_degenerate(skew, 0, labels, ("original", "a", "b", "c"))
    assert d is not None and "predicts 'a' for 97.0%" in d["reason"]
    assert check_degenerate(skew, 0) is None  # without labels only the P_fake test applies
    good = np.eye(4)[labels] * 0.7 + 0.075
    assert check_degenerate(good, 0, labels) is None
    assert check_degenerate(good[:1], 0) is None  # one crop: nothing to judge
