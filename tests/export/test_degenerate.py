"""``python -m export`` refuses a degenerate (constant) model unless forced, marks it in the card,
and carries the validation-chosen threshold from run.json into the contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

from export.cli import main
from tests.export.conftest import CLASSES, SIZE, write_run_dir

pytestmark = pytest.mark.slow


def _mean_colour_model(kernel=None, bias=None):
    import keras

    model = keras.Sequential([keras.Input((SIZE, SIZE, 3), name="input"),
                              keras.layers.Rescaling(1 / 255), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(len(CLASSES), activation="softmax", name="probs")])
    if kernel is not None:
        model.get_layer("probs").set_weights([kernel, bias])
    return model


def _trained(crop_dir):
    """Mean colour -> softmax, trained on the tinted crops (the classes differ in colour)."""
    import keras

    from edge_detector.contract import ModelContract
    from edge_detector.preprocess import preprocess
    from export.samples import calibration_crops

    crops = calibration_crops(crop_dir, CLASSES, SIZE, 10_000)
    x = preprocess(crops.images, ModelContract(CLASSES, SIZE))
    keras.utils.set_random_seed(0)
    model = _mean_colour_model()
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    model.fit(x, crops.labels, epochs=60, batch_size=32, verbose=0)
    return model


def test_constant_model_is_refused_unless_forced(tmp_path, crop_dir, capsys):
    n = len(CLASSES)
    const = _mean_colour_model(np.zeros((3, n), np.float32), np.linspace(0.5, -0.5, n, dtype=np.float32))
    run = write_run_dir(const, tmp_path / "run", CLASSES, {"arch": "probe"})
    out = tmp_path / "m.onnx"
    assert main([str(run), "--out", str(out), "--data", str(crop_dir), "-q"]) == 6
    err = capsys.readouterr().err.strip()
    assert err.startswith("export: error: degenerate model: near-constant P_fake")
    assert "--force" in err and "\n" not in err and not out.exists()

    assert main([str(run), "--out", str(out), "--data", str(crop_dir), "--force"]) == 0
    assert "DEGENERATE MODEL (exported with --force)" in capsys.readouterr().out
    card = json.loads((tmp_path / "m.card.json").read_text())
    assert "near-constant P_fake" in card["degenerate"]["reason"]
    assert card["degenerate"]["p_fake_distinct"] == 1


def test_fit_verdict_counts_without_data_and_a_trained_model_passes(tmp_path, crop_dir, capsys):
    from edge_detector import OnnxClassifier

    model = _trained(crop_dir)
    flagged = write_run_dir(model, tmp_path / "flagged", CLASSES, {"arch": "probe"})
    (flagged / "run.json").write_text(json.dumps({"degenerate": {"reason": "predicts 'x' for 99%"},
                                                  "threshold": None}))
    assert main([str(flagged), "--out", str(tmp_path / "f.onnx"), "-q"]) == 6
    assert "predicts 'x' for 99% (fit's validation split (run.json))" in capsys.readouterr().err

    run = write_run_dir(model, tmp_path / "good", CLASSES, {"arch": "probe"})
    (run / "run.json").write_text(json.dumps({"degenerate": None, "threshold": 0.42,
                                              "threshold_method": "Youden's J on val"}))
    out = tmp_path / "good.onnx"
    assert main([str(run), "--out", str(out), "--data", str(crop_dir)]) == 0
    assert "decision threshold: 0.4200" in capsys.readouterr().out
    assert OnnxClassifier(out).contract.threshold == pytest.approx(0.42)
    card = json.loads((tmp_path / "good.card.json").read_text())
    assert card["degenerate"] is None and card["threshold"] == pytest.approx(0.42)
    assert card["threshold_method"] == "Youden's J on val"


def test_export_carries_the_three_level_band_from_run_json(tmp_path, crop_dir, capsys):
    from edge_detector import OnnxClassifier

    run = write_run_dir(_trained(crop_dir), tmp_path / "band", CLASSES, {"arch": "probe"})
    band = {"threshold_real": 0.2, "threshold_fake": 0.7, "threshold_method": "worst case",
            "band_rule": "95 % precision"}
    (run / "run.json").write_text(json.dumps({"degenerate": None, "threshold": 0.42,
                                              "threshold_method": "worst case",
                                              "contract": {"threshold": 0.42, **band}}))
    out = tmp_path / "band.onnx"
    assert main([str(run), "--out", str(out), "--data", str(crop_dir)]) == 0
    c = OnnxClassifier(out).contract
    assert c.band == (0.2, 0.7) and c.threshold_method == "worst case"
    assert c.band_rule == "95 % precision" and c.threshold == pytest.approx(0.42)
    card = json.loads((tmp_path / "band.card.json").read_text())
    assert card["contract"]["threshold_real"] == 0.2 and card["threshold_method"] == "worst case"
