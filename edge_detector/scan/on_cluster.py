"""A folder scan on Dask: the client side (:func:`scan_on_cluster`) and the per-video tasks.

The generic Dask plumbing (connect, results, worker plugins) lives in :mod:`edge_detector.cluster`
and :mod:`edge_detector.cluster_worker`, which know nothing about scans: the dependency runs one
way, scan -> cluster. Imported only for ``--cluster`` (Dask is optional).
"""

from __future__ import annotations

import functools
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .. import atomic
from ..build import PipelineSpec, build_pipeline
from ..cluster import connect, local_threads, one_line, require_dask, results, worker_state
from ..outlock import LOCK_FILE, output_lock
from ..runner import RunOptions
from .rows import ScanRow
from .worker import ERROR_FILE, Job, JobResult, Worker


def scan_state(spec: PipelineSpec, run_opts: RunOptions, files: dict[str, Path]) -> Worker:
    """A folder scan's Worker, built from the CLI's spec with the model files shipped to this worker."""
    pipeline = build_pipeline(spec.with_files(files))
    pipeline.classifier.path = spec.model  # summary.json names the user's model, not our copy
    return Worker(pipeline, run_opts)


def scan_one(worker: Worker, job: Job) -> tuple[JobResult, dict[str, bytes]]:
    """One video into a worker-local temp folder; returns (JobResult, {relative path: bytes})."""
    with tempfile.TemporaryDirectory(prefix="edge-detect-") as tmp:
        out = Path(tmp) / "out"
        result = worker.analyse(replace(job, out_dir=out))
        files = {p.relative_to(out).as_posix(): p.read_bytes()
                 for p in sorted(out.rglob("*")) if p.is_file() and p.name != LOCK_FILE}
    return result, files


def scan_on_cluster(address: str, todo: list[Job], spec: PipelineSpec, run_opts: RunOptions,
                    record: Callable[[JobResult], None], bar, progress: bool = True) -> None:
    """Run the scan's jobs on Dask; ``record(JobResult)`` is called as each video's files are written."""
    require_dask()
    from ..cluster_worker import WorkerState  # subclasses Dask's WorkerPlugin

    files = {name: Path(path).read_bytes() for name, path in spec.files().items()}
    if spec.threads is None:
        spec = replace(spec, threads=local_threads(address))
    jobs = [replace(j, video=Path(j.video).resolve()) for j in todo]
    state = WorkerState(f"edge-detect-scan-{uuid.uuid4().hex[:12]}",
                        functools.partial(scan_state, spec, run_opts), files, probe=jobs[0].video)
    with connect(address, progress) as client, worker_state(client, state) as name:
        for job, res, error in results(client, name, scan_one, jobs):
            if error is not None:
                res = (JobResult(ScanRow(job.rel, error=f"worker failed: {one_line(error)}")), {})
            result, outputs = res
            final = job.out_dir
            final.mkdir(parents=True, exist_ok=True)
            with output_lock(final):  # as a local scan's worker holds it while writing
                for rel, data in sorted(outputs.items(), key=lambda kv: kv[0] == "summary.json"):
                    atomic.write_bytes(final / rel, data)  # a killed client leaves no half file
            if result.row.ok:
                (final / ERROR_FILE).unlink(missing_ok=True)
            record(result)
            bar.update(1, job)
            if result.interrupted:  # a worker got Ctrl-C too (LocalCluster shares the terminal)
                raise KeyboardInterrupt
