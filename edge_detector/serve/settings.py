"""One settings object for the server: bind address, data folder, workers and every limit."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EdgeDetectError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_MB = 200
DB_FILE = "serve.db"
JOBS_DIR = "jobs"


class ServeError(EdgeDetectError):
    """The server cannot start: the extra is missing or the address cannot be bound."""

    exit_code = 7


class ServeUsageError(EdgeDetectError):
    """Options that would make an unsafe or impossible server (exit 2, like any usage error)."""

    exit_code = 2


def is_loopback(host: str) -> bool:
    """``localhost`` and loopback addresses only; a name that resolves elsewhere is not loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """What ``edge-detect serve`` was started with; the app and the workers read only this."""

    data: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    token: str | None = None
    max_queue: int = 32  # queued + running jobs; past it POST /api/jobs answers 429
    max_uploads: int = 4  # uploads streaming at once; past it 429
    max_streams: int = 64  # open server-sent-event streams; past it 429
    max_jobs: int = 1000  # jobs kept (finished ones count); past it 429 until some are deleted
    min_free_mb: int = 256  # refuse uploads (507) when the data disk would drop below this
    web_video_max_side: int = 854  # the page's annotated video is scaled to fit (VP8 is slow)
    threads: int | None = None  # inference threads per worker (default: cores / workers, >= 1)
    models: dict[str, Path] = field(default_factory=dict)  # name -> ONNX; empty: the shipped models
    poll_s: float = 0.2  # how often idle workers look for a queued job

    def __post_init__(self) -> None:
        if not is_loopback(self.host) and not self.token:
            raise ServeUsageError(
                f"--host {self.host} is reachable from other machines: give --token T "
                "(clients send 'Authorization: Bearer T') or bind 127.0.0.1")
        if self.token is not None and len(self.token) < 16:
            raise ServeUsageError("--token must be at least 16 characters")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def db_path(self) -> Path:
        return self.data / DB_FILE

    @property
    def jobs_dir(self) -> Path:
        return self.data / JOBS_DIR

    @property
    def worker_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)
