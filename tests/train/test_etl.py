"""ETL: crops + manifest, resume after an interruption, corrupt videos, real FF++ clips."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import cv2
import numpy as np
import pandas as pd
import pytest

from train.etl import EtlConfig, format_result, run_etl
from train.manifest import COLUMNS, DONE, FAILED, MANIFEST, NO_FACE, OK, read_manifest
from train.synthetic import write_video

from .conftest import REPO


def _cfg(root, out, **kw):
    kw = {"frames_per_video": 2, "size": 48, "workers": 1, "progress": False, **kw}
    return EtlConfig(root, out, **kw)


def _rows(data_dir) -> pd.DataFrame:
    return read_manifest(data_dir).sort_values(["video", "frame"]).reset_index(drop=True)


def _check_complete(data_dir, n_videos):
    df = read_manifest(data_dir)
    assert list(df.columns) == COLUMNS
    term = df[df["frame"] == -1]
    assert term["video"].is_unique and len(term) == n_videos
    assert not df.duplicated(["video", "frame"]).any()
    for crop in df.loc[df["status"] == OK, "crop"]:
        img = cv2.imread(str(data_dir / crop))
        assert img is not None and img.shape == (48, 48, 3), crop
    return df


def test_etl_writes_crops_manifest_classes_and_identity_splits(small_videos, tmp_path):
    res = run_etl(_cfg(small_videos.root, tmp_path / "data"))
    df = _check_complete(tmp_path / "data", 12)
    assert res.processed == 12 and res.skipped == 0 and res.failed == {}
    assert res.faceless_frames == 0
    assert json.loads((tmp_path / "data" / "classes.json").read_text()) == ["original",
                                                                            "Deepfakes"]
    ok = df[df["status"] == OK]
    assert len(ok) == 24 and (ok["confidence"] > 0.5).all()
    assert ((ok["x2"] > ok["x1"]) & (ok["y2"] > ok["y1"])).all()
    for _, r in ok.iterrows():  # DATA_DIR/<split>/<class>/<stem>_<frame>.png (lossless default)
        assert r["crop"].startswith(f"{r['split']}/{r['class']}/") and r["crop"].endswith(".png")
    # each pair (a, b): original/a, original/b, Deepfakes/a_b, Deepfakes/b_a share one split
    by_video = df.groupby("video")["split"].first()
    for a, b in ((0, 1), (2, 3), (4, 5)):
        keys = [f"original/{a:03d}", f"original/{b:03d}", f"Deepfakes/{a:03d}_{b:03d}",
                f"Deepfakes/{b:03d}_{a:03d}"]
        assert by_video[keys].nunique() == 1
    assert set(by_video) == {"train", "val", "test"}
    table = res.table.set_index(["split", "class"])
    assert table["videos"].sum() == 12 and table["crops"].sum() == 24
    text = format_result(res)
    assert "failed videos: 0" in text and "Deepfakes" in text


def test_resume_after_interruption_has_no_duplicate_or_missing_rows(small_videos, tmp_path):
    reference = tmp_path / "ref"
    run_etl(_cfg(small_videos.root, reference))
    data = tmp_path / "data"
    done = []

    def stop_after_five(rows):
        done.append(rows[-1].video)
        if len(done) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_etl(_cfg(small_videos.root, data), on_video=stop_after_five)
    # A kill in the middle of writing: rows of an unfinished video and a torn last line.
    manifest = data / MANIFEST
    lines = (reference / MANIFEST).read_text().splitlines()
    unfinished = next(li for li in lines[1:] if li.split(",")[0] not in done)
    with manifest.open("a") as f:
        f.write(unfinished + "\n" + unfinished[: len(unfinished) // 2])
    assert len(read_manifest(data)) > 5 * 3  # the junk is there before resuming

    res = run_etl(_cfg(small_videos.root, data))
    assert res.skipped == 5 and res.processed == 7
    _assert_same_as(data, reference)
    again = run_etl(_cfg(small_videos.root, data))  # nothing left to do
    assert again.processed == 0 and again.skipped == 12
    assert len(read_manifest(data)) == len(read_manifest(reference))


def _assert_same_as(data, reference):
    df = _check_complete(data, 12)
    got, ref = _rows(data), _rows(reference)
    cols = ["video", "class", "group", "split", "frame", "status", "crop"]
    pd.testing.assert_frame_equal(got[cols], ref[cols])
    np.testing.assert_allclose(got["confidence"].fillna(-1), ref["confidence"].fillna(-1),
                               atol=1e-3)
    assert (df[df["frame"] == -1]["status"] == DONE).all()


def test_killed_etl_process_resumes_cleanly(small_videos, tmp_path):
    reference = tmp_path / "ref"
    run_etl(_cfg(small_videos.root, reference))
    data = tmp_path / "data"
    code = (
        "import time; from pathlib import Path; from train.etl import EtlConfig, run_etl; "
        f"run_etl(EtlConfig(Path({str(small_videos.root)!r}), Path({str(data)!r}), "
        "frames_per_video=2, size=48, workers=1, progress=False), "
        "on_video=lambda rows: time.sleep(0.4))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    manifest = data / MANIFEST
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if manifest.is_file() and manifest.read_text().count(",done,") >= 3:
                break
            time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL: no cleanup handlers run
        proc.wait()
    finished = manifest.read_text().count(",done,")
    assert 3 <= finished < 12, f"the kill came too late ({finished} videos done)"
    res = run_etl(_cfg(small_videos.root, data))
    assert res.skipped == finished and res.processed == 12 - finished
    _assert_same_as(data, reference)


def test_resume_refuses_different_settings(small_videos, tmp_path):
    run_etl(_cfg(small_videos.root, tmp_path / "data"))
    with pytest.raises(ValueError, match="frames_per_video"):
        run_etl(_cfg(small_videos.root, tmp_path / "data", frames_per_video=3))
    df = read_manifest(tmp_path / "data")  # as if the dataset had changed since the first run
    first = df["video"].iloc[0]
    df.loc[df["video"] == first, "split"] = "elsewhere"
    df.to_csv(tmp_path / "data" / MANIFEST, index=False)
    with pytest.raises(ValueError, match="another split"):
        run_etl(_cfg(small_videos.root, tmp_path / "data"))


def test_corrupt_and_faceless_videos_are_recorded_and_the_run_continues(small_videos, tmp_path):
    root = small_videos.root
    (root / "original" / "900.mp4").write_text("not a video at all\n" * 100)
    good = (root / "original" / "000.mp4").read_bytes()
    (root / "original" / "901.mp4").write_bytes(good[: len(good) // 2])
    write_video(root / "Deepfakes" / "902_903.mp4",
                [np.full((120, 160, 3), 90 + 10 * i, np.uint8) for i in range(6)])  # no face
    res = run_etl(_cfg(root, tmp_path / "data", workers=2))
    assert set(res.failed) == {"original/900", "original/901"}
    assert all(reason for reason in res.failed.values())
    assert "cannot open" in res.failed["original/900"]
    assert res.faceless_frames == 2 and res.processed == 15
    df = _check_complete(tmp_path / "data", 15)
    term = df[df["frame"] == -1].set_index("video")
    assert term.loc["original/900", "status"] == FAILED
    assert term.loc["Deepfakes/902_903", "status"] == DONE
    faceless = df[df["video"] == "Deepfakes/902_903"]
    assert (faceless.loc[faceless["frame"] >= 0, "status"] == NO_FACE).all()
    assert (faceless["crop"] == "").all()  # never a centre crop instead
    assert "failed videos: 2" in format_result(res) and "original/901" in format_result(res)


@pytest.mark.slow
def test_real_ffpp_clips_all_yield_faces_and_keep_identities_together(ffpp_mini, tmp_path):
    res = run_etl(EtlConfig(ffpp_mini, tmp_path / "data", frames_per_video=3, size=96,
                            workers=2, progress=False))
    assert res.failed == {} and res.processed == 7
    assert res.classes == ("original", "Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
    assert res.missing_classes == ("DeepFakeDetection", "FaceShifter")
    df = read_manifest(tmp_path / "data")
    ok = df[df["status"] == OK]
    assert ok.groupby("video").size().to_dict() == {v: 3 for v in df["video"].unique()}
    assert (ok["confidence"] > 0.9).all()
    split = df.groupby("video")["split"].first()
    assert split["original/519"] == split["Deepfakes/519_515"]
    assert split["original/634"] == split["FaceSwap/634_660"]
    assert split["original/004"] == split["NeuralTextures/004_982"]
    # frames come from the whole clip: 519 has 751 frames
    frames = sorted(ok.loc[ok["video"] == "original/519", "frame"])
    assert frames[0] < 200 and frames[-1] > 550


def test_jpeg_crops_are_opt_in_and_the_format_is_checked(small_videos, tmp_path):
    from train.errors import ConfigError

    res = run_etl(_cfg(small_videos.root, tmp_path / "jpg", crop_format="jpg"))
    crops = [c for c in read_manifest(res.data_dir)["crop"] if isinstance(c, str) and c]
    assert len(crops) and all(c.endswith(".jpg") for c in crops)
    assert all((res.data_dir / c).is_file() for c in crops)
    with pytest.raises(ConfigError, match="--format must be one of png, jpg"):
        _cfg(small_videos.root, tmp_path / "x", crop_format="webp")
