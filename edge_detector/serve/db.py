"""Jobs and their results in SQLite: one file under ``--data``, WAL mode, a versioned schema.

The server process and every worker process open their own connections (one per call: cheap, and
safe across threads); WAL lets the page read progress while a worker writes it. A worker claims a
queued job with one ``UPDATE`` inside ``BEGIN IMMEDIATE``, so two workers never take the same job.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SinkError

SCHEMA_VERSION = 1
QUEUED, RUNNING, CANCELLING = "queued", "running", "cancelling"
DONE, FAILED, CANCELLED = "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING, CANCELLING)
FINAL = (DONE, FAILED, CANCELLED)
MAX_ATTEMPTS = 2  # a job interrupted by a server restart is re-queued once, then failed

_MIGRATIONS = {
    1: """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN
            ('queued', 'running', 'cancelling', 'done', 'failed', 'cancelled')),
        filename TEXT NOT NULL,
        kind TEXT NOT NULL,
        input TEXT NOT NULL,
        model TEXT NOT NULL,
        threshold REAL,
        created REAL NOT NULL,
        started REAL,
        finished REAL,
        attempts INTEGER NOT NULL DEFAULT 0,
        worker INTEGER,
        frames INTEGER NOT NULL DEFAULT 0,
        total INTEGER,
        fps REAL,
        verdict TEXT,
        score REAL,
        error TEXT,
        files TEXT NOT NULL DEFAULT '[]',
        summary TEXT
    );
    CREATE INDEX jobs_status_seq ON jobs (status, seq);
    """,
}


@dataclass(frozen=True)
class JobRow:
    """One job as stored; ``summary`` is summary.json's text once the job is done."""

    id: str
    seq: int
    status: str
    filename: str
    kind: str
    input: str
    model: str
    threshold: float | None
    created: float
    started: float | None
    finished: float | None
    attempts: int
    worker: int | None
    frames: int
    total: int | None
    fps: float | None
    verdict: str | None
    score: float | None
    error: str | None
    files: str
    summary: str | None

    @property
    def file_names(self) -> list[str]:
        return list(json.loads(self.files))

    @property
    def eta_s(self) -> float | None:
        if self.status != RUNNING or not self.total or not self.fps:
            return None
        return max(self.total - self.frames, 0) / self.fps

    def public(self, with_summary: bool = True) -> dict[str, Any]:
        """The API's view: never the stored input path, the worker or the sequence number."""
        out = {
            "id": self.id, "status": self.status, "filename": self.filename, "kind": self.kind,
            "options": {"model": self.model, "threshold": self.threshold},
            "created": self.created, "started": self.started, "finished": self.finished,
            "progress": {"frames": self.frames, "total": self.total, "fps": self.fps,
                         "eta_s": self.eta_s},
            "verdict": self.verdict, "score": self.score, "error": self.error,
            "files": self.file_names,
        }
        if with_summary:
            out["summary"] = json.loads(self.summary) if self.summary else None
        return out


