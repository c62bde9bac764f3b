"""Self-blended pseudo-fakes: confined to the mask, seeded, inside the face."""

import cv2
import numpy as np
import pytest

from tests.media import astronaut_bgr, grace_hopper_bgr
from train.selfblend import AXES_X, AXES_Y, CENTRE, face_mask, self_blend


def face_crop(size: int, seed: int) -> np.ndarray:
    """A square crop around a real face of scikit-image's photos, shifted a little per seed."""
    img = astronaut_bgr() if seed % 2 == 0 else grace_hopper_bgr()
    h, w = img.shape[:2]
    side = min(h, w) // 2
    x0, y0 = (w - side) // 2 + 3 * (seed % 5), max(0, (h - side) // 3 - 2 * (seed % 3))
    return cv2.resize(img[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("seed", range(6))
def test_changes_are_confined_to_the_mask_and_the_face(seed):
    crop = face_crop(128, seed)
    blend = self_blend(crop, np.random.default_rng(seed))
    assert blend.image.shape == crop.shape and blend.image.dtype == np.uint8
    outside = blend.mask == 0
    assert outside.any() and (~outside).any()
    np.testing.assert_array_equal(blend.image[outside], crop[outside])
    changed = np.any(blend.image != crop, axis=2)
    assert changed.sum() > 0.05 * changed.size  # a real blend, not a no-op
    assert not changed[outside].any()
    # the mask's support stays inside the face ellipse's reach, away from the crop's corners
    ys, xs = np.nonzero(~outside)
    cy, cx = CENTRE[1] * 128, CENTRE[0] * 128
    ry = (max(AXES_Y) * 1.2 + 0.03 + 0.08) * 128
    rx = (max(AXES_X) * 1.2 + 0.03 + 0.08) * 128
    assert (((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1.0).all()
    for corner in (blend.mask[0, 0], blend.mask[0, -1], blend.mask[-1, 0], blend.mask[-1, -1]):
        assert corner == 0


def test_the_same_seed_gives_the_same_pseudo_fake_and_another_seed_another():
    crop = face_crop(96, 3)
    a = self_blend(crop, np.random.default_rng([0, 7]))
    b = self_blend(crop, np.random.default_rng([0, 7]))
    c = self_blend(crop, np.random.default_rng([0, 8]))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.mask, c.mask)


def test_masks_are_soft_bounded_and_use_the_papers_blend_ratios():
    peaks = set()
    for seed in range(40):
        m = face_mask(64, np.random.default_rng(seed))
        assert m.dtype == np.float32 and m.min() == 0.0 and m.max() <= 1.0
        assert 0 < np.count_nonzero((m > 0) & (m < m.max())) < m.size  # a soft edge
        peaks.add(round(float(m.max()), 2))
    assert peaks <= {0.25, 0.5, 0.75, 1.0} and 1.0 in peaks and len(peaks) >= 3


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 10, 3), np.uint8),
                                 np.zeros((8, 8, 3), np.float32)])
def test_bad_crops_are_refused(bad):
    with pytest.raises(ValueError, match="self_blend needs"):
        self_blend(bad, np.random.default_rng(0))
