"""Greedy IoU tracking: a face keeps its id across frames so verdicts can be made per person."""

from __future__ import annotations

import numpy as np

from .types import FaceDetections


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (n,4) and (m,4) xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


class IouTracker:
    """Matches each analysed frame's faces to the previous ones by IoU; unmatched faces get new ids.

    A track survives ``max_missed`` analysed frames without a match, which bridges short detector
    drop-outs without gluing different people together.
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 5) -> None:
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self._boxes = np.zeros((0, 4), np.float32)
        self._ids: list[int] = []
        self._missed: list[int] = []
        self._next = 0

    def update(self, faces: FaceDetections) -> np.ndarray:
        """Track ids (n,) for ``faces``, in their order."""
        ious = iou_matrix(faces.xyxy, self._boxes)
        ids = np.full(len(faces), -1, np.int64)
        used: set[int] = set()
        if ious.size:
            for flat in np.argsort(-ious, axis=None):
                i, j = divmod(int(flat), ious.shape[1])
                if ious[i, j] < self.iou_threshold:
                    break
                if ids[i] >= 0 or j in used:
                    continue
                ids[i] = self._ids[j]
                used.add(j)
        for i in np.flatnonzero(ids < 0):
            ids[i] = self._next
            self._next += 1
        keep = [j for j in range(len(self._ids)) if j not in used and self._missed[j] < self.max_missed]
        self._boxes = np.concatenate([faces.xyxy, self._boxes[keep]]).astype(np.float32)
        self._missed = [0] * len(faces) + [self._missed[j] + 1 for j in keep]
        self._ids = [int(t) for t in ids] + [self._ids[j] for j in keep]
        return ids
