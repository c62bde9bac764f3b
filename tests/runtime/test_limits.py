"""Issue 19, class 5: every resource has a limit, checked before the work, with a clear error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pandas as pd
import pytest

from edge_detector.cvfiles import MAX_IMAGE_PIXELS, read_image
from edge_detector.errors import LimitError
from tests.hostile import png_bomb, png_header_only
from tests.media import astronaut_bgr, write_video
from tests.runtime.test_hostile_cli import edge_detect

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("make, size", [
    (lambda p: png_bomb(p, 20000, 20000), "20000x20000"),  # the example: 48 KB -> 1.2 GB decoded
    (lambda p: png_header_only(p, 50000, 50000), "50000x50000"),  # a header alone
    (lambda p: png_bomb(p, 10000, 6000), "10000x6000"),  # just over 50 MP
])
def test_image_bombs_are_refused_from_the_header(tmp_path, make, size):
    path = make(tmp_path / "bomb.png")
    with pytest.raises(LimitError, match=f"{size} px, over the limit"):
        read_image(path)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tiff"])
def test_every_header_format_is_checked(tmp_path, ext, monkeypatch):
    path = tmp_path / f"x{ext}"
    cv2.imwrite(str(path), astronaut_bgr())  # 512x512
    monkeypatch.setenv("EDGE_MAX_IMAGE_PIXELS", str(512 * 512 - 1))
    with pytest.raises(LimitError, match="512x512"):
        read_image(path)
    monkeypatch.setenv("EDGE_MAX_IMAGE_PIXELS", str(512 * 512))
    assert read_image(path).shape == (512, 512, 3)


# Runs the CLI in a child that records its own peak memory: VmHWM of its address space (ru_maxrss
# would carry the parent's peak over fork, e.g. a ~1 GB pytest-xdist worker).
_PEAK = ("import atexit, os, re, sys\n"
         "def peak():\n"
         "    status = open('/proc/self/status').read()\n"
         "    open(os.environ['PEAK_OUT'], 'w').write(re.search(r'VmHWM:\\s+(\\d+)', status)[1])\n"
         "atexit.register(peak)\n"
         "from edge_detector.cli import main\n"
         "sys.argv[0] = 'edge-detect'\n"
         "main()\n")


def test_the_image_bomb_exits_3_without_decoding(tmp_path, tiny_onnx):
    bomb = png_bomb(tmp_path / "bomb.png")
    peak = tmp_path / "peak.txt"
    r = subprocess.run([sys.executable, "-c", _PEAK, str(bomb), "-m", str(tiny_onnx), "-o",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PEAK_OUT": str(peak)}, cwd=REPO)
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "20000x20000 px, over the limit of 50 megapixels" in lines[0]
    assert "corrupt" not in lines[0]
    assert int(peak.read_text()) < 600_000  # KiB: the 1.2 GB image was never decoded


def test_a_folder_scan_reports_the_over_limit_image_and_goes_on(tmp_path, tiny_onnx):
    folder = tmp_path / "in"
    write_video(folder / "a.mp4", frames=4, size=(160, 120))
    png_bomb(folder / "bomb.png")
    out = tmp_path / "out"
    r = edge_detect(folder, "-m", tiny_onnx, "-o", out, "--no-report")
    assert r.returncode == 1, r.stderr
    df = pd.read_csv(out / "summary.csv").set_index("path")
    assert "over the limit" in df.loc["bomb.png", "error"] and df.loc["a.mp4", "frames"] == 4


def test_video_frames_over_the_budget_are_refused_before_decoding(tmp_path, tiny_onnx):
    video = write_video(tmp_path / "v.mp4", frames=4, size=(320, 240))
    r = edge_detect(video, "-m", tiny_onnx, "-o", tmp_path / "out",
                    env={"EDGE_MAX_IMAGE_PIXELS": str(320 * 240 - 1)})
    assert r.returncode == 3 and "320x240 px, over the limit" in r.stderr, r.stderr
    assert MAX_IMAGE_PIXELS >= 7680 * 4320  # 8K still fits the default budget


def _import_crops(src, out, *args):
    return subprocess.run([sys.executable, "-m", "train", "import-crops", str(src), "--out", str(out),
                           "--val-fraction", "0", "--test-fraction", "0", *args],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


@pytest.fixture
def crops_src(tmp_path):
    src = tmp_path / "src"
    for cls in ("original", "Deepfakes"):
        (src / cls).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(src / cls / f"{i}.png"), astronaut_bgr()[:64, :64])
    return src


def test_import_crops_records_over_limit_images_and_goes_on(tmp_path, crops_src):
    """The example: a 74-byte PNG header claiming 50000x50000 aborted with a cv2 traceback."""
    png_header_only(crops_src / "original" / "header.png")
    png_bomb(crops_src / "Deepfakes" / "bomb.png")
    r = _import_crops(crops_src, tmp_path / "data", "--size", "32")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    from train.manifest import read_manifest

    df = read_manifest(tmp_path / "data")
    bad = df[df.detail.str.contains("over the limit", na=False)]
    assert set(bad.video) == {"original/header", "Deepfakes/bomb"}
    assert (bad.status == "unreadable").sum() == 2
    assert (df.status == "ok").sum() == 4


@pytest.mark.parametrize("args, option", [
    (["--size", "60000"], "--size"), (["--size", "8"], "--size"), (["--workers", "999"], "--workers"),
    (["--val-fraction", "nan"], "--val-fraction"),
])
def test_import_crops_bounds_its_options(tmp_path, crops_src, args, option):
    r = _import_crops(crops_src, tmp_path / "data", *args)
    assert r.returncode == 2 and option in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.skipif(shutil.which("true") is None, reason="needs a shell")
def test_fit_bounds_its_options(tmp_path, crops_src):
    for args, option in [(["--batch-size", "0"], "--batch-size"), (["--lr", "nan"], "--lr"),
                         (["--input-size", "100000"], "--input-size"), (["--epochs", "-1"], "--epochs")]:
        r = subprocess.run([sys.executable, "-m", "train", "fit", "--arch", "scratch", "--data",
                            str(crops_src), "--out", str(tmp_path / "run"), *args],
                           capture_output=True, text=True, timeout=300, cwd=REPO,
                           env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
        assert r.returncode == 2 and option in r.stderr and "Traceback" not in r.stderr, r.stderr
