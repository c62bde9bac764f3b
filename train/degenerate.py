"""One test for a degenerate model, shared by ``fit``, ``evaluate`` and ``python -m export``.

A collapsed model (e.g. BatchNorm statistics never left their initial values) answers the same
for every face: its P_fake barely moves, or one class wins almost every crop. Its AUC can still
print as 0.5 and its accuracy as the majority share, so numbers alone do not give it away.
Numpy only: export imports this without TensorFlow side effects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_P_FAKE_STD = 0.01  # below this P_fake is "near-constant"
MAX_CLASS_SHARE = 0.95  # one predicted class for at least this share of crops


def check_degenerate(probs: np.ndarray, original_index: int, labels: np.ndarray | None = None,
                     class_names: Sequence[str] | None = None) -> dict | None:
    """``None`` for a usable model, else ``{"reason": ..., numbers}``.

    ``probs``: (n, classes) probabilities on held-out crops. ``labels`` (class indices; -1 or
    None when unknown) enable the one-class test: predicting one class for >= 95 % of crops
    is degenerate unless the truth is that lopsided too.
    """
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or len(probs) < 2:
        return None  # nothing to judge on
    p_fake = 1.0 - probs[:, original_index]
    std = float(p_fake.std())
    distinct = int(len(np.unique(np.round(p_fake, 6))))
    pred = probs.argmax(axis=1)
    counts = np.bincount(pred, minlength=probs.shape[1])
    top = int(counts.argmax())
    share = float(counts[top] / len(pred))
    name = class_names[top] if class_names is not None else str(top)
    info = {"n": int(len(probs)), "p_fake_std": round(std, 6), "p_fake_distinct": distinct,
            "p_fake_mean": round(float(p_fake.mean()), 6), "top_class": name,
            "top_class_share": round(share, 4)}
    if std < MIN_P_FAKE_STD:
        return {"reason": f"near-constant P_fake on {len(probs)} crops (std {std:.2g} < "
                          f"{MIN_P_FAKE_STD}, {distinct} distinct value(s))", **info}
    known = None if labels is None else np.asarray(labels)
    if known is not None and len(known) == len(pred) and (known >= 0).all():
        true_share = float(np.mean(known == top))
        if share >= MAX_CLASS_SHARE and true_share < MAX_CLASS_SHARE:
            return {"reason": f"predicts '{name}' for {share:.1%} of {len(pred)} crops "
                              f"(true share {true_share:.1%})", **info, "true_share": true_share}
    return None
