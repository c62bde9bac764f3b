"""Occlusion sensitivity: which parts of a face crop the model's P_fake depends on.

Explanations run on the classifier's ONNX session alone (the runtime has no autograd): a grid of
square patches of the model-size crop is replaced, one patch at a time, by a blurred copy of
itself (blurring removes the fine texture that forgery artefacts live in, while keeping colour
and shape, so the model sees a plausible face rather than a black hole). The crop and its
``grid x grid`` occluded copies go through the model in one batched call (two or more only for
large inputs), ``grid**2 + 1`` forward passes per face: 50 with the default grid of 7.

The map is the drop in P_fake caused by each patch, averaged over the patches that cover a pixel.
A high value says "blurring here made the model less sure the face is fake": where it looks, not
proof of a manipulation there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from .contract import ModelContract

GRID = 7  # patches per axis
PATCH_FRACTION = 0.25  # patch side / crop side: 32 px patches at 16 px steps on a 128 px crop
FORWARD_PASSES = GRID * GRID + 1  # the occluded copies + the crop itself
MAX_GRID = 32  # 1,025 forward passes
BLUR_FRACTION = 1 / 16  # Gaussian sigma / crop side (8 px on 128 px)
MAX_BATCH_BYTES = 64 << 20  # float32 input per ORT call: one call up to 256 px crops at GRID 7


class Classifier(Protocol):
    """What an explanation needs: BGR uint8 crops in, class probabilities out, and the contract."""

    contract: ModelContract

    def predict(self, crops_bgr: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class OcclusionMap:
    """One face's explanation at the model's input size ``s``.

    ``heat`` (s, s) float32: mean drop in P_fake over the patches covering each pixel (negative
    where blurring made the face look *more* fake); ``patch_drops`` (grid, grid) float32: the drop
    of each patch, row-major from the top-left; ``p_occluded`` (grid, grid): P_fake with each
    patch blurred; ``starts``: the patches' top/left offsets on either axis; ``p_fake``: the
    unoccluded crop's P_fake in the same batch.
    """

    heat: np.ndarray
    patch_drops: np.ndarray
    p_occluded: np.ndarray
    p_fake: float
    patch: int
    starts: np.ndarray
    forward_passes: int
    calls: int  # classifier.predict calls (ORT calls unless the model takes one face per call)

    @property
    def size(self) -> int:
        return int(self.heat.shape[0])

    @property
    def peak_drop(self) -> float:
        """The largest drop in P_fake any single patch caused (0 if none lowered it)."""
        return max(0.0, float(self.patch_drops.max()))

    def boxes(self) -> list[tuple[int, int, int, int]]:
        """The patches as ``(y0, x0, y1, x1)``, in the order of ``patch_drops.ravel()``."""
        p = self.patch
        return [(int(y), int(x), int(y) + p, int(x) + p) for y in self.starts for x in self.starts]


def patch_layout(size: int, grid: int = GRID,
                 patch_fraction: float = PATCH_FRACTION) -> tuple[int, np.ndarray]:
    """Patch side and the ``grid`` evenly spaced offsets that cover a ``size`` crop edge to edge."""
    if not 1 <= grid <= MAX_GRID:
        raise ValueError(f"grid must be in [1, {MAX_GRID}], got {grid}")
    if not 0.0 < patch_fraction <= 1.0:
        raise ValueError(f"patch_fraction must be in (0, 1], got {patch_fraction}")
    patch = max(1, min(size, round(size * patch_fraction)))
    starts = np.round(np.linspace(0, size - patch, grid)).astype(np.int64)
    return patch, starts


def blur_sigma(size: int) -> float:
    """The occluder's Gaussian sigma in pixels for a ``size`` crop."""
    return max(1.0, size * BLUR_FRACTION)


def blurred_copy(crop_bgr: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """The crop with its fine texture removed: what an occluded patch is replaced by."""
    sigma = blur_sigma(crop_bgr.shape[0]) if sigma is None else sigma
    return cv2.GaussianBlur(crop_bgr, (0, 0), sigmaX=sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REFLECT_101)


def occlude(crop_bgr: np.ndarray, blurred_bgr: np.ndarray,
            boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """A copy of the crop with every ``(y0, x0, y1, x1)`` box replaced by the blurred copy."""
    out = crop_bgr.copy()
    for y0, x0, y1, x1 in boxes:
        out[y0:y1, x0:x1] = blurred_bgr[y0:y1, x0:x1]
    return out


def batch_step(size: int) -> int:
    """Crops per ORT call: as many as fit in :data:`MAX_BATCH_BYTES` of float32 input."""
    return max(1, MAX_BATCH_BYTES // (size * size * 3 * 4))


def p_fake_of(classifier: Classifier, crops_bgr: np.ndarray) -> np.ndarray:
    """P_fake = 1 - P(original) of a batch of model-size crops, in ORT calls of bounded size."""
    contract = classifier.contract
    step = batch_step(contract.input_size)
    probs = [classifier.predict(crops_bgr[i : i + step]) for i in range(0, len(crops_bgr), step)]
    return np.clip(1.0 - np.concatenate(probs)[:, contract.original_index], 0.0, 1.0)


def occlusion_map(classifier: Classifier, crop_bgr: np.ndarray, grid: int = GRID,
                  patch_fraction: float = PATCH_FRACTION) -> OcclusionMap:
    """Occlusion-sensitivity map of one BGR uint8 face crop (crop in, map out).

    ``classifier`` is an :class:`~edge_detector.OnnxClassifier` (or anything with ``predict`` and
    ``contract``). A crop of another size than the model's input is resized first (INTER_AREA,
    as the runtime does). Costs ``grid**2 + 1`` forward passes; deterministic.
    """
    crop = np.asarray(crop_bgr)
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] < 1 or crop.shape[1] < 1:
        raise ValueError(f"expected one (h, w, 3) BGR crop, got shape {crop.shape}")
    if crop.dtype != np.uint8:
        raise ValueError(f"expected a uint8 crop, got dtype {crop.dtype}")
    size = classifier.contract.input_size
    if crop.shape[:2] != (size, size):
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    patch, starts = patch_layout(size, grid, patch_fraction)
    soft = blurred_copy(crop)
    batch = np.empty((grid * grid + 1, size, size, 3), np.uint8)
    batch[0] = crop
    k = 1
    for y in starts:
        for x in starts:
            batch[k] = crop
            batch[k, y : y + patch, x : x + patch] = soft[y : y + patch, x : x + patch]
            k += 1
    p = p_fake_of(classifier, batch)
    drops = (p[0] - p[1:]).astype(np.float32)
    total = np.zeros((size, size), np.float64)
    count = np.zeros((size, size), np.float64)
    for d, (y, x) in zip(drops, ((y, x) for y in starts for x in starts), strict=True):
        total[y : y + patch, x : x + patch] += d
        count[y : y + patch, x : x + patch] += 1
    heat = (total / np.maximum(count, 1)).astype(np.float32)
    return OcclusionMap(heat=heat, patch_drops=drops.reshape(grid, grid),
                        p_occluded=p[1:].astype(np.float32).reshape(grid, grid), p_fake=float(p[0]),
                        patch=patch, starts=starts, forward_passes=len(batch),
                        calls=-(-len(batch) // batch_step(size)))
