"""Tracking-gated detection finds the faces a full-frame pass finds, with the same boxes."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edge_detector.cli import main
from edge_detector.faces import FaceDetector
from edge_detector.gating import GateConfig, TrackGate, plan_window, scene_cut, thumbnail
from edge_detector.tracking import iou_matrix
from tests.media import astronaut_bgr, grace_hopper_bgr

W, H, N, K = 640, 360, 60, 8
A_GONE = range(36, 40)  # face A leaves the frame, then comes back
B_IN = range(14, 46)  # face B enters mid-way between full passes and leaves later


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def _paste(frame: np.ndarray, photo: np.ndarray, x: int, y: int) -> None:
    ph, pw = photo.shape[:2]
    x0, x1 = max(x, 0), min(x + pw, frame.shape[1])
    if x1 > x0:
        frame[y : y + ph, x0:x1] = photo[:, x0 - x : x1 - x]


def moving_faces_clip() -> list[np.ndarray]:
    """Two people on a grey stage: A walks right and steps out for a few frames, B enters later
    from the right, walks left and leaves; both bob up and down."""
    a = cv2.resize(astronaut_bgr(), (220, 220), interpolation=cv2.INTER_AREA)
    b = cv2.resize(grace_hopper_bgr(), (150, 176), interpolation=cv2.INTER_AREA)
    frames = []
    for t in range(N):
        f = np.full((H, W, 3), 90, np.uint8)
        if t not in A_GONE:
            _paste(f, a, 10 + 5 * t, 60 + int(12 * np.sin(t / 5)))
        if t in B_IN:
            _paste(f, b, 560 - 7 * (t - B_IN.start), 150 + int(8 * np.cos(t / 4)))
        frames.append(f)
    return frames


def compare(full: list, track: list) -> tuple[float, float, list[float]]:
    """(frames-with-a-face recall, median IoU of full-pass faces found by tracking, all IoUs)."""
    with_face = [i for i, f in enumerate(full) if len(f)]
    found = [i for i in with_face if len(track[i])]
    ious = [float(iou_matrix(f.xyxy, t.xyxy).max(axis=1).max()) if len(t) else 0.0
            for f, t in zip(full, track, strict=True) if len(f)]
    per_face = [v for f, t in zip(full, track, strict=True) if len(f) and len(t)
                for v in iou_matrix(f.xyxy, t.xyxy).max(axis=1) if v > 0]
    return len(found) / max(len(with_face), 1), float(np.median(per_face)), ious


def test_tracking_matches_full_frame_on_faces_entering_and_leaving(detector):
    frames = moving_faces_clip()
    full = [detector.detect(f) for f in frames]
    assert sum(len(f) == 2 for f in full) >= 20, "the generated clip should show two faces"
    assert all(len(full[t]) == 0 or len(full[t]) == 1 for t in A_GONE)
    gate = TrackGate(detector, GateConfig(full_every=K))
    track = [gate.detect(f) for f in frames]
    recall, median_iou, _ = compare(full, track)
    assert recall >= 0.99
    assert median_iou >= 0.97  # windows on the SSD's anchor grid reproduce the full-pass boxes
    assert gate.full_passes < N / 3, f"{gate.full_passes} full passes: gating did not gate"
    assert gate.window_passes > N / 2
    # B enters between full passes: found by the next full pass at the latest.
    first_full = next(t for t in B_IN if len(full[t]) == 2)
    first_track = next(t for t in B_IN if len(track[t]) == 2)
    assert first_full <= first_track <= first_full + K
    # A face that leaves is dropped at once (the lost track forces a full pass on that frame).
    assert [len(track[t]) for t in A_GONE] == [len(full[t]) for t in A_GONE]


def test_tracked_crops_give_the_shipped_model_the_same_p_fake(detector):
    """The acceptance's P_fake check, on the packaged model (the crops are what it sees)."""
    from edge_detector.classifier import OnnxClassifier
    from edge_detector.faces import crop_faces
    from edge_detector.zoo import resolve_model

    clf = OnnxClassifier(resolve_model(None))
    size, geometry = clf.contract.input_size, clf.contract.geometry
    frames = moving_faces_clip()[:30]
    gate = TrackGate(detector, GateConfig(full_every=K))
    dev = []
    for f in frames:
        full, track = detector.detect(f), gate.detect(f)
        if not len(full) or not len(track):
            continue
        m = iou_matrix(full.xyxy, track.xyxy)
        p_full = 1 - clf.predict(crop_faces(f, full, size, geometry))[:, 0]
        p_track = 1 - clf.predict(crop_faces(f, track, size, geometry))[:, 0]
        dev += [abs(p_full[a] - p_track[b]) for a, b in enumerate(m.argmax(axis=1))
                if m[a, b] >= 0.5]
    assert gate.window_passes >= 20
    assert len(dev) >= 30
    assert float(np.median(dev)) <= 0.02


def test_full_every_1_is_a_full_pass_every_frame(detector):
    frames = moving_faces_clip()[:6]
    gate = TrackGate(detector, GateConfig(full_every=1))
    for f in frames:
        got, want = gate.detect(f), detector.detect(f)
        np.testing.assert_allclose(got.xyxy, want.xyxy)
    assert (gate.full_passes, gate.window_passes) == (6, 0)


