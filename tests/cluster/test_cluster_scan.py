"""`edge-detect DIR --cluster ADDRESS`: same rows as a local scan, faults, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from edge_detector.cli import main
from tests.media import write_video

from .conftest import distributed, run_task_count, worker_pids

COLS = ["verdict", "score", "mean_p_fake", "top_method", "frames", "frames_analysed", "faces", "error"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def summary(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "summary.csv", keep_default_na=False).set_index("path")


def mtimes(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("summary.json")}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    write_video(root / "a.mp4", frames=6, size=(240, 160))
    write_video(root / "b.mp4", frames=6, size=(240, 160), no_face_frames=set(range(6)))
    write_video(root / "sub" / "c.mp4", frames=6, size=(240, 160))
    (root / "broken.mp4").write_text("this is not a video\n")
    return root


def test_cluster_scan_equals_local_records_bad_video_once_and_resumes(clips, tiny_onnx, tmp_path,
                                                                       dask_client):
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert run(clips, "-m", tiny_onnx, "-o", local, "-r", "--no-video").exit_code == 1
    address = dask_client.scheduler.address
    with distributed.get_task_stream(dask_client) as ts:
        res = run(clips, "-m", tiny_onnx, "-o", remote, "-r", "--no-video", "--cluster", address)
    assert res.exit_code == 1, res.output
    assert f"Dask scheduler {address}, 2 workers" in res.output
    assert run_task_count(ts.data) == 4  # one task per video: the broken one is not retried
    want, got = summary(local), summary(remote)
    assert list(got.index) == ["a.mp4", "b.mp4", "broken.mp4", "sub/c.mp4"]
    pd.testing.assert_frame_equal(got[COLS], want[COLS])
    assert "cannot open video" in got.loc["broken.mp4", "error"]
    for rel in ("a", "b", "sub/c"):  # the client wrote every worker output into the folder
        assert sorted(p.name for p in (remote / rel).iterdir()) == sorted(
            p.name for p in (local / rel).iterdir()) == [
            ".edge-detect.lock", "frames.csv", "report.html", "settings.json", "summary.json"]
        record = json.loads((remote / rel / "summary.json").read_text())
        assert record["model"]["path"] == str(tiny_onnx)
        frames = [pd.read_csv(d / rel / "frames.csv").drop(columns=["detect_ms", "classify_ms"])
                  for d in (remote, local)]
        pd.testing.assert_frame_equal(*frames)
    assert not list(remote.rglob("*.part"))

    before = mtimes(remote)
    with distributed.get_task_stream(dask_client) as ts:
        res = run(clips, "-m", tiny_onnx, "-o", remote, "-r", "--no-video", "--cluster", address)
    assert res.exit_code == 1
    assert "3 of 4 videos already done" in res.output
    assert run_task_count(ts.data) == 1  # only the failed video is retried
    assert mtimes(remote) == before
    pd.testing.assert_frame_equal(summary(remote)[COLS], got[COLS])


def test_killing_a_worker_mid_scan_still_gives_every_row_once(tiny_onnx, tmp_path, dask_client):
    """Six copies of one clip: whichever worker runs a video, its row must be the same."""
    folder = tmp_path / "many"
    write_video(folder / "v0.mp4", frames=12, size=(240, 160))
    for i in range(1, 6):
        shutil.copy(folder / "v0.mp4", folder / f"v{i}.mp4")
    pids = worker_pids(dask_client)
    killed: list[int] = []

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            busy = [a for a, keys in dask_client.processing().items() if keys and a in pids]
            if busy:
                time.sleep(0.3)  # let it get into the video
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(pids[busy[0]])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    out = tmp_path / "remote"
    res = run(folder, "-m", tiny_onnx, "-o", out, "--no-video", "--no-report", "-q", "--every", "3",
              "--cluster", dask_client.scheduler.address)
    killer.join(5)
    assert killed, "no worker was killed"
    assert res.exit_code == 0, res.output
    lines = (out / "summary.csv").read_text().splitlines()[1:]
    assert sorted(line.split(",")[0] for line in lines) == [f"v{i}.mp4" for i in range(6)]
    df = summary(out)
    assert (df["error"] == "").all() and df["frames"].tolist() == [12] * 6
    assert df[COLS].drop_duplicates().shape[0] == 1  # identical clips, identical rows
    for i in range(6):
        record = json.loads((out / f"v{i}" / "summary.json").read_text())
        assert record["score"] == pytest.approx(df.loc[f"v{i}.mp4", "score"], abs=1e-5)
    dask_client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker
    assert killed[0] not in worker_pids(dask_client).values()
