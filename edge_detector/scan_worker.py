"""The worker side of a folder scan: one pipeline per process, one video per call.

Lives apart from the scan loop so 'spawn' workers import only what they need.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .build import PipelineSpec, build_pipeline
from .errors import EdgeDetectError
from .pipeline import Pipeline
from .scan_rows import ScanRow, row_from_run

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


_PIPELINE: Pipeline | None = None
_RUN_ARGS: dict[str, Any] = {}
_ACTIVE = False  # a video is being analysed in this worker
_STOP = False  # SIGTERM received: finish the current video's outputs, start no other


def _on_sigterm(signum, frame) -> None:
    global _STOP
    _STOP = True
    if _ACTIVE:
        raise KeyboardInterrupt  # run_source finalises the outputs of the current video
    os._exit(0)  # idle: nothing to finalise, and no traceback from the pool's queue wait


def init_worker(spec: PipelineSpec, run_args: dict[str, Any], log_level: int) -> None:
    """Process-pool initializer: log like the CLI and load the models once for this process.

    SIGINT is ignored (the parent handles Ctrl-C for the whole scan); SIGTERM from the parent
    stops this worker after finalising its current video.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("edge-detect: %(levelname)s: %(message)s"))
        logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(log_level)
    use_pipeline(build_pipeline(spec), run_args)


def use_pipeline(pipeline: Pipeline, run_args: dict[str, Any]) -> None:
    """Set this process's loaded pipeline and run options (in-process scans call it directly)."""
    global _PIPELINE, _RUN_ARGS
    _PIPELINE, _RUN_ARGS = pipeline, run_args


def analyse(job: Job, pipeline: Pipeline | None = None, run_args: dict[str, Any] | None = None
            ) -> JobResult:
    """Runs in a worker (or in-process); never raises for a bad video, returns its error instead.

    ``pipeline``/``run_args`` default to this process's (see :func:`use_pipeline`); Dask workers
    pass their own, as they may run several threads.
    """
    from .runner import RunOptions, run_source
    from .sources import open_source

    global _ACTIVE
    t0 = time.perf_counter()
    error_file = job.out_dir / ERROR_FILE
    interrupted = False
    _ACTIVE = True
    try:
        if _STOP:
            raise KeyboardInterrupt
        args = _RUN_ARGS if run_args is None else run_args
        opts = RunOptions(out_dir=job.out_dir, force=True, progress=False, **args)
        base = pipeline or _PIPELINE  # models are loaded once per process; track state is per video
        assert base is not None, "init_worker/use_pipeline was not called"
        fresh = base.fresh()
        with open_source(job.video) as src:
            result = run_source(src, fresh, opts)
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
        _ACTIVE = False
    message = " ".join(message.split()) or "failed"
    if job.out_dir.is_dir():
        try:
            error_file.write_text(message + "\n", encoding="utf-8")
        except OSError:
            pass
    row = ScanRow(job.rel, seconds=time.perf_counter() - t0, error=message)
    return JobResult(row, interrupted=interrupted)


