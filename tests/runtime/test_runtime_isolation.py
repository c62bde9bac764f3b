"""The runtime never imports TensorFlow, and stays small in memory."""

import json
import subprocess
import sys

PROBE = r"""
import json, resource, sys
import edge_detector.cli
from click.testing import CliRunner
res = CliRunner().invoke(edge_detector.cli.main, sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx', 'tf_keras'))
# ru_maxrss survives exec, so it would report the (large) pytest parent; VmHWM is this process's own
try:
    hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    peak = int(hwm.split()[1]) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"exit": res.exit_code, "heavy": heavy, "peak_rss_mb": peak}))
"""


def test_running_a_video_never_imports_tensorflow(tmp_path, face_video, tiny_onnx):
    r = subprocess.run(
        [sys.executable, "-c", PROBE, str(face_video), "--model", str(tiny_onnx), "-o",
         str(tmp_path / "o"), "--quiet"],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["exit"] == 0
    assert info["heavy"] == []
    assert info["peak_rss_mb"] < 400


def test_runtime_sources_do_not_mention_tensorflow_imports():
    from pathlib import Path

    import edge_detector

    for path in Path(edge_detector.__file__).parent.glob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                assert "tensorflow" not in stripped and "keras" not in stripped, (path, line)
