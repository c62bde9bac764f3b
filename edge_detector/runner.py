"""Runs the pipeline over one source and feeds every sink; what the CLI and the folder scan call.

Outputs are finalised in ``finally``: after an error or Ctrl-C the CSV holds every row so far,
the video is playable and the summary says the run was interrupted.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2

from . import __version__
from .aggregate import VideoAggregator
from .annotate import Annotator
from .errors import EdgeDetectError, SinkError
from .notices import SYNTHETIC_WARNING
from .pipeline import Pipeline
from .sinks import CsvSink, VideoSink, write_image, write_json
from .sources import FrameSource
from .timeline import Timeline
from .types import FrameResult, VideoSummary

log = logging.getLogger(__name__)
RESULT_FILES = ("summary.json", "frames.csv")


@dataclass(frozen=True)
class RunOptions:
    """What to write and show; ``out_dir=None`` writes nothing (live preview only)."""

    out_dir: Path | None
    write_video: bool = True
    report: bool = True
    display: bool = False
    max_frames: int | None = None
    aggregation: str = "mean"
    force: bool = False
    progress: bool = False


@dataclass
class RunResult:
    """The outcome of one source: summary, where the files are, and speed."""

    summary: VideoSummary
    outputs: dict[str, Path]
    fps: float
    stage_ms: dict[str, float]
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)


def prepare_output(out_dir: Path, force: bool) -> None:
    """Create the folder; refuse to overwrite an earlier result unless forced."""
    existing = [n for n in RESULT_FILES if (out_dir / n).exists()]
    if existing and not force:
        raise SinkError(f"{out_dir} already holds a result ({existing[0]}); pass --force to overwrite")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SinkError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from exc
    probe = out_dir / ".write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SinkError(f"output folder {out_dir} is not writable: {exc.strerror or exc}") from exc


def display_available() -> bool:
    """False on Linux without an X11 or Wayland display: opening a window there aborts in Qt."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class _Display:
    """A live window; turns itself off (with one warning) where no GUI is available."""

    def __init__(self, title: str) -> None:
        self.title, self.on = title, display_available()
        if not self.on:
            log.warning("no display found (DISPLAY and WAYLAND_DISPLAY are unset); "
                        "continuing without a window")

    def show(self, image) -> bool:
        """False when the user pressed q."""
        if not self.on:
            return True
        try:
            cv2.imshow(self.title, image)
            return (cv2.waitKey(1) & 0xFF) != ord("q")
        except cv2.error:
            log.warning("cannot open a display window (no GUI); continuing without --display")
            self.on = False
            return True

    def close(self) -> None:
        if self.on:
            try:
                cv2.destroyWindow(self.title)
            except cv2.error:
                pass


