"""`edge-detect`: the command-line entry point. Turns every EdgeDetectError into one line + exit code."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from .errors import EdgeDetectError, ModelError
from .gating import DEFAULT_DETECT, DEFAULT_FULL_EVERY, DETECT_MODES

log = logging.getLogger("edge_detector")
DEFAULT_MODELS = (Path("models/scratch.onnx"), Path("demo-output/models/scratch.onnx"))
EXIT_INTERRUPTED = 130


def _default_model() -> Path:
    env = os.environ.get("EDGE_MODEL")
    if env:
        return Path(env)
    for p in DEFAULT_MODELS:
        if p.is_file():
            return p
    raise ModelError("no model given: pass --model M.onnx (or set EDGE_MODEL; `make demo` makes one)")


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("edge-detect: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", required=False)
@click.option("--model", "-m", type=click.Path(path_type=Path), help="ONNX classifier (with contract).")
@click.option("--webcam", is_flag=True, help="Analyse the default camera live.")
@click.option("--camera", type=int, default=None, help="Camera index for live mode.")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Output folder.")
@click.option("--force", is_flag=True, help="Overwrite an existing result.")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Analyse every Nth frame; others reuse the last result.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None)
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="P_fake at or above which a face is FAKE.")
@click.option("--aggregate", "aggregation", type=click.Choice(["mean", "median", "fraction"]),
              default="mean", show_default=True, help="How face scores make the video verdict.")
@click.option("--face-conf", type=click.FloatRange(0.05, 1), default=0.5, show_default=True,
              help="Face detector confidence threshold.")
@click.option("--det-size", type=click.IntRange(min=64), default=300, show_default=True,
              help="Face detector input size (smaller is faster, finds fewer small faces).")
@click.option("--det-keep-aspect", is_flag=True,
              help="Feed the detector det-size² pixels at the frame's aspect ratio.")
@click.option("--detect", "detect_mode", type=click.Choice(DETECT_MODES), default=DEFAULT_DETECT,
              show_default=True,
              help="full: face detector on every whole frame; track: whole frame every "
                   "--full-every frames, only around tracked faces in between.")
@click.option("--full-every", type=click.IntRange(min=1), default=DEFAULT_FULL_EVERY,
              show_default=True,
              help="--detect track: frames between whole-frame passes (also on a lost face or "
                   "a scene cut).")
@click.option("--face-model", type=click.Path(path_type=Path), help="SSD .caffemodel override.")
@click.option("--face-config", type=click.Path(path_type=Path), help="SSD .prototxt override.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Inference threads (default: min(2, cores)).")
@click.option("--video/--no-video", "write_video", default=True, help="Write the annotated video.")
@click.option("--report/--no-report", default=True, help="Write report.html.")
@click.option("--display/--no-display", default=None,
              help="Show a live window (default: on for cameras, off for files).")
@click.option("--record", is_flag=True, help="Live mode: also write CSV/video/summary.")
@click.option("--realtime", is_flag=True, help="Play a file at its own FPS like a camera (drops frames).")
@click.option("--recursive", "-r", is_flag=True, help="Folder source: include sub-folders.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Folder source: videos analysed in parallel.")
@click.option("--quiet", "-q", is_flag=True, help="Only errors.")
@click.option("--verbose", "-v", count=True)
@click.version_option(package_name="edge-deepfake-detector")
def main(source, model, webcam, camera, output, force, every, max_frames, threshold, aggregation,
         face_conf, det_size, det_keep_aspect, detect_mode, full_every, face_model, face_config,
         threads, write_video, report,
         display,
         record, realtime, recursive, workers, quiet, verbose):
    """Detect face forgeries in SOURCE (video, image, folder or stream URL) or a live camera."""
    _setup_logging(verbose, quiet)
    try:
        code = _run(**locals())
    except EdgeDetectError as exc:
        click.echo(f"edge-detect: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("edge-detect: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code)


def _run(source, model, webcam, camera, output, force, every, max_frames, threshold, aggregation,
         face_conf, det_size, det_keep_aspect, detect_mode, full_every, face_model, face_config,
         threads, write_video, report,
         display,
         record, realtime, recursive, workers, quiet, verbose) -> int:
    from .build import PipelineSpec, build_pipeline
    from .runner import SYNTHETIC_WARNING, RunOptions, run_source
    from .sources import open_source

    live = webcam or camera is not None
    if live and source:
        raise click.UsageError("give either SOURCE or --webcam/--camera, not both")
    if not live and not source:
        raise click.UsageError("missing SOURCE (a video, image, folder or URL) or --webcam")
    spec = PipelineSpec(
        model=model or _default_model(), threshold=threshold, every=every, face_conf=face_conf,
        det_size=det_size, det_keep_aspect=det_keep_aspect, face_model=face_model,
        face_config=face_config, threads=threads, detect=detect_mode, full_every=full_every,
    )
    if source and Path(source).is_dir():
        from .scan import ScanOptions, scan_folder

        return scan_folder(Path(source), spec, ScanOptions(
            out_dir=output or Path("edge-detect-output") / Path(source).resolve().name,
            recursive=recursive, workers=workers, write_video=write_video, report=report,
            force=force, max_frames=max_frames, aggregation=aggregation, progress=not quiet,
            quiet=quiet,
        ))
    src = open_source(camera if camera is not None else 0) if live else open_source(source, realtime)
    with src:
        pipeline = build_pipeline(spec)
        if pipeline.contract.synthetic_demo:
            log.warning("%s", SYNTHETIC_WARNING)
        is_live = src.info.live
        if output is None and (not is_live or record):
            output = Path("edge-detect-output") / (Path(str(source)).stem if source else src.info.name)
        opts = RunOptions(
            out_dir=output if (not is_live or record or output) else None,
            write_video=write_video, report=report,
            display=display if display is not None else (live and not realtime),
            max_frames=max_frames, aggregation=aggregation, force=force,
            progress=not quiet and not is_live,
        )
        result = run_source(src, pipeline, opts)
    for w in result.warnings:
        if w != SYNTHETIC_WARNING:  # already said once, before the run
            log.warning("%s", w)
    if not quiet:
        _print_result(result)
    return EXIT_INTERRUPTED if result.interrupted else 0


def _print_result(result) -> None:
    s = result.summary
    score = "n/a" if s.mean_p_fake is None else f"{s.score:.3f}"
    method = f", top method {s.top_method}" if s.verdict == "FAKE" and s.top_method else ""
    click.echo(
        f"verdict: {s.verdict} ({s.aggregation} P_fake {score}{method}); "
        f"frames {s.frames_read} read, {s.frames_analysed} analysed, {s.frames_with_faces} with "
        f"faces; {result.fps:.1f} FPS"
    )
    for name, path in result.outputs.items():
        click.echo(f"  {name}: {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
