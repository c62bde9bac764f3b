"""Fixtures for the web server: settings on a temp folder, running apps, small generated clips."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install -e '.[serve]')")

from edge_detector.zoo import shipped_models  # noqa: E402
from tests.media import write_video  # noqa: E402

FINAL = {"done", "failed", "cancelled"}


def scratch_model() -> Path:
    by_name = {m.name: m.path for m in shipped_models()}
    if "scratch" not in by_name:
        pytest.skip("the shipped scratch model is not installed")
    return by_name["scratch"]


def make_settings(data: Path, **kw):
    from edge_detector.serve.settings import Settings

    kw.setdefault("models", {"scratch": scratch_model()})
    kw.setdefault("poll_s", 0.05)
    kw.setdefault("threads", 1)
    return Settings(data=data, **kw)


@contextlib.contextmanager
def running_app(settings, start_workers: bool = True):
    """A TestClient with the app's lifespan (database, recovery, workers) running."""
    from fastapi.testclient import TestClient

    from edge_detector.serve.app import create_app

    with TestClient(create_app(settings, start_workers=start_workers)) as client:
        yield client


def wait_for(client, job_id: str, statuses=FINAL, timeout: float = 180.0, pred=None) -> dict:
    """Poll GET /api/jobs/{id} until its status is in ``statuses`` (and ``pred(job)`` holds)."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] in statuses and (pred is None or pred(job)):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {timeout} s"
        time.sleep(0.1)


def upload(client, path: Path, name: str | None = None, **fields):
    with open(path, "rb") as f:
        return client.post("/api/jobs", files={"file": (name or path.name, f, "video/mp4")},
                           data={k: str(v) for k, v in fields.items()})


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory) -> Path:
    """24 frames 320x240 with the astronaut's face (frames 8-9 without)."""
    return write_video(tmp_path_factory.mktemp("serve-media") / "short.mp4", frames=24,
                       size=(320, 240), no_face_frames={8, 9})


@pytest.fixture(scope="session")
def long_clip(tmp_path_factory) -> Path:
    """400 frames: long enough to cancel or stop it mid-run."""
    return write_video(tmp_path_factory.mktemp("serve-media") / "long.mp4", frames=400, size=(320, 240))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(settings, start_workers: bool = True):
    """The app on a real loopback socket (uvicorn in a thread): for truly concurrent requests."""
    import threading

    import uvicorn

    from edge_detector.serve.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, start_workers=start_workers),
                                          host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
