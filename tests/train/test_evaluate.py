"""``train evaluate``: one loader for .keras and .onnx (same numbers), degenerate splits."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper

from edge_detector.contract import METADATA_KEY, ModelContract
from train.evaluate import evaluate
from train.manifest import MANIFEST, read_manifest

SIZE = 48  # != the ETL crop size, so both paths must resize the same way


def _weights(num_classes: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.normal(0, 0.08, (3, num_classes)).astype(np.float32)


def _onnx_mean_colour_model(path, classes, w):
    """Mean RGB of the input -> MatMul -> softmax, with the runtime's contract metadata."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", SIZE, SIZE, 3])
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", len(classes)])
    nodes = [helper.make_node("ReduceMean", ["input"], ["mean"], keepdims=0, axes=[1, 2]),
             helper.make_node("MatMul", ["mean", "W"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=1)]
    init = [helper.make_tensor("W", TensorProto.FLOAT, w.shape, w.flatten())]
    model = helper.make_model(helper.make_graph(nodes, "mean_colour", [x], [y], init),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 9
    helper.set_model_props(model, {METADATA_KEY: ModelContract(classes, SIZE).to_json()})
    onnx.save(model, str(path))
    return path


def _keras_mean_colour_model(path, classes, w):
    import keras

    inputs = keras.Input((SIZE, SIZE, 3), name="input")
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(len(classes), use_bias=False, activation="softmax", name="probs")
    model = keras.Model(inputs, dense(pooled))
    dense.set_weights([w])
    model.save(path)
    (path.parent / "classes.json").write_text(json.dumps(list(classes)))
    return path


@pytest.fixture(scope="module")
def twin_models(synthetic_etl, tmp_path_factory):
    classes = synthetic_etl[1].classes
    w = _weights(len(classes))
    folder = tmp_path_factory.mktemp("twins")
    (folder / "keras").mkdir()
    return (_keras_mean_colour_model(folder / "keras" / "model.keras", classes, w),
            _onnx_mean_colour_model(folder / "model.onnx", classes, w))


def test_keras_and_onnx_files_give_the_same_report(synthetic_etl, twin_models, tmp_path):
    data_dir = synthetic_etl[1].data_dir
    keras_path, onnx_path = twin_models
    k = evaluate(keras_path, data_dir, "test", tmp_path / "k", progress=False)
    o = evaluate(onnx_path, data_dir, "test", tmp_path / "o", progress=False)
    assert k.frames == o.frames == len(read_manifest(data_dir).query(
        "split == 'test' and status == 'ok'"))
    assert np.abs(k.probs - o.probs).max() < 1e-5
    assert k.probs.std(axis=0).max() > 0.01  # the model reacts to the pixels
    np.testing.assert_array_equal(k.confusion, o.confusion)
    assert k.metrics["binary_frame"]["auc"] == pytest.approx(o.metrics["binary_frame"]["auc"],
                                                             abs=1e-9)
    assert {key for key in k.metrics if k.metrics[key] != o.metrics[key]} == {"model"}
    for out in (tmp_path / "k", tmp_path / "o"):
        for name in ("metrics.json", "summary.md", "predictions.csv", "confusion_matrix.png",
                     "roc.png"):
            assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    preds = pd.read_csv(tmp_path / "o" / "predictions.csv")
    assert len(preds) == o.frames
    np.testing.assert_allclose(preds["p_fake"], 1 - o.probs[:, 0], atol=1e-6)
    assert (preds["pred"] == [o.classes[i] for i in o.probs.argmax(1)]).all()
    saved = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert saved["multiclass"]["confusion_matrix"] == o.confusion.tolist()
    assert saved["frames"] == o.frames and saved["videos"] == o.videos


def test_single_class_split_reports_null_auc_with_a_reason(synthetic_etl, twin_models,
                                                           tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(synthetic_etl[1].data_dir, data_dir)
    df = read_manifest(data_dir)
    keep = ~((df["split"] == "test") & (df["class"] == "original"))
    df[keep].to_csv(data_dir / MANIFEST, index=False)
    res = evaluate(twin_models[1], data_dir, "test", tmp_path / "r", progress=False)
    assert res.frame.auc is None and res.video.auc is None
    assert "only fake" in res.frame.reason
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert saved["binary_frame"]["auc"] is None and "only fake" in saved["binary_frame"]["reason"]
    assert "n/a" in (tmp_path / "r" / "summary.md").read_text()
    assert res.metrics["multiclass"]["per_class"]["original"]["support"] == 0


def test_evaluate_rejects_unknown_files_and_empty_splits(synthetic_etl, twin_models, tmp_path):
    bad = tmp_path / "model.h5"
    bad.write_text("x")
    with pytest.raises(ValueError, match=".keras or .onnx"):
        evaluate(bad, synthetic_etl[1].data_dir, "test", tmp_path / "r")
    with pytest.raises(ValueError, match="no 'holdout' crops"):
        evaluate(twin_models[1], synthetic_etl[1].data_dir, "holdout", tmp_path / "r")


def test_report_has_baselines_intervals_methods_jpeg_and_warnings(synthetic_etl, twin_models,
                                                                 tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(synthetic_etl[1].data_dir, data_dir)
    etl = json.loads((data_dir / "etl_config.json").read_text())
    etl["dataset_caveat"] = "identities may cross the split"
    (data_dir / "etl_config.json").write_text(json.dumps(etl))
    res = evaluate(twin_models[1], data_dir, "test", tmp_path / "r", progress=False,
                   jpeg=(60, 40))
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    labels = np.array([m["classes"].index(t) for t in
                       pd.read_csv(tmp_path / "r" / "predictions.csv")["true"]])
    counts = np.bincount(labels, minlength=len(m["classes"]))
    base = m["multiclass"]["baseline"]
    assert base["majority_accuracy"] == pytest.approx(counts.max() / counts.sum())
    fr = m["binary_frame"]
    assert fr["baseline"]["auc"] == 0.5
    assert fr["baseline"]["all_fake_accuracy"] == pytest.approx(fr["fakes"] / fr["n"])
    lo, hi = fr["auc_ci95"]
    assert lo <= fr["auc"] <= hi and hi - lo > 0.01
    assert m["threshold"] == {"value": 0.5, "source": "default 0.5 (the model carries none)"}
    fakes = [c for c in m["classes"] if c != "original"]
    assert sorted(m["per_method_auc"]) == sorted(fakes)
    for pm in m["per_method_auc"].values():
        assert pm["n"] == counts[0] + pm["fakes"] and 0 <= pm["auc"] <= 1
    assert sorted(m["robustness"]) == ["jpeg_40", "jpeg_60"]
    assert m["robustness"]["jpeg_40"]["jpeg_quality"] == 40
    # re-encoding changes the pixels, so the scores move (but stay scores of the same crops)
    assert m["robustness"]["jpeg_40"]["auc"] != fr["auc"]
    assert any(w.startswith(f"small test set: {res.frames} crops") for w in m["warnings"])
    assert m["dataset_caveat"] == "identities may cross the split" and m["degenerate"] is None
    summary = (tmp_path / "r" / "summary.md").read_text()
    assert "Dataset caveat:** identities may cross the split" in summary
    assert "JPEG q40" in summary and "*baseline*" in summary and "original vs" in summary
    html = (tmp_path / "r" / "report.html").read_text()
    assert "identities may cross the split" in html and 'id="robustness"' in html
    assert 'id="per-method"' in html


def test_a_constant_model_is_reported_as_degenerate(synthetic_etl, tmp_path, capsys):
    from tests.onnx_factory import tiny_model
    from train.cli import main

    classes = synthetic_etl[1].classes
    model = tiny_model(tmp_path / "const.onnx", size=SIZE, classes=classes,
                       weights=np.zeros((3, len(classes)), np.float32))
    rc = main(["-q", "evaluate", str(model), "--data", str(synthetic_etl[1].data_dir),
               "--out", str(tmp_path / "r"), "--jpeg", "none"])
    assert rc == 0
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["degenerate"]["p_fake_distinct"] == 1
    assert "near-constant P_fake" in m["degenerate"]["reason"]
    assert m["warnings"][0].startswith("DEGENERATE MODEL: near-constant P_fake")
    assert m["binary_frame"]["auc"] == 0.5 and m["robustness"] == {}
    assert "DEGENERATE MODEL" in capsys.readouterr().out


def test_bad_jpeg_option_is_a_one_line_error(synthetic_etl, twin_models, tmp_path, capsys):
    from train.cli import main

    rc = main(["evaluate", str(twin_models[1]), "--data", str(synthetic_etl[1].data_dir),
               "--out", str(tmp_path / "r"), "--jpeg", "60,abc"])
    assert rc == 1 and "--jpeg wants comma-separated qualities" in capsys.readouterr().err
