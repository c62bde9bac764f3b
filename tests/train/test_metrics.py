"""numpy metrics against hand-computed values and brute force; degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest

from train.metrics import (
    average_precision,
    binary_metrics,
    confusion_matrix,
    equal_error_rate,
    macro_f1,
    per_class,
    roc_auc,
    roc_curve,
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
    prec, rec, f1 = per_class(cm)
    assert prec[:3] == pytest.approx([1.0, 0.5, 0.5]) and prec[3] is None
    assert rec[:3] == pytest.approx([2 / 3, 0.5, 1.0]) and rec[3] is None
    # class 3 never occurs: excluded from the macro average
    expected = np.mean([0.8, 0.5, 2 / 3])
    assert macro_f1(cm) == pytest.approx(expected)
