"""A restart keeps finished jobs, re-queues a job that was running (once) and fails it clearly the
second time; a clean shutdown puts a running job back in the queue; a dead worker is replaced."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time

from edge_detector.serve.db import JobStore
from tests.serve.conftest import make_settings, running_app, upload, wait_for


def _as_if_running(settings, clip, attempts: int, model: str = "scratch") -> str:
    """A job the previous server was running when it died: claimed, partial output on disk."""
    import secrets

    store = JobStore(settings.db_path)
    job_id = secrets.token_hex(16)
    folder = settings.jobs_dir / job_id
    (folder / "out").mkdir(parents=True)
    shutil.copy(clip, folder / "input.mp4")
    (folder / "out" / "frames.csv").write_text("half a file")
    store.add(job_id, "crashed.mp4", "video", "input.mp4", model, None, 100, 100)
    assert store.claim(worker=999999).id == job_id
    with sqlite3.connect(settings.db_path) as c:
        c.execute("UPDATE jobs SET attempts = ? WHERE id = ?", (attempts, job_id))
    return job_id


def test_restart_keeps_finished_and_requeues_or_fails_running_jobs(tmp_path, short_clip):
    settings = make_settings(tmp_path / "data", workers=1)
    with running_app(settings) as client:
        finished = wait_for(client, upload(client, short_clip, model="scratch").json()["id"])
        assert finished["status"] == "done"
    once = _as_if_running(settings, short_clip, attempts=1)
    twice = _as_if_running(settings, short_clip, attempts=2)
    gone = _as_if_running(settings, short_clip, attempts=1, model="retired")

    with running_app(settings) as client:
        again = client.get(f"/api/jobs/{finished['id']}").json()
        assert again["status"] == "done" and again["summary"] == finished["summary"]
        assert client.get(f"/api/jobs/{finished['id']}/files/frames.csv").status_code == 200

        failed = client.get(f"/api/jobs/{twice}").json()
        assert failed["status"] == "failed" and "not retried" in failed["error"]
        assert not (settings.jobs_dir / twice).exists()

        retired = wait_for(client, gone)
        assert retired["status"] == "failed" and "'retired' is not offered" in retired["error"]
        rerun = wait_for(client, once)
        assert rerun["status"] == "done" and rerun["progress"]["frames"] == 24
        csv_text = client.get(f"/api/jobs/{once}/files/frames.csv").text
        assert csv_text.startswith("frame,time_s,") and "half a file" not in csv_text


def test_shutdown_mid_run_requeues_the_job(tmp_path, long_clip):
    settings = make_settings(tmp_path / "data", workers=1)
    with running_app(settings) as client:
        job_id = upload(client, long_clip, model="scratch").json()["id"]
        wait_for(client, job_id, {"running"}, pred=lambda j: j["progress"]["frames"] > 0)
    row = JobStore(settings.db_path).get(job_id)
    assert row.status == "queued" and row.attempts == 0 and row.frames == 0
    assert not (settings.jobs_dir / job_id / "out").exists()
    assert (settings.jobs_dir / job_id / "input.mp4").is_file()


def test_a_dead_worker_is_replaced_and_its_job_failed(tmp_path, long_clip, short_clip):
    settings = make_settings(tmp_path / "data", workers=1)
    with running_app(settings) as client:
        job_id = upload(client, long_clip, model="scratch").json()["id"]
        wait_for(client, job_id, {"running"}, pred=lambda j: j["progress"]["frames"] > 0)
        pool = client.app.state.server.pool
        old = pool.procs[0]
        os.kill(old.pid, signal.SIGKILL)
        job = wait_for(client, job_id, timeout=30)
        assert job["status"] == "failed" and "worker process died" in job["error"]
        deadline = time.monotonic() + 30
        while not (pool.procs[0] is not old and pool.procs[0].is_alive()):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        nxt = wait_for(client, upload(client, short_clip, model="scratch").json()["id"])
        assert nxt["status"] == "done"
