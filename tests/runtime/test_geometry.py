"""CropGeometry: validation, crop windows with scale/shift, contract round trip, pipeline use."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edge_detector import FFPP_CLASSES, ModelContract
from edge_detector.errors import ModelContractError
from edge_detector.faces import crop_box, crop_face
from edge_detector.geometry import CropGeometry, as_geometry
from edge_detector.pipeline import Pipeline
from edge_detector.types import FaceDetections, Frame

BOX = np.array([100, 100, 200, 200], np.float32)


def _xyxy(b):
    return (b.x1, b.y1, b.x2, b.y2)


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": math.nan}, "scale must be a finite number"),
    ({"scale": math.inf}, "scale must be a finite number"),
    ({"scale": 0.1}, "scale must be in"),
    ({"scale": 5.0}, "scale must be in"),
    ({"shift_x": 1.5}, "shift_x must be in"),
    ({"shift_y": -math.inf}, "shift_y must be a finite number"),
    ({"scale": True}, "scale must be a finite number"),
    ({"scale": "1.3"}, "scale must be a finite number"),
    ({"square": "yes"}, "square must be true or false"),
])
def test_invalid_geometry_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CropGeometry(**kwargs)


def test_default_geometry_is_todays_crop():
    assert CropGeometry() == as_geometry(1.3) and CropGeometry().is_default
    for hw in ((480, 640), (120, 160)):
        assert crop_box(BOX, hw, CropGeometry()) == crop_box(BOX, hw, 1.3)
    with pytest.raises(ValueError, match="unknown keys"):
        CropGeometry.from_dict({"scale": 1.0, "shift": 0.1})


@pytest.mark.parametrize("geometry, expected", [
    (CropGeometry(1.0, 0.1, -0.2), (110, 80, 210, 180)),  # centre (160, 130), side 100
    (CropGeometry(0.9, 0.0, 0.05), (105, 110, 195, 200)),  # side 90, centre (150, 155)
    (CropGeometry(1.0, -0.8, 0.0), (20, 100, 120, 200)),  # centre x 150 - 80
])
def test_crop_box_scales_and_shifts_the_detector_box(geometry, expected):
    assert _xyxy(crop_box(BOX, (480, 640), geometry)) == expected


def test_shifted_window_stays_inside_the_frame_and_rectangles_when_not_square():
    b = crop_box(np.array([0, 0, 100, 100]), (480, 640), CropGeometry(1.0, -0.5, -0.5))
    assert _xyxy(b) == (0, 0, 100, 100)
    tall = np.array([100, 100, 200, 300], np.float32)
    assert _xyxy(crop_box(tall, (480, 640), CropGeometry(0.5, square=False))) == (125, 150, 175, 250)
    assert _xyxy(crop_box(tall, (480, 640), CropGeometry(0.5))) == (100, 150, 200, 250)
    img = np.zeros((480, 640, 3), np.uint8)
    img[150:250, 125:175] = 200
    crop = crop_face(img, tall, 32, CropGeometry(0.5, square=False))
    assert crop.shape == (32, 32, 3) and crop.min() == 200  # the whole rectangle, stretched


def test_geometry_round_trips_through_the_contract():
    g = CropGeometry(0.92, 0.01, 0.08)
    c = ModelContract(FFPP_CLASSES, 224, crop_margin=0.92, crop_geometry=g)
    d = json.loads(c.to_json())
    assert d["crop_geometry"] == {"scale": 0.92, "shift_x": 0.01, "shift_y": 0.08, "square": True}
    back = ModelContract.from_json(c.to_json())
    assert back == c and back.geometry == g and isinstance(back.crop_geometry, CropGeometry)
    old = ModelContract.from_dict({"class_names": list(FFPP_CLASSES), "input_size": 128,
                                   "crop_margin": 1.5})
    assert old.crop_geometry is None and old.geometry == CropGeometry(scale=1.5)


@pytest.mark.parametrize("geometry, message", [
    ('{"scale": NaN, "shift_x": 0, "shift_y": 0}', "NaN, which is not a finite number"),
    ('{"scale": 1.0, "shift_x": 3, "shift_y": 0}', "invalid crop geometry.*shift_x"),
    ('{"scale": 1.0, "zoom": 2}', "invalid crop geometry.*unknown keys"),
    ('[1.0, 0, 0]', "'crop_geometry' must be a JSON object"),
])
def test_invalid_geometry_in_a_contract_is_refused(geometry, message):
    text = ('{"class_names": ["original", "Deepfakes"], "input_size": 64, '
            f'"crop_geometry": {geometry}}}')
    with pytest.raises(ModelContractError, match=message):
        ModelContract.from_json(text)
    with pytest.raises(ModelContractError, match="crop_margin. must be finite"):
        ModelContract(("original", "Deepfakes"), 64, crop_margin=math.inf)


class _OneFace:
    def detect(self, image):
        return FaceDetections(np.array([[100.0, 60.0, 180.0, 160.0]]), np.array([0.9]))


class _Recorder:
    def __init__(self, contract):
        self.contract, self.crops = contract, []

    def predict(self, crops):
        self.crops.append(crops.copy())
        return np.tile([0.5, 0.5], (len(crops), 1)).astype(np.float32)


def test_pipeline_crops_with_the_contract_geometry():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (240, 320, 3), np.uint8)
    g = CropGeometry(0.9, 0.05, 0.1)
    for contract, want in [
        (ModelContract(("original", "Deepfakes"), 32, crop_geometry=g), g),
        (ModelContract(("original", "Deepfakes"), 32), CropGeometry()),
    ]:
        clf = _Recorder(contract)
        Pipeline(_OneFace(), clf).analyse(Frame(0, 0.0, image))
        expected = crop_face(image, np.array([100.0, 60.0, 180.0, 160.0]), 32, want)
        assert np.array_equal(clf.crops[0][0], expected)
