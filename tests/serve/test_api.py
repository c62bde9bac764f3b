"""Every endpoint on one running server (one worker process): upload, events, result, files,
cancel, delete, and the errors each one answers."""

from __future__ import annotations

import csv
import io
import json
import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edge_detector.cli import main
from tests.serve.conftest import make_settings, running_app, scratch_model, upload, wait_for

TIMING_COLUMNS = {"detect_ms", "classify_ms"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("serve-api") / "data", workers=1)
    with running_app(settings) as client:
        client.settings = settings
        yield client


@pytest.fixture(scope="module")
def done_job(server, short_clip):
    r = upload(server, short_clip, model="scratch")
    assert r.status_code == 201, r.text
    return wait_for(server, r.json()["id"])


def _sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.split("\n\n"):
        lines = block.splitlines()
        kind = next((ln[7:] for ln in lines if ln.startswith("event: ")), None)
        data = "\n".join(ln[6:] for ln in lines if ln.startswith("data: "))
        if kind:
            events.append((kind, json.loads(data)))
    return events


def _csv_without_timings(text: str) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS}
            for row in csv.DictReader(io.StringIO(text))]


def test_health_and_models(server):
    h = server.get("/api/health").json()
    assert h["status"] == "ok" and h["workers"] == 1 and h["workers_alive"] == 1
    assert h["max_upload_mb"] == server.settings.max_upload_mb
    models = server.get("/api/models").json()
    assert [m["name"] for m in models] == ["scratch"] and models[0]["default"] is True


def test_upload_events_and_result_match_the_cli(server, short_clip, tmp_path):
    r = upload(server, short_clip, name="my clip.mp4", model="scratch")
    assert r.status_code == 201, r.text
    job = r.json()
    assert re.fullmatch(r"[0-9a-f]{32}", job["id"]) and job["status"] == "queued"
    assert job["filename"] == "my clip.mp4" and job["kind"] == "video"
    events = _sse(server.get(f"/api/jobs/{job['id']}/events").text)
    assert events[-1][0] == "end" and events[-1][1]["status"] == "done"
    frames = [e[1]["progress"]["frames"] for e in events if e[0] == "progress"]
    assert frames == sorted(frames)
    end = events[-1][1]
    assert end["progress"]["frames"] == 24 and end["progress"]["total"] == 24

    done = server.get(f"/api/jobs/{job['id']}").json()
    outputs = {"annotated.webm", "frames.csv", "summary.json", "report.html", "timeline.json"}
    assert outputs <= set(done["files"])
    summary = server.get(f"/api/jobs/{job['id']}/files/summary.json").json()
    assert done["summary"] == summary  # the job record carries summary.json as it is on disk
    assert done["verdict"] == summary["verdict"] and summary["frames"]["read"] == 24

    out = tmp_path / "cli"
    res = CliRunner().invoke(main, [str(short_clip), "--model", str(scratch_model()), "-o", str(out),
                              "--threads", "1", "-q"])
    assert res.exit_code == 0, res.output
    cli = json.loads((out / "summary.json").read_text())
    for key in ("verdict", "score", "mean_p_fake", "median_p_fake", "fake_frame_fraction",
                "top_method", "method_share", "frames", "tracks", "threshold"):
        assert summary[key] == cli[key], key
    served_csv = server.get(f"/api/jobs/{job['id']}/files/frames.csv").text
    assert _csv_without_timings(served_csv) == _csv_without_timings((out / "frames.csv").read_text())

    video = server.get(f"/api/jobs/{job['id']}/files/annotated.webm")
    assert video.headers["content-type"] == "video/webm" and video.content[:4] == b"\x1a\x45\xdf\xa3"
    path = tmp_path / "served.webm"
    path.write_bytes(video.content)
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 24

    timeline = server.get(f"/api/jobs/{job['id']}/files/timeline.json").json()
    assert len(timeline["points"]) == 24 and [p[2] for p in timeline["points"]][8:10] == [None, None]
    thumbs = [t["file"] for t in timeline["thumbnails"]]
    assert thumbs and set(thumbs) <= set(done["files"])
    thumb = server.get(f"/api/jobs/{job['id']}/files/{thumbs[0]}")
    assert cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR) is not None

    dl = server.get(f"/api/jobs/{job['id']}/files/frames.csv?download=1")
    assert dl.headers["content-disposition"].startswith("attachment")
    assert "my_clip-frames.csv" in dl.headers["content-disposition"]
    report = server.get(f"/api/jobs/{job['id']}/files/report.html")
    assert report.headers["content-type"].startswith("text/html")
    assert report.headers["content-security-policy"].startswith("sandbox")


def test_threshold_option_reaches_the_worker(server, short_clip):
    r = upload(server, short_clip, model="scratch", threshold="0")
    job = wait_for(server, r.json()["id"])
    assert job["status"] == "done" and job["options"]["threshold"] == 0.0
    assert job["summary"]["threshold"] == 0.0 and job["verdict"] == "FAKE"


def test_image_upload(server, tmp_path):
    from tests.media import astronaut_bgr

    png = tmp_path / "photo.png"
    cv2.imwrite(str(png), astronaut_bgr())
    r = upload(server, png, name="photo.txt", model="scratch")  # the name does not matter
    assert r.status_code == 201 and r.json()["kind"] == "image"
    job = wait_for(server, r.json()["id"])
    assert job["status"] == "done" and "annotated.jpg" in job["files"]
    assert job["summary"]["frames"]["read"] == 1


