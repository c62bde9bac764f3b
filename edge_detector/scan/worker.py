"""The worker side of a folder scan: a loaded pipeline that analyses one video per call.

The same :class:`Worker` runs in-process (``--workers 1``), in a process-pool worker and in a Dask
worker thread; each builds its pipeline from the one PipelineSpec the CLI built.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..build import PipelineSpec, build_pipeline
from ..errors import EdgeDetectError
from ..pipeline import Pipeline
from ..runner import RunOptions, run_source
from ..sources import open_source
from .rows import ScanRow, row_from_run

log = logging.getLogger(__name__)
ERROR_FILE = "error.txt"


@dataclass(frozen=True)
class Job:
    """One video to analyse (picklable: sent to a worker process)."""

    video: Path
    rel: str
    out_dir: Path


@dataclass
class JobResult:
    row: ScanRow
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False


class Worker:
    """Models loaded once; per-video track state is fresh (``Pipeline.fresh``).

    ``opts`` are the run options of every video (its ``out_dir`` is replaced by the job's).
    """

    def __init__(self, pipeline: Pipeline, opts: RunOptions) -> None:
        self.pipeline, self.opts = pipeline, opts
        self.active = False  # a video is being analysed
        self.stop = False  # SIGTERM received: finish the current video's outputs, start no other

    def on_sigterm(self, signum, frame) -> None:
        self.stop = True
        if self.active:
            raise KeyboardInterrupt  # run_source finalises the outputs of the current video
        os._exit(0)  # idle: nothing to finalise, and no traceback from the pool's queue wait

    def analyse(self, job: Job) -> JobResult:
        """Never raises for a bad video: returns its error as a row instead."""
        t0 = time.perf_counter()
        error_file = job.out_dir / ERROR_FILE
        interrupted = False
        self.active = True
        try:
            if self.stop:
                raise KeyboardInterrupt
            with open_source(job.video) as src:
                result = run_source(src, self.pipeline.fresh(), replace(self.opts, out_dir=job.out_dir))
            if result.interrupted:
                raise KeyboardInterrupt
            error_file.unlink(missing_ok=True)
            return JobResult(row_from_run(job.rel, result, time.perf_counter() - t0), result.warnings)
        except KeyboardInterrupt:
            message, interrupted = "interrupted", True
        except EdgeDetectError as exc:
            message = str(exc)
        except Exception as exc:  # a bug or an odd file must not end the whole scan
            log.debug("unexpected error on %s", job.video, exc_info=True)
            message = f"{type(exc).__name__}: {exc}"
        finally:
            self.active = False
        message = " ".join(message.split()) or "failed"
        if job.out_dir.is_dir():
            try:
                error_file.write_text(message + "\n", encoding="utf-8")
            except OSError:
                pass
        row = ScanRow(job.rel, seconds=time.perf_counter() - t0, error=message)
        return JobResult(row, interrupted=interrupted)


# ProcessPoolExecutor calls plain functions, so a pool process keeps its Worker here (one per process).
_WORKER: Worker | None = None


def init_worker(spec: PipelineSpec, opts: RunOptions, log_level: int) -> None:
    """Process-pool initializer: log like the CLI and load the models once for this process.

    SIGINT is ignored (the parent handles Ctrl-C for the whole scan); SIGTERM from the parent
    stops this worker after finalising its current video.
    """
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # still loading: nothing to finalise
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("edge-detect: %(levelname)s: %(message)s"))
        logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(log_level)
    _WORKER = Worker(build_pipeline(spec), opts)
    signal.signal(signal.SIGTERM, _WORKER.on_sigterm)


def analyse_in_pool(job: Job) -> JobResult:
    assert _WORKER is not None, "init_worker was not called in this process"
    return _WORKER.analyse(job)
