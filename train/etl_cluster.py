"""The ETL on a Dask cluster: one task per video; crops come back as JPEG bytes, the client writes.

Like ``edge-detect --cluster`` (see :mod:`edge_detector.cluster`): each worker builds its face
detector once, videos are read by path (shared file system, checked on every worker), and the
client alone writes crops and the manifest, so resume works exactly as in a local run.
"""

from __future__ import annotations

import functools
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2

from edge_detector import atomic
from edge_detector.cluster import connect, local_threads, one_line, require_dask, results, worker_state
from edge_detector.faces import FaceDetector

from .manifest import FAILED, ManifestRow


def _detector(conf_threshold: float, threads: int | None, files: dict[str, Path]) -> FaceDetector:
    from edge_detector.classifier import default_threads

    cv2.setNumThreads(threads or default_threads())
    return FaceDetector(conf_threshold=conf_threshold)


def _etl_one(detector: FaceDetector, job) -> tuple[list[ManifestRow], dict[str, bytes]]:
    """Runs on a worker: one video into a temp folder; returns its rows and crop bytes."""
    from .etl import process_video

    with tempfile.TemporaryDirectory(prefix="etl-") as tmp:
        rows = process_video(replace(job, out=Path(tmp)), detector)
        crops = {r.crop: (Path(tmp) / r.crop).read_bytes() for r in rows if r.crop}
    return rows, crops


def run_jobs_on_cluster(address: str, conf_threshold: float, jobs: list, out: Path,
                        progress: bool = True) -> Iterator[list[ManifestRow]]:
    """Yields each video's rows (as they finish) once its crops are written under ``out``."""
    require_dask()
    from edge_detector.cluster_worker import WorkerState

    jobs = [replace(j, path=Path(j.path).resolve()) for j in jobs]
    make = functools.partial(_detector, conf_threshold, local_threads(address))
    state = WorkerState(f"train-etl-{uuid.uuid4().hex[:12]}", make, {}, probe=jobs[0].path)
    with connect(address, progress, "etl") as client, worker_state(client, state) as name:
        for job, res, error in results(client, name, _etl_one, jobs):
            if error is not None:
                yield [ManifestRow(job.key, job.cls, job.group, job.split, frame=-1, status=FAILED,
                                   detail=f"worker failed: {one_line(error)}")]
                continue
            rows, crops = res
            for rel, data in crops.items():
                atomic.write_bytes(out / rel, data)
            yield rows
