"""BlazeFace's SSD anchors, box decoding and weighted NMS, in numpy (MediaPipe's calculators).

The ONNX graph stops at raw regressors (n_anchors, 16) and logits (n_anchors, 1); turning them into
face boxes is MediaPipe's ``SsdAnchorsCalculator``, ``TensorsToDetectionsCalculator`` and
``NonMaxSuppressionCalculator`` (weighted), reimplemented here so the runtime needs neither
MediaPipe nor TensorFlow. Coordinates are normalised to the square model input ([0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# MediaPipe clips logits at +-100; +-80 keeps exp() finite in float32.
RAW_SCORE_LIMIT = 80.0


@dataclass(frozen=True)
class AnchorSpec:
    """MediaPipe's ``SsdAnchorsCalculatorOptions`` for the fixed-size BlazeFace anchors.

    ``interpolated``: MediaPipe's ``interpolated_scale_aspect_ratio == 1`` (two anchors per aspect
    ratio and cell on each layer) rather than 0 (one).
    """

    input_size: int
    strides: tuple[int, ...]
    interpolated: bool
    offset: float = 0.5


SHORT_RANGE_ANCHORS = AnchorSpec(128, (8, 16, 16, 16), True)   # 896 anchors
FULL_RANGE_ANCHORS = AnchorSpec(192, (4,), False)             # 2304 anchors


def make_anchors(spec: AnchorSpec) -> np.ndarray:
    """(n, 2) anchor centres (x, y) in [0, 1], in the order of the model's outputs.

    Consecutive layers of the same stride share one feature map: their anchors are emitted together,
    cell by cell (row-major), ``repeats`` per cell.
    """
    out = []
    i = 0
    strides = spec.strides
    while i < len(strides):
        j = i
        repeats = 0
        while j < len(strides) and strides[j] == strides[i]:
            repeats += 2 if spec.interpolated else 1
            j += 1
        side = spec.input_size // strides[i]
        centres = (np.arange(side, dtype=np.float32) + spec.offset) / side
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(cells, repeats, axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


def sigmoid_scores(logits: np.ndarray) -> np.ndarray:
    """Face probability per anchor from the classifier logits (any shape, flattened)."""
    x = np.clip(np.asarray(logits, np.float32).reshape(-1), -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)
    return 1.0 / (1.0 + np.exp(-x))


def decode_boxes(raw: np.ndarray, anchors: np.ndarray, input_size: int) -> np.ndarray:
    """(n, 4) xyxy boxes in [0, 1] input coordinates from (n, >=4) raw regressors.

    Each row is (dx, dy, w, h, keypoints...) in input pixels: the centre is the anchor plus
    (dx, dy), the size is absolute (MediaPipe's ``fixed_anchor_size``).
    """
    raw = np.asarray(raw, np.float32)
    if raw.ndim != 2 or raw.shape[0] != len(anchors) or raw.shape[1] < 4:
        raise ValueError(f"regressors must be ({len(anchors)}, >=4), got {raw.shape}")
    c = anchors + raw[:, :2] / input_size
    half = raw[:, 2:4] / (2.0 * input_size)
    return np.concatenate([c - half, c + half], axis=1)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with each of (n, 4) boxes (0 where the union is empty)."""
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=1)
    area = np.prod(np.clip(box[2:] - box[:2], 0.0, None))
    areas = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0.0, None), axis=1)
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3,
                 min_score: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's weighted non-maximum suppression.

    Repeatedly: the best remaining box and every remaining box overlapping it by more than
    ``iou_threshold`` (itself included) merge into their score-weighted mean, which keeps the best
    score; those boxes leave. Boxes below ``min_score`` never take part. Returns (boxes, scores),
    best first.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    keep = scores >= min_score
    boxes, scores = boxes[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    out_boxes, out_scores = [], []
    while len(scores):
        overlap = box_iou(boxes[0], boxes) > iou_threshold
        overlap[0] = True
        w = scores[overlap]
        out_boxes.append((boxes[overlap] * w[:, None]).sum(axis=0) / w.sum())
        out_scores.append(scores[0])
        boxes, scores = boxes[~overlap], scores[~overlap]
    if not out_boxes:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    return np.array(out_boxes, np.float32), np.array(out_scores, np.float32)


def detect_normalised(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray,
                      input_size: int, min_score: float,
                      iou_threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Model outputs -> (boxes xyxy in [0, 1] of the model input, scores), after weighted NMS."""
    scores = sigmoid_scores(logits)
    if len(scores) != len(anchors):
        raise ValueError(f"model gave {len(scores)} scores for {len(anchors)} anchors")
    idx = np.flatnonzero(scores >= min_score)  # decode only the few candidates
    raw = np.asarray(regressors, np.float32).reshape(len(anchors), -1)[idx]
    boxes = decode_boxes(raw, anchors[idx], input_size)
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return weighted_nms(boxes[valid], scores[idx][valid], iou_threshold, min_score)
