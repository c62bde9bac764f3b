import shutil

import cv2
import numpy as np
import pytest

from edge_detector import FaceDetector, ModelError, ModelIntegrityError, crop_box, crop_face
from edge_detector.types import FaceDetections
from edge_detector.weights import MODEL_SHA256, locate_detector_files, sha256_file
from tests.media import astronaut_bgr, grace_hopper_bgr, scene


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def test_weights_come_from_installed_wheel_and_match_hash():
    files = locate_detector_files()
    assert files.model.name == "res10_300x300_ssd_iter_140000.caffemodel"
    assert sha256_file(files.model) == MODEL_SHA256


def test_detector_finds_the_astronaut_face(detector):
    img = astronaut_bgr()
    faces = detector.detect(img)
    assert len(faces) == 1
    x1, y1, x2, y2 = faces.xyxy[0]
    # Eileen Collins' face in skimage's 512x512 astronaut photo sits around x 180-270, y 60-180.
    assert 150 < x1 < 210 and 240 < x2 < 300 and 30 < y1 < 90 and 150 < y2 < 210
    assert faces.score[0] > 0.9


def test_detector_orders_faces_largest_first(detector):
    canvas = np.full((500, 800, 3), 90, np.uint8)
    canvas[20:480, 20:412] = cv2.resize(grace_hopper_bgr(), (392, 460))
    canvas[100:400, 480:780] = cv2.resize(astronaut_bgr(), (300, 300))
    faces = detector.detect(canvas)
    assert len(faces) == 2
    assert faces.area[0] > faces.area[1]
    assert faces.xyxy[0, 0] < 412 < faces.xyxy[1, 0]


def test_detector_returns_empty_on_blank_frame(detector):
    faces = detector.detect(scene(320, 240, 0, None))
    assert len(faces) == 0 and faces.xyxy.shape == (0, 4)


def test_face_detections_validate_shapes():
    with pytest.raises(ValueError, match="rows"):
        FaceDetections(np.zeros((2, 4)), np.zeros(3))
    d = FaceDetections(np.array([[0, 0, 10, 20], [0, 0, 5, 5]]), np.array([0.9, 0.8]))
    assert len(d[d.score > 0.85]) == 1
    assert d.area.tolist() == [200.0, 25.0]


@pytest.mark.parametrize(
    "box, frame_hw, margin, expected",
    [
        ((100, 100, 200, 200), (480, 640), 1.0, (100, 100, 200, 200)),
        ((100, 100, 200, 200), (480, 640), 1.3, (85, 85, 215, 215)),
        ((0, 0, 100, 60), (480, 640), 1.3, (0, 0, 130, 130)),  # shifted into the frame, not clipped
        ((600, 400, 640, 480), (480, 640), 2.0, (480, 320, 640, 480)),  # corner: shifted up-left
        ((0, 0, 640, 480), (480, 640), 1.3, (80, 0, 560, 480)),  # larger than the frame: shrinks
    ],
)
def test_crop_box_is_square_and_inside_the_frame(box, frame_hw, margin, expected):
    b = crop_box(np.array(box, np.float32), frame_hw, margin)
    assert b.x2 - b.x1 == b.y2 - b.y1
    assert 0 <= b.x1 and 0 <= b.y1 and b.x2 <= frame_hw[1] and b.y2 <= frame_hw[0]
    assert (b.x1, b.y1, b.x2, b.y2) == expected


def test_crop_face_resizes_the_window():
    img = np.zeros((100, 200, 3), np.uint8)
    img[40:60, 90:110] = (255, 0, 0)  # a blue (BGR) square in the middle
    crop = crop_face(img, np.array([90, 40, 110, 60]), size=64, geometry=1.0)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
    assert crop[32, 32].tolist() == [255, 0, 0]


def test_corrupt_detector_weights_are_refused(tmp_path):
    files = locate_detector_files()
    bad = tmp_path / "bad.caffemodel"
    shutil.copy(files.model, bad)
    with open(bad, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        FaceDetector(model_path=bad)


def test_missing_detector_override_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        FaceDetector(model_path=tmp_path / "nope.caffemodel")


def test_env_override_is_used(tmp_path, monkeypatch):
    files = locate_detector_files()
    copy = tmp_path / "copy.caffemodel"
    shutil.copy(files.model, copy)
    monkeypatch.setenv("EDGE_FACE_MODEL", str(copy))
    assert locate_detector_files().model == copy


def test_keep_aspect_feeds_the_same_pixel_budget():
    d = FaceDetector(keep_aspect=True)
    assert d.network_size(1280, 720) == (400, 225)
    assert d.network_size(512, 512) == (300, 300)
    assert FaceDetector().network_size(1280, 720) == (300, 300)
    faces = d.detect(cv2.copyMakeBorder(astronaut_bgr(), 0, 0, 200, 200, cv2.BORDER_CONSTANT))
    assert len(faces) == 1 and 350 < faces.xyxy[0, 0] < 420  # shifted by the 200 px border


def test_windows_of_many_shapes_match_a_fresh_detector_and_the_net_cache_stays_bounded():
    """Each input shape gets its own planned net; switching shapes must not change any result."""
    from edge_detector.faces import NET_CACHE

    img = cv2.resize(astronaut_bgr(), (640, 360))
    windows = [None, (64, 0, 224, 160), (96, 0, 224, 128), None, (32, 0, 256, 192),
               (64, 0, 224, 160)] + [(0, 0, 32 * a, 32 * b) for a in (2, 3, 4) for b in (2, 3, 4)]
    cached = FaceDetector()
    got = cached.detect_windows(img, windows)
    for window, faces in zip(windows, got, strict=True):
        want = FaceDetector().detect_windows(img, [window])[0]
        np.testing.assert_array_equal(faces.xyxy, want.xyxy)
        np.testing.assert_array_equal(faces.score, want.score)
    assert len(got[0]) == 1 and len(got[1]) == 1  # the face is inside the first windows
    assert len(cached._nets) == NET_CACHE
    assert len({(w[2] - w[0], w[3] - w[1]) for w in windows if w}) + 1 > NET_CACHE
    assert next(reversed(cached._nets)) == (128, 128)  # the most recent shape is kept


def test_a_precomputed_network_input_gives_the_same_faces_and_must_match_the_frame(detector):
    img = cv2.resize(astronaut_bgr(), (640, 360))
    net = detector.network_input(img)
    assert net.shape == (300, 300, 3)
    windows = [None, (64, 0, 224, 160)]
    for mine, want in zip(detector.detect_windows(img, windows, net),
                          detector.detect_windows(img, windows), strict=True):
        np.testing.assert_array_equal(mine.xyxy, want.xyxy)
    with pytest.raises(ValueError, match="net_input is 200x200, expected 300x300"):
        detector.detect_windows(img, [None], cv2.resize(img, (200, 200)))
