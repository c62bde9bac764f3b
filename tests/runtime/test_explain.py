"""Occlusion maps (edge_detector.explain): they find the region a model depends on, are
deterministic, and cost the stated number of forward passes, on ONNX Runtime alone."""

from pathlib import Path

import numpy as np
import pytest

from edge_detector import OnnxClassifier, occlusion_map
from edge_detector import explain as ex
from edge_detector.classifier import make_session
from edge_detector.heatmap import render_overlay
from tests.onnx_factory import region_texture_model

SHIPPED = Path(__file__).resolve().parents[2] / "edge_detector" / "models"


def noise(size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def region_mask(size: int, region: tuple[int, int, int, int]) -> np.ndarray:
    y0, y1, x0, x1 = region
    mask = np.zeros((size, size), bool)
    mask[y0:y1, x0:x1] = True
    return mask


class CountingSession:
    """An ORT session that counts calls and the faces fed to it."""

    def __init__(self, session) -> None:
        self._session, self.calls, self.images = session, 0, 0

    def run(self, names, feeds):
        self.calls += 1
        self.images += len(next(iter(feeds.values())))
        return self._session.run(names, feeds)

    def __getattr__(self, name):
        return getattr(self._session, name)


@pytest.mark.parametrize("size, region", [
    (64, (8, 32, 32, 56)),     # on the patch grid
    (64, (20, 44, 20, 44)),    # off the grid, in the middle
    (128, (72, 104, 32, 96)),  # a mouth-shaped band
    (128, (16, 48, 64, 112)),  # one eye
])
def test_map_peaks_on_the_only_region_the_model_reads(tmp_path, size, region):
    clf = OnnxClassifier(region_texture_model(tmp_path / "r.onnx", size=size, region=region))
    m = occlusion_map(clf, noise(size))
    assert m.p_fake > 0.9  # noise in the region reads as fake
    truth = region_mask(size, region)
    # IoU of the region with as many of the map's highest pixels as the region has
    top = np.zeros(size * size, bool)
    top[np.argsort(-m.heat.ravel(), kind="stable")[: truth.sum()]] = True
    top = top.reshape(size, size)
    assert (top & truth).sum() / (top | truth).sum() >= 0.5
    assert truth[np.unravel_index(np.argmax(m.heat), m.heat.shape)]
    # pixels covered only by patches that miss the region: blurring them changes nothing
    touched = np.zeros((size, size), bool)
    for (y0, x0, y1, x1), _ in zip(m.boxes(), m.patch_drops.ravel(), strict=True):
        if truth[y0:y1, x0:x1].any():
            touched[y0:y1, x0:x1] = True
    assert (~touched).any()
    assert np.abs(m.heat[~touched]).max() < 1e-6
    assert m.heat[truth].mean() > 0.1


def test_map_is_deterministic_and_batching_does_not_change_it(tmp_path, monkeypatch):
    model = region_texture_model(tmp_path / "r.onnx")
    crop = noise(64, seed=3)
    a = occlusion_map(OnnxClassifier(model), crop)
    b = occlusion_map(OnnxClassifier(model), crop)  # a fresh session
    np.testing.assert_array_equal(a.heat, b.heat)
    np.testing.assert_array_equal(a.patch_drops, b.patch_drops)
    monkeypatch.setattr(ex, "MAX_BATCH_BYTES", 64 * 64 * 3 * 4 * 30)  # 30 crops per call
    c = occlusion_map(OnnxClassifier(model), crop)
    assert c.calls == 2
    np.testing.assert_array_equal(a.heat, c.heat)


@pytest.mark.parametrize("model", ["region", "scratch.onnx", "lite0.onnx"])
def test_cost_is_the_stated_number_of_forward_passes(tmp_path, model):
    path = region_texture_model(tmp_path / "r.onnx") if model == "region" else SHIPPED / model
    if not path.is_file():
        pytest.skip(f"{path} not shipped")
    session = CountingSession(make_session(path))
    clf = OnnxClassifier(path, session=session)
    m = occlusion_map(clf, noise(clf.input_size))
    assert ex.FORWARD_PASSES == 50
    assert session.images == m.forward_passes == ex.FORWARD_PASSES
    assert session.calls == m.calls == 1  # one batched ORT call for crops up to 256 px
    assert m.heat.shape == (clf.input_size, clf.input_size) and m.heat.dtype == np.float32
    assert np.isfinite(m.heat).all() and 0.0 <= m.p_fake <= 1.0
    np.testing.assert_allclose(m.patch_drops, m.p_fake - m.p_occluded, atol=1e-6)
    again = occlusion_map(clf, noise(clf.input_size))
    np.testing.assert_array_equal(m.heat, again.heat)  # deterministic with every model


def test_patch_layout_covers_the_crop_edge_to_edge():
    patch, starts = ex.patch_layout(128)
    assert patch == 32 and starts.tolist() == [0, 16, 32, 48, 64, 80, 96]
    patch, starts = ex.patch_layout(299)
    assert starts[0] == 0 and starts[-1] + patch == 299 and len(starts) == ex.GRID
    with pytest.raises(ValueError, match="grid must be in"):
        ex.patch_layout(128, grid=33)


def test_other_crop_sizes_are_resized_and_bad_crops_refused(tmp_path):
    clf = OnnxClassifier(region_texture_model(tmp_path / "r.onnx"))
    assert occlusion_map(clf, noise(100)).heat.shape == (64, 64)
    with pytest.raises(ValueError, match="one \\(h, w, 3\\) BGR crop"):
        occlusion_map(clf, noise(64)[None])
    with pytest.raises(ValueError, match="uint8"):
        occlusion_map(clf, noise(64).astype(np.float32))


def test_occluder_is_a_blurred_copy_not_black():
    crop = noise(64)
    soft = ex.blurred_copy(crop)
    out = ex.occlude(crop, soft, [(0, 0, 16, 16)])
    np.testing.assert_array_equal(out[:16, :16], soft[:16, :16])
    np.testing.assert_array_equal(out[16:], crop[16:])
    assert abs(float(soft.mean()) - float(crop.mean())) < 3  # colour kept
    assert np.diff(soft.astype(float), axis=1).std() < 0.2 * np.diff(crop.astype(float), axis=1).std()


def test_overlay_tints_only_where_the_map_is_high(tmp_path):
    size = 64
    clf = OnnxClassifier(region_texture_model(tmp_path / "r.onnx", region=(8, 32, 32, 56)))
    crop = np.full((size, size, 3), 128, np.uint8)
    crop[8:32, 32:56] = noise(24)[:, :, :]
    m = occlusion_map(clf, crop)
    img = render_overlay(crop, m, panel=128)
    assert img.dtype == np.uint8 and img.shape[1] == 2 * 128 + 4 and img.shape[0] > 128
    left, right = img[:128, :128].astype(int), img[:128, 132:].astype(int)
    diff = np.abs(left - right).sum(axis=2)
    assert diff[:, :40].max() == 0  # left of every patch that touches the region: untinted
    assert diff[16:64, 64:112].mean() > 20  # the region is tinted