class JobStore:
    """All reads and writes of the jobs table."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def _conn(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def migrate(self) -> None:
        """Create or upgrade the schema; refuse a database written by a newer version."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise SinkError(f"{self.path}: SQLite cannot use WAL mode here ({mode})")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise SinkError(f"{self.path} has schema version {version}; this edge-detect "
                                    f"knows up to {SCHEMA_VERSION} (upgrade it, or use another --data)")
                for v in range(version + 1, SCHEMA_VERSION + 1):  # each step all or nothing
                    conn.executescript(f"BEGIN IMMEDIATE; {_MIGRATIONS[v]}; "
                                       f"PRAGMA user_version = {v}; COMMIT;")
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise SinkError(f"cannot use the job database {self.path}: {exc}") from exc
        except OSError as exc:
            raise SinkError(f"cannot create {self.path.parent}: {exc.strerror or exc}") from exc

    def schema_version(self) -> int:
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()

    def journal_mode(self) -> str:
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            conn.close()

    # --- the server side -------------------------------------------------------------------

    def add(self, job_id: str, filename: str, kind: str, input_name: str, model: str,
            threshold: float | None, max_active: int, max_jobs: int) -> JobRow | None:
        """Insert a queued job, or None when the queue (or the store) is full."""
        with self._conn(immediate=True) as c:
            active = c.execute(f"SELECT COUNT(*) FROM jobs WHERE status IN {ACTIVE}").fetchone()[0]
            total = c.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
            if active >= max_active or total >= max_jobs:
                return None
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            c.execute("INSERT INTO jobs (id, seq, status, filename, kind, input, model, threshold, "
                      "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (job_id, seq, QUEUED, filename, kind, input_name, model, threshold, time.time()))
        return self.get(job_id)

    def counts(self) -> dict[str, int]:
        with self._conn() as c:
            rows = c.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {r[0]: r[1] for r in rows}

    def get(self, job_id: str) -> JobRow | None:
        with self._conn() as c:
            row = c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobRow(**dict(row)) if row else None

    def list(self, limit: int, offset: int = 0) -> list[JobRow]:
        with self._conn() as c:
            rows = c.execute("SELECT * FROM jobs ORDER BY seq DESC LIMIT ? OFFSET ?",
                             (limit, offset)).fetchall()
        return [JobRow(**dict(r)) for r in rows]

    def request_cancel(self, job_id: str) -> str | None:
        """queued -> cancelled at once; running -> cancelling (its worker stops it). Old status."""
        with self._conn(immediate=True) as c:
            row = c.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            if row[0] == QUEUED:
                c.execute("UPDATE jobs SET status = ?, finished = ?, error = ? WHERE id = ?",
                          (CANCELLED, time.time(), "cancelled before it started", job_id))
            elif row[0] == RUNNING:
                c.execute("UPDATE jobs SET status = ? WHERE id = ?", (CANCELLING, job_id))
            return row[0]

    def delete(self, job_id: str) -> bool:
        with self._conn(immediate=True) as c:
            return c.execute(f"DELETE FROM jobs WHERE id = ? AND status IN {FINAL}",
                             (job_id,)).rowcount > 0

    def recover(self) -> tuple[list[str], list[str]]:
        """After a restart: jobs left running are re-queued (once) or failed. Returns both lists."""
        with self._conn(immediate=True) as c:
            rows = c.execute("SELECT id, status, attempts FROM jobs WHERE status IN (?, ?)",
                             (RUNNING, CANCELLING)).fetchall()
            requeued, failed = [], []
            for job_id, status, attempts in rows:
                if status == CANCELLING:
                    c.execute("UPDATE jobs SET status = ?, finished = ?, error = ? WHERE id = ?",
                              (CANCELLED, time.time(), "cancelled (the server stopped)", job_id))
                    failed.append(job_id)
                elif attempts >= MAX_ATTEMPTS:
                    c.execute("UPDATE jobs SET status = ?, finished = ?, error = ?, worker = NULL "
                              "WHERE id = ?", (FAILED, time.time(),
                                               f"the server stopped while this job ran "
                                               f"({attempts} times); not retried", job_id))
                    failed.append(job_id)
                else:
                    c.execute("UPDATE jobs SET status = ?, started = NULL, frames = 0, fps = NULL, "
                              "worker = NULL WHERE id = ?", (QUEUED, job_id))
                    requeued.append(job_id)
        return requeued, failed

    # --- the worker side -------------------------------------------------------------------

    def claim(self, worker: int) -> JobRow | None:
        """The oldest queued job, now running on ``worker`` (None when the queue is empty)."""
        with self._conn(immediate=True) as c:
            row = c.execute("SELECT id FROM jobs WHERE status = ? ORDER BY seq LIMIT 1",
                            (QUEUED,)).fetchone()
            if row is None:
                return None
            c.execute("UPDATE jobs SET status = ?, started = ?, worker = ?, attempts = attempts + 1, "
                      "frames = 0, fps = NULL WHERE id = ?", (RUNNING, time.time(), worker, row[0]))
        return self.get(row[0])

    def progress(self, job_id: str, frames: int, total: int | None, fps: float | None) -> str | None:
        """Record progress; returns the job's status (``cancelling`` asks the worker to stop)."""
        with self._conn(immediate=True) as c:
            c.execute("UPDATE jobs SET frames = ?, total = ?, fps = ? WHERE id = ? AND status = ?",
                      (frames, total, fps, job_id, RUNNING))
            row = c.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def finish(self, job_id: str, status: str, *, error: str | None = None,
               summary: str | None = None, files: list[str] | None = None,
               verdict: str | None = None, score: float | None = None,
               frames: int | None = None) -> None:
        with self._conn(immediate=True) as c:
            c.execute("UPDATE jobs SET status = ?, finished = ?, error = ?, summary = ?, files = ?, "
                      "verdict = ?, score = ?, frames = COALESCE(?, frames), worker = NULL "
                      "WHERE id = ?",
                      (status, time.time(), error, summary, json.dumps(files or []), verdict, score,
                       frames, job_id))

    def requeue(self, job_id: str) -> None:
        """A job stopped by a server shutdown: run again at the next start."""
        with self._conn(immediate=True) as c:
            c.execute("UPDATE jobs SET status = ?, started = NULL, frames = 0, fps = NULL, "
                      "worker = NULL, attempts = attempts - 1 WHERE id = ? AND status = ?",
                      (QUEUED, job_id, RUNNING))

    def fail_worker_jobs(self, worker: int, message: str) -> list[str]:
        """Jobs a dead worker process held: failed with ``message`` (or cancelled if asked)."""
        with self._conn(immediate=True) as c:
            rows = c.execute("SELECT id, status FROM jobs WHERE worker = ? AND status IN (?, ?)",
                             (worker, RUNNING, CANCELLING)).fetchall()
            for job_id, status in rows:
                final, why = (CANCELLED, "cancelled") if status == CANCELLING else (FAILED, message)
                c.execute("UPDATE jobs SET status = ?, finished = ?, error = ?, worker = NULL "
                          "WHERE id = ?", (final, time.time(), why, job_id))
        return [r[0] for r in rows]
