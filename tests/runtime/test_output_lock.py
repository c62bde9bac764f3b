"""Issue 19, class 12: two runs or scans into one output folder do not corrupt each other."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from edge_detector.errors import SinkError
from edge_detector.outlock import LOCK_FILE, output_lock
from tests.media import write_video
from tests.runtime.test_hostile_cli import edge_detect


def test_the_lock_is_exclusive_and_released(tmp_path):
    with output_lock(tmp_path):
        with pytest.raises(SinkError, match=f"in use by another edge-detect \\(pid {os.getpid()}\\)"):
            with output_lock(tmp_path):
                pass
    with output_lock(tmp_path):  # released at the end of the block
        pass


def _held_by_child(folder):
    """A process holding the folder's lock (as a running scan would), and a way to end it."""
    folder.mkdir(parents=True, exist_ok=True)
    code = ("import sys, time; from edge_detector.outlock import output_lock\n"
            f"with output_lock({str(folder)!r}):\n    print('held', flush=True); time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


@pytest.mark.parametrize("mode", ["scan", "single"])
def test_a_second_writer_is_refused(tmp_path, tiny_onnx, mode):
    folder = tmp_path / "in"
    video = write_video(folder / "a.mp4", frames=4, size=(160, 120))
    out = tmp_path / "out"
    holder = _held_by_child(out)
    try:
        r = edge_detect(folder if mode == "scan" else video, "-m", tiny_onnx, "-o", out)
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 5, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"is in use by another edge-detect (pid {holder.pid})" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing written
    r = edge_detect(folder if mode == "scan" else video, "-m", tiny_onnx, "-o", out)
    assert r.returncode == 0, r.stderr  # the killed holder's lock is gone with it


def test_two_real_scans_into_one_folder(tmp_path, tiny_onnx):
    """The example: two concurrent scans; one runs, the other is refused, summary.csv is whole."""
    folder = tmp_path / "in"
    for n in "abc":
        write_video(folder / f"{n}.mp4", frames=60, size=(320, 240))
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "edge_detector.cli", str(folder), "-m", str(tiny_onnx), "-o",
            str(out), "--no-report", "-q"]
    first = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the first scan holds its lock
        if (out / LOCK_FILE).exists():
            fd = os.open(out / LOCK_FILE, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                break
            finally:
                os.close(fd)
        time.sleep(0.05)
    second = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert second.returncode == 5 and "in use by another edge-detect" in second.stderr
    df = pd.read_csv(out / "summary.csv")
    assert sorted(df.path) == ["a.mp4", "b.mp4", "c.mp4"] and (df.frames == 60).all()
