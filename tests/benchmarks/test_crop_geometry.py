"""Crop-geometry measurement: recovers a known geometry; on real FF++ frames the haar preset matches."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.crop_geometry import (
    BoxPairs,
    box_iou,
    collect_pairs,
    crop_ious,
    fit_geometry,
    leave_one_video_out,
    measure,
)
from edge_detector.geometry import CropGeometry
from tests.conftest import fixtures_root
from train.import_crops import GEOMETRY_PRESETS


def _synthetic_pairs(g: CropGeometry, n: int = 60, noise: float = 0.0, seed: int = 0) -> BoxPairs:
    """SSD-like boxes (taller than wide) and the square crops ``g`` makes of them, plus noise."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(60, 200, n)
    h = w * rng.uniform(1.2, 1.4, n)
    x1, y1 = rng.uniform(200, 400, n), rng.uniform(150, 300, n)
    ssd = np.stack([x1, y1, x1 + w, y1 + h], 1)
    side = g.scale * h * (1 + noise * rng.standard_normal(n))
    cx = x1 + w / 2 + g.shift_x * w + noise * w * rng.standard_normal(n)
    cy = y1 + h / 2 + g.shift_y * h
    recipe = np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], 1)
    hw = np.tile([1080, 1920], (n, 1))
    return BoxPairs(ssd, recipe, hw, np.array([f"v{i % 3}" for i in range(n)], dtype=object))


def test_box_iou():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10]])
    assert box_iou(a, b).tolist() == pytest.approx([1.0, 50 / 150])


def test_fit_recovers_a_known_geometry_and_scores_it():
    truth = CropGeometry(0.85, -0.02, 0.05)
    pairs = _synthetic_pairs(truth)
    g = fit_geometry(pairs.ssd, pairs.recipe)
    assert g.scale == pytest.approx(0.85, abs=1e-3) and g.square
    assert (g.shift_x, g.shift_y) == pytest.approx((-0.02, 0.05), abs=1e-3)
    assert np.median(crop_ious(pairs, g)) > 0.98  # only integer rounding is left
    assert np.median(crop_ious(pairs, CropGeometry())) < 0.5  # the 1.3x crop is far too big
    noisy = _synthetic_pairs(truth, noise=0.05, seed=1)
    loo = leave_one_video_out(noisy)
    assert loo.shape == (60,) and 0.8 < np.median(loo) < 0.98
    m = measure(noisy)
    assert m["iou"]["fitted geometry"]["n"] == 60
    assert set(m["iou_per_video_median"]) == {"v0", "v1", "v2"}
    with pytest.raises(ValueError, match="no matched boxes"):
        fit_geometry(np.zeros((0, 4)), np.zeros((0, 4)))


@pytest.mark.slow  # reads ../shared
def test_haar_preset_matches_recipe_crops_on_real_ffpp_frames():
    root = fixtures_root() / "ffpp_c23_mini"
    videos = [root / "original" / "519.mp4", root / "Deepfakes" / "519_515.mp4"]
    if not all(v.is_file() for v in videos):
        pytest.skip(f"real FF++ fixtures not found at {root} (set EDGE_FIXTURES)")
    # 13 frames of each video's first 390 (every=60 over all 751 decoded twice the frames)
    pairs, counts = collect_pairs(videos, every=30, max_frames=390)
    assert counts["frames"] == 26 and len(pairs) >= 20
    assert set(pairs.video) == {"original/519", "Deepfakes/519_515"}
    haar = crop_ious(pairs, GEOMETRY_PRESETS["haar"])
    assert np.median(haar) >= 0.85
    assert np.median(crop_ious(pairs, CropGeometry())) < 0.6