def test_scene_cut_forces_a_full_pass(detector):
    frames = moving_faces_clip()[:4]
    gate = TrackGate(detector, GateConfig(full_every=100))
    for f in frames[:3]:
        gate.detect(f)
    assert gate.full_passes == 1
    cut = 255 - frames[3]  # a different picture, same face positions
    assert scene_cut(thumbnail(frames[2]), thumbnail(cut), gate.config.cut_threshold)
    assert not scene_cut(thumbnail(frames[2]), thumbnail(frames[3]), gate.config.cut_threshold)
    gate.detect(cut)
    assert gate.full_passes == 2


def test_window_is_grid_aligned_and_reproduces_the_full_pass_box(detector):
    frame = moving_faces_clip()[0]
    face = detector.detect(frame)[0]
    window = plan_window(face.xyxy[0], 2.0, (W, H), (300, 300), 48)
    x1, y1, x2, y2 = window
    sx, sy = 300 / W, 300 / H
    assert 0 <= x1 < face.xyxy[0, 0] * sx and face.xyxy[0, 2] * sx < x2 <= 300
    assert 0 <= y1 < face.xyxy[0, 1] * sy and face.xyxy[0, 3] * sy < y2 <= 300
    assert all(v % 32 == 0 for v in (x1, y1)) and all(v % 32 == 0 or v == 300 for v in (x2, y2))
    assert (x2 - x1) * (y2 - y1) < 0.5 * 300 * 300  # a fraction of a full pass
    found = detector.detect_windows(frame, [window])[0]
    assert len(found) == 1
    # same pixels and anchors as the full pass: the same box (a wrong offset or scale gives < 0.9)
    assert iou_matrix(found.xyxy, face.xyxy)[0, 0] > 0.97


def test_small_face_window_grows_to_min_net():
    x1, y1, x2, y2 = plan_window(np.array([900, 500, 930, 536]), 2.0, (1920, 1080), (300, 300), 48)
    assert x2 - x1 >= 48 and y2 - y1 >= 48
    assert x2 - x1 <= 96 and y2 - y1 <= 96  # two grid cells: no more than needed


def test_window_at_the_border_is_clipped_to_the_network_input():
    assert plan_window(np.array([1200, 640, 1280, 720]), 2.0, (1280, 720), (300, 300), 48)[2:] \
        == (300, 300)
    assert plan_window(np.array([0, 0, 60, 60]), 2.0, (1280, 720), (300, 300), 48)[:2] == (0, 0)


@pytest.mark.parametrize("args, message", [
    (["--detect", "both"], "'both' is not one of 'full', 'track'"),
    (["--full-every", "0"], "0 is not in the range 1<=x<=10000"),
])
def test_cli_rejects_bad_detect_options(face_video, tiny_onnx, args, message):
    res = CliRunner().invoke(main, [str(face_video), "-m", str(tiny_onnx), *args])
    assert res.exit_code == 2
    assert message in res.output


@pytest.mark.parametrize("mode", ["full", "track"])
def test_cli_detect_mode_is_recorded(face_video, tiny_onnx, tmp_path, mode):
    out = tmp_path / mode
    res = CliRunner().invoke(main, [str(face_video), "-m", str(tiny_onnx), "-o", str(out),
                                    "--detect", mode, "--full-every", "5", "--no-video",
                                    "--no-report", "-q"])
    assert res.exit_code == 0, res.output
    det = json.loads((out / "summary.json").read_text())["detector"]
    assert det["mode"] == mode
    if mode == "track":
        # 30 frames, a full pass every 5 plus the frames after the 3-frame gap (lost, then found)
        assert 6 <= det["full_passes"] <= 10 and det["window_passes"] >= 18
    else:
        assert det["full_passes"] is None


@pytest.mark.parametrize("rel", [
    "faces/stage_clip_360p.mp4", "faces/street_people_1080p.mp4",
    "ffpp_c23_mini/original/004.mp4", "ffpp_c23_mini/Face2Face/750_743.mp4",
])
def test_tracking_matches_full_frame_on_real_clips(real_fixtures, detector, rel):
    cap = cv2.VideoCapture(str(real_fixtures / rel))
    frames = [cap.read()[1] for _ in range(40)]
    cap.release()
    assert all(f is not None for f in frames)
    full = [detector.detect(f) for f in frames]
    gate = TrackGate(detector)
    track = [gate.detect(f) for f in frames]
    recall, median_iou, _ = compare(full, track)
    assert recall >= 0.99
    assert median_iou >= 0.9


def test_pipeline_rejects_an_unknown_detect_mode(detector, tiny_onnx):
    from edge_detector.classifier import OnnxClassifier
    from edge_detector.pipeline import Pipeline

    with pytest.raises(ValueError, match="detect must be one of"):
        Pipeline(detector, OnnxClassifier(tiny_onnx), detect="both")
    with pytest.raises(ValueError, match="full_every must be >= 1"):
        Pipeline(detector, OnnxClassifier(tiny_onnx), detect="track", full_every=0)
