"""`edge-detect DIR`: analyse every video of a folder, in parallel, into one summary.csv.

A video that fails is recorded with its one-line error and the scan goes on. summary.csv is replaced
atomically after every video, so it is valid even if the scan is killed; a re-run skips videos whose
summary.json already exists (failed and interrupted ones are retried) unless ``force`` is set.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from .build import PipelineSpec, build_pipeline
from .errors import SinkError, SourceError
from .scan_rows import ScanRow, print_table, row_from_record, write_summary
from .scan_worker import ERROR_FILE, Job, JobResult, analyse, init_worker, use_pipeline
from .sources import VIDEO_SUFFIXES

log = logging.getLogger(__name__)
SUMMARY_CSV = "summary.csv"


@dataclass(frozen=True)
class ScanOptions:
    """How to scan a folder; per-video outputs go to ``out_dir/<relative path without suffix>/``."""

    out_dir: Path
    recursive: bool = False
    workers: int = 1
    write_video: bool = True
    report: bool = True
    force: bool = False
    max_frames: int | None = None
    aggregation: str = "mean"
    progress: bool = True
    quiet: bool = False
    cluster: str | None = None  # a Dask scheduler address or local[:N] (see .cluster)


def find_videos(folder: Path, recursive: bool, exclude: Path | None = None) -> list[Path]:
    """Video files by suffix, sorted; anything under ``exclude`` (our own output) is skipped."""
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder")
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    skip = exclude.resolve() if exclude else None
    found = []
    for p in pattern:
        if p.suffix.lower() not in VIDEO_SUFFIXES or not p.is_file():
            continue
        if skip is not None and skip in p.resolve().parents:
            continue
        found.append(p)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def plan_jobs(folder: Path, videos: list[Path], out_dir: Path) -> list[Job]:
    """``a/b.mp4`` -> ``out_dir/a/b``; ``b.mp4`` and ``b.avi`` side by side get ``b_mp4``/``b_avi``."""
    rels = [v.relative_to(folder) for v in videos]
    stems = [r.with_suffix("") for r in rels]
    clash = {s for s in stems if stems.count(s) > 1}
    jobs = []
    for v, r, s in zip(videos, rels, stems, strict=True):
        sub = s.with_name(f"{s.name}_{r.suffix.lstrip('.').lower()}") if s in clash else s
        jobs.append(Job(v, r.as_posix(), out_dir / sub))
    return jobs


def done_row(job: Job) -> ScanRow | None:
    """The row of a finished earlier run, or None if this video must be (re)done."""
    summary = job.out_dir / "summary.json"
    if not summary.is_file() or (job.out_dir / ERROR_FILE).exists():
        return None
    try:
        record = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("interrupted"):
        return None
    return row_from_record(job.rel, record)


def scan_folder(folder: Path, spec: PipelineSpec, opts: ScanOptions) -> int:
    """Scan ``folder``; returns 0 if every video succeeded, 1 if some failed."""
    videos = find_videos(folder, opts.recursive, exclude=opts.out_dir)
    if not videos:
        hint = "" if opts.recursive else " (pass -r to include sub-folders)"
        raise SourceError(f"no videos found in {folder}{hint}")
    try:
        opts.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SinkError(f"cannot create output folder {opts.out_dir}: {exc.strerror or exc}") from exc
    jobs = plan_jobs(folder, videos, opts.out_dir)
    rows: dict[str, ScanRow] = {}
    todo = []
    for job in jobs:
        row = None if opts.force else done_row(job)
        if row is None:
            todo.append(job)
        else:
            rows[job.rel] = row
    order = {j.rel: i for i, j in enumerate(jobs)}
    summary = opts.out_dir / SUMMARY_CSV

    def record(result: JobResult) -> None:
        rows[result.row.path] = result.row
        write_summary(summary, sorted(rows.values(), key=lambda r: order[r.path]))
        for w in result.warnings:
            log.info("%s: %s", result.row.path, w)
        if result.row.error:
            log.warning("%s: %s", result.row.path, result.row.error)

    write_summary(summary, sorted(rows.values(), key=lambda r: order[r.path]))
    if rows and opts.progress:
        click.echo(f"edge-detect: {len(rows)} of {len(jobs)} videos already done in {opts.out_dir}; "
                   "skipping them (--force redoes them)", err=True)
    run_args = {"write_video": opts.write_video, "report": opts.report,
                "max_frames": opts.max_frames, "aggregation": opts.aggregation}
    if todo:
        _run_jobs(todo, spec, run_args, opts, record)
    final = sorted(rows.values(), key=lambda r: order[r.path])
    if not opts.quiet:
        print_table(final, summary)
    failed = sum(not r.ok for r in final)
    if failed:
        click.echo(f"edge-detect: {failed} of {len(final)} videos failed (see {summary})", err=True)
    return 1 if failed else 0


def _run_jobs(todo: list[Job], spec: PipelineSpec, run_args: dict[str, Any], opts: ScanOptions,
              record) -> None:
    workers = max(1, min(opts.workers, len(todo)))
    if spec.threads is None and workers > 1:  # share the cores instead of oversubscribing them
        spec = replace(spec, threads=max(1, (os.cpu_count() or 1) // workers))
    pipeline = build_pipeline(spec)  # a bad model fails here once, not once per worker
    if pipeline.contract.synthetic_demo:
        from .runner import SYNTHETIC_WARNING

        log.warning("%s", SYNTHETIC_WARNING)
    with _progress(len(todo), opts.progress) as bar:
        if opts.cluster:
            from .cluster import scan_on_cluster

            return scan_on_cluster(opts.cluster, todo, spec, run_args, record, bar, opts.progress)
        if workers == 1:
            use_pipeline(pipeline, run_args)
            for job in todo:
                result = analyse(job)
                record(result)
                bar.update(1, job)
                if result.interrupted:  # Ctrl-C stops the scan; the CLI exits with 130
                    raise KeyboardInterrupt
            return
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker,
                                 initargs=(spec, run_args, logging.getLogger().level)) as pool:
            futures: dict[Future, Job] = {pool.submit(analyse, j): j for j in todo}
            try:
                for fut in as_completed(futures):
                    job = futures[fut]
                    try:
                        result = fut.result()
                    except Exception as exc:  # the worker itself died (e.g. out of memory)
                        result = JobResult(ScanRow(job.rel, error=f"worker failed: {exc}"))
                    record(result)
                    bar.update(1, job)
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                raise


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, n: int, item: Any = None) -> None:
        pass


def _progress(total: int, show: bool):
    """One bar over videos on stderr (the table goes to stdout)."""
    if not show:
        return _NoBar()
    return click.progressbar(length=total, label="videos", file=click.get_text_stream("stderr"),
                             show_pos=True, item_show_func=lambda j: j.rel if j else None)


