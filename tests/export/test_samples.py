"""Crop discovery and sampling: no TensorFlow, so these run fast."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from export.errors import ExportError
from export.samples import (
    balanced_sample,
    calibration_crops,
    generated_crops,
    held_out_crops,
    list_crops,
)
from tests.export.conftest import CLASSES, write_crop_dir


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_crop_dir(tmp_path_factory.mktemp("d"), size=32,
                          per_split={"train": 6, "val": 3})


def test_list_crops_reads_splits_and_class_indices(data):
    found = list_crops(data, CLASSES)
    assert sorted(found) == ["train", "val"]
    assert len(found["train"]) == 6 * len(CLASSES) and len(found["val"]) == 3 * len(CLASSES)
    for path, idx in found["val"]:
        assert path.parent.name == CLASSES[idx]


def test_flat_folder_is_one_split_and_unknown_classes_are_skipped(data, tmp_path):
    (data / "train" / "not_a_class").mkdir(exist_ok=True)
    cv2.imwrite(str(data / "train" / "not_a_class" / "x.jpg"), np.zeros((8, 8, 3), np.uint8))
    found = list_crops(data / "train", CLASSES)
    assert list(found) == [""] and len(found[""]) == 6 * len(CLASSES)
    with pytest.raises(ExportError, match="no crops"):
        list_crops(tmp_path, CLASSES)


def test_balanced_sample_takes_round_robin_over_classes(data):
    items = list_crops(data, CLASSES)["train"]
    picked = balanced_sample(items, 8, seed=0)
    counts = np.bincount([c for _, c in picked], minlength=len(CLASSES))
    assert counts.tolist() == [2, 2, 2, 2]
    assert picked == balanced_sample(items, 8, seed=0)  # deterministic


def test_calibration_and_held_out_sets_are_disjoint(data):
    calib = calibration_crops(data, CLASSES, 40, 100)
    held = held_out_crops(data, CLASSES, 40, 100, exclude=calib.paths)
    assert len(calib) == 24 and calib.source.endswith("train")
    assert len(held) == 12 and held.source.endswith("val")
    assert calib.images.shape == (24, 40, 40, 3) and calib.images.dtype == np.uint8
    assert not set(calib.paths) & set(held.paths)
    # one split only: calibration takes at most half, the held-out set is the rest
    flat_cal = calibration_crops(data / "train", CLASSES, 32, 100)
    flat_held = held_out_crops(data / "train", CLASSES, 32, 100, exclude=flat_cal.paths)
    assert len(flat_cal) == 12 and len(flat_held) == 12
    assert not set(flat_cal.paths) & set(flat_held.paths)


def test_generated_crops_are_seeded_and_varied():
    a, b = generated_crops(6, 48, seed=3), generated_crops(6, 48, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.images.shape == (6, 48, 48, 3)
    assert a.images.reshape(6, -1).std(1).min() > 5  # not flat images
    assert (a.labels == -1).all()
