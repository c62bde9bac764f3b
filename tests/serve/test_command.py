"""`edge-detect serve` as a user starts it: exit codes, one-line errors, a real start and stop,
and the core CLI still working where the serve extra is not installed."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.serve.conftest import free_port

# Run the CLI with the web stack made unimportable, as on an install without the extra.
WITHOUT_EXTRA = ("import sys\n"
                 "for m in ('fastapi', 'uvicorn', 'starlette', 'python_multipart'): sys.modules[m] = None\n"
                 "from edge_detector.cli import main\n"
                 "main(sys.argv[1:])\n")


def _cli(*args, code: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "edge_detector.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _one_error_line(res, code: int, *words: str) -> None:
    assert res.returncode == code, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-detect: error: "), res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.parametrize("args, code, words", [
    (["--host", "0.0.0.0"], 2, ["--token"]),
    (["--host", "10.1.2.3", "--token", "short"], 2, ["at least 16"]),
    (["--port", "70000"], 2, ["--port"]),
    (["--workers", "0"], 2, ["--workers"]),
    (["--max-upload-mb", "0"], 2, ["--max-upload-mb"]),
    (["--bogus"], 2, ["--bogus"]),
])
def test_usage_errors(tmp_path, args, code, words):
    _one_error_line(_cli("serve", "--data", str(tmp_path / "d"), *args), code, *words)


def test_without_the_extra_serve_is_one_line_and_exit_7_and_the_cli_still_works(tmp_path, face_video,
                                                                               tiny_onnx):
    res = _cli("serve", "--data", str(tmp_path / "d"), code=WITHOUT_EXTRA)
    _one_error_line(res, 7, "serve extra", 'pip install -e ".[serve]"')
    res = _cli(str(face_video), "--model", str(tiny_onnx), "-o", str(tmp_path / "out"), "--max-frames", "5",
               code=WITHOUT_EXTRA)
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["frames"]["read"] == 5


def test_port_in_use_is_exit_7(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        res = _cli("serve", "--port", str(port), "--data", str(tmp_path / "d"))
    _one_error_line(res, 7, f"127.0.0.1:{port}")


def test_unusable_database_is_exit_5(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    conn = sqlite3.connect(data / "serve.db")
    conn.execute("PRAGMA user_version = 42")
    conn.close()
    _one_error_line(_cli("serve", "--port", str(free_port()), "--data", str(data)), 5, "schema version 42")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_starts_serves_and_stops_on_a_signal(tmp_path, sig, code):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "edge_detector.cli", "serve", "--port", str(port),
                             "--data", str(tmp_path / "d"), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    health = json.loads(r.read())
                if health["workers_alive"] == 1:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert (tmp_path / "d" / "serve.db").is_file()
        proc.send_signal(sig)
        assert proc.wait(60) == code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in proc.stderr.read()
    # no worker process of this server is left behind
    ps = subprocess.run(["ps", "-eo", "ppid,args"], capture_output=True, text=True).stdout
    assert not [ln for ln in ps.splitlines() if ln.split(None, 1)[0] == str(proc.pid)]

