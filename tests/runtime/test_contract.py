import json
import logging

import numpy as np
import pytest

from edge_detector import FFPP_CLASSES, ModelContract, ModelContractError, OnnxClassifier, preprocess
from edge_detector.classifier import make_session
from edge_detector.contract import contract_from_session
from edge_detector.errors import ModelError
from tests.onnx_factory import tiny_model


def test_contract_round_trips_through_json():
    c = ModelContract(class_names=("original", "Deepfakes"), input_size=64, parameters=10)
    back = ModelContract.from_json(c.to_json())
    assert back == c
    assert json.loads(c.to_json())["original_index"] == 0


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"class_names": ["a", "b"], "input_size": 32}, "do not contain 'original'"),
        ({"class_names": ["original"], "input_size": 32}, "at least 2 classes"),
        ({"class_names": ["original", "x", "x"], "input_size": 32}, "duplicate"),
        ({"class_names": ["original", "x"], "input_size": 32, "pixel_range": "-1..1"}, "pixel range"),
        ({"class_names": ["original", "x"], "input_size": 32, "layout": "NCHW"}, "layout"),
        ({"input_size": 32}, "lacks class_names"),
        ({"class_names": ["original", "x"], "input_size": 32, "schema_version": 99}, "newer"),
        ({"class_names": ["x", "original"], "input_size": 32, "original_index": 0}, "original_index"),
    ],
)
def test_invalid_contracts_are_refused(payload, message):
    with pytest.raises(ModelContractError, match=message):
        ModelContract.from_dict(payload)


def test_contract_json_is_parsed_not_evaluated():
    with pytest.raises(ModelContractError, match="not valid JSON"):
        ModelContract.from_json("{'class_names': __import__('os').getcwd()}")


def test_model_without_metadata_falls_back_with_a_warning(tmp_path, caplog):
    path = tiny_model(tmp_path / "bare.onnx", size=48, contract=None)
    with caplog.at_level(logging.WARNING):
        clf = OnnxClassifier(path)
    assert clf.contract.class_names == FFPP_CLASSES
    assert clf.contract.input_size == 48
    assert "no 'edge_detector.contract' metadata" in caplog.text


def test_contract_contradicting_the_graph_is_refused(tmp_path):
    wrong_size = ModelContract(class_names=FFPP_CLASSES, input_size=64)
    path = tiny_model(tmp_path / "a.onnx", size=32, contract=wrong_size)
    with pytest.raises(ModelContractError, match="input 64x64"):
        OnnxClassifier(path)
    too_few = ModelContract(class_names=("original", "Deepfakes"), input_size=32)
    path = tiny_model(tmp_path / "b.onnx", size=32, contract=too_few)
    with pytest.raises(ModelContractError, match="2 classes but the output has 7"):
        OnnxClassifier(path)


def test_wrong_input_rank_is_refused(tmp_path):
    path = tiny_model(tmp_path / "flat.onnx", size=8, contract=None, rank=2)
    with pytest.raises(ModelContractError, match="rank 2"):
        contract_from_session(make_session(path))


def test_explicit_overrides_win(tmp_path):
    classes = ("original", "a", "b", "c", "d", "e", "f")
    path = tiny_model(tmp_path / "bare.onnx", size=32, contract=None)
    clf = OnnxClassifier(path, class_names=classes)
    assert clf.contract.class_names == classes


def test_not_an_onnx_file_is_a_model_error(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_text("this is not a protobuf")
    with pytest.raises(ModelError, match="cannot load ONNX model"):
        OnnxClassifier(bad)


@pytest.mark.parametrize("color, pixel_range, expected", [
    ("RGB", "0..255", [30.0, 20.0, 10.0]),
    ("BGR", "0..255", [10.0, 20.0, 30.0]),
    ("RGB", "0..1", [30 / 255, 20 / 255, 10 / 255]),
])
def test_preprocess_follows_the_contract(color, pixel_range, expected):
    c = ModelContract(class_names=FFPP_CLASSES, input_size=8, color=color, pixel_range=pixel_range)
    crops = np.zeros((2, 16, 16, 3), np.uint8)
    crops[...] = (10, 20, 30)  # BGR
    x = preprocess(crops, c)
    assert x.shape == (2, 8, 8, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[1, 2, 2], expected, rtol=1e-6)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, float("nan"), float("inf"), "x"])
def test_contract_threshold_must_be_finite_in_the_open_unit_interval(bad):
    with pytest.raises(ModelContractError, match=r"threshold.* (must be a finite number in|must be a"
                                                 r" number|must be finite|must be in)"):
        ModelContract.from_dict({"class_names": ["original", "x"], "input_size": 32,
                                 "threshold": bad})


def test_pipeline_uses_the_contract_threshold_unless_one_is_given(tmp_path):
    from edge_detector.build import PipelineSpec, build_pipeline

    base = ModelContract(class_names=FFPP_CLASSES, input_size=32)
    with_t = tiny_model(tmp_path / "t.onnx", contract=base.with_overrides(threshold=0.37))
    without = tiny_model(tmp_path / "n.onnx", contract=base)
    assert OnnxClassifier(with_t).contract.threshold == pytest.approx(0.37)
    assert build_pipeline(PipelineSpec(model=with_t)).policy.threshold == pytest.approx(0.37)
    assert build_pipeline(PipelineSpec(model=with_t, threshold=0.8)).policy.threshold == 0.8
    assert build_pipeline(PipelineSpec(model=with_t, threshold=0.0)).policy.threshold == 0.0
    assert build_pipeline(PipelineSpec(model=without)).policy.threshold == 0.5


@pytest.mark.parametrize(("fields", "match"), [
    ({"threshold_real": 0.3}, "only one of"),
    ({"threshold_fake": 0.8}, "only one of"),
    ({"threshold_real": 0.8, "threshold_fake": 0.3}, "inconsistent verdict band"),
    ({"threshold_real": 0.4, "threshold_fake": 0.4}, "inconsistent verdict band"),
    ({"threshold_real": 0.0, "threshold_fake": 0.4}, "inconsistent verdict band"),
    ({"threshold_real": 0.3, "threshold_fake": 0.6, "threshold": 0.7}, "outside"),
])
def test_inconsistent_verdict_bands_are_refused_at_load(fields, match):
    from edge_detector.contract import ModelContract
    from edge_detector.errors import ModelContractError

    d = {"class_names": ["original", "Deepfakes"], "input_size": 64, **fields}
    with pytest.raises(ModelContractError, match=match):
        ModelContract.from_dict(d)
    with pytest.raises(ModelContractError, match=match):
        ModelContract.from_json(__import__("json").dumps(d))


def test_a_consistent_band_loads_and_old_contracts_have_none():
    from edge_detector.contract import ModelContract

    c = ModelContract.from_dict({"class_names": ["original", "Deepfakes"], "input_size": 64,
                                 "threshold": 0.5, "threshold_real": 0.3, "threshold_fake": 0.7,
                                 "threshold_method": "rule", "band_rule": "95 %"})
    assert c.band == (0.3, 0.7) and c.threshold_method == "rule"
    assert ModelContract.from_dict(c.to_dict()) == c
    assert ModelContract.from_dict({"class_names": ["original", "x"], "input_size": 8}).band is None
