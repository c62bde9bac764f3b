"""BlazeFace's mapped boxes against the SSD's on the real fixture clips (slow tier; skips without them).

The bounds are the ones the README states, from ``python -m benchmarks.blazeface agree`` (every 3rd
of 300 frames): short-range median box IoU 0.857-0.935 per FF++ clip, full-range 0.789-0.930;
both found a face in every frame the SSD did on every FF++ clip.
"""

import cv2
import numpy as np
import pytest

from edge_detector.blazeface import BlazeFaceDetector
from edge_detector.faces import FaceDetector
from edge_detector.tracking import iou_matrix

FFPP = ["original/004.mp4", "original/519.mp4", "original/634.mp4", "Deepfakes/519_515.mp4",
        "Face2Face/750_743.mp4", "FaceSwap/634_660.mp4", "NeuralTextures/004_982.mp4"]
# stated per-clip median IoU with the SSD's box, and pooled over the FF++ clips
MIN_CLIP_IOU = {"blazeface": 0.85, "blazeface-full": 0.75}
MIN_POOLED_IOU = {"blazeface": 0.88, "blazeface-full": 0.85}


def sampled(path, every=10, limit=150):
    cap = cv2.VideoCapture(str(path))
    out = []
    for i in range(limit):
        ok, img = cap.read()
        if not ok:
            break
        if i % every == 0:
            out.append(img)
    cap.release()
    assert out, f"no frames in {path}"
    return out


@pytest.fixture(scope="module")
def ssd():
    return FaceDetector()


@pytest.mark.parametrize("name", sorted(MIN_CLIP_IOU))
def test_boxes_match_the_ssd_on_ffpp_clips(real_fixtures, ssd, name):
    det = BlazeFaceDetector(name)
    pooled = []
    for rel in FFPP:
        path = real_fixtures / "ffpp_c23_mini" / rel
        if not path.is_file():
            pytest.skip(f"{path} not found")
        ious, missed = [], 0
        for img in sampled(path):
            s, b = ssd.detect(img), det.detect(img)
            if len(s) and not len(b):
                missed += 1
            elif len(s):
                ious.append(float(iou_matrix(s.xyxy[:1], b.xyxy).max()))
        assert missed == 0, f"{name} missed the face in {missed} frames of {rel}"
        assert np.median(ious) >= MIN_CLIP_IOU[name], (rel, np.median(ious))
        pooled += ious
    assert np.median(pooled) >= MIN_POOLED_IOU[name], np.median(pooled)


def test_full_range_finds_the_small_street_faces_the_short_range_misses(real_fixtures, ssd):
    path = real_fixtures / "faces" / "street_people_1080p.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    short, full = BlazeFaceDetector("blazeface"), BlazeFaceDetector("blazeface-full")
    frames = sampled(path, every=5)
    with_ssd = [img for img in frames if len(ssd.detect(img))]
    assert len(with_ssd) >= 10
    assert sum(len(full.detect(img)) > 0 for img in with_ssd) >= 0.95 * len(with_ssd)
    assert sum(len(short.detect(img)) > 0 for img in with_ssd) == 0  # faces of ~30 px in 1080p
