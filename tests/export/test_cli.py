"""``python -m export``: one-line errors, exit codes, and the numbers it prints."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from export.cli import main
from tests.export.conftest import CLASSES, REPO


def test_usage_errors_are_one_line_and_import_no_tensorflow(tmp_path, capsys):
    assert main([str(tmp_path / "missing.keras")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([str(tmp_path), "--calibration", str(tmp_path)]) == 2
    assert "--calibration only makes sense with --int8" in capsys.readouterr().err
    assert main([str(tmp_path), "--int8"]) == 2
    assert "--int8 needs real crops" in capsys.readouterr().err
    assert main([str(tmp_path), "--classes", "original"]) == 2
    # --help and argument errors answer before TensorFlow loads
    code = ("import sys; from export.cli import main; main(['--help']); "
            "assert 'tensorflow' not in sys.modules, 'TF imported'")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "--int8" in out.stdout and "--synthetic-demo" in out.stdout


@pytest.mark.slow
def test_bare_keras_file_needs_classes_unless_seven_outputs(tmp_path, capsys):
    from tests.export.conftest import scratch_model

    model_path = tmp_path / "four.keras"
    scratch_model(num_classes=4).save(model_path)
    assert main([str(model_path), "--out", str(tmp_path / "x.onnx")]) == 6
    err = capsys.readouterr().err.strip()
    assert err.startswith("export: error:") and "pass --classes" in err and "\n" not in err
    assert not (tmp_path / "x.onnx").exists()
    assert main([str(model_path), "--classes", "original,a,b"]) == 6
    assert "3 class names given but" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_exports_with_classes_and_prints_the_numbers(tmp_path, capsys, crop_dir, scratch_run):
    from edge_detector import OnnxClassifier

    model_path = tmp_path / "m.keras"
    # The session's probed-head scratch CNN (a random head predicts one class for every crop,
    # which export refuses), copied out of its run folder: a bare file, no classes.json beside it.
    shutil.copy(scratch_run / "model.keras", model_path)
    out = tmp_path / "models" / "edge.onnx"
    code = main([str(model_path), "--out", str(out), "--classes", ",".join(CLASSES),
                 "--data", str(crop_dir), "--parity-count", "16", "--trained-on", "unit test",
                 "--synthetic-demo", "-q"])
    assert code == 0
    assert capsys.readouterr().out == ""  # --quiet
    c = OnnxClassifier(out).contract
    assert c.class_names == CLASSES and c.trained_on == "unit test" and c.synthetic_demo
    assert c.model_name == "edge"
    card = json.loads((tmp_path / "models" / "edge.card.json").read_text())
    assert card["files"]["fp32"]["parity_vs_keras"]["n"] == 16
    assert "int8" not in card["files"]
    code = main([str(model_path), "--out", str(out), "--classes", ",".join(CLASSES),
                 "--data", str(crop_dir), "--parity-count", "8"])
    printed = capsys.readouterr().out
    assert code == 0 and "parity ORT vs Keras on 8 crops" in printed and "max |diff|" in printed
    assert OnnxClassifier(out).contract.synthetic_demo is False  # not sticky: not asked this time
