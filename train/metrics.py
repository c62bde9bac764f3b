"""Classification metrics in plain numpy (scikit-learn is not a dependency).

Binary metrics treat *fake* as the positive class with score ``P_fake = 1 - P(original)``.
Degenerate inputs (one class only) give ``None`` plus a reason instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RocCurve:
    """ROC points from the highest threshold down (starts at (0, 0), ends at (1, 1))."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


@dataclass(frozen=True)
class BinaryMetrics:
    """Real-vs-fake metrics; ``None`` values come with ``reason``."""

    n: int
    positives: int
    auc: float | None
    ap: float | None
    eer: float | None
    accuracy: float | None
    reason: str | None = None


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``cm[i, j]`` = number of samples of true class i predicted as j."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def per_class(cm: np.ndarray) -> tuple[list[float | None], list[float | None], list[float | None]]:
    """Precision, recall and F1 per class; ``None`` where undefined (no predictions / support)."""
    tp = np.diag(cm).astype(float)
    pred, true = cm.sum(axis=0), cm.sum(axis=1)
    prec = [float(tp[i] / pred[i]) if pred[i] else None for i in range(len(tp))]
    rec = [float(tp[i] / true[i]) if true[i] else None for i in range(len(tp))]
    f1 = []
    for p, r in zip(prec, rec, strict=True):
        if p is None and r is None:
            f1.append(None)
        else:
            p, r = p or 0.0, r or 0.0
            f1.append(2 * p * r / (p + r) if p + r else 0.0)
    return prec, rec, f1


def macro_f1(cm: np.ndarray) -> float | None:
    """Mean F1 over classes that occur in the truth or the predictions (as scikit-learn)."""
    f1 = [f for f in per_class(cm)[2] if f is not None]
    return float(np.mean(f1)) if f1 else None


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tied scores counted half)."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, float)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s), float)
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    r = np.empty(len(s), float)
    r[order] = ranks
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(y: np.ndarray, score: np.ndarray) -> RocCurve:
    """ROC at every distinct score (``score >= threshold`` is predicted positive)."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, float)
    order = np.argsort(-score, kind="mergesort")
    s, yy = score[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1] if len(s) else np.array([], int)
    tp = np.cumsum(yy)[last] if len(s) else np.array([])
    fp = (last + 1) - tp
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    fpr = np.r_[0.0, fp / n_neg]
    tpr = np.r_[0.0, tp / n_pos]
    thr = np.r_[np.inf, s[last]] if len(s) else np.array([np.inf])
    return RocCurve(fpr, tpr, thr)


def average_precision(y: np.ndarray, score: np.ndarray) -> float | None:
    """AP = sum over thresholds of (R_n - R_{n-1}) * P_n (no interpolation, as scikit-learn)."""
    y = np.asarray(y).astype(bool)
    if not y.any():
        return None
    score = np.asarray(score, float)
    order = np.argsort(-score, kind="mergesort")
    s, yy = score[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(yy)[last]
    precision = tp / (last + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def equal_error_rate(y: np.ndarray, score: np.ndarray) -> float | None:
    """Error rate where false-positive and false-negative rates meet (linear interpolation)."""
    y = np.asarray(y).astype(bool)
    if y.all() or not y.any():
        return None
    roc = roc_curve(y, score)
    fnr = 1 - roc.tpr
    diff = roc.fpr - fnr  # goes from -1 (fpr 0, fnr 1) up to +1
    k = int(np.argmax(diff >= 0))
    if k == 0:
        return float(roc.fpr[0])
    d0, d1 = diff[k - 1], diff[k]
    t = d0 / (d0 - d1) if d1 != d0 else 0.0
    return float(roc.fpr[k - 1] + t * (roc.fpr[k] - roc.fpr[k - 1]))


def binary_metrics(is_fake: np.ndarray, p_fake: np.ndarray, threshold: float = 0.5
                   ) -> BinaryMetrics:
    """AUC, AP, EER and accuracy at ``threshold`` for fake-vs-real."""
    y = np.asarray(is_fake).astype(bool)
    p = np.asarray(p_fake, float)
    n, pos = len(y), int(y.sum())
    acc = float(np.mean((p >= threshold) == y)) if n else None
    reason = None
    if n == 0:
        reason = "no samples"
    elif pos == 0:
        reason = "only real samples: AUC/EER undefined"
    elif pos == n:
        reason = "only fake samples: AUC/EER undefined"
    return BinaryMetrics(n, pos, roc_auc(y, p), average_precision(y, p),
                         equal_error_rate(y, p), acc, reason)
