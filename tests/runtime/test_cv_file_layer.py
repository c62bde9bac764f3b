"""Issue 19, class 6: one path-safe OpenCV file layer (edge_detector.cvfiles) for the whole project.

OpenCV segfaults on a file name that is not UTF-8; every OpenCV call that names a file must go
through ``edge_detector.cvfiles``. This test walks every package for raw calls.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_detector import cvfiles
from tests.hostile import BAD_NAME
from tests.media import astronaut_bgr

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("edge_detector", "train", "export", "demo", "benchmarks")
# OpenCV functions and classes that take a file name.
FILE_CALLS = {"imread", "imreadmulti", "imreadanimation", "imcount", "imwrite", "imwritemulti",
              "haveImageReader", "VideoCapture", "VideoWriter", "CascadeClassifier", "FileStorage",
              "readNet", "readNetFromCaffe", "readNetFromONNX", "readNetFromTensorflow",
              "readNetFromDarknet", "readNetFromTorch", "readNetFromTFLite", "readNetFromModelOptimizer"}


def _raw_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func
            root = attr.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if attr.attr in FILE_CALLS and isinstance(root, ast.Name) and root.id == "cv2":
                found.append(f"{path.relative_to(REPO)}:{node.lineno} cv2...{attr.attr}")
    return found


def test_no_raw_opencv_file_calls_outside_the_layer():
    files = [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")]
    assert len(files) > 50  # the walk found the packages
    raw = [c for p in files if p.name != "cvfiles.py" or p.parent.name != "edge_detector"
           for c in _raw_calls(p)]
    assert not raw, "route these through edge_detector.cvfiles:\n" + "\n".join(raw)


def test_the_walk_finds_a_raw_call(tmp_path):
    bad = REPO / "tests" / "runtime" / "_raw_cv2_probe.py"
    try:
        bad.write_text("import cv2\nimg = cv2.imread('x')\nw = cv2.dnn.readNetFromCaffe('a', 'b')\n")
        assert [c.split(" ")[1] for c in _raw_calls(bad)] == ["cv2...imread", "cv2...readNetFromCaffe"]
    finally:
        bad.unlink()


@pytest.fixture
def bad_dir(tmp_path):
    return os.fsencode(tmp_path) + b"/" + BAD_NAME


def test_read_and_write_images_with_names_that_are_not_utf8(bad_dir):
    os.mkdir(bad_dir)
    path = bad_dir + b"/" + BAD_NAME + b".png"
    assert cvfiles.write_image(path, astronaut_bgr())
    img = cvfiles.read_image(path)
    assert img is not None and img.shape == astronaut_bgr().shape
    assert cvfiles.read_image(bad_dir + b"/missing.png") is None


def test_video_capture_and_writer_with_names_that_are_not_utf8(tmp_path, bad_dir):
    os.mkdir(bad_dir)
    path = bad_dir + b"/" + BAD_NAME + b".mp4"
    w = cvfiles.video_writer(path, "mp4v", 10.0, (64, 48))
    assert w.isOpened()
    for _ in range(3):
        w.write(np.zeros((48, 64, 3), np.uint8))
    w.release()
    cap = cvfiles.video_capture(path)
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 3


def test_import_crops_with_names_that_are_not_utf8(tmp_path):
    """The example: exit 139 (segfault) on any non-UTF-8 file or folder name."""
    root = os.fsencode(tmp_path / "src")
    for cls in (b"original", b"Deepfakes"):
        folder = root + b"/" + cls + b"/" + BAD_NAME  # a non-UTF-8 video folder ...
        os.makedirs(folder)
        for i in range(3):  # ... holding non-UTF-8 file names
            ok, data = cv2.imencode(".jpg", astronaut_bgr()[:200, :200])
            with open(folder + b"/" + BAD_NAME + str(i).encode() + b".jpg", "wb") as fh:
                fh.write(data.tobytes())
    out = tmp_path / "data"
    r = subprocess.run([sys.executable, "-m", "train", "import-crops", root, "--out", str(out),
                        "--size", "32", "--val-fraction", "0", "--test-fraction", "0"],
                       capture_output=True, timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    crops = list(out.rglob("*.png"))
    assert len(crops) == 6 and all(cv2.imread(str(c)).shape == (32, 32, 3) for c in crops)
