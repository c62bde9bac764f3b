import json

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from edge_detector.cli import main
from edge_detector.contract import FFPP_CLASSES
from edge_detector.sinks import csv_columns
from tests.media import read_video_stats, scene


def run(args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def video_run(tmp_path_factory, face_video, tiny_onnx):
    out = tmp_path_factory.mktemp("run") / "out"
    res = run([face_video, "--model", tiny_onnx, "-o", out])
    assert res.exit_code == 0, res.output
    return out, res


def test_outputs_cover_every_frame(video_run, face_video):
    out, res = video_run
    n_in, fps_in, wh_in = read_video_stats(face_video)
    n_out, fps_out, wh_out = read_video_stats(out / "annotated.mp4")
    assert (n_out, wh_out) == (n_in, wh_in) == (30, (480, 320))
    assert fps_out == pytest.approx(fps_in)
    df = pd.read_csv(out / "frames.csv")
    assert list(df.columns) == csv_columns(FFPP_CLASSES)
    assert sorted(df.frame.unique()) == list(range(30))
    no_face = df[df.label == "NO_FACE"]
    assert sorted(no_face.frame) == [10, 11, 12]
    faces = df[df.label != "NO_FACE"]
    assert len(faces) == 27 and (faces.face == 0).all()
    np.testing.assert_allclose(faces.p_fake, 1 - faces.p_original, atol=1e-5)
    assert "verdict:" in res.output


def test_summary_json_has_verdict_and_counts(video_run):
    out, _ = video_run
    s = json.loads((out / "summary.json").read_text())
    assert s["frames"] == {"read": 30, "analysed": 30, "with_faces": 27, "faces_classified": 27,
                           "dropped_live": 0, "every": 1}
    assert s["verdict"] in ("FAKE", "REAL")
    df = pd.read_csv(out / "frames.csv")
    assert s["mean_p_fake"] == pytest.approx(df.p_fake.dropna().mean(), abs=1e-5)
    assert s["model"]["contract"]["class_names"][0] == "original"
    assert set(s["speed"]["stage_ms_per_frame"]) >= {"decode_ms", "detect_ms", "classify_ms", "encode_ms"}
    assert s["source"]["fps"] == 25.0


def test_existing_result_is_not_overwritten_without_force(video_run, face_video, tiny_onnx):
    out, _ = video_run
    res = CliRunner().invoke(main, [str(face_video), "--model", str(tiny_onnx), "-o", str(out)])
    assert res.exit_code != 0 and "--force" in res.output
    res = run([face_video, "--model", tiny_onnx, "-o", out, "--force", "--max-frames", "5",
               "--no-video", "--every", "2"])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "frames.csv")
    assert df.frame.tolist() == [0, 1, 2, 3, 4]
    assert df.analysed.tolist() == [1, 0, 1, 0, 1]
    assert not (out / "annotated.mp4").exists() or json.loads((out / "summary.json").read_text())


def test_image_without_a_face_reports_no_face(tmp_path, tiny_onnx):
    img = tmp_path / "wall.png"
    cv2.imwrite(str(img), scene(320, 240, 0, None))
    res = CliRunner().invoke(main, [str(img), "--model", str(tiny_onnx), "-o", str(tmp_path / "o")])
    assert res.exit_code == 0
    assert "no face found" in res.output
    df = pd.read_csv(tmp_path / "o" / "frames.csv")
    assert df.label.tolist() == ["NO_FACE"]
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["verdict"] == "NO_FACE" and s["mean_p_fake"] is None
    assert any("no face found" in w for w in s["warnings"])


def test_image_with_a_face_gets_an_annotated_image(tmp_path, tiny_onnx):
    from tests.media import astronaut_bgr

    img = tmp_path / "astro.jpg"
    cv2.imwrite(str(img), astronaut_bgr())
    res = run([img, "--model", tiny_onnx, "-o", tmp_path / "o"])
    assert res.exit_code == 0
    out = cv2.imread(str(tmp_path / "o" / "annotated.jpg"))
    assert out.shape == (512, 512, 3)
    assert len(pd.read_csv(tmp_path / "o" / "frames.csv")) == 1


def test_usage_errors():
    res = CliRunner().invoke(main, [])
    assert res.exit_code == 2 and "missing SOURCE" in res.output


def test_synthetic_demo_model_is_announced(tmp_path, face_video):
    from edge_detector.contract import ModelContract
    from tests.onnx_factory import tiny_model

    model = tiny_model(tmp_path / "demo.onnx", size=32, contract=ModelContract(
        class_names=FFPP_CLASSES, input_size=32, synthetic_demo=True, trained_on="synthetic demo data"))
    res = CliRunner().invoke(main, [str(face_video), "--model", str(model), "-o", str(tmp_path / "o"),
                                    "--max-frames", "3", "--no-video"])
    assert res.exit_code == 0
    assert res.output.count("trained on synthetic demo data") == 1
    assert "not real deepfakes" in res.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert any("synthetic demo data" in w for w in s["warnings"])
