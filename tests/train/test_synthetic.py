"""The synthetic FF++-like dataset: FF++ naming, metadata CSV, detectable faces, visible edits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edge_detector.faces import FaceDetector
from tests.media import read_frames
from train.synthetic import DEFAULT_CLASSES, make_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("synth"), identities=5, frames=6,
                        classes=DEFAULT_CLASSES + ("DeepFakeDetection", "FaceShifter"))




def test_files_follow_ffpp_naming_and_metadata(dataset):
    root = dataset.root
    assert dataset.partner == {0: 1, 1: 0, 2: 3, 3: 2, 4: 0}
    assert sorted(p.name for p in (root / "original").iterdir()) == [
        f"{i:03d}.mp4" for i in range(5)]
    assert sorted(p.name for p in (root / "FaceSwap").iterdir()) == [
        "000_001.mp4", "001_000.mp4", "002_003.mp4", "003_002.mp4", "004_000.mp4"]
    meta = pd.read_csv(root / "csv" / "FF++_Metadata.csv")
    assert list(meta.columns)[1:] == ["File Path", "Label", "Frame Count", "Width", "Height",
                                      "Codec", "File Size(MB)"]
    assert len(meta) == len(dataset.videos) == 35
    assert set(meta.loc[meta["File Path"].str.startswith("original/"), "Label"]) == {"REAL"}
    assert set(meta.loc[~meta["File Path"].str.startswith("original/"), "Label"]) == {"FAKE"}
    for rel in meta["File Path"]:
        assert (root / rel).is_file()


def test_videos_move_and_every_face_is_detected(dataset):
    detector = FaceDetector()
    for key, path in dataset.videos.items():
        frames = read_frames(path)
        assert len(frames) == 6 and frames[0].shape == (192, 256, 3), key
        assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 2, key  # motion
        for f in (frames[0], frames[-1]):
            faces = detector.detect(f)
            assert len(faces) >= 1, f"no face in {key}"


def test_each_class_edits_the_face_and_only_the_face(dataset):
    detector = FaceDetector()
    diffs = {}
    for number in range(2):
        orig = read_frames(dataset.videos[f"original/{number:03d}"])[2]
        box = detector.detect(orig).xyxy[0].astype(int)
        x1, y1, x2, y2 = box
        inside = np.zeros(orig.shape[:2], bool)
        inside[y1:y2, x1:x2] = True
        for cls in dataset.classes[1:]:
            stem = f"{number:03d}_{dataset.partner[number]:03d}"
            fake = read_frames(dataset.videos[f"{cls}/{stem}"])[2]
            d = np.abs(fake.astype(int) - orig.astype(int)).mean(axis=2)
            diffs.setdefault(cls, []).append((d[inside].mean(), d[~inside].mean()))
    for cls, pairs in diffs.items():
        for face_diff, rest_diff in pairs:
            assert face_diff > 6, (cls, face_diff)  # clearly visible in the face
            assert face_diff > 3 * rest_diff, (cls, face_diff, rest_diff)


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="original"):
        make_dataset(tmp_path, identities=2, classes=("Deepfakes",))
    with pytest.raises(ValueError, match=">= 1"):
        make_dataset(tmp_path, identities=0)


def test_synthetic_marker_reaches_the_etl_record(synthetic_etl):
    """make_dataset marks its output so export can flag the model as a synthetic demo model."""
    import json

    info, etl = synthetic_etl
    marker = json.loads((info.root / "SYNTHETIC.json").read_text())
    assert marker["synthetic"] is True and marker["identities"] == info.identities
    record = json.loads((etl.data_dir / "etl_config.json").read_text())
    assert record["synthetic"] is True
