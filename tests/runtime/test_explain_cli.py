"""``edge-detect --explain``: maps listed in summary.json, valid files, shown in the report; bad
input is one line with exit code 2; the runtime stays free of TensorFlow and onnx."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edge_detector.cli import main
from edge_detector.sinks.explain import FaceSelector
from edge_detector.types import Faces, Frame, FrameResult
from tests.runtime.test_report import Page


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def explained(tmp_path_factory, face_video, tiny_onnx):
    out = tmp_path_factory.mktemp("explain") / "out"
    res = invoke(face_video, "--model", tiny_onnx, "-o", out, "--no-video", "--explain", 2)
    assert res.exit_code == 0, res.output
    return out, json.loads((out / "summary.json").read_text())


def test_summary_lists_valid_maps_and_overlays(explained):
    out, summary = explained
    assert summary["outputs"]["explain"] == "explain"
    ex = summary["explain"]
    assert ex["grid"] == 7 and ex["forward_passes_per_face"] == 50
    assert ex["patch_px"] == 8  # a quarter of the tiny model's 32 px input
    faces = ex["faces"]
    tops = [f for f in faces if f["reason"] == "top"]
    assert len(tops) == 2 and len(faces) <= 4
    assert [f["p_fake"] for f in tops] == sorted((f["p_fake"] for f in tops), reverse=True)
    frames = {(int(r["frame"]), int(r["face"])): float(r["p_fake"]) for r in _csv_rows(out)}
    best = max(frames.values())
    assert tops[0]["p_fake"] == pytest.approx(best, abs=1e-6)
    for f in faces:
        assert f["p_fake"] == pytest.approx(frames[(f["frame"], f["face"])], abs=1e-6)
        png = cv2.imread(str(out / f["overlay"]))
        assert png is not None and png.shape[1] == 2 * 256 + 4 and png.shape[0] > 256
        with np.load(out / f["map"]) as z:
            assert z["heat"].shape == (32, 32) and np.isfinite(z["heat"]).all()
            assert z["patch_drops"].shape == (7, 7) and z["crop_bgr"].shape == (32, 32, 3)
            assert int(z["frame"]) == f["frame"] and int(z["face"]) == f["face"]
            assert float(z["run_p_fake"]) == pytest.approx(f["p_fake"], abs=1e-6)
            assert float(z["patch_drops"].max()) == pytest.approx(f["peak_drop"], abs=1e-6) or (
                f["peak_drop"] == 0.0)
    listed = {f["overlay"] for f in faces} | {f["map"] for f in faces}
    on_disk = {f"explain/{p.name}" for p in (out / "explain").iterdir()}
    assert listed == on_disk


def _csv_rows(out):
    import csv

    with open(out / "frames.csv") as fh:
        return [r for r in csv.DictReader(fh) if r["label"] != "NO_FACE" and r["analysed"] == "1"]


def test_report_shows_the_maps_beside_the_suspicious_frames(explained):
    out, summary = explained
    page = Page((out / "report.html").read_text())
    heat = page.find("figure", "heat")
    assert {(int(h["data-frame"]), int(h["data-face"])) for h in heat} == {
        (f["frame"], f["face"]) for f in summary["explain"]["faces"]}
    thumbs = {int(t["data-frame"]) for t in page.find("figure", "thumb")}
    assert {f["frame"] for f in summary["explain"]["faces"] if f["reason"] == "top"} <= thumbs
    imgs = [i["src"] for i in page.find("img") if "occlusion map" in i.get("alt", "")]
    assert len(imgs) == len(heat) and all(s.startswith("data:image/png;base64,") for s in imgs)
    assert "not proof" in "".join(page.text)


def test_without_explain_nothing_changes(tmp_path, face_video, tiny_onnx):
    res = invoke(face_video, "--model", tiny_onnx, "-o", tmp_path / "o", "--no-video")
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert "explain" not in summary and "explain" not in summary["outputs"]
    assert not (tmp_path / "o" / "explain").exists()
    assert 'class="heat"' not in (tmp_path / "o" / "report.html").read_text()


def test_explain_without_a_number_uses_the_default(tmp_path, face_video, tiny_onnx):
    res = invoke(face_video, "--model", tiny_onnx, "-o", tmp_path / "o", "--no-video", "--explain")
    assert res.exit_code == 0, res.output
    faces = json.loads((tmp_path / "o" / "summary.json").read_text())["explain"]["faces"]
    tops = {f["frame"] for f in faces if f["reason"] == "top"}
    assert 1 <= len(tops) <= 6
    page = Page((tmp_path / "o" / "report.html").read_text())
    assert tops == {int(t["data-frame"]) for t in page.find("figure", "thumb")}  # the same frames


@pytest.mark.parametrize("args, message", [
    (["--explain", "0"], "0 is not in the range"),
    (["--explain", "51"], "51 is not in the range"),
    (["--explain", "{video}"], "put SOURCE before --explain"),
    (["{folder}", "--explain", "2"], "not a folder scan"),
    (["--webcam", "--explain"], "add --record"),
])
def test_bad_explain_requests_are_one_line_and_exit_2(tmp_path, face_video, tiny_onnx, args,
                                                      message):
    args = [a.format(video=face_video, folder=tmp_path) for a in args]
    if args[0] == "--explain":
        args = ["--model", str(tiny_onnx), *args]  # SOURCE missing or taken as the count
    else:
        args = [*args, "--model", str(tiny_onnx)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-detect: error:") and message in lines[0]


def test_explained_faces_follow_the_report_rule_and_track_maxima():
    def result(frame: int, p: list[float], tracks: list[int]) -> FrameResult:
        n = len(p)
        probs = np.stack([1 - np.array(p), np.array(p)], axis=1).astype(np.float32)
        faces = Faces(np.zeros((n, 4)), np.ones(n), probs, p, ["FAKE"] * n, ["Deepfakes"] * n, p,
                      tracks)
        crops = np.full((n, 8, 8, 3), frame, np.uint8)
        return FrameResult(Frame(frame, frame / 10, np.zeros((8, 8, 3), np.uint8)), faces, True,
                           crops_bgr=crops)

    sel = FaceSelector(count=2, min_gap_s=0.5)
    sel.offer(result(0, [0.9, 0.2], [1, 2]))
    sel.offer(result(1, [0.95, 0.3], [1, 2]))  # within 0.5 s of frame 0: replaces it
    sel.offer(result(10, [0.5, 0.1], [1, 3]))
    sel.offer(result(20, [0.6, 0.05], [1, 4]))  # beats frame 10; track 4 too weak to enter
    chosen = sel.chosen()
    assert [(r, c.frame, c.face) for r, c in chosen] == [
        ("top", 1, 0), ("top", 20, 0), ("track", 1, 1)]  # track 2's best (0.3) is frame 1 face 1
    assert chosen[0][1].crop_bgr[0, 0, 0] == 1  # its own copy of the crop
    assert set(sel.tracks) == {1, 2}


PROBE = r"""
import sys
from click.testing import CliRunner
import edge_detector.cli
res = CliRunner().invoke(edge_detector.cli.main, sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx', 'onnx'))
print(res.exit_code, heavy)
"""


def test_explaining_never_imports_tensorflow_or_onnx(tmp_path, face_video, tiny_onnx):
    r = subprocess.run([sys.executable, "-c", PROBE, str(face_video), "--model", str(tiny_onnx),
                        "-o", str(tmp_path / "o"), "--no-video", "--explain", "1", "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "0 []"
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["explain"]["faces"]


def test_force_rerun_replaces_the_maps_and_an_interrupted_run_writes_none(tmp_path, face_video,
                                                                          tiny_onnx):
    from edge_detector import OnnxClassifier
    from edge_detector.sinks.explain import ExplainSink

    out = tmp_path / "o"
    assert invoke(face_video, "--model", tiny_onnx, "-o", out, "--no-video", "--no-report",
                  "--explain", 3).exit_code == 0
    stale = out / "explain" / "frame999999-face0.png"
    stale.write_bytes(b"old")
    assert invoke(face_video, "--model", tiny_onnx, "-o", out, "--no-video", "--no-report",
                  "--explain", 1, "--force").exit_code == 0
    faces = json.loads((out / "summary.json").read_text())["explain"]["faces"]
    assert len(list((out / "explain").iterdir())) == 2 * len(faces) and not stale.exists()

    class Run:
        interrupted, warnings, outputs, explain = True, [], {}, None

    sink = ExplainSink(tmp_path / "x", OnnxClassifier(tiny_onnx), 2)
    sink.open(type("Info", (), {"frame_count": 10, "fps": 25.0})(), None)
    run = Run()
    sink.close(run)
    assert run.explain is None and "explain" not in run.outputs
    assert run.warnings == ["explanations skipped: the run was interrupted"]
    assert not (tmp_path / "x").exists()
