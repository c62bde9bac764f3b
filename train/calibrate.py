"""Decision thresholds chosen on validation P_fake pooled over compression levels.

Two rules, both written into the model's contract with their names:

- **Two-level threshold** (``threshold``): the one that maximises the *worst* balanced accuracy
  over the compression levels (c23 and each H.264 variant), so a threshold that is good on clean
  crops but calls every heavily compressed original FAKE loses to one that holds on all levels.
- **Three-level band** (``threshold_real`` < ``threshold_fake``): below ``threshold_real`` a
  video is REAL, at or above ``threshold_fake`` FAKE, in between UNCERTAIN. Each is the loosest
  threshold at which that call still reaches ``precision`` on validation pooled over levels, at
  equal prevalence (a scanned video is taken to be as likely real as fake, so the numbers do not
  depend on how many fakes the validation split happens to hold).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

TWO_LEVEL_RULE = ("max over thresholds of the worst balanced accuracy across compression levels "
                  "(validation P_fake)")
BAND_RULE = ("REAL below threshold_real, FAKE at or above threshold_fake: the loosest thresholds "
             "at which each call reaches {precision:.0%} precision on validation pooled over "
             "compression levels, at equal prevalence")


@dataclass(frozen=True)
class Calibration:
    """Thresholds on P_fake and how they were chosen (None: that rule found no threshold)."""

    threshold: float
    threshold_rule: str
    worst_balanced_accuracy: float
    threshold_real: float | None
    threshold_fake: float | None
    band_rule: str
    precision_target: float

    def to_json(self) -> dict:
        return asdict(self)


def _candidates(scores: np.ndarray) -> np.ndarray:
    """Midpoints between adjacent distinct scores, plus both ends."""
    u = np.unique(scores)
    mids = (u[:-1] + u[1:]) / 2 if len(u) > 1 else np.array([], float)
    return np.concatenate([[max(0.0, u[0] - 1e-6)], mids, [min(1.0, u[-1] + 1e-6)]])


def _rates(fake: np.ndarray, score: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(TPR, FPR) of "P_fake >= t" for each threshold in ``t``."""
    pos, neg = np.sort(score[fake]), np.sort(score[~fake])
    tpr = 1.0 - np.searchsorted(pos, t, side="left") / max(1, len(pos))
    fpr = 1.0 - np.searchsorted(neg, t, side="left") / max(1, len(neg))
    return tpr, fpr


def worst_case_threshold(levels: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """(threshold, its worst balanced accuracy) over ``levels``: name -> (is_fake, p_fake)."""
    if not levels:
        raise ValueError("no validation levels to calibrate on")
    for name, (fake, _) in levels.items():
        if fake.all() or not fake.any():
            raise ValueError(f"level {name} needs both real and fake crops")
    cand = _candidates(np.concatenate([s for _, s in levels.values()]))
    worst = np.full(len(cand), np.inf)
    for fake, score in levels.values():
        tpr, fpr = _rates(np.asarray(fake, bool), np.asarray(score, float), cand)
        worst = np.minimum(worst, (tpr + 1.0 - fpr) / 2)
    best = float(worst.max())
    i = np.flatnonzero(worst == best)
    return float(cand[i[len(i) // 2]]), best  # the middle of a tied plateau


def precision_band(fake: np.ndarray, score: np.ndarray, precision: float = 0.95
                   ) -> tuple[float | None, float | None]:
    """(threshold_real, threshold_fake) at equal prevalence; None where no threshold reaches it.

    FAKE precision of ``score >= t`` is TPR / (TPR + FPR); REAL precision of ``score < t`` is
    TNR / (TNR + FNR). The FAKE threshold is the lowest such t, the REAL one the highest.
    """
    if not 0.5 < precision < 1.0:
        raise ValueError(f"precision must be in (0.5, 1), got {precision}")
    fake, score = np.asarray(fake, bool), np.asarray(score, float)
    if fake.all() or not fake.any():
        raise ValueError("calibration needs both real and fake crops")
    cand = _candidates(score)
    tpr, fpr = _rates(fake, score, cand)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_fake = tpr / (tpr + fpr)
        p_real = (1 - fpr) / ((1 - fpr) + (1 - tpr))
    ok_fake = np.flatnonzero((p_fake >= precision) & (tpr > 0))
    ok_real = np.flatnonzero((p_real >= precision) & (fpr < 1))
    t_fake = float(cand[ok_fake.min()]) if len(ok_fake) else None
    t_real = float(cand[ok_real.max()]) if len(ok_real) else None
    if t_fake is not None and t_real is not None and t_real > t_fake:
        # both calls reach the precision everywhere in between: no UNCERTAIN band is needed
        mid = (t_real + t_fake) / 2
        t_real = t_fake = mid
    return t_real, t_fake


def calibrate(levels: dict[str, tuple[np.ndarray, np.ndarray]], precision: float = 0.95
              ) -> Calibration:
    """Both rules on validation scores per compression level (name -> (is_fake, p_fake))."""
    threshold, worst = worst_case_threshold(levels)
    fake = np.concatenate([np.asarray(f, bool) for f, _ in levels.values()])
    score = np.concatenate([np.asarray(s, float) for _, s in levels.values()])
    t_real, t_fake = precision_band(fake, score, precision)
    if t_real is not None and t_fake is not None and t_real == t_fake:
        t_real = t_fake = None  # no band: the two-level threshold decides
    elif t_real is None or t_fake is None:
        t_real = t_fake = None
    else:
        t_real, t_fake = min(t_real, threshold), max(t_fake, threshold)
    return Calibration(threshold, TWO_LEVEL_RULE, worst, t_real, t_fake,
                       BAND_RULE.format(precision=precision), precision)
