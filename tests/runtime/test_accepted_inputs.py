"""Issue 19, class 10: folder scans and single-file mode accept the same inputs (one list), and
files a scan skips are reported."""

from __future__ import annotations

import json
import shutil
import subprocess

import cv2
import pandas as pd
import pytest

from edge_detector.sources import ACCEPTED_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES
from tests.media import astronaut_bgr, write_video
from tests.runtime.test_hostile_cli import edge_detect

HAVE_FFMPEG = shutil.which("ffmpeg") is not None


def _inputs(folder):
    """(file name, frames) of one video per container OpenCV can write or ffmpeg can make."""
    folder.mkdir(parents=True, exist_ok=True)
    src = write_video(folder.parent / "src.mp4", frames=6, size=(160, 120))
    made = {"clip.mp4": 6}
    cv2.imwrite(str(folder / "photo.jpg"), astronaut_bgr())
    cv2.imwrite(str(folder / "photo2.PNG"), astronaut_bgr())
    made.update({"photo.jpg": 1, "photo2.PNG": 1})
    shutil.copy(src, folder / "clip.mp4")
    if HAVE_FFMPEG:
        for name in ("clip.ts", "clip.gif", "clip.mts"):
            fmt = ["-f", "mpegts"] if name.endswith("mts") else []
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *fmt, str(folder / name)],
                           check=True, timeout=60)
            made[name] = 6
    return made


def test_one_list():
    assert ACCEPTED_SUFFIXES == IMAGE_SUFFIXES | VIDEO_SUFFIXES
    assert {".ts", ".mts", ".3gp", ".gif", ".heic", ".jpg", ".png"} <= ACCEPTED_SUFFIXES


def test_a_folder_scan_analyses_what_single_file_mode_analyses(tmp_path, tiny_onnx):
    folder = tmp_path / "in"
    made = _inputs(folder)
    (folder / "notes.txt").write_text("not a video\n")
    (folder / "data.bin").write_bytes(b"\0" * 10)
    out = tmp_path / "out"
    r = edge_detect(folder, "-m", tiny_onnx, "-o", out, "--no-report", "--no-video")
    assert r.returncode == 0, r.stderr
    assert "skipped 2 files that are not accepted inputs" in r.stderr
    df = pd.read_csv(out / "summary.csv").set_index("path")
    assert sorted(df.index) == sorted(made) and df.error.isna().all()
    for name, frames in made.items():
        assert df.loc[name, "frames"] == frames, name
        single = tmp_path / "single" / name
        r = edge_detect(folder / name, "-m", tiny_onnx, "-o", single, "--no-report", "--no-video")
        assert r.returncode == 0, (name, r.stderr)
        assert json.loads((single / "summary.json").read_text())["frames"]["read"] == frames


def test_a_folder_of_photos_is_scanned(tmp_path, tiny_onnx):
    """The example: a folder of photos gave "no videos found"."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"p{i}.jpg"), astronaut_bgr())
    out = tmp_path / "out"
    r = edge_detect(folder, "-m", tiny_onnx, "-o", out)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out / "summary.csv")
    assert sorted(df.path) == ["p0.jpg", "p1.jpg", "p2.jpg"] and (df.frames == 1).all()
    assert (out / "p0" / "annotated.jpg").is_file()


@pytest.mark.parametrize("name", ["notes.txt", "archive.zip", "noext"])
def test_single_file_mode_refuses_what_a_scan_skips(tmp_path, tiny_onnx, name):
    path = tmp_path / name
    path.write_bytes(b"x" * 100)
    r = edge_detect(path, "-m", tiny_onnx, "-o", tmp_path / "out")
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "not an accepted input (videos" in lines[0]
