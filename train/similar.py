"""Groups of near-duplicate face crops, for splits that do not leak.

Face-crop datasets without video ids (``ffpp_c23_faces``) hold several crops of one video (two per
original, and each fake ``X_Y`` shares its frame and background with original ``X``). Carving
validation image by image then puts a crop in val whose twin is in train: measured on the FF++
crops, val originals had a train crop with thumbnail correlation 0.972 at the median (test
originals, from other videos: 0.831), and thresholds chosen on that val were far too lenient on
test. Crops whose 32x32 grey thumbnails correlate at or above ``threshold`` are linked, and the
connected components are the units a split never cuts (0.93: the largest of 2,753 groups of the
5,364 FF++ train crops holds 18, and 0.5 % of test crops link to any of them).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_detector.cvfiles import read_image
from edge_detector.errors import EdgeDetectError

THUMB = 32
DEFAULT_THRESHOLD = 0.93
BLOCK = 2048


def thumbnail(path: Path) -> np.ndarray | None:
    """Unit-norm, zero-mean 32x32 grey thumbnail (None if the file does not decode)."""
    try:
        img = read_image(path, cv2.IMREAD_GRAYSCALE)
    except EdgeDetectError:  # over a size limit: the import records it and goes on
        return None
    if img is None:
        return None
    t = cv2.resize(img, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    t -= t.mean()
    n = float(np.linalg.norm(t))
    return t / n if n > 0 else t


def similar_groups(paths: list[Path], threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Group index per path: connected components of "thumbnail correlation >= threshold"."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(paths)
    thumbs = np.zeros((n, THUMB * THUMB), np.float32)
    for i, p in enumerate(paths):
        t = thumbnail(p)
        if t is not None:  # undecodable: its own group (the import records it as failed)
            thumbs[i] = t
    rows, cols = [], []
    for start in range(0, n, BLOCK):
        sim = thumbs[start:start + BLOCK] @ thumbs.T
        r, c = np.nonzero(sim >= threshold)
        rows.append(r + start)
        cols.append(c)
    r, c = np.concatenate(rows or [np.zeros(0, int)]), np.concatenate(cols or [np.zeros(0, int)])
    graph = coo_matrix((np.ones(len(r), bool), (r, c)), shape=(n, n))
    return connected_components(graph, directed=False)[1]
