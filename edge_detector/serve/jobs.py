"""The bounded job queue's consumers: N worker processes, started and stopped with the app.

The queue itself is the ``queued`` rows of the database (bounded by ``Settings.max_queue`` at
insert time), so it survives a restart. A monitor thread replaces a worker that died and fails the
job it held, so no job stays "running" forever.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading

from ..build import PipelineSpec
from .db import JobStore
from .settings import Settings
from .worker import WorkerConfig, remove_job_files, worker_main

log = logging.getLogger(__name__)
STOP_GRACE_S = 20.0  # a worker finalises its current job's files before exiting


class WorkerPool:
    """Spawned (not forked: the server has threads) worker processes sharing one stop event."""

    def __init__(self, settings: Settings, models: dict, store: JobStore) -> None:
        self.settings, self.store = settings, store
        self._ctx = mp.get_context("spawn")
        self._stop = self._ctx.Event()
        self.cfg = WorkerConfig(
            db_path=settings.db_path, jobs_dir=settings.jobs_dir,
            spec=PipelineSpec(model=next(iter(models.values())), threads=settings.worker_threads),
            models=dict(models), video_max_side=settings.web_video_max_side,
            poll_s=settings.poll_s, parent_pid=os.getpid(),
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        self.procs: list = [None] * settings.workers
        self._closing = threading.Event()
        self._monitor: threading.Thread | None = None

    def _spawn(self, index: int) -> None:
        p = self._ctx.Process(target=worker_main, args=(self.cfg, index, self._stop),
                              name=f"edge-detect-worker-{index}", daemon=True)
        p.start()
        self.procs[index] = p

    def start(self) -> WorkerPool:
        for i in range(len(self.procs)):
            self._spawn(i)
        self._monitor = threading.Thread(target=self._watch, name="worker-monitor", daemon=True)
        self._monitor.start()
        return self

    def alive(self) -> int:
        return sum(1 for p in self.procs if p is not None and p.is_alive())

    def _watch(self) -> None:
        while not self._closing.wait(1.0):
            for i, p in enumerate(self.procs):
                if p is not None and not p.is_alive() and not self._closing.is_set():
                    lost = self.store.fail_worker_jobs(p.pid, f"the worker process died "
                                                              f"(exit code {p.exitcode})")
                    for job_id in lost:
                        remove_job_files(self.settings.jobs_dir, job_id)
                    log.warning("worker %d died (exit code %s); started a new one", i, p.exitcode)
                    self._spawn(i)

    def stop(self) -> None:
        """Ask every worker to stop (a running job is re-queued for the next start), then wait."""
        self._closing.set()
        self._stop.set()
        for p in self.procs:
            if p is not None:
                p.join(STOP_GRACE_S)
                if p.is_alive():
                    p.terminate()
                    p.join(5)
        if self._monitor is not None:
            self._monitor.join(2)
