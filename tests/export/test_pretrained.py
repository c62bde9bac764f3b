"""Shipping a model: the card carries the test numbers, the index puts the best model first."""

import json

from export.pretrained import card_numbers, ship, write_index
from tests.onnx_factory import tiny_model


def _metrics(auc: float) -> dict:
    return {
        "split": "test", "frames": 100,
        "multiclass": {"accuracy": 0.7, "macro_f1": 0.6, "baseline": {"majority_accuracy": 0.32},
                       "per_class": {"original": {"recall": 0.8}, "NeuralTextures": {"recall": 0.4}}},
        "binary_frame": {"auc": auc, "auc_ci95": [auc - 0.04, auc + 0.03], "ap": 0.9, "eer": 0.2,
                         "accuracy_at_threshold": 0.8, "baseline": {"all_fake_accuracy": 0.68}},
        "per_method_auc": {"NeuralTextures": {"auc": 0.7, "auc_ci95": [0.6, 0.8]}},
        "robustness": {"jpeg_40": {"auc": auc - 0.1, "auc_ci95": [0.5, 0.9]}},
        "dataset_caveat": "optimistic", "warnings": [],
    }


def test_card_digest_keeps_intervals_and_baselines():
    t = card_numbers(_metrics(0.9))
    assert t["frame_auc"] == 0.9 and t["frame_auc_ci95"] == [0.86, 0.93]
    assert t["accuracy_baseline_majority"] == 0.32 and t["recall"]["NeuralTextures"] == 0.4
    assert t["per_method_auc"]["NeuralTextures"]["auc_ci95"] == [0.6, 0.8]
    assert t["jpeg_robustness"]["jpeg_40"]["auc"] == 0.8 and t["dataset_caveat"] == "optimistic"


def test_ship_writes_model_card_and_index_best_first(tmp_path):
    dest = tmp_path / "models"
    for name, auc in (("small", 0.82), ("big", 0.91)):
        onnx = tiny_model(tmp_path / name / f"{name}.onnx")
        (tmp_path / name / f"{name}.card.json").write_text(json.dumps({"contract": {"x": 1}}))
        target = ship(onnx, _metrics(auc), name, dest, {"seconds": 1.0})
        assert target.read_bytes() == onnx.read_bytes()
        card = json.loads((dest / f"{name}.card.json").read_text())
        assert card["contract"] == {"x": 1} and card["test_metrics"]["frame_auc"] == auc
        assert card["shipped_file"]["precision"] == "fp32" and "research use" in card["terms"]
    assert write_index(dest) == ["big", "small"]
    assert json.loads((dest / "index.json").read_text())["models"] == ["big", "small"]


def test_ship_records_the_band_the_compression_levels_and_the_video_check(tmp_path):
    onnx = tiny_model(tmp_path / "m" / "m.onnx")
    contract = {"threshold": 0.5, "threshold_real": 0.25, "threshold_fake": 0.8,
                "band_rule": "95% precision"}
    (tmp_path / "m" / "m.card.json").write_text(json.dumps({"contract": contract}))
    metrics = _metrics(0.9)
    metrics["compression"] = {"crf40": {"auc": 0.8, "auc_ci95": [0.75, 0.85]}}
    check = {"right": 13, "videos": [{}] * 14, "originals_called_fake": 0, "uncertain": 1}
    ship(onnx, metrics, "m", tmp_path / "models", {"seconds": 1.0}, check)
    card = json.loads((tmp_path / "models" / "m.card.json").read_text())
    assert card["test_metrics"]["compression"]["crf40"]["auc_ci95"] == [0.75, 0.85]
    assert card["video_check"] == check
    assert card["threshold_note"].startswith("three levels: REAL below 0.250, FAKE at or above "
                                             "0.800")