def run_source(source: FrameSource, pipeline: Pipeline, opts: RunOptions) -> RunResult:
    """Analyse one opened source into ``opts.out_dir``."""
    info = source.info
    contract = pipeline.contract
    agg = VideoAggregator(contract, pipeline.threshold, opts.aggregation)
    annotator = Annotator(info.width, info.height)
    duration = (info.frame_count or 0) / info.fps if info.fps else 0.0
    timeline = Timeline(contract, min_gap_s=min(1.0, duration / 12) if duration else 1.0)
    warnings: list[str] = [SYNTHETIC_WARNING] if contract.synthetic_demo else []
    outputs: dict[str, Path] = {}
    csv_sink = video_sink = None
    display = _Display(f"edge-detect: {info.name}") if opts.display else None
    if opts.out_dir is not None:
        prepare_output(opts.out_dir, opts.force)
        csv_sink = CsvSink(opts.out_dir / "frames.csv", contract.class_names)
        outputs["csv"] = csv_sink.path
        if opts.write_video and info.kind != "image":
            video_sink = VideoSink(opts.out_dir / "annotated.mp4", info.fps, (info.width, info.height),
                                   frames_hint=opts.max_frames or info.frame_count)
            outputs["video"] = video_sink.path
    stage_sum: dict[str, float] = {}
    interrupted, last_image, t_start = False, None, time.perf_counter()
    error: EdgeDetectError | None = None
    fps_ema = None
    bar = _progress(info, opts)
    draw = bool(video_sink or display or info.kind == "image" or (opts.report and opts.out_dir))
    try:
        for result in pipeline.run(source):
            t0 = time.perf_counter()
            agg.update(result)
            timeline.add(result)
            header = _header(agg, fps_ema)
            if draw:
                annotator.draw(result.frame.image_bgr, result, header)
                last_image = result.frame.image_bgr
                timeline.offer_thumbnail(result)
            t1 = time.perf_counter()
            result.timings_ms["overlay_ms"] = (t1 - t0) * 1e3
            if csv_sink:
                csv_sink.write(result)
            if video_sink:
                video_sink.write(result.frame.image_bgr)
            _accumulate(stage_sum, result)
            elapsed = time.perf_counter() - t_start
            fps_ema = agg.frames_read / elapsed if elapsed > 0 else None
            if bar:
                bar.update(1)
            if display and not display.show(result.frame.image_bgr):
                break
            if opts.max_frames and agg.frames_read >= opts.max_frames:
                break
    except KeyboardInterrupt:
        interrupted = True
        warnings.append("interrupted by the user; outputs hold everything up to that frame")
    except EdgeDetectError as exc:  # finalise what was written, then report the error
        error = exc
        warnings.append(str(exc))
    finally:
        if bar:
            bar.render_finish()
        for sink in (csv_sink, video_sink):
            if sink:
                sink.close()
        if display:
            display.close()
    elapsed = time.perf_counter() - t_start
    if video_sink:
        stage_sum["encode_ms"] = video_sink.encode_ms
        if video_sink.frames == 0:
            del outputs["video"]
    summary = agg.summary()
    if summary.faces_classified == 0:
        warnings.append(f"no face found in {info.name}")
    frames = max(agg.frames_read, 1)
    stage_ms = {k: v / frames for k, v in stage_sum.items()}
    run = RunResult(summary, outputs, agg.frames_read / elapsed if elapsed else 0.0, stage_ms,
                    interrupted, warnings)
    if opts.out_dir is not None:
        if info.kind == "image" and last_image is not None:
            outputs["image"] = write_image(opts.out_dir / "annotated.jpg", last_image)
        outputs["summary"] = write_json(
            opts.out_dir / "summary.json", summary_record(run, source, pipeline)
        )
        if opts.report:
            from .report import write_report  # HTML is optional output; keep start-up lean

            outputs["report"] = write_report(
                opts.out_dir / "report.html", summary_record(run, source, pipeline), timeline
            )
    if error is not None:
        raise error
    return run


def _progress(info, opts: RunOptions):
    if not opts.progress or info.live or not info.frame_count:
        return None
    import click

    total = min(info.frame_count, opts.max_frames or info.frame_count)
    bar = click.progressbar(length=total, label=info.name, file=None, show_pos=True)
    bar.__enter__()
    return bar


def _header(agg: VideoAggregator, fps: float | None) -> str:
    score = agg.running_score
    verdict = "no face yet" if score is None else (
        f"{'FAKE' if score >= agg.threshold else 'REAL'} {score:.2f}"
    )
    speed = f" | {fps:.1f} FPS" if fps else ""
    return f"video: {verdict} ({agg.aggregation} P_fake){speed}"


def _accumulate(acc: dict[str, float], r: FrameResult) -> None:
    for k, v in r.timings_ms.items():
        acc[k] = acc.get(k, 0.0) + v


def summary_record(run: RunResult, source: FrameSource, pipeline: Pipeline) -> dict[str, Any]:
    """Everything a reader of summary.json needs to trust (or doubt) the verdict."""
    s = run.summary
    return {
        "tool": {"name": "edge-detect", "version": __version__},
        "source": asdict(source.info),
        "verdict": s.verdict,
        "score": s.score,
        "aggregation": s.aggregation,
        "threshold": s.threshold,
        "mean_p_fake": s.mean_p_fake,
        "median_p_fake": s.median_p_fake,
        "fake_frame_fraction": s.fake_frame_fraction,
        "top_method": s.top_method,
        "method_share": s.method_share,
        "frames": {
            "read": s.frames_read, "analysed": s.frames_analysed,
            "with_faces": s.frames_with_faces, "faces_classified": s.faces_classified,
            "dropped_live": source.dropped, "every": pipeline.every,
        },
        "tracks": [asdict(t) for t in s.tracks],
        "speed": {"fps": run.fps, "stage_ms_per_frame": run.stage_ms},
        "detector": {
            "conf_threshold": getattr(pipeline.detector, "conf_threshold", None),
            "input_size": getattr(pipeline.detector, "input_size", None),
            "mode": pipeline.detect_mode,
            "full_every": pipeline.full_every if pipeline.gate else None,
            "full_passes": pipeline.gate.full_passes if pipeline.gate else None,
            "window_passes": pipeline.gate.window_passes if pipeline.gate else None,
        },
        "model": {
            "path": str(getattr(pipeline.classifier, "path", "") or ""),
            "contract": pipeline.contract.to_dict(),
        },
        "interrupted": run.interrupted,
        "warnings": run.warnings,
        "outputs": {k: str(v.name) for k, v in run.outputs.items()},
    }
