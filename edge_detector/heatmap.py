"""Draws an occlusion map over its face crop: the picture a person looks at (PNG per face).

The colour scale is per face, with a floor: full colour means a drop in P_fake of the face's
largest patch drop or of :data:`SCALE_FLOOR`, whichever is larger, so a face on which no patch
mattered stays nearly untinted instead of showing its noise at full strength.
"""

from __future__ import annotations

import cv2
import numpy as np

from .explain import OcclusionMap

SCALE_FLOOR = 1e-3  # a largest drop below this never reaches full colour
PANEL = 256  # px per panel (the 128 px crop, upsampled)
MAX_ALPHA = 0.65
_BAR = 22  # px of the colour-bar strip


def heat_scale(omap: OcclusionMap) -> float:
    """The P_fake drop drawn at full colour."""
    return max(omap.peak_drop, SCALE_FLOOR)


def render_overlay(crop_bgr: np.ndarray, omap: OcclusionMap, panel: int = PANEL) -> np.ndarray:
    """BGR uint8 image: the crop, then the crop tinted where blurring lowered P_fake, with a
    colour bar labelled in P_fake drop. The map is upsampled bilinearly to the panel size."""
    face = cv2.resize(np.asarray(crop_bgr), (panel, panel), interpolation=cv2.INTER_CUBIC)
    heat = cv2.resize(omap.heat, (panel, panel), interpolation=cv2.INTER_LINEAR)
    scale = heat_scale(omap)
    v = np.clip(heat / scale, 0.0, 1.0)
    color = cv2.applyColorMap((v * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    alpha = (MAX_ALPHA * v)[..., None]
    tinted = (face * (1 - alpha) + color * alpha).astype(np.uint8)
    gap = np.full((panel, 4, 3), 255, np.uint8)
    top = np.concatenate([face, gap, tinted], axis=1)
    bar = np.full((_BAR, top.shape[1], 3), 255, np.uint8)
    ramp = cv2.applyColorMap(np.linspace(0, 255, panel).astype(np.uint8)[None], cv2.COLORMAP_TURBO)
    bar[4:12, panel + 4 :] = cv2.resize(ramp, (panel, 8), interpolation=cv2.INTER_NEAREST)
    text = f"P_fake {omap.p_fake:.2f}"
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (40, 40, 40), 1, cv2.LINE_AA)
    cv2.putText(bar, "0", (panel + 4, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (40, 40, 40), 1,
                cv2.LINE_AA)
    label = f"drop {scale:.2f}"
    (w, _), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)
    cv2.putText(bar, label, (top.shape[1] - w - 2, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                (40, 40, 40), 1, cv2.LINE_AA)
    return np.concatenate([top, bar], axis=0)


def encode_png(image_bgr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image_bgr)
    if not ok:  # pragma: no cover - imencode fails only on invalid images
        raise ValueError("cannot encode the overlay as PNG")
    return buf.tobytes()
