"""SIGINT and SIGTERM in real subprocesses: finalised outputs, summaries, 130/143, no orphans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest

from tests.media import read_video_stats, write_video


def _start(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.Popen([sys.executable, "-m", "edge_detector.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=cwd)


def _wait_for(cond, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def _csv_lines(path):
    return path.read_text().count("\n") if path.exists() else 0


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("sig") / "long.mp4", frames=400, size=(480, 320))


@pytest.mark.parametrize("signals, code", [([signal.SIGTERM], 143),
                                           ([signal.SIGINT, signal.SIGINT], 130)],
                         ids=["sigterm", "double-ctrl-c"])
def test_a_signal_finalises_a_single_video(tmp_path, long_video, tiny_onnx, signals, code):
    out = tmp_path / "out"
    proc = _start(long_video, "-m", tiny_onnx, "-o", out, "--quiet")
    assert _wait_for(lambda: _csv_lines(out / "frames.csv") > 20)
    for s in signals:  # a second Ctrl-C while finalising is ignored: no traceback, no torn file
        proc.send_signal(s)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
    df = pd.read_csv(out / "frames.csv")
    n = df.frame.max() + 1
    assert df.frame.tolist() == list(range(n)) and n < 400
    assert n - 1 <= read_video_stats(out / "annotated.mp4")[0] <= n  # finalised: it plays
    s = json.loads((out / "summary.json").read_text())
    assert s["interrupted"] is True and s["frames"]["read"] == n


def test_ctrl_c_stops_a_two_worker_scan_and_leaves_no_worker(tmp_path, long_video, tiny_onnx):
    folder = tmp_path / "videos"
    for i in range(2):
        write_video(folder / f"a{i}.mp4", frames=6, size=(320, 240))
    for i in range(4):
        os.link(long_video, folder / f"b{i}.mp4")
    out = tmp_path / "out"
    proc = _start(folder, "-m", tiny_onnx, "-o", out, "--workers", "2", "--quiet")
    summary = out / "summary.csv"
    assert _wait_for(lambda: _csv_lines(summary) >= 3, 90), proc.stderr.read() if proc.poll() else ""
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert len(workers) >= 2
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # impatient second Ctrl-C
    _, err = proc.communicate(timeout=30)
    stopped_in = time.time() - t0
    assert proc.returncode == 130, err
    assert stopped_in < 10, f"took {stopped_in:.1f} s to stop"
    assert "Traceback" not in err, err
    df = pd.read_csv(summary)
    done = df[df.error.isna()]
    assert {"a0.mp4", "a1.mp4"} <= set(done.path), df  # finished rows are kept
    assert len(done) < 6, "remaining videos must not be analysed after Ctrl-C"
    assert set(df[df.error.notna()].error) <= {"interrupted"}, df
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, f"left behind: {alive}"
    for row in done.itertuples():  # each finished video has its complete outputs
        assert (out / row.path.replace(".mp4", "") / "summary.json").is_file()


def test_sigterm_stops_a_scan_with_143(tmp_path, long_video, tiny_onnx):
    folder = tmp_path / "videos"
    folder.mkdir()
    for i in range(3):
        os.link(long_video, folder / f"b{i}.mp4")
    out = tmp_path / "out"
    proc = _start(folder, "-m", tiny_onnx, "-o", out, "--workers", "2", "--quiet")
    assert _wait_for(lambda: len(psutil.Process(proc.pid).children(recursive=True)) >= 2
                     and _csv_lines(out / "b0" / "frames.csv") > 5, 90)
    workers = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "Traceback" not in err, err
    df = pd.read_csv(out / "summary.csv")
    assert set(df.error.dropna()) <= {"interrupted"}
    b0 = out / "b0"
    if (b0 / "annotated.mp4").exists():  # the worker finalised its video on SIGTERM
        assert read_video_stats(b0 / "annotated.mp4")[0] >= 1
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive
