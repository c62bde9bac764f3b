"""Turns class probabilities into per-face verdicts: P_fake = 1 - P(original)."""

from __future__ import annotations

import numpy as np

from .contract import ModelContract
from .policy import DEFAULT_POLICY, FAKE, REAL, DecisionPolicy
from .types import FaceVerdict

__all__ = ["FAKE", "REAL", "make_verdicts"]


def make_verdicts(probs: np.ndarray, contract: ModelContract,
                  policy: DecisionPolicy = DEFAULT_POLICY) -> list[FaceVerdict]:
    """One verdict per row; the method is the most probable non-original class."""
    orig = contract.original_index
    others = [i for i in range(contract.num_classes) if i != orig]
    out = []
    for row in np.asarray(probs, np.float32):
        p_fake = float(np.clip(1.0 - row[orig], 0.0, 1.0))
        best = others[int(np.argmax(row[others]))]
        out.append(
            FaceVerdict(
                probs=row,
                p_fake=p_fake,
                label=policy.label(p_fake),
                method=contract.class_names[best],
                method_prob=float(row[best]),
            )
        )
    return out
