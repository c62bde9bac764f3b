"""H.264 round-trips of face crops: decodable, measurably coded, a clear error without ffmpeg."""

import json
import shutil

import cv2
import numpy as np
import pytest

from tests.media import astronaut_bgr
from train.degrade import (
    DegradeConfig,
    FfmpegMissing,
    degrade,
    degrade_faces,
    face_width,
    ffmpeg_binary,
    h264_roundtrip,
    parse_width,
    read_record,
)
from train.errors import ConfigError

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                  reason="ffmpeg is not installed (.ci/run installs it)")


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def _crops(n, size):
    img = astronaut_bgr()
    return np.stack([cv2.resize(img[20 + 7 * i:260 + 7 * i, 150:390], (size, size),
                                interpolation=cv2.INTER_AREA) for i in range(n)])


def test_missing_ffmpeg_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FfmpegMissing, match=r"^ffmpeg not found: install it \(Debian: apt-get "
                                            r"install ffmpeg\)") as info:
        ffmpeg_binary()
    assert "\n" not in str(info.value) and info.value.exit_code == 1


def test_missing_ffmpeg_through_the_cli(monkeypatch, tmp_path, capsys):
    from train.cli import main

    monkeypatch.setenv("PATH", "/nonexistent")
    (tmp_path / "manifest.csv").write_text("")
    assert main(["degrade", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ffmpeg not found")


def test_face_widths_are_seeded_in_range_and_even():
    ws = [face_width(f"train/x/{i}.png", 64, 192, 0) for i in range(400)]
    assert min(ws) >= 64 and max(ws) <= 192 and all(w % 8 == 0 for w in ws)
    assert len(set(ws)) > 8  # drawn, not constant
    assert ws == [face_width(f"train/x/{i}.png", 64, 192, 0) for i in range(400)]
    assert ws != [face_width(f"train/x/{i}.png", 64, 192, 1) for i in range(400)]
    assert np.median(ws) < 128  # log-uniform: the geometric middle is ~111


@pytest.mark.parametrize(("kw", "match"), [({"crfs": (60,)}, "crf"), ({"crfs": ()}, "crf"),
                                           ({"width": (200, 100)}, "MIN <= MAX"),
                                           ({"width": (4, 64)}, "widths")])
def test_bad_options_are_refused(tmp_path, kw, match):
    with pytest.raises(ConfigError, match=match):
        DegradeConfig(tmp_path, **kw)
    with pytest.raises(ConfigError, match="MIN:MAX"):
        parse_width("a:b")


@pytest.mark.slow
@needs_ffmpeg
def test_h264_roundtrip_is_decodable_and_coded_harder_at_higher_crf():
    crops = _crops(6, 128)
    psnr = {}
    for crf in (23, 32, 40):
        out = h264_roundtrip(crops, crf)
        assert out.shape == crops.shape and out.dtype == np.uint8
        psnr[crf] = np.mean([_psnr(a, b) for a, b in zip(crops, out, strict=True)])
    # libx264 intra at 128 px: visible but mild at 23, heavy at 40 (bands measured here)
    assert 30 < psnr[23] < 48 and 22 < psnr[40] < 34, psnr
    assert psnr[23] > psnr[32] + 1.5 > psnr[40] + 3.0, psnr
    # H.264 works on 16x16 macroblocks: at crf 40 the error steps across block edges
    out = h264_roundtrip(crops, 40).astype(np.float64)
    dx = np.abs(np.diff(out, axis=2)).mean(axis=(0, 1, 3))
    edges, inner = dx[15::16].mean(), np.delete(dx, np.s_[15::16]).mean()
    assert edges > inner * 1.1, (edges, inner)


@pytest.mark.slow
@needs_ffmpeg
def test_face_sized_variant_is_smaller_then_scaled_back():
    crops = _crops(3, 128)
    small = degrade_faces(crops, 64, 23)
    full = degrade_faces(crops, 128, 23)
    assert small.shape == crops.shape
    assert _psnr(crops, small) < _psnr(crops, full) - 2  # a 64 px face lost detail


@pytest.mark.slow
@needs_ffmpeg
def test_degrade_writes_every_variant_and_records_it(tmp_path):
    from train.manifest import DONE, OK, ManifestRow, ManifestWriter

    crops = _crops(4, 96)
    with ManifestWriter(tmp_path) as w:
        for i, (split, cls) in enumerate([("train", "original"), ("train", "Deepfakes"),
                                          ("val", "original"), ("test", "Deepfakes")]):
            rel = f"{split}/{cls}/c{i}.png"
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(tmp_path / rel), crops[i])
            base = dict(video=f"v{i}", cls=cls, group=f"v{i}", split=split)
            w.write_video([ManifestRow(**base, frame=0, crop=rel, status=OK),
                           ManifestRow(**base, frame=-1, status=DONE)])
    rec = degrade(DegradeConfig(tmp_path, (23, 40), (48, 80), 96, 0), progress=False)
    assert rec.crops == {"test": 1, "train": 2, "val": 1}
    assert read_record(tmp_path) == rec
    assert json.loads((tmp_path / "degrade.json").read_text())["variants"] == {
        "crf23": "h264/crf23", "crf40": "h264/crf40"}
    for crf in (23, 40):
        for i, (split, cls) in enumerate([("train", "original"), ("train", "Deepfakes"),
                                          ("val", "original"), ("test", "Deepfakes")]):
            img = cv2.imread(str(tmp_path / f"h264/crf{crf}/{split}/{cls}/c{i}.png"))
            assert img is not None and img.shape == (96, 96, 3)
            assert not np.array_equal(img, crops[i])
