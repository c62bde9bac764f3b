"""Self-blended images (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images",
CVPR 2022), written from the paper's description.

A pseudo-fake is made from one real face alone: a copy of the face (the *source*) is jittered in
colour, sharpness and scale/position, then blended back onto the untouched face (the *target*)
inside a soft, randomly deformed face mask. Nothing of the face's identity changes; what the
model can learn from it is the blending boundary and the statistics mismatch that most face swaps
and reenactments leave, not one method's fingerprint.

Masks here are landmark-free: the crops the project trains on are tight face boxes (the FF++ c23
crops are Haar boxes; the runtime crops with the same geometry), so the face is an ellipse around
the box centre. Its outline is deformed with a few random low-frequency harmonics (the paper
deforms a landmark hull elastically), eroded or dilated, blurred twice with random Gaussian
kernels and scaled by a blend ratio drawn from {0.25, 0.5, 0.75, 1, 1, 1} as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
# Face ellipse in a tight face crop, as fractions of the crop side: centre and semi-axes ranges.
CENTRE = (0.5, 0.54)
AXES_X = (0.30, 0.38)
AXES_Y = (0.36, 0.43)
HARMONICS = 4


@dataclass(frozen=True)
class Blend:
    """One pseudo-fake: the blended crop (BGR uint8) and the soft mask that made it (0..1)."""

    image: np.ndarray
    mask: np.ndarray


def face_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """Soft (size, size) float32 mask in [0, 1]: a deformed, blurred face ellipse."""
    cx = (CENTRE[0] + rng.uniform(-0.03, 0.03)) * size
    cy = (CENTRE[1] + rng.uniform(-0.03, 0.03)) * size
    ax, ay = rng.uniform(*AXES_X) * size, rng.uniform(*AXES_Y) * size
    t = np.linspace(0.0, 2 * np.pi, 72, endpoint=False)
    radial = np.ones_like(t)
    for k in range(2, 2 + HARMONICS):  # smooth bumps and dents along the outline
        radial += rng.uniform(-0.06, 0.06) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    pts = np.stack([cx + ax * radial * np.cos(t), cy + ay * radial * np.sin(t)], 1)
    hard = np.zeros((size, size), np.uint8)
    cv2.fillPoly(hard, [np.round(pts).astype(np.int32)], 1)
    k = max(1, int(round(size * rng.uniform(0.0, 0.04))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    hard = cv2.erode(hard, kernel) if rng.random() < 0.5 else cv2.dilate(hard, kernel)
    soft = hard.astype(np.float32)
    for _ in range(2):  # the paper blurs twice with random kernels
        sigma = size * rng.uniform(0.01, 0.05)
        soft = cv2.GaussianBlur(soft, (0, 0), sigma)
    # blurring spreads the mask outwards; clip to the dilated hull so it stays on the face
    support = cv2.dilate(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2))
    soft *= support.astype(np.float32)
    peak = float(soft.max())
    if peak > 0:
        soft /= peak
    return soft * float(rng.choice(BLEND_RATIOS))


def _colour(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """RGB shifts, hue/saturation/value and brightness/contrast jitter (float32 BGR)."""
    out = img.astype(np.float32) + rng.uniform(-10, 10, size=3).astype(np.float32)
    hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-3, 3)) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.9, 1.1), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(0.9, 1.1), 0, 255)
    out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    mean = out.mean()
    return (out - mean) * rng.uniform(0.9, 1.1) + mean + rng.uniform(-8, 8)


def _sharpness(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = rng.uniform(0.5, 1.5)
    blurred = cv2.GaussianBlur(img, (0, 0), sigma)
    if rng.random() < 0.5:
        return blurred
    return img + rng.uniform(0.3, 1.0) * (img - blurred)  # unsharp mask


def _scale_shift(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    s = rng.uniform(0.94, 1.06)
    tx, ty = rng.uniform(-0.03, 0.03, size=2) * np.array([w, h])
    m = np.array([[s, 0, (1 - s) * w / 2 + tx], [0, s, (1 - s) * h / 2 + ty]], np.float32)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def self_blend(crop_bgr: np.ndarray, rng: np.random.Generator) -> Blend:
    """One pseudo-fake of a square BGR uint8 face crop; pixels where the mask is 0 are kept."""
    if crop_bgr.ndim != 3 or crop_bgr.shape[2] != 3 or crop_bgr.dtype != np.uint8:
        raise ValueError(f"self_blend needs an (H, W, 3) uint8 BGR crop, got {crop_bgr.shape} "
                         f"{crop_bgr.dtype}")
    h, w = crop_bgr.shape[:2]
    if h != w:
        raise ValueError(f"self_blend needs a square crop, got {w}x{h}")
    target = crop_bgr.astype(np.float32)
    source = _scale_shift(_sharpness(_colour(crop_bgr, rng), rng), rng)
    mask = face_mask(h, rng)
    out = target + mask[..., None] * (source - target)
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    out[mask == 0] = crop_bgr[mask == 0]  # exactly the input outside the mask
    return Blend(out, mask)
