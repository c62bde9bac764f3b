"""A worker process of the server: claims queued jobs from the database and runs each one.

Models are built from a :class:`PipelineSpec`, as the folder scan's workers build theirs: the
server's base spec with the job's model and threshold, one loaded pipeline kept per spec and
:meth:`Pipeline.fresh` per job. Progress goes to the database, which is also how a cancel arrives.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

from ..build import PipelineSpec, build_pipeline
from ..errors import EdgeDetectError
from ..pipeline import Pipeline
from ..runner import RunOptions, run_source
from ..sources import open_source
from .db import CANCELLED, DONE, FAILED, RUNNING, JobRow, JobStore
from .outputs import EXPLAIN_DIR, Cancelled, job_sinks

log = logging.getLogger(__name__)
OUT_DIR = "out"
MAX_PIPELINES = 2  # loaded models kept per worker (the picker offers a few)


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker process needs (picklable: sent to a spawned process)."""

    db_path: Path
    jobs_dir: Path
    spec: PipelineSpec  # the base spec; each job replaces its model and threshold
    models: dict[str, Path]
    video_max_side: int
    poll_s: float
    parent_pid: int
    log_level: int = logging.WARNING


def job_dir(jobs_dir: Path, job_id: str) -> Path:
    return jobs_dir / job_id


def remove_job_files(jobs_dir: Path, job_id: str) -> None:
    shutil.rmtree(job_dir(jobs_dir, job_id), ignore_errors=True)


class JobRunner:
    """Runs one claimed job at a time; ``stopping()`` says the server is shutting down."""

    def __init__(self, cfg: WorkerConfig, store: JobStore, stopping) -> None:
        self.cfg, self.store, self.stopping = cfg, store, stopping
        self._pipelines: OrderedDict[PipelineSpec, Pipeline] = OrderedDict()
        self.shutdown_hit = False

    def pipeline(self, spec: PipelineSpec) -> Pipeline:
        if spec not in self._pipelines:
            self._pipelines[spec] = build_pipeline(spec)
            while len(self._pipelines) > MAX_PIPELINES:
                self._pipelines.popitem(last=False)
        self._pipelines.move_to_end(spec)
        return self._pipelines[spec].fresh()

    def run(self, job: JobRow) -> str:
        """Analyse ``job`` into its ``out`` folder and record the outcome; returns the final status."""
        folder = job_dir(self.cfg.jobs_dir, job.id)
        out_dir = folder / OUT_DIR
        shutil.rmtree(out_dir, ignore_errors=True)  # a re-queued job starts clean
        self.shutdown_hit = False

        def progress(frames: int, total: int | None, fps: float | None) -> bool:
            if self.stopping():
                self.shutdown_hit = True
                return False
            return self.store.progress(job.id, frames, total, fps) == RUNNING

        if job.model not in self.cfg.models:  # offered when queued, not after a restart
            return self._failed(job, out_dir, f"model {job.model!r} is not offered by this server "
                                              f"any more (offered: {', '.join(self.cfg.models)})")
        try:
            model = self.cfg.models[job.model]
            spec = replace(self.cfg.spec, model=model, threshold=job.threshold)
            pipeline = self.pipeline(spec)
            with open_source(folder / job.input) as src:
                sinks = job_sinks(src.info, out_dir, progress, self.cfg.video_max_side,
                                  pipeline.classifier)
                result = run_source(src, pipeline, RunOptions(out_dir=out_dir, force=True), sinks)
            if result.interrupted:
                raise Cancelled
        except KeyboardInterrupt:  # Cancelled, or SIGINT reaching a worker
            return self._stopped(job)
        except EdgeDetectError as exc:
            return self._failed(job, out_dir, str(exc))
        except Exception as exc:  # a bug or an odd file must not take the worker down
            log.warning("job %s failed", job.id, exc_info=True)
            return self._failed(job, out_dir, f"internal error: {type(exc).__name__}: {exc}")
        s = result.summary
        summary_file = out_dir / "summary.json"
        self.store.finish(job.id, DONE, summary=summary_file.read_text(encoding="utf-8"),
                          files=_listed_files(out_dir),
                          verdict=s.verdict, score=s.score, frames=s.frames_read,
                          error=None)
        return DONE

    def _stopped(self, job: JobRow) -> str:
        shutil.rmtree(job_dir(self.cfg.jobs_dir, job.id) / OUT_DIR, ignore_errors=True)
        if self.shutdown_hit:  # the server is stopping: run it again at the next start
            self.store.requeue(job.id)
            return "queued"
        remove_job_files(self.cfg.jobs_dir, job.id)  # cancelled: nothing of it stays on disk
        self.store.finish(job.id, CANCELLED, error="cancelled while running")
        return CANCELLED

    def _failed(self, job: JobRow, out_dir: Path, message: str) -> str:
        message = " ".join(message.replace(str(self.cfg.jobs_dir), "<data>").split()) or "failed"
        shutil.rmtree(out_dir, ignore_errors=True)
        self.store.finish(job.id, FAILED, error=message)
        return FAILED


def _listed_files(out_dir: Path) -> list[str]:
    """The names the file endpoint may serve: the output folder's files and the overlay PNGs."""
    names = [p.name for p in out_dir.iterdir() if p.is_file()]
    maps = out_dir / EXPLAIN_DIR
    if maps.is_dir():
        names += [f"{EXPLAIN_DIR}/{p.name}" for p in maps.glob("*.png")]
    return sorted(names)


def worker_main(cfg: WorkerConfig, index: int, stop_event) -> None:
    """Entry point of a spawned worker process: claim, run, repeat until told to stop.

    SIGINT is ignored (Ctrl-C reaches the whole process group; the server stops the workers in
    order); a worker whose server died (its parent changed) stops on its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop_event.set())
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("edge-detect serve: %(levelname)s: %(message)s"))
        logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(cfg.log_level)
    store = JobStore(cfg.db_path)

    def stopping() -> bool:
        return stop_event.is_set() or os.getppid() != cfg.parent_pid

    runner = JobRunner(cfg, store, stopping)
    while not stopping():
        job = store.claim(os.getpid())
        if job is None:
            stop_event.wait(cfg.poll_s)
            continue
        runner.run(job)
