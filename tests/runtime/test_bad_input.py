"""Every kind of bad input ends in one clear line and a non-zero exit code, never a traceback."""

import subprocess
import sys

import pytest

from edge_detector.contract import ModelContract
from tests.onnx_factory import tiny_model


def edge_detect(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "edge_detector.cli", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )


def _truncated(tmp_path, face_video):
    data = face_video.read_bytes()
    p = tmp_path / "truncated.mp4"
    p.write_bytes(data[: len(data) // 2])
    return p


def _text_mp4(tmp_path, _):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 50)
    return p


def _empty(tmp_path, _):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    return p


@pytest.mark.parametrize(
    "make_source, code, message",
    [
        (lambda tmp, v: tmp / "missing.mp4", 3, "no such file"),
        (_text_mp4, 3, "cannot open video"),
        (_truncated, 3, "cannot open video"),
        (_empty, 3, "is empty (0 bytes)"),
    ],
    ids=["nonexistent", "text-as-mp4", "truncated", "zero-byte"],
)
def test_bad_sources(tmp_path, face_video, tiny_onnx, make_source, code, message):
    src = make_source(tmp_path, face_video)
    r = edge_detect(src, "--model", tiny_onnx, "-o", tmp_path / "out")
    assert r.returncode == code, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def _bad_models(tmp_path):
    not_onnx = tmp_path / "not.onnx"
    not_onnx.write_text("hello")
    no_original = tiny_model(
        tmp_path / "noorig.onnx", size=32, contract=None
    )
    import onnx
    from onnx import helper

    m = onnx.load(str(no_original))
    bad = ModelContract(class_names=("original",) + tuple("abcdef"), input_size=32).to_dict()
    bad["class_names"] = ["real"] + list("abcdef")
    del bad["original_index"]
    helper.set_model_props(m, {"edge_detector.contract": __import__("json").dumps(bad)})
    onnx.save(m, str(no_original))
    return {
        "missing": (tmp_path / "nope.onnx", "model file not found"),
        "not-onnx": (not_onnx, "cannot load ONNX model"),
        "wrong-rank": (tiny_model(tmp_path / "flat.onnx", size=8, contract=None, rank=2), "rank 2"),
        "no-original": (no_original, "do not contain 'original'"),
    }


@pytest.mark.parametrize("case", ["missing", "not-onnx", "wrong-rank", "no-original"])
def test_bad_models(tmp_path, face_video, case):
    model, message = _bad_models(tmp_path)[case]
    r = edge_detect(face_video, "--model", model, "-o", tmp_path / "out")
    assert r.returncode == 4, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_unwritable_output_folder(tmp_path, face_video, tiny_onnx):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = edge_detect(face_video, "--model", tiny_onnx, "-o", blocker / "sub")
    assert r.returncode == 5, r.stderr
    assert "cannot create output folder" in r.stderr and "Traceback" not in r.stderr


def test_missing_camera_is_a_clear_error(tiny_onnx):
    r = edge_detect("--camera", "57", "--model", tiny_onnx, "--no-display")
    assert r.returncode == 3, r.stderr
    assert "camera 57" in r.stderr and "Traceback" not in r.stderr
