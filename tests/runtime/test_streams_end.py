"""Issue 19, class 8: streams that end or stall are reported (warning, summary.json, exit 3), never
after a silent 30 s wait, and Ctrl-C works in every state, including while a stream opens."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.runtime.test_hostile_cli import edge_detect

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="needs ffmpeg to make an MPEG-TS stream")


@pytest.fixture(scope="module")
def ts_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "s.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                    "-t", "4", "-c:v", "mpeg2video", "-f", "mpegts", str(path)], check=True, timeout=60)
    return path.read_bytes()


def _fifo_writer(path, data, hold_s):
    def run():
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            time.sleep(hold_s)  # a stalled sender keeps the pipe open and sends nothing
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _http_server(data, hold_s):
    """One HTTP response of ``data`` without a length; then the connection stalls for ``hold_s``
    (or closes at once with hold_s=0, as a killed sender)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def run():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            try:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\n\r\n" + data)
                time.sleep(hold_s)
            except OSError:
                pass
            finally:
                conn.close()
    threading.Thread(target=run, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.getsockname()[1]}/live.ts"


def _check(r, out, reason, wall, limit_s):
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["stream_ended"] is (reason == "ended") and s["stalled"] is (reason == "stalled")
    assert s["interrupted"] is False and any(reason in w for w in s["warnings"])
    assert reason in lines[0] and s["frames"]["read"] >= 1
    assert wall < limit_s, f"took {wall:.1f} s"


@pytest.mark.parametrize("kind", ["fifo", "http"])
def test_a_sender_that_stops_ends_the_stream(tmp_path, tiny_onnx, ts_bytes, kind):
    if kind == "fifo":
        src = tmp_path / "feed"
        os.mkfifo(src)
        _fifo_writer(src, ts_bytes, 0)
    else:
        srv, src = _http_server(ts_bytes, 0)
    out = tmp_path / "out"
    t0 = time.monotonic()
    r = edge_detect(src, "-m", tiny_onnx, "-o", out, "--no-report", "--read-timeout", "5")
    _check(r, out, "ended", time.monotonic() - t0, 30)
    if kind == "http":
        srv.close()


@pytest.mark.parametrize("kind", ["fifo", "http"])
def test_a_sender_that_stalls_is_reported_after_the_read_timeout(tmp_path, tiny_onnx, ts_bytes, kind):
    """The example: a stalled sender ended with exit 0, no warning, after a silent 30 s wait."""
    half = ts_bytes[: len(ts_bytes) // 2]
    if kind == "fifo":
        src = tmp_path / "feed"
        os.mkfifo(src)
        _fifo_writer(src, half, 40)
    else:
        srv, src = _http_server(half, 40)
    out = tmp_path / "out"
    t0 = time.monotonic()
    r = edge_detect(src, "-m", tiny_onnx, "-o", out, "--no-report", "--read-timeout", "1")
    _check(r, out, "stalled", time.monotonic() - t0, 25)
    if kind == "http":
        srv.close()


def test_a_fifo_without_a_writer_stalls_while_opening(tmp_path, tiny_onnx):
    src = tmp_path / "feed"
    os.mkfifo(src)
    t0 = time.monotonic()
    r = edge_detect(src, "-m", tiny_onnx, "-o", tmp_path / "out", "--read-timeout", "1")
    assert r.returncode == 3 and "stalled: nothing received within 1 s while opening" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and time.monotonic() - t0 < 20


def test_ctrl_c_while_a_stream_opens(tmp_path, tiny_onnx):
    src = tmp_path / "feed"
    os.mkfifo(src)
    p = subprocess.Popen([sys.executable, "-m", "edge_detector.cli", str(src), "-m", str(tiny_onnx),
                          "-o", str(tmp_path / "out"), "--read-timeout", "60"],
                         stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # models loaded, now blocked opening the FIFO
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=20) == 130
    assert time.monotonic() - t0 < 10 and "Traceback" not in p.stderr.read()


def test_a_file_url_that_reaches_its_end_is_not_reported(tmp_path, tiny_onnx):
    from tests.media import write_video

    video = write_video(tmp_path / "v.mp4", frames=20, size=(320, 240))
    r = edge_detect(video.resolve().as_uri(), "-m", tiny_onnx, "-o", tmp_path / "out", "--no-report")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["stream_ended"] is False and s["stalled"] is False
