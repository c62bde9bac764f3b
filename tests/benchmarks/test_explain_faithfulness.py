"""The faithfulness benchmark's deletion curve: on a model that reads one region, deleting cells
by the map lowers P_fake faster than random cells; on the fixture fakes it runs end to end."""

import json

import numpy as np
import pytest

from benchmarks.explain_faithfulness import cell_boxes, deletion_curve, main, rank_cells
from edge_detector import OnnxClassifier, occlusion_map
from tests.onnx_factory import region_texture_model


def test_cells_tile_the_crop_and_rank_by_the_map():
    boxes = cell_boxes(64)
    assert len(boxes) == 64 and boxes[0] == (0, 0, 8, 8) and boxes[-1] == (56, 56, 64, 64)
    heat = np.zeros((64, 64), np.float32)
    heat[8:16, 40:48] = 1.0  # cell (1, 5)
    heat[0:8, 0:8] = 0.5  # cell (0, 0)
    assert rank_cells(heat)[:2].tolist() == [13, 0]


@pytest.mark.parametrize("occluder", ["blur", "mean"])
def test_map_deletion_beats_random_deletion_on_a_region_model(tmp_path, occluder):
    clf = OnnxClassifier(region_texture_model(tmp_path / "r.onnx", region=(8, 32, 32, 56)))
    crop = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    omap = occlusion_map(clf, crop)
    curve = deletion_curve(clf, crop, omap, occluder, draws=10)
    assert curve.p_fake == pytest.approx(omap.p_fake, abs=1e-6)
    assert (curve.by_map < curve.random - 0.05).all()
    assert curve.by_map[-1] < 0.2  # half the cells by the map include the whole region
    again = deletion_curve(clf, crop, omap, occluder, draws=10)
    np.testing.assert_array_equal(curve.random, again.random)  # seeded
    with pytest.raises(ValueError, match="occluder"):
        deletion_curve(clf, crop, omap, "black")


def test_benchmark_runs_on_the_fixture_fakes(real_fixtures, tmp_path, capsys):
    root = real_fixtures / "ffpp_c23_mini"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    out = tmp_path / "r.json"
    assert main(["--root", str(root), "--models", "scratch", "--frames", "1", "--random", "3",
                 "--json", str(out)]) == 0
    (r,) = json.loads(out.read_text())
    assert r["faces"] >= 3 and r["forward_passes_per_face"] == 50 and r["ort_calls_per_face"] == 1
    blur = r["deletion"]["all faces"]["blur"]
    assert len(blur["p_after_map"]) == 5 and all(0 <= p <= 1 for p in blur["p_after_map"])
    assert "scratch.onnx" in capsys.readouterr().out
