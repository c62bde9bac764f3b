"""Limits and security without analysing anything (no worker processes): upload size while
streaming, queue length, concurrent uploads, tokens, headers, offline assets, the database."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from urllib.parse import quote

import pytest

from edge_detector.errors import SinkError
from tests.serve.conftest import live_server, make_settings, running_app, upload

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42"


def _left_on_disk(settings) -> list[str]:
    return sorted(str(p.relative_to(settings.data)) for p in settings.jobs_dir.rglob("*"))


def test_oversize_upload_is_413_while_streaming_and_leaves_nothing(tmp_path):
    settings = make_settings(tmp_path / "data", max_upload_mb=1)
    with running_app(settings, start_workers=False) as client:
        just_over = MP4_HEAD + b"\x00" * (1024 * 1024)  # passes the Content-Length pre-check
        r = client.post("/api/jobs", files={"file": ("big.mp4", just_over)})
        assert r.status_code == 413 and "1 MB" in r.json()["error"]

        def chunked():  # no Content-Length at all: only the streaming count can stop it
            body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n"
                    b"Content-Type: video/mp4\r\n\r\n" + MP4_HEAD)
            yield body
            for _ in range(40):
                yield b"\x00" * 65536
            yield b"\r\n--XyZ--\r\n"

        r = client.post("/api/jobs", content=chunked(),
                        headers={"content-type": "multipart/form-data; boundary=XyZ"})
        assert r.status_code == 413
        r = client.post("/api/jobs", files={"file": ("huge.mp4", MP4_HEAD + b"\x00" * (3 << 20))})
        assert r.status_code == 413  # refused on its Content-Length, before reading the body
        assert _left_on_disk(settings) == []
        assert client.get("/api/jobs").json()["jobs"] == []


def test_queue_full_is_429(tmp_path, short_clip):
    settings = make_settings(tmp_path / "data", max_queue=2)
    with running_app(settings, start_workers=False) as client:
        ids = [upload(client, short_clip).json()["id"] for _ in range(2)]
        r = upload(client, short_clip)
        assert r.status_code == 429 and "queue is full" in r.json()["error"]
        assert r.headers["retry-after"]
        assert sorted(p.name for p in settings.jobs_dir.iterdir()) == sorted(ids)
        assert client.get("/api/health").json()["queue"] == 2


def test_concurrent_uploads_are_bounded(tmp_path, short_clip):
    import httpx

    settings = make_settings(tmp_path / "data", max_uploads=1)
    release, started = threading.Event(), threading.Event()
    with live_server(settings, start_workers=False) as url:
        def slow_body():  # streamed (chunked): the server holds an upload slot while it waits
            yield (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n"
                   + short_clip.read_bytes())
            started.set()
            release.wait(30)
            yield b"\r\n--B--\r\n"

        result = {}
        t = threading.Thread(target=lambda: result.setdefault("r", httpx.post(
            f"{url}/api/jobs", content=slow_body(), timeout=60,
            headers={"content-type": "multipart/form-data; boundary=B"})))
        t.start()
        try:
            assert started.wait(30)
            deadline = time.monotonic() + 10
            while httpx.get(f"{url}/api/health").json()["uploads"] == 0:  # the first is in
                assert time.monotonic() < deadline
                time.sleep(0.02)
            with open(short_clip, "rb") as f:
                r = httpx.post(f"{url}/api/jobs", files={"file": ("b.mp4", f)}, timeout=60)
            assert r.status_code == 429 and "uploads are already in progress" in r.json()["error"]
        finally:
            release.set()
            t.join(60)
        assert result["r"].status_code == 201, result["r"].text
        with open(short_clip, "rb") as f:  # the slot is free again
            assert httpx.post(f"{url}/api/jobs", files={"file": ("c.mp4", f)}).status_code == 201


def test_non_loopback_host_needs_a_long_token(tmp_path):
    from edge_detector.serve.settings import ServeUsageError

    with pytest.raises(ServeUsageError, match="--token"):
        make_settings(tmp_path, host="0.0.0.0")
    with pytest.raises(ServeUsageError, match="at least 16"):
        make_settings(tmp_path, host="0.0.0.0", token="short")
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        assert make_settings(tmp_path, host=host).token is None


def test_token_is_required_and_compared_in_constant_time(tmp_path, monkeypatch):
    import edge_detector.serve.app as app_module

    calls = []
    real = app_module.hmac.compare_digest
    monkeypatch.setattr(app_module.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    token = "s3cret+token/0123456789="  # characters the page's cookie percent-encodes
    settings = make_settings(tmp_path / "data", host="0.0.0.0", token=token)
    with running_app(settings, start_workers=False) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
            r = client.get("/api/jobs", headers=headers)
            assert r.status_code == 401 and "token" in r.json()["error"], headers
            assert r.headers["www-authenticate"] == "Bearer"
        assert client.post("/api/jobs", files={"file": ("a.mp4", b"x")}).status_code == 401
        assert client.get("/api/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        client.cookies.set("edge_detect_token", quote(token, safe=""))  # as encodeURIComponent
        assert client.get("/api/models").status_code == 200
        client.cookies.clear()
        assert client.get("/").status_code == 200  # the page itself holds nothing secret
    assert calls


def test_page_and_docs_are_served_locally(tmp_path):
    settings = make_settings(tmp_path / "data")
    with running_app(settings, start_workers=False) as client:
        page = client.get("/")
        assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        for asset in ("/", "/static/app.js", "/static/app.css"):
            r = client.get(asset)
            urls = set(re.findall(r"https?://[^\s\"')]+", r.text))
            assert r.status_code == 200 and urls <= {"http://www.w3.org/2000/svg"}, asset  # a namespace
        css = client.get("/static/app.css").text
        for verdict in ("REAL", "FAKE", "UNCERTAIN", "NO_FACE"):  # every verdict level has a style
            assert f".v-{verdict} {{" in css, verdict
        docs = client.get("/docs").text
        assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
        assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
        assert {"/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/events",
                "/api/jobs/{job_id}/files/{name}", "/api/models", "/api/health"} <= set(paths)
        assert set(paths["/api/jobs/{job_id}"]) == {"get", "delete"}
        assert "multipart/form-data" in paths["/api/jobs"]["post"]["requestBody"]["content"]


def test_database_is_wal_and_versioned(tmp_path):
    from edge_detector.serve.db import SCHEMA_VERSION, JobStore

    store = JobStore(tmp_path / "serve.db")
    store.migrate()
    store.migrate()  # idempotent
    assert store.journal_mode() == "wal" and store.schema_version() == SCHEMA_VERSION
    conn = sqlite3.connect(tmp_path / "serve.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SinkError, match="schema version 99"):
        store.migrate()
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(SinkError, match="cannot use the job database"):
        JobStore(tmp_path / "junk.db").migrate()


def test_oversize_upload_on_a_real_socket_gets_its_413(tmp_path):
    """The server answers while the client is still sending (chunked, no Content-Length)."""
    import httpx

    settings = make_settings(tmp_path / "data", max_upload_mb=1)
    with live_server(settings, start_workers=False) as url:
        def body():
            yield b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n' + MP4_HEAD
            for _ in range(64):  # 4 MiB
                yield b"\x00" * 65536
            yield b"\r\n--B--\r\n"

        r = httpx.post(f"{url}/api/jobs", content=body(), timeout=60,
                       headers={"content-type": "multipart/form-data; boundary=B"})
        assert r.status_code == 413 and "limit of 1 MB" in r.json()["error"]
    assert _left_on_disk(settings) == []


def test_no_shell_anywhere_in_the_server():
    from pathlib import Path

    import edge_detector.serve as serve

    for path in Path(serve.__file__).parent.glob("*.py"):
        text = path.read_text()
        for needle in ("subprocess", "os.system", "os.popen", "shell=True", "os.exec", "eval(", "exec("):
            assert needle not in text, (path.name, needle)
