"""export_model on a run folder: contract, parity, model card, int8 veto, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from edge_detector import FFPP_CLASSES, METADATA_KEY, OnnxClassifier
from edge_detector.preprocess import preprocess
from edge_detector.weights import sha256_file
from tests.export.conftest import CLASSES, SIZE, scratch_model

pytestmark = pytest.mark.slow


def test_contract_is_written_exactly_as_the_runtime_reads_it(scratch_export, scratch_run):
    proto = onnx.load(str(scratch_export.onnx_path))
    keys = [p.key for p in proto.metadata_props]
    assert keys.count(METADATA_KEY) == 1
    c = OnnxClassifier(scratch_export.onnx_path).contract
    assert c.class_names == CLASSES and c.input_size == SIZE and c.input_name == "input"
    assert (c.layout, c.color, c.pixel_range, c.output) == ("NHWC", "RGB", "0..255", "probabilities")
    assert c.architecture == "scratch" and c.crop_margin == 1.3
    assert c.synthetic_demo is True and "synthetic" in c.trained_on
    assert c.parameters == scratch_export.parameters > 100_000
    x = c.extra
    assert x["source_sha256"] == sha256_file(scratch_run / "model.keras")
    assert x["source_file"] == "model.keras" and x["opset"] == 17 and x["precision"] == "fp32"
    assert x["exported_at"].endswith("+00:00") and x["versions"]["tf2onnx"] == "1.17.0"
    assert x["parity"]["max_abs_diff"] == scratch_export.parity.max_abs_diff


def test_parity_is_measured_on_real_crops_and_holds_independently(scratch_export, scratch_run,
                                                                  crop_dir):
    import cv2

    from train.models import load_model

    p = scratch_export.parity
    assert p.source.endswith("val") and p.n == 32
    assert p.max_abs_diff <= 1e-4 and p.top1_agreement == 1.0
    crops = np.stack([cv2.imread(str(f)) for f in sorted((crop_dir / "val").rglob("*.jpg"))])
    clf = OnnxClassifier(scratch_export.onnx_path)
    keras_p = np.asarray(load_model(scratch_run / "model.keras")(
        preprocess(crops, clf.contract), training=False))
    onnx_p = clf.predict(crops)
    assert keras_p.std(0).max() > 1e-2  # outputs depend on the pixels: the check has teeth
    assert np.abs(keras_p - onnx_p).max() <= 1e-4
    assert (keras_p.argmax(1) == onnx_p.argmax(1)).all()


def test_model_card_describes_both_files(scratch_export):
    card = json.loads(scratch_export.card_path.read_text())
    assert scratch_export.card_path.name == "scratch.card.json"
    fp32, int8 = card["files"]["fp32"], card["files"]["int8"]
    assert fp32["sha256"] == sha256_file(scratch_export.onnx_path)
    assert fp32["size_bytes"] == scratch_export.onnx_path.stat().st_size
    assert fp32["parity_vs_keras"]["max_abs_diff"] <= 1e-4
    assert int8["path"] == "scratch.int8.onnx"
    assert int8["sha256"] == sha256_file(scratch_export.int8_path)
    assert int8["vs_fp32"]["agreement"]["top1_agreement"] >= 0.99
    assert card["contract"]["class_names"] == list(CLASSES) and card["opset"] == 17
    assert card["parameters"] == scratch_export.parameters
    leftovers = [p.name for p in scratch_export.onnx_path.parent.iterdir() if ".part" in p.name]
    assert leftovers == []


def test_int8_model_keeps_the_contract_and_follows_fp32(scratch_export, crop_dir):
    q = scratch_export.int8_report
    assert scratch_export.int8_path.name == "scratch.int8.onnx"
    assert q.agreement.top1_agreement >= 0.99 and q.agreement.n == 32 and not q.forced
    assert q.calibration_count == 64 and q.calibration_source.endswith("train")
    proto = onnx.load(str(scratch_export.int8_path))
    ops = {n.op_type for n in proto.graph.node}
    assert "QLinearConv" in ops or "QLinearMatMul" in ops  # QOperator format
    fp32_c = OnnxClassifier(scratch_export.onnx_path).contract
    int8_clf = OnnxClassifier(scratch_export.int8_path)
    c = int8_clf.contract
    assert c.class_names == fp32_c.class_names and c.input_size == fp32_c.input_size
    assert c.extra["precision"] == "int8"
    assert c.extra["quantization"]["format"] == "QOperator"
    assert c.extra["quantization"]["per_channel"] is True
    assert c.extra["source_sha256"] == fp32_c.extra["source_sha256"]
    assert scratch_export.int8.size_bytes < 0.5 * scratch_export.onnx.size_bytes
    import cv2

    crops = np.stack([cv2.imread(str(f)) for f in sorted((crop_dir / "val").rglob("*.jpg"))])
    drift = np.abs(int8_clf.predict(crops) - OnnxClassifier(scratch_export.onnx_path).predict(crops))
    assert drift.max() == pytest.approx(q.agreement.max_abs_diff, abs=1e-6)


def test_int8_below_agreement_is_refused_unless_forced(tmp_path):
    from export.errors import QuantizationError
    from export.onnx_export import export_keras_model
    from export.samples import generated_crops

    # Input-dependent features (spread BatchNorm) under a head scaled to logits of std 1e-3:
    # fp32's top-1 varies with the crop by probability margins ~1e-4, which int8 cannot resolve.
    # (A bare untrained CNN was uniform to ~1e-8, its top-1 left to rounding noise: run alone it
    # came out class 0 everywhere, in fp32 and int8 alike, and the veto never fired.)
    model = scratch_model(num_classes=7, head_scale=5e-4)
    cal, held = generated_crops(32, SIZE, seed=1), generated_crops(32, SIZE, seed=2)
    kw = dict(parity_crops=held, int8=True, calibration=cal, held_out=held)
    with pytest.raises(QuantizationError, match="agrees with fp32 on top-1 for only"):
        export_keras_model(model, tmp_path / "m.onnx", FFPP_CLASSES, **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.card.json", "m.onnx"]
    res = export_keras_model(model, tmp_path / "m.onnx", FFPP_CLASSES, force=True, **kw)
    assert res.int8_report.forced and res.int8_report.agreement.top1_agreement < 0.99
    assert OnnxClassifier(res.int8_path).contract.extra["quantization"]["forced"] is True
