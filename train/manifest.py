"""The ETL manifest: one CSV row per sampled frame plus one terminal row per video.

A video's rows are written in one append and end with a ``done`` or ``failed`` row, so a video
counts as finished only when its terminal row is on disk. :func:`load_finished` drops the rows of
unfinished videos (and a torn last line) left by a killed run, so re-running never duplicates or
loses rows.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from edge_detector.atomic import atomic_open
from edge_detector.csvsafe import escape_cell, unescape_cell, unescape_frame

from .errors import ConfigError, MissingFileError

log = logging.getLogger(__name__)

MANIFEST = "manifest.csv"
# Frame rows.
OK, NO_FACE, UNREADABLE = "ok", "no_face", "unreadable"
# Terminal (per-video) rows; their frame index is -1.
DONE, FAILED = "done", "failed"
TERMINAL = (DONE, FAILED)


@dataclass(frozen=True)
class ManifestRow:
    """One manifest line; box and confidence are empty for frames without a face."""

    video: str
    cls: str
    group: str
    split: str
    frame: int
    time_s: float | None = None
    x1: float | None = None
    y1: float | None = None
    x2: float | None = None
    y2: float | None = None
    confidence: float | None = None
    crop: str = ""
    status: str = OK
    detail: str = ""


# CSV header: the dataclass field ``cls`` is the column ``class``.
COLUMNS = ["class" if f.name == "cls" else f.name for f in fields(ManifestRow)]


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def rows_to_csv(rows: list[ManifestRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:  # text cells escaped for spreadsheets (numbers such as frame -1 are not text)
        w.writerow([escape_cell(v) if isinstance(v, str) else _fmt(v) for v in asdict(r).values()])
    return buf.getvalue()


class ManifestWriter:
    """Appends whole videos to the manifest and flushes them to disk at once."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / MANIFEST
        new = not self.path.is_file() or self.path.stat().st_size == 0
        self._f = self.path.open("a", newline="")
        if new:
            self._f.write(",".join(COLUMNS) + "\n")
            self._f.flush()

    def write_video(self, rows: list[ManifestRow]) -> None:
        if not rows or rows[-1].status not in TERMINAL:
            raise ConfigError("a video's rows must end with a 'done' or 'failed' row")
        self._f.write(rows_to_csv(rows))
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


TEXT_COLUMNS = ("video", "class", "group", "split", "crop", "status", "detail")


def _escape_text(row: list[str]) -> list[str]:
    return [escape_cell(c) if COLUMNS[i] in TEXT_COLUMNS else c for i, c in enumerate(row)]


def _read_rows(path: Path) -> list[list[str]]:
    text = path.read_text()
    if text and not text.endswith("\n"):  # torn last line from a killed run
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(text)))
    if rows and rows[0] == COLUMNS:
        rows = rows[1:]
    elif rows:
        raise ConfigError(f"{path} is not a manifest written by this ETL (header {rows[0][:4]}...)")
    return [[unescape_cell(c) for c in r] for r in rows if len(r) == len(COLUMNS)]


def load_finished(data_dir: Path) -> set[str]:
    """Keys of finished videos; rewrites the manifest without rows of unfinished videos."""
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        return set()
    rows = _read_rows(path)
    vi, si = COLUMNS.index("video"), COLUMNS.index("status")
    finished = {r[vi] for r in rows if r[si] in TERMINAL}
    keep = [r for r in rows if r[vi] in finished]
    seen_terminal: set[str] = set()
    dedup = []
    for r in keep:  # a finished video written twice (should not happen) keeps its first copy
        if r[vi] in seen_terminal:
            continue
        if r[si] in TERMINAL:
            seen_terminal.add(r[vi])
        dedup.append(r)
    if len(dedup) != len(rows) or not path.read_text().endswith("\n"):
        log.info("manifest: dropping %d rows of unfinished videos", len(rows) - len(dedup))
        with atomic_open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(COLUMNS)
            w.writerows(_escape_text(r) for r in dedup)
    return finished


def read_manifest(data_dir: str | Path) -> pd.DataFrame:
    """The manifest as a DataFrame (crop paths relative to ``data_dir``)."""
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        raise MissingFileError(f"no {MANIFEST} in {data_dir}: run `python -m train etl` first")
    return unescape_frame(pd.read_csv(path, dtype={"video": str, "class": str, "group": str, "split": str,
                                    "crop": str, "status": str, "detail": str},
                       keep_default_na=False, na_values={c: [""] for c in
                                                         ("time_s", "x1", "y1", "x2", "y2",
                                                          "confidence")}))


def crops(data_dir: str | Path, split: str | None = None) -> pd.DataFrame:
    """Rows with a face crop (status ``ok``), optionally of one split."""
    df = read_manifest(data_dir)
    df = df[df["status"] == OK]
    if split is not None:
        df = df[df["split"] == split]
    return df.reset_index(drop=True)
