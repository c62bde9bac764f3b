"""The page in a real browser (Playwright driving Debian's chromium-headless-shell) against a real
`edge-detect serve`: upload by keyboard, live progress, verdict, the video plays, the CSV downloads.

Screenshots of the result page (desktop and phone width) are kept under build/test-artifacts/serve/
(or $EDGE_TEST_ARTIFACTS) for a person to look at.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.media import write_video
from tests.serve.conftest import free_port

CHROMIUM = Path(os.environ.get("EDGE_CHROMIUM", "/usr/bin/chromium-headless-shell"))
REPO = Path(__file__).resolve().parents[2]
VERDICTS = {"REAL", "FAKE", "UNCERTAIN", "NO_FACE"}


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    if not CHROMIUM.is_file():
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium-headless-shell, "
                    "or set EDGE_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("serve-browser")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "edge_detector.cli", "serve", "--port", str(port),
                             "--data", str(data / "data"), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as r:
                if json.loads(r.read())["workers_alive"]:
                    break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "edge-detect serve did not start"
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(60)


def _artifacts() -> Path:
    folder = Path(os.environ.get("EDGE_TEST_ARTIFACTS", REPO / "build" / "test-artifacts")) / "serve"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_upload_progress_verdict_video_and_csv(browser, server, tmp_path):
    clip = write_video(tmp_path / "astronaut clip.mp4", frames=120, size=(480, 320), no_face_frames={50, 51})
    page = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server + "/")
    page.wait_for_selector("#model option[value=scratch]", state="attached")
    page.select_option("#model", "scratch")

    # Listen before any key is pressed: the chooser interception is set up by the listener, and
    # expect_file_chooser() could miss a chooser opened before its interception took effect.
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    for _ in range(6):  # by keyboard: Tab to the file picker, Space opens it
        if page.evaluate("() => document.activeElement.id") == "files":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "files"
    before = page.locator("li.job").count()  # jobs of other tests on this server
    page.keyboard.press(" ")
    deadline = time.monotonic() + 30
    while not choosers:
        assert time.monotonic() < deadline, "Space on the focused picker opened no file chooser"
        page.wait_for_timeout(100)
    choosers[0].set_files(str(clip))

    page.wait_for_function("n => document.querySelectorAll('li.job').length > n", arg=before)
    job_id = page.get_attribute("li.job", "data-id")  # newest first
    row = page.locator(f"li.job[data-id='{job_id}']")
    seen, deadline = [], time.monotonic() + 180
    while True:
        status = row.get_attribute("data-status")
        text = row.locator(".meta").inner_text()
        if not seen or seen[-1] != text:
            seen.append(text)
        if status == "done":
            break
        assert status in ("queued", "running"), (status, seen)
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)
    running = [t for t in seen if t.startswith("running: frame")]
    assert running, seen  # live progress was shown, by server-sent events
    assert any(" of 120" in t and "FPS" in t for t in running), running

    row.locator("a.name").click()
    page.wait_for_selector("#verdict")
    verdict = page.inner_text("#verdict")
    with urllib.request.urlopen(f"{server}/api/jobs/{job_id}") as r:
        job = json.loads(r.read())
    assert verdict in VERDICTS and verdict == job["summary"]["verdict"]
    assert page.inner_text("#result-h") == "astronaut clip.mp4"
    assert page.locator("#tracks tbody tr").count() == len(job["summary"]["tracks"])
    # the timeline and thumbnails are drawn once timeline.json arrives: wait for them, then count
    page.wait_for_function("n => document.querySelectorAll('#timeline circle').length === n",
                           arg=job["summary"]["frames"]["with_faces"], timeout=30_000)
    page.wait_for_selector("#thumbs img")

    page.wait_for_function("() => { const v = document.getElementById('video');"
                           " return v.readyState >= 2 && v.duration > 0; }", timeout=30_000)
    duration = page.evaluate("() => document.getElementById('video').duration")
    assert abs(duration - 120 / 25) < 0.2
    page.evaluate("() => document.getElementById('video').play()")
    page.wait_for_function("() => document.getElementById('video').currentTime > 0.2", timeout=30_000)
    page.evaluate("() => { const v = document.getElementById('video'); v.pause(); v.currentTime = 0; }")

    with page.expect_download() as dl:
        page.click("#dl-frames-csv")
    csv_text = Path(dl.value.path()).read_text()
    assert csv_text.startswith("frame,time_s,face,track,")
    assert len(csv_text.strip().splitlines()) == 1 + 120  # one face or one NO_FACE row per frame
    assert dl.value.suggested_filename == "astronaut_clip-frames.csv"

    page.wait_for_timeout(300)
    page.screenshot(path=str(_artifacts() / "result.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.wait_for_timeout(300)
    page.screenshot(path=str(_artifacts() / "result-phone.png"), full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scroll
    assert not errors, errors
    page.close()


def test_without_event_source_the_page_polls(browser, server, tmp_path):
    clip = write_video(tmp_path / "short.mp4", frames=30, size=(320, 240))
    page = browser.new_page(viewport={"width": 800, "height": 700})
    page.add_init_script("delete window.EventSource;")  # an old browser or a proxy that buffers
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(server + "/")
    page.wait_for_selector("#model option[value=scratch]", state="attached")
    page.select_option("#model", "scratch")
    before = page.locator("li.job").count()
    page.set_input_files("#files", str(clip))
    page.wait_for_function("n => document.querySelectorAll('li.job').length > n", arg=before)
    job_id = page.get_attribute("li.job", "data-id")  # newest first
    page.wait_for_selector(f"li.job[data-id='{job_id}'][data-status=done]", timeout=180_000)
    assert not [u for u in urls if u.endswith("/events")]
    assert len([u for u in urls if u.endswith(f"/api/jobs/{job_id}")]) >= 1
    assert page.locator(f"li.job[data-id='{job_id}'] .badge").inner_text() in VERDICTS
    page.close()
