"""Runs the pipeline over one source and feeds every sink; what the CLI and the folder scan call.

Sinks are finished however the loop ends (an ExitStack): after an error or Ctrl-C the CSV holds
every row so far, the video is playable and the summary says the run was interrupted.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .aggregate import VideoAggregator
from .annotate import Annotator
from .errors import EdgeDetectError, SinkError, SourceError, UsageError
from .fsnames import display_name
from .notices import SYNTHETIC_WARNING
from .outlock import output_lock
from .outnames import RUN_FILES
from .pipeline import Pipeline
from .results import DetectorInfo, RunResult
from .sinks import Sink, StopRun, SummarySink, default_sinks
from .sources import FrameSource
from .types import FrameResult


@dataclass(frozen=True)
class RunOptions:
    """What to write and show; ``out_dir=None`` writes nothing (live preview only)."""

    out_dir: Path | None
    write_video: bool = True
    report: bool = True
    display: bool = False
    max_frames: int | None = None
    force: bool = False
    progress: bool = False
    explain: int | None = None  # occlusion maps for this many suspicious faces (--explain)


def prepare_output(out_dir: Path, force: bool, files: Sequence[Path] = (),
                   source: Path | None = None) -> list[Path]:
    """Create the folder; refuse to overwrite any file of ``files`` unless forced, and refuse a
    source that is one of them (the run would overwrite what it reads). Returns the files that
    exist (``force``: to remove once the folder is locked, see :func:`remove_old`)."""
    files = [Path(f) for f in files] or [out_dir / n for n in RUN_FILES]
    if source is not None and source.is_file():
        for f in files:
            if f.exists() and os.path.samefile(f, source):
                raise UsageError(f"{display_name(source)} is an output of this run; choose another -o")
    existing = [f for f in files if f.exists()]
    if existing and not force:
        raise SinkError(f"{display_name(out_dir)} already holds a result ({existing[0].name}); "
                        "pass --force to overwrite")
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
    return existing


def remove_old(files: Sequence[Path]) -> None:
    """``--force``: an old result goes before the new run writes, so an old summary.json never
    outlives a new run that fails (a full disk)."""
    for f in files:
        try:
            f.unlink(missing_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot replace {display_name(f)}: {exc.strerror or exc}") from exc


def run_source(source: FrameSource, pipeline: Pipeline, opts: RunOptions,
               sinks: Sequence[Sink] | None = None) -> RunResult:
    """Analyse one opened source into ``sinks`` (default: the outputs ``opts`` asks for); the
    output folder is locked for the run (see :mod:`.outlock`)."""
    if sinks is None:
        sinks = default_sinks(source.info, opts.out_dir, video=opts.write_video, report=opts.report,
                              progress=opts.progress, display=opts.display,
                              max_frames=opts.max_frames, explain=opts.explain,
                              classifier=pipeline.classifier)
    with contextlib.ExitStack() as lock:
        if opts.out_dir is not None:
            old = prepare_output(opts.out_dir, opts.force, [f for s in sinks for f in s.files()],
                                 getattr(source, "path", None))
            lock.enter_context(output_lock(opts.out_dir))  # one writer per folder
            remove_old(old)
        return _run(source, pipeline, opts, sinks)


def _run(source: FrameSource, pipeline: Pipeline, opts: RunOptions,
         sinks: Sequence[Sink]) -> RunResult:
    info, contract = source.info, pipeline.contract
    agg = VideoAggregator(contract, pipeline.policy)
    warnings = [SYNTHETIC_WARNING] if contract.synthetic_demo else []
    stage_sum: dict[str, float] = {}
    interrupted, error = False, None
    t_start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        for sink in sinks:
            sink.open(info, contract)
            stack.callback(sink.finish)
        try:
            _feed(pipeline.run(source), sinks, agg, stage_sum, opts.max_frames, info)
        except StopRun:
            pass
        except KeyboardInterrupt:
            interrupted = True
            warnings.append("interrupted by the user; outputs hold everything up to that frame")
        except EdgeDetectError as exc:  # finalise what was written, then report the error
            error = exc
            warnings.append(str(exc))
            # stopped before the source's end (disk full, a model failing mid-run): summary.json
            # says so; a source that is cut short (truncated) was read to its end
            interrupted = not isinstance(exc, SourceError)
    elapsed = time.perf_counter() - t_start
    end = getattr(source, "end_reason", None)  # a live stream that ended or stalled by itself
    if end and not interrupted and error is None:
        warnings.append(source.end_message)
        error = SourceError(source.end_message)
    for sink in sinks:
        stage_sum.update(sink.totals_ms())
    summary = agg.summary()
    if summary.faces_classified == 0:
        warnings.append(f"no face found in {info.name}")
    frames = max(agg.frames_read, 1)
    run = RunResult(
        summary, info, contract, pipeline.policy, _detector_info(pipeline),
        model_path=str(getattr(pipeline.classifier, "path", "") or ""), every=pipeline.every,
        dropped=source.dropped, fps=agg.frames_read / elapsed if elapsed else 0.0,
        stage_ms={k: v / frames for k, v in stage_sum.items()}, interrupted=interrupted,
        stream_ended=end == "ended", stalled=end == "stalled", warnings=warnings,
    )
    for sink in sinks:  # summary.json closes last: it lists what was written and what was not
        try:
            sink.close(run)
        except SinkError as exc:
            if isinstance(sink, SummarySink):
                raise
            run.warnings.append(str(exc))
            error = error or exc
    if error is not None:
        raise error
    return run


def _feed(results, sinks: Sequence[Sink], agg: VideoAggregator, stage_sum: dict[str, float],
          max_frames: int | None, info) -> None:
    """Aggregate, draw the overlay (if a sink shows frames) and hand each result to every sink."""
    annotator = Annotator(info.width, info.height) if any(s.needs_overlay for s in sinks) else None
    t_start, fps = time.perf_counter(), None
    for result in results:
        t0 = time.perf_counter()
        agg.update(result)
        if annotator is not None:
            annotator.draw(result.frame.image_bgr, result, _header(agg, fps))
        result.timings_ms["overlay_ms"] = (time.perf_counter() - t0) * 1e3
        for sink in sinks:
            sink.write(result)
        _accumulate(stage_sum, result)
        elapsed = time.perf_counter() - t_start
        fps = agg.frames_read / elapsed if elapsed > 0 else None
        if max_frames and agg.frames_read >= max_frames:
            return


def _header(agg: VideoAggregator, fps: float | None) -> str:
    score, policy = agg.running_score, agg.policy
    verdict = "no face yet" if score is None else f"{policy.label(score)} {score:.2f}"
    speed = f" | {fps:.1f} FPS" if fps else ""
    return f"video: {verdict} ({policy.aggregation} P_fake){speed}"


def _accumulate(acc: dict[str, float], r: FrameResult) -> None:
    for k, v in r.timings_ms.items():
        acc[k] = acc.get(k, 0.0) + v


def _detector_info(pipeline: Pipeline) -> DetectorInfo:
    gate = pipeline.gate
    return DetectorInfo(
        conf_threshold=getattr(pipeline.detector, "conf_threshold", None),
        input_size=getattr(pipeline.detector, "input_size", None),
        mode=pipeline.detect_mode,
        full_every=pipeline.full_every if gate else None,
        full_passes=gate.full_passes if gate else None,
        window_passes=gate.window_passes if gate else None,
        name=getattr(pipeline.detector, "name", None),
    )

