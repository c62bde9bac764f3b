"""The scan loop: find and plan the videos, skip finished ones, run the rest, keep summary.csv.

A video that fails is recorded with its one-line error and the scan goes on. summary.csv is replaced
atomically after every video, so it is valid even if the scan is killed; a re-run skips videos whose
summary.json already exists (failed and interrupted ones are retried) unless ``force`` is set.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor, as_completed, wait
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import click

from ..build import PipelineSpec, build_pipeline
from ..errors import EdgeDetectError, SinkError, SourceError, UsageError
from ..fsnames import display_name
from ..interrupts import children_ignore_sigint
from ..notices import SYNTHETIC_WARNING
from ..outlock import LOCK_FILE, output_lock
from ..outnames import safe_component, safe_relpath
from ..runner import RunOptions
from ..sinks import write_json
from ..sources import accepted_list, is_accepted
from ..weights import sha256_file
from .rows import COLUMNS, ScanRow, print_table, row_from_record, write_summary
from .worker import ERROR_FILE, Job, JobResult, Worker, analyse_in_pool, init_worker

log = logging.getLogger(__name__)
SUMMARY_CSV = "summary.csv"
SETTINGS_FILE = "settings.json"  # what produced a video's result: resume only if it matches
STOP_GRACE_S = 5.0  # after Ctrl-C/SIGTERM, how long workers get to finalise their video
_NOT_RESULTS = {"threads"}  # PipelineSpec fields that change speed, not results


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
    progress: bool = True
    quiet: bool = False
    cluster: str | None = None  # a Dask scheduler address or local[:N] (see ..cluster)

    def run_options(self) -> RunOptions:
        """The options of every video's run (each job sets its own ``out_dir``)."""
        return RunOptions(out_dir=None, write_video=self.write_video, report=self.report,
                          max_frames=self.max_frames, force=True, progress=False)


def find_videos(folder: Path, recursive: bool, exclude: Path | None = None) -> list[Path]:
    """Accepted inputs (videos and images), sorted; never our own outputs: anything under
    ``exclude`` and every folder an earlier run or scan wrote (see :func:`is_output_folder`)."""
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder")
    skip = exclude.resolve() if exclude else None
    found, outputs, skipped = [], [], []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        if (skip is not None and here.resolve() == skip) or is_output_folder(here):
            outputs.append(here)
            dirs[:] = []
            continue
        dirs[:] = sorted(dirs) if recursive else []
        for name in files:
            p = here / name
            if is_accepted(p) and p.is_file():
                found.append(p)
            elif not name.startswith("."):
                skipped.append(p)
    if skipped:
        log.warning("skipped %d files that are not accepted inputs (e.g. %s); accepted: %s",
                    len(skipped), display_name(skipped[0].relative_to(folder)), accepted_list())
    if outputs:
        log.info("skipped %d output folders of edge-detect (e.g. %s)", len(outputs),
                 display_name(outputs[0]))
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def is_output_folder(folder: Path) -> bool:
    """A folder edge-detect wrote: a run's (summary.json beside frames.csv, settings.json or
    error.txt) or a scan's (its lock file, or a summary.csv with the scan's header)."""
    if (folder / LOCK_FILE).exists():
        return True
    if (folder / "summary.json").is_file() and any(
            (folder / n).exists() for n in ("frames.csv", SETTINGS_FILE, ERROR_FILE)):
        return True
    try:
        with open(folder / SUMMARY_CSV, encoding="utf-8", errors="replace") as fh:
            return fh.readline().strip() == ",".join(COLUMNS)
    except OSError:
        return False


def check_layout(folder: Path, out_dir: Path) -> None:
    """Refuse an output folder that is the scanned folder or holds it (results would be scanned
    as new videos, or land among the inputs); one inside the scanned tree is fine (skipped)."""
    src, out = folder.resolve(), out_dir.resolve()
    if out == src or out in src.parents:
        what = "is" if out == src else "contains"
        raise UsageError(f"output folder {display_name(out_dir)} {what} the scanned folder "
                         f"{display_name(folder)}; pass -o outside it (or a new folder inside it)")


