"""`edge-detect`: the command-line entry point. Turns every EdgeDetectError into one line + exit code."""

from __future__ import annotations

import errno
import logging
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from .build import FACE_DETECTORS, PipelineSpec
from .errors import EdgeDetectError, SinkError
from .fsnames import display_name
from .gating import DEFAULT_DETECT, DEFAULT_FULL_EVERY, DETECT_MODES
from .interrupts import exit_code, handle_signals, signalled
from .notices import SYNTHETIC_WARNING
from .outnames import default_output
from .policy import AGGREGATIONS, DEFAULT_AGGREGATION, DEFAULT_THRESHOLD
from .sinks.explain import DEFAULT_EXPLAIN, MAX_EXPLAIN
from .sources import DEFAULT_READ_TIMEOUT
from .verdicts import display_method
from .zoo import resolve_model

log = logging.getLogger("edge_detector")
EXIT_INTERRUPTED = 130


class Finite(click.FloatRange):
    """A bounded float that also refuses NaN (which slips through every ``<``/``>`` check)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number", param, ctx)
        return value


def _sha256(ctx, param, value):
    if value is not None and (len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value)):
        raise click.BadParameter("expected 64 hex digits (a SHA-256)", ctx, param)
    return value.lower() if value else None


class ExplainCount(click.IntRange):
    """``--explain [N]``: an optional count, with a hint when click took SOURCE as the count."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
            self.fail(f"expects an optional number of faces, got {value!r} (put SOURCE before "
                      "--explain, or give a number: --explain 6)", param, ctx)
        return super().convert(value, param, ctx)


