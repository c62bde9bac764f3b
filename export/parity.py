"""Keras vs ONNX Runtime on the same crops, both fed through ``edge_detector.preprocess``.

The ONNX side is the runtime's own ``OnnxClassifier`` on the written file, so the check covers the
contract round trip (colour order, pixel range, input name) as well as the numbers.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

from edge_detector.classifier import OnnxClassifier
from edge_detector.contract import ModelContract
from edge_detector.preprocess import preprocess

from .errors import ParityError

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 1e-4
# Two classes closer than this are a numerical tie: either top-1 is correct for both runtimes.
TIE_EPS = 1e-6


@dataclass(frozen=True)
class Agreement:
    """How closely two sets of probabilities for the same crops agree."""

    n: int
    max_abs_diff: float
    mean_abs_diff: float
    top1_agreement: float
    top1_mismatches: int
    ties: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def softmax(y: np.ndarray) -> np.ndarray:
    e = np.exp(y - y.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def keras_probs(
    model: keras.Model, crops_bgr: np.ndarray, contract: ModelContract, batch_size: int = 32
) -> np.ndarray:
    """(n, C) probabilities from the Keras model in inference mode (``training=False``)."""
    out = []
    for i in range(0, len(crops_bgr), batch_size):
        x = preprocess(crops_bgr[i : i + batch_size], contract)
        out.append(np.asarray(model(x, training=False), dtype=np.float32))
    y = np.concatenate(out) if out else np.zeros((0, contract.num_classes), np.float32)
    return softmax(y) if contract.output == "logits" else y


def onnx_probs(classifier: OnnxClassifier, crops_bgr: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """(n, C) probabilities from the runtime classifier, batched like the runtime does."""
    out = [classifier.predict(crops_bgr[i : i + batch_size])
           for i in range(0, len(crops_bgr), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, classifier.contract.num_classes), np.float32)


def compare(reference: np.ndarray, other: np.ndarray, source: str) -> Agreement:
    """Max / mean absolute difference and top-1 agreement of ``other`` against ``reference``."""
    if reference.shape != other.shape:
        raise ParityError(f"output shapes differ: {reference.shape} vs {other.shape}")
    n = len(reference)
    if n == 0:
        raise ParityError("no crops to compare")
    diff = np.abs(reference.astype(np.float64) - other.astype(np.float64))
    top_ref, top_other = reference.argmax(1), other.argmax(1)
    mismatch = top_ref != top_other
    srt = np.sort(reference, axis=1)
    gap = srt[:, -1] - srt[:, -2] if reference.shape[1] > 1 else np.ones(n)
    ties = int(np.sum(mismatch & (gap <= TIE_EPS)))
    return Agreement(
        n=n,
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        top1_agreement=float(1.0 - mismatch.mean()),
        top1_mismatches=int(mismatch.sum()),
        ties=ties,
        source=source,
    )


def check_parity(agreement: Agreement, tolerance: float = DEFAULT_TOLERANCE) -> Agreement:
    """Raise ParityError unless max |diff| <= tolerance and top-1 is identical (ties excepted)."""
    if not agreement.max_abs_diff <= tolerance:
        raise ParityError(
            f"ONNX Runtime and Keras differ by up to {agreement.max_abs_diff:.3g} in probability "
            f"on {agreement.n} crops ({agreement.source}); tolerance is {tolerance:g}"
        )
    if agreement.top1_mismatches > agreement.ties:
        raise ParityError(
            f"ONNX Runtime and Keras pick a different top-1 class on "
            f"{agreement.top1_mismatches - agreement.ties} of {agreement.n} crops ({agreement.source})"
        )
    log.info("parity on %d crops (%s): max |diff| %.3g, mean %.3g, top-1 agreement %.4f",
             agreement.n, agreement.source, agreement.max_abs_diff, agreement.mean_abs_diff,
             agreement.top1_agreement)
    return agreement
