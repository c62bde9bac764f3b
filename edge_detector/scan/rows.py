"""The rows of a folder scan: summary.csv (replaced atomically) and the table printed at the end."""

from __future__ import annotations

import csv
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

import click

from .. import atomic
from ..csvsafe import escape_cell
from ..errors import SinkError
from ..results import RunResult
from ..values import finite_or_none


@dataclass(frozen=True)
class ScanRow:
    """One line of summary.csv; ``fps`` is analysis speed and ``seconds`` the time it took."""

    path: str
    verdict: str = ""
    score: float | None = None
    mean_p_fake: float | None = None
    median_p_fake: float | None = None
    fake_frame_fraction: float | None = None
    top_method: str | None = None
    frames: int | None = None
    frames_analysed: int | None = None
    faces: int | None = None
    fps: float | None = None
    seconds: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


COLUMNS = tuple(f.name for f in fields(ScanRow))


def row_from_run(rel: str, run: RunResult, seconds: float | None = None) -> ScanRow:
    """The summary.csv row of a video analysed now."""
    s = run.summary
    return ScanRow(
        path=rel, verdict=s.verdict, score=finite_or_none(s.score), mean_p_fake=s.mean_p_fake,
        median_p_fake=s.median_p_fake, fake_frame_fraction=s.fake_frame_fraction,
        top_method=s.top_method, frames=s.frames_read, frames_analysed=s.frames_analysed,
        faces=s.faces_classified, fps=finite_or_none(run.fps),
        seconds=run.seconds if seconds is None else seconds,
    )


def row_from_record(rel: str, record: dict[str, Any]) -> ScanRow:
    """The summary.csv row of a video finished by an earlier run, from its summary.json (resume)."""
    frames = record.get("frames", {})
    fps = finite_or_none(record.get("speed", {}).get("fps"))
    return ScanRow(
        path=rel, verdict=str(record.get("verdict", "")), score=finite_or_none(record.get("score")),
        mean_p_fake=finite_or_none(record.get("mean_p_fake")),
        median_p_fake=finite_or_none(record.get("median_p_fake")),
        fake_frame_fraction=finite_or_none(record.get("fake_frame_fraction")),
        top_method=record.get("top_method"), frames=frames.get("read"),
        frames_analysed=frames.get("analysed"), faces=frames.get("faces_classified"),
        fps=fps, seconds=frames.get("read", 0) / fps if fps else None,
    )


def write_summary(path: Path, rows: list[ScanRow]) -> None:
    """Atomic replace, so summary.csv is complete at every moment."""
    try:
        with atomic.atomic_open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(COLUMNS)
            for r in rows:
                w.writerow(["" if v is None else f"{v:.6g}" if isinstance(v, float) else escape_cell(v)
                            for v in astuple(r)])
    except OSError as exc:
        raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc


def print_table(rows: list[ScanRow], summary: Path) -> None:
    width = min(max((len(r.path) for r in rows), default=4), 60)
    click.echo(f"{'path':<{width}}  {'verdict':<9}  score")
    for r in rows:
        path = r.path if len(r.path) <= width else "…" + r.path[-(width - 1):]
        if r.error:
            click.echo(f"{path:<{width}}  {'ERROR':<8}  {r.error}")
        else:
            score = "–" if r.score is None else f"{r.score:.3f}"
            click.echo(f"{path:<{width}}  {r.verdict:<9}  {score}")
    counts: dict[str, int] = {}
    for r in rows:
        key = "failed" if r.error else r.verdict
        counts[key] = counts.get(key, 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    click.echo(f"{len(rows)} videos: {parts}; summary: {summary}")