def plan_jobs(folder: Path, videos: list[Path], out_dir: Path) -> list[Job]:
    """``a/b.mp4`` -> ``out_dir/a/b``; ``b.mp4`` and ``b.avi`` side by side get ``b_mp4``/``b_avi``.

    Output folders are unique ignoring case (``clip.mp4``/``clip.MP4`` on a case-insensitive disk
    would share one), and names that are not UTF-8 are written with ``\\xNN`` escapes.
    """
    rels = [v.relative_to(folder) for v in videos]
    stems = [safe_relpath([*r.parent.parts, r.stem]) for r in rels]  # never ``..``, never our own files
    folded = [s.as_posix().casefold() for s in stems]
    clash = {f for f in folded if folded.count(f) > 1}
    jobs, taken = [], set()
    for v, r, s, f in zip(videos, rels, stems, folded, strict=True):
        tag = display_name(r.suffix.lstrip('.')).lower()
        sub = s.with_name(safe_component(f"{s.name}_{tag}")) if f in clash else s
        name, n = sub, 1
        while name.as_posix().casefold() in taken:
            n += 1
            name = sub.with_name(f"{sub.name}-{n}")
        taken.add(name.as_posix().casefold())
        jobs.append(Job(v, display_name(r.as_posix()), out_dir / name))
    return jobs


def settings_key(spec: PipelineSpec, opts: ScanOptions) -> dict[str, Any]:
    """Everything that changes a video's result: every PipelineSpec field (files by SHA-256) plus
    the frame limit and aggregation. New spec fields are included without changes here."""
    key: dict[str, Any] = {}
    for f in fields(spec):
        value = getattr(spec, f.name)
        if f.name in _NOT_RESULTS:
            continue
        if isinstance(value, Path):
            try:
                value = "sha256:" + sha256_file(value)
            except OSError:
                value = display_name(value)
        key[f.name] = value
    key.update(max_frames=opts.max_frames)
    return json.loads(json.dumps(key, default=str))


