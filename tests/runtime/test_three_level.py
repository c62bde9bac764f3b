"""A three-level model's UNCERTAIN reaches every output; --threshold forces two levels."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from edge_detector import FFPP_CLASSES, ModelContract
from edge_detector.cli import main
from tests.onnx_factory import tiny_model


@pytest.fixture(scope="module")
def band_model(tmp_path_factory):
    """Every face gets P_fake = 0.857 (equal logits over 7 classes: 1 - 1/7), between 0.7 and 0.9."""
    contract = ModelContract(FFPP_CLASSES, 32, threshold=0.75, threshold_real=0.7,
                             threshold_fake=0.9, threshold_method="test rule",
                             band_rule="test band", model_name="band", architecture="tiny-test")
    return tiny_model(tmp_path_factory.mktemp("m") / "band.onnx", 32, contract=contract,
                      weights=np.zeros((3, len(FFPP_CLASSES)), np.float32))


def test_uncertain_in_summary_csv_report_and_exit_code(band_model, face_video, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(main, [str(face_video), "--model", str(band_model), "-o", str(out),
                                    "--no-video"])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    assert s["verdict"] == "UNCERTAIN" and s["score"] == pytest.approx(6 / 7, abs=1e-4)
    assert (s["verdict_levels"], s["threshold_real"], s["threshold_fake"]) == (3, 0.7, 0.9)
    assert all(t["verdict"] == "UNCERTAIN" for t in s["tracks"])
    with (out / "frames.csv").open() as f:
        labels = {row["label"] for row in csv.DictReader(f)}
    assert labels == {"UNCERTAIN", "NO_FACE"}
    html = (out / "report.html").read_text()
    assert "UNCERTAIN" in html and "REAL below 0.70" in html and "FAKE at or above 0.90" in html
    assert "verdict: UNCERTAIN" in res.output


def test_user_threshold_gives_two_levels(band_model, face_video, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(main, [str(face_video), "--model", str(band_model), "-o", str(out),
                                    "--no-video", "--no-report", "--threshold", "0.5"])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    assert s["verdict"] == "FAKE" and s["verdict_levels"] == 2 and s["threshold_real"] is None


def test_a_folder_scan_lists_uncertain_videos(band_model, tmp_path):
    from tests.media import write_video

    clips = tmp_path / "clips"
    write_video(clips / "a.mp4", frames=6, size=(240, 160))
    out = tmp_path / "scan"
    res = CliRunner().invoke(main, [str(clips), "--model", str(band_model), "-o", str(out),
                                    "--no-video", "--no-report"])
    assert res.exit_code == 0, res.output
    with (out / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["verdict"] for r in rows] == ["UNCERTAIN"]
    assert "UNCERTAIN" in res.output