def test_list_jobs_and_bounds(server, done_job):
    listed = server.get("/api/jobs", params={"limit": 200}).json()
    assert done_job["id"] in [j["id"] for j in listed["jobs"]]
    assert all("summary" not in j for j in listed["jobs"])
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}):
        r = server.get("/api/jobs", params=params)
        assert r.status_code == 422 and set(r.json()) == {"error"}, params


@pytest.mark.parametrize("path, status", [
    ("/api/jobs/0123", 404),
    ("/api/jobs/" + "a" * 32, 404),
    ("/api/jobs/" + "a" * 32 + "/events", 404),
    ("/api/nothing", 404),
])
def test_unknown_resources_are_json_404(server, path, status):
    r = server.get(path)
    assert r.status_code == status and set(r.json()) == {"error"}


@pytest.mark.parametrize("name", ["serve.db", "..%2F..%2Fserve.db", "input.mp4", "upload.part",
                                  "%2Fetc%2Fpasswd", "frames.csv%00"])
def test_file_endpoint_serves_only_the_jobs_outputs(server, done_job, name):
    r = server.get(f"/api/jobs/{done_job['id']}/files/{name}")
    assert r.status_code == 404 and "error" in r.json()


def test_bad_uploads(server, tmp_path):
    jobs_dir = server.settings.jobs_dir
    before = set(jobs_dir.iterdir())
    text = tmp_path / "notes.txt"
    text.write_text("these are my notes, not a video\n" * 50)
    r = upload(server, text, name="clip.mp4")  # a renamed non-video
    assert r.status_code == 415 and "not a video or image" in r.json()["error"]
    fake_mp4 = tmp_path / "broken.mp4"
    fake_mp4.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4000)
    r = upload(server, fake_mp4)
    assert r.status_code == 415 and "cannot be decoded" in r.json()["error"]
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert upload(server, empty).status_code == 415

    r = server.post("/api/jobs", content=b"raw bytes", headers={"content-type": "video/mp4"})
    assert r.status_code == 415 and "multipart" in r.json()["error"]
    r = server.post("/api/jobs", data={"model": "scratch"}, files={"other": ("x", b"y")})
    assert r.status_code == 400 and "form field 'file'" in r.json()["error"]
    r = server.post("/api/jobs", files=[("file", ("a.mp4", b"1")), ("file", ("b.mp4", b"2"))])
    assert r.status_code == 400 and "one file per job" in r.json()["error"]
    for fields, message in (({"model": "nope"}, "unknown model"), ({"threshold": "nan"}, "threshold"),
                            ({"threshold": "1.5"}, "threshold"), ({"colour": "red"}, "unknown form field")):
        r = upload(server, fake_mp4, **fields)
        assert r.status_code == 422 and message in r.json()["error"], fields
    assert set(jobs_dir.iterdir()) == before  # nothing of a refused upload stays on disk


def test_cancel_a_queued_and_a_running_job(server, long_clip):
    running = upload(server, long_clip, model="scratch").json()
    queued = upload(server, long_clip, model="scratch").json()
    wait_for(server, running["id"], {"running"}, pred=lambda j: j["progress"]["frames"] > 0)
    assert server.get(f"/api/jobs/{queued['id']}").json()["status"] == "queued"

    r = server.delete(f"/api/jobs/{queued['id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert not (server.settings.jobs_dir / queued["id"]).exists()

    r = server.delete(f"/api/jobs/{running['id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelling"
    job = wait_for(server, running["id"], timeout=30)
    assert job["status"] == "cancelled" and job["progress"]["frames"] < 400
    assert not (server.settings.jobs_dir / running["id"]).exists()
    end = _sse(server.get(f"/api/jobs/{running['id']}/events").text)
    assert end == [("end", end[0][1])] and end[0][1]["status"] == "cancelled"

    assert server.delete(f"/api/jobs/{running['id']}").json()["status"] == "deleted"
    assert server.get(f"/api/jobs/{running['id']}").status_code == 404
    assert server.delete(f"/api/jobs/{running['id']}").status_code == 404


def test_delete_a_finished_job_removes_its_files(server, short_clip):
    job = wait_for(server, upload(server, short_clip, model="scratch").json()["id"])
    folder = server.settings.jobs_dir / job["id"]
    assert (folder / "out" / "frames.csv").is_file()
    r = server.delete(f"/api/jobs/{job['id']}")
    assert r.status_code == 200 and r.json()["status"] == "deleted"
    assert not folder.exists()
    assert server.get(f"/api/jobs/{job['id']}/files/frames.csv").status_code == 404



def test_a_job_explains_its_most_suspicious_faces_and_serves_the_maps(server, done_job):
    done = server.get(f"/api/jobs/{done_job['id']}").json()
    faces = done["summary"]["explain"]["faces"]
    assert faces, "a clip with faces gets occlusion maps"
    maps = [f for f in done["files"] if f.startswith("explain/")]
    assert sorted(f["overlay"] for f in faces) == maps
    r = server.get(f"/api/jobs/{done_job['id']}/files/{maps[0]}")
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("explain/../serve.db", "explain/" + faces[0]["map"].split("/")[-1], "explain"):
        r = server.get(f"/api/jobs/{done_job['id']}/files/{name}")
        assert r.status_code == 404 and "error" in r.json(), name  # only recorded PNGs
