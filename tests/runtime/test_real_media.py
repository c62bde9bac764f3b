"""Runs on the real faces and FaceForensics++ clips in ../shared/fixtures (skips when absent)."""

import json

import cv2
import pandas as pd
import pytest
from click.testing import CliRunner

from edge_detector import FaceDetector
from edge_detector.cli import main
from tests.media import read_video_stats


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


@pytest.mark.parametrize("name, at_least, at_most", [
    ("multiface.jpg", 4, 99), ("two_people.jpg", 2, 2), ("portrait_480p.jpg", 1, 1),
])
def test_detector_on_real_photos(real_fixtures, detector, name, at_least, at_most):
    img = cv2.imread(str(real_fixtures / "faces" / name))
    faces = detector.detect(img)
    assert at_least <= len(faces) <= at_most
    assert (faces.score >= 0.5).all()


@pytest.mark.slow
@pytest.mark.parametrize("rel, max_frames", [
    ("faces/stage_clip_360p.mp4", None),  # the whole clip: decoding a real H.264 file to its end
    ("ffpp_c23_mini/Deepfakes/519_515.mp4", 100),  # 751 frames; the first 100 say as much
])
def test_edge_detect_end_to_end_on_real_video(real_fixtures, tmp_path, tiny_onnx, rel, max_frames):
    src = real_fixtures / rel
    limit = [] if max_frames is None else ["--max-frames", str(max_frames)]
    res = CliRunner().invoke(main, [str(src), "--model", str(tiny_onnx), "-o", str(tmp_path), "--force",
                                    *limit])
    assert res.exit_code == 0, res.output
    n_src, fps_in, wh_in = read_video_stats(src)
    n_in = n_src if max_frames is None else max_frames
    assert n_src >= n_in
    n_out, fps_out, wh_out = read_video_stats(tmp_path / "annotated.mp4")
    assert n_out == n_in and wh_out == wh_in
    assert fps_out == pytest.approx(fps_in, rel=1e-3)
    df = pd.read_csv(tmp_path / "frames.csv")
    assert sorted(df.frame.unique()) == list(range(n_in))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"]["read"] == n_in
    assert summary["frames"]["with_faces"] >= 0.5 * n_in  # a visible face most of the time
