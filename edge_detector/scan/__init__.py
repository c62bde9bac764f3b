"""`edge-detect DIR`: analyse every video of a folder, in parallel, into one summary.csv.

A video that fails is recorded with its one-line error and the scan goes on. summary.csv is replaced
atomically after every video, so it is valid even if the scan is killed; a re-run skips videos whose
summary.json already exists (failed and interrupted ones are retried) unless ``force`` is set.

``folder`` is the scan loop, ``worker`` analyses one video (in-process, in a pool process or on
Dask), ``rows`` is summary.csv.
"""

from __future__ import annotations

from .folder import (
    SETTINGS_FILE,
    SUMMARY_CSV,
    ScanOptions,
    done_row,
    find_videos,
    plan_jobs,
    scan_folder,
    settings_key,
)
from .rows import COLUMNS, ScanRow, print_table, row_from_record, row_from_run, write_summary
from .worker import ERROR_FILE, Job, JobResult, Worker

__all__ = [
    "COLUMNS", "ERROR_FILE", "SETTINGS_FILE", "SUMMARY_CSV", "Job", "JobResult", "ScanOptions",
    "ScanRow", "Worker", "done_row", "find_videos", "plan_jobs", "print_table", "row_from_record",
    "row_from_run", "scan_folder", "settings_key", "write_summary",
]
