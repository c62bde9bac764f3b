"""Decision thresholds from validation scores: the worst-case rule and the precision band."""

import numpy as np
import pytest

from train.calibrate import calibrate, precision_band, worst_case_threshold


def _level(n_real, n_fake, real_mu, fake_mu, seed, sd=0.08):
    rng = np.random.default_rng(seed)
    score = np.clip(np.concatenate([rng.normal(real_mu, sd, n_real),
                                    rng.normal(fake_mu, sd, n_fake)]), 0, 1)
    return np.r_[np.zeros(n_real, bool), np.ones(n_fake, bool)], score


def _balanced_accuracy(fake, score, t):
    return ((score[fake] >= t).mean() + (score[~fake] < t).mean()) / 2


def test_worst_case_threshold_holds_on_every_level_not_only_the_clean_one():
    # clean crops separate at 0.5; compressed crops are all shifted up (originals look faker)
    levels = {"c23": _level(300, 300, 0.30, 0.70, 0), "crf40": _level(300, 300, 0.55, 0.85, 1)}
    t, worst = worst_case_threshold(levels)
    clean_only, _ = worst_case_threshold({"c23": levels["c23"]})
    assert 0.55 < t < 0.70 and abs(clean_only - 0.5) < 0.05
    per_level = [_balanced_accuracy(f, s, t) for f, s in levels.values()]
    assert worst == pytest.approx(min(per_level))
    # the clean-only threshold is much worse on the compressed level
    assert _balanced_accuracy(*levels["crf40"], clean_only) < min(per_level) - 0.1
    for cand in np.linspace(0.05, 0.95, 91):  # no threshold beats it on the worst level
        assert min(_balanced_accuracy(f, s, cand) for f, s in levels.values()) <= worst + 1e-9


def test_precision_band_reaches_the_target_at_equal_prevalence():
    fake, score = _level(2000, 500, 0.3, 0.7, 2, sd=0.15)  # prevalence must not matter
    lo, hi = precision_band(fake, score, 0.95)
    assert lo is not None and hi is not None and lo < hi
    tpr, fpr = (score[fake] >= hi).mean(), (score[~fake] >= hi).mean()
    assert tpr / (tpr + fpr) >= 0.95
    tnr, fnr = (score[~fake] < lo).mean(), (score[fake] < lo).mean()
    assert tnr / (tnr + fnr) >= 0.95
    # loosest: one candidate step further and the precision drops under the target
    step = np.unique(score)
    nxt = step[step < hi].max()
    tpr2, fpr2 = (score[fake] >= nxt).mean(), (score[~fake] >= nxt).mean()
    assert tpr2 / (tpr2 + fpr2) < 0.95 + 0.01


def test_separable_scores_need_no_uncertain_band():
    fake, score = _level(100, 100, 0.1, 0.9, 3, sd=0.02)
    cal = calibrate({"c23": (fake, score)})
    assert cal.threshold_real is None and cal.threshold_fake is None
    assert 0.2 < cal.threshold < 0.8 and cal.worst_balanced_accuracy == 1.0


def test_overlapping_scores_get_a_band_around_the_threshold():
    cal = calibrate({"c23": _level(400, 400, 0.35, 0.65, 4, 0.15),
                     "crf40": _level(400, 400, 0.45, 0.7, 5, 0.15)}, precision=0.9)
    assert cal.threshold_real < cal.threshold < cal.threshold_fake
    assert "90%" in cal.band_rule and "worst balanced accuracy" in cal.threshold_rule


@pytest.mark.parametrize("levels", [{}, {"c23": (np.ones(5, bool), np.linspace(0, 1, 5))}])
def test_one_sided_or_empty_validation_is_refused(levels):
    with pytest.raises(ValueError):
        worst_case_threshold(levels)


def test_precision_target_must_be_meaningful():
    with pytest.raises(ValueError, match="precision"):
        precision_band(np.array([0, 1], bool), np.array([0.2, 0.8]), 0.4)
