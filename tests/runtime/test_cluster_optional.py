"""Dask is optional: the runtime never imports it without --cluster, and says how to get it."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from edge_detector.cli import main
from edge_detector.cluster import parse_local
from edge_detector.errors import ClusterError, UsageError


def test_no_dask_import_without_cluster():
    code = ("import sys, edge_detector.cli, edge_detector.scan, train.etl; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_cluster_without_dask_is_one_line_and_exit_6(tmp_path, monkeypatch, tiny_onnx):
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    (tmp_path / "in").mkdir()
    res = CliRunner().invoke(main, [str(tmp_path / "in"), "-m", str(tiny_onnx), "-o",
                                    str(tmp_path / "out"), "--cluster", "local:2"])
    assert res.exit_code == 6
    assert res.output.strip().splitlines() == [
        "edge-detect: error: --cluster needs Dask (distributed is not installed): "
        "pip install 'edge-deepfake-detector[cluster]'"]
    assert not (tmp_path / "out").exists()


def test_cluster_needs_a_folder_and_not_workers(tmp_path, face_video, tiny_onnx):
    res = CliRunner().invoke(main, [str(face_video), "-m", str(tiny_onnx), "--cluster", "local"])
    assert res.exit_code == 2 and "--cluster works on a folder SOURCE only" in res.output
    res = CliRunner().invoke(main, [str(tmp_path), "-m", str(tiny_onnx), "--cluster", "local",
                                    "--workers", "2"])
    assert res.exit_code == 2 and "either --workers" in res.output


def test_parse_local():
    assert parse_local("local:3") == 3 and parse_local("tcp://10.0.0.1:8786") is None
    assert parse_local("local") >= 1
    for bad in ("local:0", "local:x"):  # a malformed address is a usage error (issue 19)
        with pytest.raises(UsageError, match="expected local, local:N"):
            parse_local(bad)


def test_workers_that_cannot_see_the_inputs_are_refused(tmp_path):
    cluster_worker = pytest.importorskip("edge_detector.cluster_worker")

    class FakeWorker:
        address, local_directory = "tcp://w:1", str(tmp_path)

    state = cluster_worker.WorkerState("x", lambda files: files, {"model": b"abc"},
                                       probe=tmp_path / "nowhere.mp4")
    with pytest.raises(ClusterError, match="cannot read .*nowhere.mp4: every worker must see"):
        state.setup(FakeWorker())
    state.probe = None
    state.setup(FakeWorker())
    files = state.get()
    assert files["model"].read_bytes() == b"abc" and state.get() is files
