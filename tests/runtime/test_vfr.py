"""Issue 19, class 9: timing comes from the container (variable frame rates), the header's frame
count is a hint, and the annotated video plays in step with the source."""

from __future__ import annotations

import json
import shutil
import subprocess

import cv2
import numpy as np
import pandas as pd
import pytest

from tests.runtime.test_hostile_cli import edge_detect

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                reason="needs ffmpeg/ffprobe to make variable-frame-rate media")

# 20 frames 0.2 s apart, then 20 frames 0.04 s apart: 40 frames over 4.76 s
SETPTS = "setpts='if(lt(N\\,20)\\,N*0.2\\,4+(N-20)*0.04)/TB'"
TRUE_TIMES = [n * 0.2 if n < 20 else 4 + (n - 20) * 0.04 for n in range(40)]


def _make(path, *vf_and_opts):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                    *vf_and_opts, "-c:v", "mpeg4", str(path)], check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def vfr(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vfr")
    return {ext: _make(tmp / f"vfr.{ext}", "-frames:v", "40", "-vf", SETPTS, "-fps_mode", "vfr")
            for ext in ("mkv", "mp4")}


@pytest.fixture(scope="module")
def analysed(vfr, tiny_onnx, tmp_path_factory):
    """One edge-detect run per container, shared by the tests below."""
    runs = {}
    for ext, path in vfr.items():
        out = tmp_path_factory.mktemp(f"out-{ext}")
        runs[ext] = (edge_detect(path, "-m", tiny_onnx, "-o", out, "--no-report", "--force"), out)
    return runs


def _frames(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            return out, cap.get(cv2.CAP_PROP_FPS)
        out.append(img)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_vfr_times_come_from_the_container(analysed, ext):
    """mkv: was rejected as truncated ("decoded 40 of 120"); mp4: time_s was index / average fps."""
    r, out = analysed[ext]
    assert r.returncode == 0, r.stderr
    assert "truncated" not in r.stderr
    df = pd.read_csv(out / "frames.csv")
    assert df.frame.tolist() == list(range(40))
    np.testing.assert_allclose(df.time_s.to_numpy(), TRUE_TIMES, atol=0.002)
    s = json.loads((out / "summary.json").read_text())
    assert s["frames"]["read"] == 40 and not s["warnings"][:-1]  # only "no face found"


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_the_annotated_video_plays_in_step_with_the_source(analysed, vfr, ext):
    r, out = analysed[ext]
    assert r.returncode == 0, r.stderr
    src, _ = _frames(vfr[ext])
    ann, fps = _frames(out / "annotated.mp4")
    assert abs(len(ann) / fps - (TRUE_TIMES[-1] + 1 / fps)) <= 1.5 / fps  # same duration
    for t in (1.0, 3.0, 4.2, 4.6):  # the frame shown at time t is the source's frame at t
        slot = int(round(t * fps))  # (within one output frame: mp4's average rate is 8.3 fps)
        lower = slice(150, 240)  # below the overlay header
        diffs = [np.abs(ann[slot][lower].astype(int) - s[lower].astype(int)).mean() for s in src]
        shown = TRUE_TIMES[int(np.argmin(diffs))]
        assert abs(shown - t) <= 1 / fps + 1e-6, (t, shown)


def test_a_truncated_mkv_is_still_reported(tmp_path, tiny_onnx):
    full = _make(tmp_path / "cfr.mkv", "-frames:v", "100")
    data = full.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    r = edge_detect(cut, "-m", tiny_onnx, "-o", tmp_path / "out", "--no-report")
    assert r.returncode == 3 and "is truncated or corrupt: decoded" in r.stderr, r.stderr


def test_a_stream_that_starts_late_starts_at_zero(tmp_path, tiny_onnx):
    """MPEG-TS starts its clock at ~1.4 s: time_s is relative to the first frame."""
    ts = _make(tmp_path / "clip.ts", "-frames:v", "10")
    out = tmp_path / "out"
    assert edge_detect(ts, "-m", tiny_onnx, "-o", out, "--no-report").returncode == 0
    np.testing.assert_allclose(pd.read_csv(out / "frames.csv").time_s, np.arange(10) / 25, atol=0.002)