def done_row(job: Job, key: dict[str, Any] | None = None) -> tuple[ScanRow | None, str]:
    """(the row of a finished earlier run, "") or (None, why it must be (re)done)."""
    summary = job.out_dir / "summary.json"
    if not summary.is_file():
        return None, "new"
    if (job.out_dir / ERROR_FILE).exists():
        return None, "failed before"
    try:
        record = json.loads(summary.read_text(encoding="utf-8"))
        old = json.loads((job.out_dir / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, "no settings record"
    if record.get("interrupted"):
        return None, "interrupted before"
    if key is not None and old != key:
        changed = sorted(k for k in {*key, *old} if key.get(k) != old.get(k))
        return None, "settings changed (" + ", ".join(changed) + ")"
    return row_from_record(job.rel, record), ""


def scan_folder(folder: Path, spec: PipelineSpec, opts: ScanOptions) -> int:
    """Scan ``folder``; returns 0 if every video succeeded, 1 if some failed."""
    check_layout(folder, opts.out_dir)
    videos = find_videos(folder, opts.recursive, exclude=opts.out_dir)
    if not videos:
        if is_output_folder(folder):
            raise SourceError(f"{display_name(folder)} is an edge-detect output folder, not inputs")
        hint = "" if opts.recursive else " (pass -r to include sub-folders)"
        raise SourceError(f"no videos found in {display_name(folder)}{hint}")
    try:
        opts.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SinkError(f"cannot create output folder {opts.out_dir}: {exc.strerror or exc}") from exc
    with output_lock(opts.out_dir):  # a second scan into this folder is refused, not interleaved
        return _scan_locked(folder, videos, spec, opts)


def _scan_locked(folder: Path, videos: list[Path], spec: PipelineSpec, opts: ScanOptions) -> int:
    jobs = plan_jobs(folder, videos, opts.out_dir)
    key = settings_key(spec, opts)
    rows: dict[str, ScanRow] = {}
    todo, redo = [], {}
    for job in jobs:
        row, why = (None, "forced") if opts.force else done_row(job, key)
        if row is None:
            todo.append(job)
            if why.startswith("settings"):
                redo[job.rel] = why
        else:
            rows[job.rel] = row
    if redo:
        first = next(iter(redo.values()))
        log.warning("re-analysing %d earlier results: %s", len(redo), first)
    order = {j.rel: i for i, j in enumerate(jobs)}
    out_of = {j.rel: j.out_dir for j in jobs}
    summary = opts.out_dir / SUMMARY_CSV

    def record(result: JobResult) -> None:
        rows[result.row.path] = result.row
        if result.row.ok:  # the key of a finished result, checked on resume
            write_json(out_of[result.row.path] / SETTINGS_FILE, key)
        write_summary(summary, sorted(rows.values(), key=lambda r: order[r.path]))
        for w in result.warnings:
            log.info("%s: %s", result.row.path, w)
        if result.row.error:
            log.warning("%s: %s", result.row.path, result.row.error)

    write_summary(summary, sorted(rows.values(), key=lambda r: order[r.path]))
    if rows and opts.progress:
        click.echo(f"edge-detect: {len(rows)} of {len(jobs)} videos already done in {opts.out_dir}; "
                   "skipping them (--force redoes them)", err=True)
    if todo:
        _run_jobs(todo, spec, opts, record)
    final = sorted(rows.values(), key=lambda r: order[r.path])
    if not opts.quiet:
        print_table(final, summary)
    failed = sum(not r.ok for r in final)
    if failed:
        click.echo(f"edge-detect: {failed} of {len(final)} videos failed (see "
                   f"{display_name(summary)})", err=True)
    return 1 if failed else 0


def _run_jobs(todo: list[Job], spec: PipelineSpec, opts: ScanOptions, record) -> None:
    workers = max(1, min(opts.workers, len(todo)))
    if spec.threads is None and workers > 1:  # share the cores instead of oversubscribing them
        spec = replace(spec, threads=max(1, (os.cpu_count() or 1) // workers))
    pipeline = build_pipeline(spec)  # a bad model fails here once, not once per worker
    if pipeline.contract.synthetic_demo:
        log.warning("%s", SYNTHETIC_WARNING)
    run_opts = opts.run_options()
    with _progress(len(todo), opts.progress) as bar:
        if opts.cluster:
            from .on_cluster import scan_on_cluster  # Dask is optional

            return scan_on_cluster(opts.cluster, todo, spec, run_opts, record, bar, opts.progress)
        if workers == 1:
            worker = Worker(pipeline, run_opts)
            for job in todo:
                result = worker.analyse(job)
                record(result)
                bar.update(1, job)
                if result.interrupted:  # Ctrl-C stops the scan; the CLI exits with 130
                    raise KeyboardInterrupt
            return
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker,
                                 initargs=(spec, run_opts, logging.getLogger().level)) as pool:
            with children_ignore_sigint():  # Ctrl-C reaches this process; it stops the workers
                futures: dict[Future, Job] = {pool.submit(analyse_in_pool, j): j for j in todo}
            recorded: set[Future] = set()
            try:
                for fut in as_completed(futures):
                    recorded.add(fut)
                    record(_result(fut, futures[fut]))
                    bar.update(1, futures[fut])
            except KeyboardInterrupt:
                _stop_workers(pool, futures, recorded, record)
                raise


def _result(fut: Future, job: Job) -> JobResult:
    try:
        return fut.result()
    except Exception as exc:  # the worker itself died (e.g. out of memory)
        return JobResult(ScanRow(job.rel, error=f"worker failed: {type(exc).__name__}: {exc}"))


def _stop_workers(pool: ProcessPoolExecutor, futures: dict[Future, Job], recorded: set[Future],
                  record) -> None:
    """Ctrl-C/SIGTERM: queued videos are cancelled, each worker gets SIGTERM and finalises its
    current video (kept as an interrupted row), and any worker still busy after the grace period
    is killed, so none outlives the scan."""
    procs = list((pool._processes or {}).values())  # no public API lists them
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    done, _ = wait([f for f in futures if f not in recorded], timeout=STOP_GRACE_S)
    for fut in done:
        if not fut.cancelled() and fut.exception() is None:
            try:
                record(fut.result())
            except EdgeDetectError as exc:
                log.warning("%s", exc)
    for p in procs:
        p.join(timeout=1.0)
        if p.is_alive():
            p.kill()
            p.join(timeout=2.0)


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
