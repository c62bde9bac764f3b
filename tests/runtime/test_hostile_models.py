"""Models and contracts that lie: refused at load or at the first bad output, never trusted."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields

import numpy as np
import pytest

from edge_detector.classifier import OnnxClassifier
from edge_detector.contract import FFPP_CLASSES, ModelContract
from edge_detector.errors import ModelContractError, ModelError, ModelIntegrityError
from edge_detector.faces import FaceDetector
from edge_detector.weights import locate_detector_files, sha256_file
from tests.hostile import const_model, contract_model

CROPS = np.full((2, 32, 32, 3), 128, np.uint8)


def _nested(depth):
    v = 1
    for _ in range(depth):
        v = {"a": v}
    return v


@pytest.mark.parametrize("changes, message", [
    ({"schema_version": "one"}, "'schema_version' must be an integer"),
    ({"crop_margin": float("nan")}, "NaN"),  # json.dumps writes NaN; the parser refuses it
    ({"crop_margin": float("inf")}, "Infinity"),
    ({"crop_margin": 0}, "'crop_margin' must be in"),
    ({"crop_margin": -1.3}, "'crop_margin' must be in"),
    ({"input_size": 100000}, "'input_size' must be in"),
    ({"input_size": 32.5}, "'input_size' must be an integer"),
    ({"synthetic_demo": "false"}, "'synthetic_demo' must be true or false"),
    ({"parameters": True}, "'parameters' must be an integer"),
    ({"class_names": ["original", 3]}, "'class_names' must be a list of strings"),
    ({"extra": _nested(30)}, "nested deeper"),
    ({"extra": {"blob": "x" * 200_000}}, "at most"),
    ({"architecture": {"a": 1}}, "'architecture' must be a string"),
    ({"original_index": "zero"}, "'original_index' must be an integer"),
], ids=lambda v: str(v)[:30])
def test_every_contract_field_is_checked(changes, message):
    d = ModelContract(FFPP_CLASSES, 32).to_dict()
    d.update(changes)
    with pytest.raises(ModelContractError, match=message):
        ModelContract.from_json(json.dumps(d))


def test_deeply_nested_json_is_a_contract_error_not_a_crash():
    with pytest.raises(ModelContractError, match="nested|at most"):
        ModelContract.from_json("[" * 50_000 + "]" * 50_000)
    with pytest.raises(ModelContractError, match="nested too deeply"):
        ModelContract.from_json("[" * 20_000 + "]" * 20_000)


def test_every_contract_field_declares_a_rule():
    """New fields get validated by declaring a rule; this fails until they do."""
    assert all("rule" in f.metadata for f in fields(ModelContract))


def test_a_bad_contract_in_a_model_file_is_refused_at_load(tmp_path):
    with pytest.raises(ModelContractError, match="synthetic_demo"):
        OnnxClassifier(contract_model(tmp_path / "m.onnx", synthetic_demo="false"))


@pytest.mark.parametrize("scores, message", [
    ([np.nan] * 7, "NaN or infinite"),
    ([3.3, 0, 0, 0, 0, 0, -2.3], "outside \\[0, 1\\]"),
    ([0.1] * 7, "do not sum to 1"),
])
def test_model_outputs_are_checked(tmp_path, scores, message):
    clf = OnnxClassifier(const_model(tmp_path / "m.onnx", scores))
    with pytest.raises(ModelError, match=message):
        clf.predict(CROPS)


def test_declared_logits_get_a_softmax(tmp_path):
    logits = np.array([2.0, 0, 0, 0, 0, 0, 1.0], np.float32)
    d = ModelContract(FFPP_CLASSES, 32, output="logits").to_dict()
    p = OnnxClassifier(const_model(tmp_path / "m.onnx", logits, contract=d)).predict(CROPS)
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(p, np.stack([expected] * 2), rtol=1e-5)


def test_a_fixed_batch_1_model_runs_faces_one_by_one(tmp_path):
    scores = np.array([0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], np.float32)
    clf = OnnxClassifier(const_model(tmp_path / "b1.onnx", scores, batch=1))
    assert clf.fixed_batch == 1
    np.testing.assert_allclose(clf.predict(np.full((3, 32, 32, 3), 9, np.uint8)),
                               np.stack([scores] * 3), rtol=1e-6)


def test_a_fixed_batch_above_1_is_refused_at_load(tmp_path):
    with pytest.raises(ModelError, match="fixed batch of 4"):
        OnnxClassifier(const_model(tmp_path / "b4.onnx", np.full(7, 1 / 7), batch=4))


def test_another_detector_file_is_accepted_only_with_its_sha256(tmp_path):
    builtin = locate_detector_files()
    config = tmp_path / "deploy-local.prototxt"
    shutil.copy(builtin.config, config)
    with open(config, "a") as fh:
        fh.write("\n# local copy\n")
    with pytest.raises(ModelIntegrityError, match="--face-config-sha256"):
        FaceDetector(config_path=config)
    with pytest.raises(ModelIntegrityError, match="expected 00"):
        FaceDetector(config_path=config, config_sha256="0" * 64)
    det = FaceDetector(config_path=config, config_sha256=sha256_file(config))
    assert det.files.config == config
