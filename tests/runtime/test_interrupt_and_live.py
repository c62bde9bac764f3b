import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from edge_detector import OnnxClassifier
from edge_detector.faces import FaceDetector
from edge_detector.pipeline import Pipeline
from edge_detector.sources import LiveSource, open_source
from tests.media import read_video_stats, write_video


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("long") / "long.mp4", frames=400, size=(640, 360))


def test_sigint_leaves_valid_csv_and_playable_video(tmp_path, long_video, tiny_onnx):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_detector.cli", str(long_video), "--model", str(tiny_onnx),
         "-o", str(out), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    csv = out / "frames.csv"
    deadline = time.time() + 60
    while time.time() < deadline:
        if csv.exists() and csv.read_text().count("\n") > 30:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    df = pd.read_csv(csv)
    n = df.frame.max() + 1
    assert 30 <= n < 400, "interrupt should land mid-video"
    assert df.frame.tolist() == list(range(n))
    frames, fps, _ = read_video_stats(out / "annotated.mp4")
    # the signal may land between the CSV row and the video frame of the same frame
    assert n - 1 <= frames <= n and fps == pytest.approx(25.0)
    s = json.loads((out / "summary.json").read_text())
    assert s["interrupted"] is True and s["frames"]["read"] == n


class SlowClassifier:
    """Wraps a real classifier and sleeps, to fall behind a real-time source on purpose."""

    def __init__(self, inner, delay_s):
        self.inner, self.delay_s, self.contract = inner, delay_s, inner.contract

    def predict(self, crops):
        time.sleep(self.delay_s)
        return self.inner.predict(crops)


def test_live_mode_drops_frames_instead_of_falling_behind(tmp_path, tiny_onnx):
    video = write_video(tmp_path / "rt.mp4", frames=75, size=(320, 240), fps=25.0)
    src = open_source(video, realtime=True)
    assert isinstance(src, LiveSource) and src.info.live
    pipeline = Pipeline(FaceDetector(), SlowClassifier(OnnxClassifier(tiny_onnx), 0.1))
    lags, indices = [], []

    def watched(frames):  # lag at the moment the pipeline takes a frame from the source
        for f in frames:
            lags.append(src.captured - 1 - f.index)
            yield f

    with src:
        for r in pipeline.run(watched(src)):
            indices.append(r.frame.index)
    assert src.dropped > 30, "a 100 ms model on a 25 fps source must drop most frames"
    assert max(lags) <= 1, lags  # never more than one frame behind the camera
    assert indices == sorted(indices) and indices[-1] >= 70


def test_cli_live_mode_records_csv_and_summary(tmp_path, tiny_onnx):
    from click.testing import CliRunner

    from edge_detector.cli import main

    video = write_video(tmp_path / "cam.mp4", frames=50, size=(320, 240), fps=25.0)
    out = tmp_path / "live"
    res = CliRunner().invoke(main, [str(video), "--realtime", "--record", "--no-display",
                                    "--model", str(tiny_onnx), "-o", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "frames.csv")
    s = json.loads((out / "summary.json").read_text())
    assert s["source"]["live"] is True
    assert s["frames"]["read"] == df.frame.nunique() == len(set(df.frame))
    assert s["frames"]["read"] + s["frames"]["dropped_live"] == 50
    assert df.frame.is_monotonic_increasing


def test_stream_url_is_a_live_source(tmp_path, tiny_onnx):
    """A URL goes through FFmpeg like rtsp:// or http:// would; file:// needs no network."""
    from click.testing import CliRunner

    from edge_detector.cli import main

    video = write_video(tmp_path / "stream.mp4", frames=20, size=(320, 240))
    url = video.resolve().as_uri()
    with open_source(url) as src:
        assert isinstance(src, LiveSource) and src.info.live and src.info.kind == "live"
        assert next(iter(src)).image_bgr.shape == (240, 320, 3)
    out = tmp_path / "rec"
    res = CliRunner().invoke(main, [url, "--record", "--no-display", "--model", str(tiny_onnx),
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "summary.json").read_text())["source"]["live"] is True
    bad = CliRunner().invoke(main, ["rtsp://127.0.0.1:9/none", "--model", str(tiny_onnx)])
    assert bad.exit_code == 3 and "cannot open stream" in bad.output