class OneLineCommand(click.Command):
    """Usage errors as one ``edge-detect: error:`` line (exit 2) like every other error, instead
    of click's three-line usage block."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        given = args[0] if args else kwargs.get("args", sys.argv[1:])
        argv = list(sys.argv[1:] if given is None else given)
        if self.name == "main" and argv[:1] == ["serve"]:  # `edge-detect serve ...`: the web server
            from .serve.command import serve_command

            kwargs.pop("args", None)
            kwargs.setdefault("prog_name", "edge-detect serve")
            return serve_command(OneLineCommand).main(argv[1:], *args[1:],
                                                      standalone_mode=standalone_mode, **kwargs)
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except EdgeDetectError as exc:  # raised by a sub-command (serve) outside main's own handler
            _fail(str(exc), exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            _fail(f"{exc.format_message()} (see --help)", exc.exit_code)
        except click.exceptions.Abort:
            click.echo("edge-detect: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(rv if isinstance(rv, int) else 0)


def _list_models(ctx: click.Context, _param, value: bool) -> None:
    """``--list-models``: the shipped models with their card's key numbers, default first."""
    if not value or ctx.resilient_parsing:
        return
    from .zoo import shipped_models

    models = shipped_models()
    if not models:
        click.echo("no models shipped with this installation")
    for i, m in enumerate(models):
        click.echo(("* " if i == 0 else "  ") + m.summary_line())
        detail = m.detail_line()
        if detail:
            click.echo(f"    {detail}")
    ctx.exit(0)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("edge-detect: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


@click.command(cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", required=False)
@click.option("--model", "-m", help="Shipped model NAME or ONNX file PATH (default: the best shipped model).")
@click.option("--list-models", is_flag=True, expose_value=False, is_eager=True, callback=_list_models,
              help="List the shipped models and exit.")
@click.option("--webcam", is_flag=True, help="Analyse the default camera live.")
@click.option("--camera", type=click.IntRange(0, 1023), default=None, help="Camera index for live mode.")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Output folder.")
@click.option("--force", is_flag=True, help="Overwrite an existing result.")
@click.option("--every", type=click.IntRange(1, 100_000), default=1, show_default=True,
              help="Analyse every Nth frame; others reuse the last result.")
@click.option("--max-frames", type=click.IntRange(1, 10**12), default=None)
@click.option("--threshold", type=Finite(0, 1), default=None,
              help="P_fake at or above which a face is FAKE [the model's validation-chosen "
                   f"threshold, else {DEFAULT_THRESHOLD}].")
@click.option("--aggregate", "aggregation", type=click.Choice(AGGREGATIONS),
              default=DEFAULT_AGGREGATION, show_default=True,
              help="How face scores make the video verdict.")
@click.option("--face-conf", type=Finite(0.05, 1), default=0.5, show_default=True,
              help="Face detector confidence threshold.")
@click.option("--det-size", type=click.IntRange(64, 2048), default=300, show_default=True,
              help="Face detector input size (smaller is faster, finds fewer small faces).")
@click.option("--det-keep-aspect", is_flag=True,
              help="Feed the detector det-size² pixels at the frame's aspect ratio.")
@click.option("--detect", "detect_mode", type=click.Choice(DETECT_MODES), default=DEFAULT_DETECT,
              show_default=True,
              help="full: face detector on every whole frame; track: whole frame every "
                   "--full-every frames, only around tracked faces in between.")
@click.option("--full-every", type=click.IntRange(1, 10_000), default=DEFAULT_FULL_EVERY,
              show_default=True,
              help="--detect track: frames between whole-frame passes (also on a lost face or "
                   "a scene cut).")
@click.option("--face-detector", type=click.Choice(FACE_DETECTORS), default="ssd", show_default=True,
              help="ssd: ResNet-10 SSD; blazeface: MediaPipe BlazeFace short-range (128 px, near "
                   "faces, much faster); blazeface-full: full-range (192 px). See README.")
@click.option("--face-model", type=click.Path(path_type=Path), help="SSD .caffemodel override.")
@click.option("--face-config", type=click.Path(path_type=Path), help="SSD .prototxt override.")
@click.option("--face-model-sha256", callback=_sha256,
              help="Accept a --face-model other than the built-in file if it has this SHA-256.")
@click.option("--face-config-sha256", callback=_sha256,
              help="Accept a --face-config other than the built-in file if it has this SHA-256.")
@click.option("--threads", type=click.IntRange(1, 256), default=None,
              help="Inference threads (default: min(2, cores)).")
@click.option("--video/--no-video", "write_video", default=True, help="Write the annotated video.")
@click.option("--report/--no-report", default=True, help="Write report.html.")
@click.option("--display/--no-display", default=None,
              help="Show a live window (default: on for cameras, off for files).")
@click.option("--record", is_flag=True, help="Live mode: also write CSV/video/summary.")
@click.option("--realtime", is_flag=True, help="Play a file at its own FPS like a camera (drops frames).")
@click.option("--read-timeout", type=Finite(0.1, 3600), default=DEFAULT_READ_TIMEOUT, show_default=True,
              help="Streams, FIFOs, cameras: seconds without a frame (also while opening) after which "
                   "the source counts as stalled (exit 3).")
@click.option("--recursive", "-r", is_flag=True, help="Folder source: include sub-folders.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Folder source: videos analysed in parallel.")
@click.option("--cluster", metavar="ADDRESS",
              help="Folder source: run on Dask: tcp://HOST:8786, or local[:N] for a LocalCluster "
                   "(needs the 'cluster' extra).")
@click.option("--explain", type=ExplainCount(1, MAX_EXPLAIN), is_flag=False, flag_value=DEFAULT_EXPLAIN,
              default=None, metavar="[N]",
              help=f"Occlusion heatmaps (explain/, report) for the N most suspicious frames' faces "
                   f"and each of the N most suspicious tracks' top face [N={DEFAULT_EXPLAIN}; "
                   f"max {MAX_EXPLAIN}]. Off by default.")
@click.option("--quiet", "-q", is_flag=True, help="Only errors.")
@click.option("--verbose", "-v", count=True)
@click.version_option(package_name="edge-deepfake-detector")
def main(source, model, webcam, camera, output, force, every, max_frames, threshold, aggregation,
         face_conf, det_size, det_keep_aspect, detect_mode, full_every, face_detector, face_model,
         face_config,
         face_model_sha256, face_config_sha256, threads, write_video, report, display,
         record, realtime, read_timeout, recursive, workers, cluster, explain, quiet, verbose):
    """Detect face forgeries in SOURCE (video, image, folder or stream URL) or a live camera."""
    _setup_logging(verbose, quiet)
    request = Request(
        source=source, camera=camera if camera is not None else 0 if webcam else None,
        realtime=realtime, recursive=recursive, workers=workers, cluster=cluster, out_dir=output,
        force=force, write_video=write_video, report=report, display=display, record=record,
        max_frames=max_frames, quiet=quiet, explain=explain, read_timeout=read_timeout,
    )
    with handle_signals():
        try:
            request.check()
            if face_detector != "ssd":
                _ssd_only(det_size=det_size != 300, det_keep_aspect=det_keep_aspect,
                          face_model=face_model, face_config=face_config)
            spec = PipelineSpec(
                model=resolve_model(model), threshold=threshold, aggregation=aggregation,
                every=every, face_conf=face_conf, det_size=det_size, det_keep_aspect=det_keep_aspect,
                face_model=face_model, face_config=face_config, threads=threads,
                face_model_sha256=face_model_sha256, face_config_sha256=face_config_sha256,
                detect=detect_mode, full_every=full_every, face_detector=face_detector,
            )
            code = _scan(request, spec) if request.is_folder else _analyse(request, spec)
        except KeyboardInterrupt:
            click.echo("edge-detect: interrupted", err=True)
            code = exit_code()
        except EdgeDetectError as exc:
            _fail(str(exc), exc.exit_code)
        except OSError as exc:  # a write the sinks did not wrap; a full disk is an output error
            err = SinkError(f"{exc.strerror or exc}: {display_name(exc.filename or '')}".rstrip(": "))
            _fail(str(err), err.exit_code if exc.errno in _OUTPUT_ERRNOS else 1)
    if signalled():  # outputs are final; interpreter teardown (pool joins) must not be interrupted
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _ssd_only(**given) -> None:
    """Options that tune the SSD alone are a usage error with another detector."""
    named = [f"--{k.replace('_', '-')}" for k, v in given.items() if v]
    if named:
        raise click.UsageError(f"{', '.join(named)} apply to --face-detector ssd only")


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG}


def _fail(message: str, code: int) -> None:
    """One line on stderr (names that are not UTF-8 shown escaped), then exit ``code``."""
    line = " ".join(display_name(message).split())
    click.echo(f"edge-detect: error: {line}", err=True)
    sys.exit(code)


@dataclass(frozen=True)
class Request:
    """What to analyse and what to write, as given on the command line (the model is in the spec)."""

    source: str | None
    camera: int | None  # a live camera index; None for a file, folder or URL
    realtime: bool = False
    recursive: bool = False
    workers: int = 1
    cluster: str | None = None
    out_dir: Path | None = None
    force: bool = False
    write_video: bool = True
    report: bool = True
    display: bool | None = None  # None: on for cameras, off for files
    record: bool = False
    max_frames: int | None = None
    quiet: bool = False
    explain: int | None = None
    read_timeout: float = DEFAULT_READ_TIMEOUT  # streams: seconds without a frame = stalled

    @property
    def is_folder(self) -> bool:
        return bool(self.source) and Path(self.source).is_dir()

    def check(self) -> None:
        """Usage errors (exit 2) before any model is loaded."""
        if self.camera is not None and self.source:
            raise click.UsageError("give either SOURCE or --webcam/--camera, not both")
        if self.camera is None and not self.source:
            raise click.UsageError("missing SOURCE (a video, image, folder or URL) or --webcam")
        if self.cluster and not self.is_folder:
            raise click.UsageError("--cluster works on a folder SOURCE only")
        if self.explain and self.is_folder:
            raise click.UsageError("--explain works on one video, image or stream, not a folder scan")
        if self.explain and self.camera is not None and not self.record:
            raise click.UsageError("--explain needs an output folder: add --record")
        if self.cluster and self.workers > 1:
            raise click.UsageError("give either --workers (local processes) or --cluster, not both")
        if self.cluster:
            from .cluster import check_address, require_dask

            check_address(self.cluster)  # exit 2 for a malformed address or local:N too large
            require_dask()  # a one-line error before any work when the extra is missing


def _scan(req: Request, spec: PipelineSpec) -> int:
    from .scan import ScanOptions, scan_folder

    folder = Path(req.source)
    return scan_folder(folder, spec, ScanOptions(
        out_dir=req.out_dir or default_output(folder.resolve().name),
        recursive=req.recursive, workers=req.workers, write_video=req.write_video,
        report=req.report, force=req.force, max_frames=req.max_frames, progress=not req.quiet,
        quiet=req.quiet, cluster=req.cluster,
    ))


def _analyse(req: Request, spec: PipelineSpec) -> int:
    from .build import build_pipeline
    from .runner import RunOptions, run_source
    from .sources import open_source

    live = req.camera is not None
    src = open_source(req.camera if live else req.source, req.realtime and not live,
                      read_timeout=req.read_timeout)
    with src:
        pipeline = build_pipeline(spec)
        if pipeline.contract.synthetic_demo:
            log.warning("%s", SYNTHETIC_WARNING)
        is_live = src.info.live
        out_dir = req.out_dir
        if out_dir is None and (not is_live or req.record):
            out_dir = default_output(Path(str(req.source)).stem if req.source else src.info.name)
        opts = RunOptions(
            out_dir=out_dir if (not is_live or req.record or req.out_dir) else None,
            write_video=req.write_video, report=req.report,
            display=req.display if req.display is not None else (live and not req.realtime),
            max_frames=req.max_frames, force=req.force, progress=not req.quiet and not is_live,
            explain=req.explain,
        )
        if req.explain and opts.out_dir is None:
            raise click.UsageError("--explain needs an output folder: add --record or -o")
        result = run_source(src, pipeline, opts)
    for w in result.warnings:
        if w != SYNTHETIC_WARNING:  # already said once, before the run
            log.warning("%s", w)
    if not req.quiet:
        _print_result(result)
    return exit_code() if result.interrupted else 0


def _print_result(result) -> None:
    s = result.summary
    score = "n/a" if s.mean_p_fake is None else f"{s.score:.3f}"
    method = (f", top method {display_method(s.top_method)}" if s.verdict == "FAKE"
              and s.top_method else "")
    click.echo(
        f"verdict: {s.verdict} ({s.aggregation} P_fake {score}{method}); "
        f"frames {s.frames_read} read, {s.frames_analysed} analysed, {s.frames_with_faces} with "
        f"faces; {result.fps:.1f} FPS"
    )
    for name, path in result.outputs.items():
        click.echo(f"  {name}: {display_name(path)}")


if __name__ == "__main__":  # pragma: no cover
    main()
