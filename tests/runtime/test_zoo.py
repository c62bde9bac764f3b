"""Shipped models: found by name, listed with their cards, used when no --model is given."""

import json
import shutil

import pytest
from click.testing import CliRunner

from edge_detector.cli import main
from edge_detector.errors import ModelError
from edge_detector.zoo import resolve_model, shipped_models
from tests.onnx_factory import tiny_model


@pytest.fixture
def zoo(tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    for name, auc in (("small", 0.81), ("big", 0.93)):
        tiny_model(root / f"{name}.onnx", size=32)
        card = {"contract": {"architecture": name, "input_size": 32, "threshold": 0.4},
                "test_metrics": {"frame_auc": auc, "frame_auc_ci95": [auc - 0.03, auc + 0.02],
                                 "accuracy": 0.7},
                "dataset": "unit test"}
        (root / f"{name}.card.json").write_text(json.dumps(card))
    (root / "index.json").write_text(json.dumps({"models": ["big", "small"]}))
    return root


def test_index_orders_models_default_first(zoo):
    assert [m.name for m in shipped_models(zoo)] == ["big", "small"]
    assert resolve_model(None, zoo) == zoo / "big.onnx"


def test_name_path_and_env(zoo, tmp_path, monkeypatch):
    assert resolve_model("small", zoo) == zoo / "small.onnx"
    other = tmp_path / "other.onnx"
    shutil.copy(zoo / "small.onnx", other)
    assert resolve_model(str(other), zoo) == other
    monkeypatch.setenv("EDGE_MODEL", "small")
    assert resolve_model(None, zoo) == zoo / "small.onnx"


def test_unknown_name_lists_shipped(zoo):
    with pytest.raises(ModelError, match=r"no shipped model named 'nope' \(shipped: big, small\)"):
        resolve_model("nope", zoo)


def test_empty_zoo_asks_for_a_model(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGE_MODEL", raising=False)
    with pytest.raises(ModelError, match="pass --model"):
        resolve_model(None, tmp_path / "absent")


def test_summary_line_has_card_numbers(zoo):
    line = shipped_models(zoo)[0].summary_line()
    assert "frame AUC 0.930 [0.900, 0.950]" in line and "threshold 0.4" in line


def test_detail_line_reads_compression_videos_and_real_faces_from_the_card(zoo):
    m = shipped_models(zoo)[0]
    assert m.detail_line() is None  # a card without them: nothing invented
    card = json.loads((zoo / "big.card.json").read_text())
    card["contract"].update(threshold_real=0.31, threshold_fake=0.77)
    card["test_metrics"]["compression"] = {
        "c23": {"auc": 0.9, "calls": {"NeuralTextures": {"n": 10, "called_fake": 0.6}}},
        "crf40": {"auc": 0.812, "auc_ci95": [0.78, 0.84]}}
    card["video_check"] = {"videos": [{}] * 14, "right": 12, "originals_called_fake": 0,
                           "uncertain": 2, "real_faces": {"faces": 358, "called_fake": 3}}
    (zoo / "big.card.json").write_text(json.dumps(card))
    m = shipped_models(zoo)[0]
    assert "REAL<0.310 FAKE>=0.770" in m.summary_line()
    assert m.detail_line() == ("crf40 AUC 0.812 [0.780, 0.840]; NeuralTextures called FAKE 0.60; "
                               "fixture videos right 12/14 (0 originals FAKE, 2 UNCERTAIN); "
                               "real faces called FAKE 3/358")


def test_packaged_models_have_valid_contracts_and_cards():
    """The models shipped in the wheel load, carry a contract, and their card has test numbers."""
    from edge_detector.classifier import OnnxClassifier

    models = shipped_models()
    assert models, "the package ships no model"
    for m in models:
        clf = OnnxClassifier(m.path)
        assert clf.contract.class_names[0] == "original"
        assert not clf.contract.synthetic_demo
        assert m.card["contract"]["input_size"] == clf.input_size
        auc = m.metrics["frame_auc"]
        lo, hi = m.metrics["frame_auc_ci95"]
        assert 0.5 < lo <= auc <= hi <= 1.0


def test_list_models_cli():
    res = CliRunner().invoke(main, ["--list-models"])
    assert res.exit_code == 0
    names = [m.name for m in shipped_models()]
    assert names and all(n in res.output for n in names)
    assert res.output.startswith("* " + names[0])


def test_no_model_option_uses_default_shipped_model(tmp_path, face_video, monkeypatch):
    monkeypatch.delenv("EDGE_MODEL", raising=False)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, [str(face_video), "-o", str(out), "--no-video", "--no-report"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["path"].endswith(shipped_models()[0].path.name)
