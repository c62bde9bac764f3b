"""The REST API: jobs (upload, list, status, events, files, cancel/delete), models, health.

Uploads are streamed to disk under a server-made id with the size checked as bytes arrive; the
content decides what a file is; a job's files are served only by the names its worker recorded.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import secrets
import shutil
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from fastapi.sse import EventSourceResponse, format_sse_event
from starlette.requests import ClientDisconnect

from ..sinks import free_bytes
from ..version import __version__
from .db import ACTIVE, FINAL, JobRow
from .sniff import HEAD_BYTES, decodes, sniff
from .upload import FILE_FIELD, UploadError, receive_upload
from .worker import OUT_DIR, job_dir, remove_job_files

router = APIRouter(prefix="/api")
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
MEDIA_TYPES = {".csv": "text/csv", ".json": "application/json", ".html": "text/html",
               ".webm": "video/webm", ".mp4": "video/mp4", ".avi": "video/x-msvideo",
               ".jpg": "image/jpeg"}
# report.html is self-contained: no script, no network, sandboxed even if a name in it were hostile
REPORT_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
EVENT_POLL_S = 0.25
KEEPALIVE_S = 15.0
MULTIPART_OVERHEAD = 64 * 1024  # form fields and boundaries on top of the file

UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [FILE_FIELD],
            "properties": {
                FILE_FIELD: {"type": "string", "format": "binary",
                             "description": "one video or image (its content decides, not its name)"},
                "model": {"type": "string",
                          "description": "a name from GET /api/models (default: the first)"},
                "threshold": {"type": "number", "minimum": 0, "maximum": 1,
                              "description": "P_fake at or above which a face is FAKE "
                                             "(default: the model's own)"},
            },
        }}},
    },
}


def _state(request: Request):
    return request.app.state.server


def _job_or_404(request: Request, job_id: str) -> JobRow:
    job = _state(request).store.get(job_id) if JOB_ID.match(job_id) else None
    if job is None:
        raise HTTPException(404, f"no job {job_id[:40]!r}")
    return job


@router.get("/health", summary="Liveness, workers and queue")
def health(request: Request) -> dict:
    st = _state(request)
    alive = st.pool.alive() if st.pool is not None else 0
    counts = st.store.counts()
    return {"status": "ok" if st.pool is None or alive == len(st.pool.procs) else "degraded",
            "version": __version__, "workers": st.settings.workers, "workers_alive": alive,
            "jobs": counts, "queue": sum(counts.get(s, 0) for s in ACTIVE),
            "max_queue": st.settings.max_queue, "max_upload_mb": st.settings.max_upload_mb,
            "uploads": st.uploads, "event_streams": st.streams}


@router.get("/models", summary="The models a job can use (the first is the default)")
def models(request: Request) -> list[dict]:
    st = _state(request)
    out = []
    for i, (name, path) in enumerate(st.models.items()):
        card = st.model_cards.get(name, {})
        contract, metrics = card.get("contract", {}), card.get("test_metrics") or {}
        out.append({"name": name, "default": i == 0, "file": path.name,
                    "architecture": contract.get("architecture"),
                    "input_size": contract.get("input_size"), "threshold": contract.get("threshold"),
                    "frame_auc": metrics.get("frame_auc"), "trained_on": contract.get("trained_on")})
    return out


def _options(st, fields: dict[str, str]) -> tuple[str, float | None]:
    unknown = sorted(set(fields) - {"model", "threshold"})
    if unknown:
        raise UploadError(422, f"unknown form field {unknown[0][:40]!r} (fields: file, model, threshold)")
    model = fields.get("model", "").strip() or next(iter(st.models))
    if model not in st.models:
        raise UploadError(422, f"unknown model {model[:40]!r} (offered: {', '.join(st.models)})")
    text = fields.get("threshold", "").strip()
    if not text:
        return model, None
    try:
        threshold = float(text)
    except ValueError:
        threshold = math.nan
    if not math.isfinite(threshold) or not 0 <= threshold <= 1:
        raise UploadError(422, f"threshold must be a number from 0 to 1, not {text[:20]!r}")
    return model, threshold


@router.post("/jobs", status_code=201, openapi_extra=UPLOAD_SCHEMA,
             summary="Upload one video or image; it is queued for analysis",
             responses={413: {"description": "larger than --max-upload-mb"},
                        415: {"description": "not a video or image"},
                        429: {"description": "too many uploads at once, or the queue is full"}})
async def create_job(request: Request) -> dict:
    st, settings = _state(request), _state(request).settings
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > settings.max_upload_bytes + MULTIPART_OVERHEAD:
        raise HTTPException(413, f"the file is larger than the server's limit of "
                                 f"{settings.max_upload_mb} MB")
    counts = st.store.counts()
    if sum(counts.get(s, 0) for s in ACTIVE) >= settings.max_queue:
        raise HTTPException(429, f"the queue is full ({settings.max_queue} jobs); try again later",
                            headers={"Retry-After": "10"})
    if st.uploads >= settings.max_uploads:
        raise HTTPException(429, f"{settings.max_uploads} uploads are already in progress; try again "
                                 "later", headers={"Retry-After": "5"})
    if free_bytes(settings.data) < settings.max_upload_bytes + settings.min_free_mb * 1024 * 1024:
        raise HTTPException(507, "the server's disk is too full to take an upload")
    job_id = secrets.token_hex(16)
    folder = job_dir(settings.jobs_dir, job_id)
    st.uploads += 1
    try:
        folder.mkdir(parents=True)
        part = folder / "upload.part"
        try:
            up = await receive_upload(request, part, settings.max_upload_bytes, HEAD_BYTES)
            model, threshold = _options(st, up.fields)
            found = sniff(up.head)
            if found is None:
                raise UploadError(415, f"{up.filename} is not a video or image this server reads "
                                       "(its content was checked, not its name)")
            kind, suffix = found
            if not await run_in_threadpool(decodes, part, kind):
                raise UploadError(415, f"{up.filename} looks like a {kind} but cannot be decoded")
            input_name = "input" + suffix
            part.rename(folder / input_name)
        except UploadError as exc:
            raise HTTPException(exc.status, exc.message) from None
        except ClientDisconnect:
            raise HTTPException(400, "the upload was cut off") from None
        job = st.store.add(job_id, up.filename, kind, input_name, model, threshold,
                           settings.max_queue, settings.max_jobs)
        if job is None:
            raise HTTPException(429, "the queue is full (or the server keeps the maximum number of "
                                     "jobs: delete some); try again later", headers={"Retry-After": "10"})
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        st.uploads -= 1
    return job.public()


@router.get("/jobs", summary="Jobs, newest first")
def list_jobs(request: Request, limit: Annotated[int, Query(ge=1, le=200)] = 50,
              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    rows = _state(request).store.list(limit, offset)
    return {"jobs": [r.public(with_summary=False) for r in rows], "limit": limit, "offset": offset}


@router.get("/jobs/{job_id}", summary="A job's status; when done, summary.json's record as 'summary'")
def get_job(request: Request, job_id: str) -> dict:
    return _job_or_404(request, job_id).public()


@router.get("/jobs/{job_id}/events",
            responses={200: {"content": {"text/event-stream": {}}}},
            summary="Server-sent events: 'progress' while the job runs, then one 'end'")
async def job_events(request: Request, job_id: str) -> EventSourceResponse:
    st = _state(request)
    _job_or_404(request, job_id)
    if st.streams >= st.settings.max_streams:
        raise HTTPException(429, f"{st.settings.max_streams} event streams are open; poll "
                                 "GET /api/jobs/{id} instead", headers={"Retry-After": "5"})
    return EventSourceResponse(_events(request, st, job_id), headers={"Cache-Control": "no-store"})


async def _events(request: Request, st, job_id: str):
    last, idle = None, 0.0
    st.streams += 1  # counted while the generator runs (its finally always runs once started)
    try:
        yield format_sse_event(retry=2000, comment="edge-detect job events")
        while True:
            job = st.store.get(job_id)
            if job is None:
                yield format_sse_event(event="end", data_str=json.dumps({"id": job_id, "status": "deleted"}))
                return
            if job.status in FINAL:
                yield format_sse_event(event="end", data_str=json.dumps(job.public()))
                return
            view = job.public(with_summary=False)
            key = (job.status, job.frames, job.fps)
            if key != last:
                last, idle = key, 0.0
                yield format_sse_event(event="progress", data_str=json.dumps(view))
            elif idle >= KEEPALIVE_S:
                idle = 0.0
                yield b": ping\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(EVENT_POLL_S)
            idle += EVENT_POLL_S
    finally:
        st.streams -= 1


@router.get("/jobs/{job_id}/files/{name:path}",
            summary="One of a finished job's outputs, by its listed name")
def job_file(request: Request, job_id: str, name: str, download: bool = False):
    job = _job_or_404(request, job_id)
    if name not in job.file_names:  # only names the worker recorded: never a client-made path
        raise HTTPException(404, f"job {job_id} has no file {name[:60]!r}" + (
            "" if job.status == "done" else f" (the job is {job.status})"))
    path = job_dir(_state(request).settings.jobs_dir, job.id) / OUT_DIR / name
    if not path.is_file():
        raise HTTPException(404, f"{name} of job {job_id} is gone")
    suffix = path.suffix.lower()
    headers = {"Cache-Control": "no-store"}
    if suffix == ".html":
        headers["Content-Security-Policy"] = REPORT_CSP
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in job.filename.rsplit(".", 1)[0])[:80]
    return FileResponse(path, media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
                        headers=headers, filename=f"{stem or job.id}-{name}",
                        content_disposition_type="attachment" if download else "inline")


@router.delete("/jobs/{job_id}", summary="Cancel a queued or running job, or delete a finished one")
def delete_job(request: Request, job_id: str) -> dict:
    st = _state(request)
    job = _job_or_404(request, job_id)
    if job.status in ACTIVE:
        before = st.store.request_cancel(job.id)
        if before == "queued":
            remove_job_files(st.settings.jobs_dir, job.id)
        now = st.store.get(job.id)
        return {"id": job.id, "status": now.status if now else "deleted",
                "message": "cancelled" if before == "queued" else
                "cancelling: the worker stops it and removes its files"}
    st.store.delete(job.id)
    remove_job_files(st.settings.jobs_dir, job.id)
    return {"id": job.id, "status": "deleted", "message": "deleted with its files"}
