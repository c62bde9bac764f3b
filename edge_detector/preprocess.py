"""The one preprocessing function shared by the runtime, the benchmark and the export parity check."""

from __future__ import annotations

import cv2
import numpy as np

from .contract import PIXEL_RANGES, ModelContract


def preprocess(
    crops_bgr: np.ndarray, contract: ModelContract, out: np.ndarray | None = None
) -> np.ndarray:
    """(n, s, s, 3) BGR uint8 crops -> (n, S, S, 3) float32 in the contract's colour and range.

    Crops of another size are resized with INTER_AREA (the crop helper's interpolation).
    """
    crops_bgr = np.asarray(crops_bgr)
    if crops_bgr.ndim == 3:
        crops_bgr = crops_bgr[None]
    if crops_bgr.ndim != 4 or crops_bgr.shape[-1] != 3:
        raise ValueError(f"expected (n, h, w, 3) BGR crops, got shape {crops_bgr.shape}")
    n, size = crops_bgr.shape[0], contract.input_size
    if crops_bgr.shape[1:3] != (size, size):
        crops_bgr = np.stack(
            [cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops_bgr]
        ) if n else np.zeros((0, size, size, 3), np.uint8)
    if out is None or out.shape[0] < n or out.shape[1:] != (size, size, 3):
        out = np.empty((n, size, size, 3), np.float32)
    out = out[:n]
    src = crops_bgr[..., ::-1] if contract.color == "RGB" else crops_bgr
    np.copyto(out, src, casting="unsafe")
    scale = PIXEL_RANGES[contract.pixel_range]
    if scale != 255.0:
        out *= scale / 255.0
    return out
