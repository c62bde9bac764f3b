"""Benchmark the edge detector: classifiers (ORT fp32/int8, optionally Keras), the face detector,
and the end-to-end pipeline on a 720p clip. Prints markdown tables and writes JSON.

    python benchmarks/latency.py                      # shipped scratch + lite0, random EfficientNetB0
    python benchmarks/latency.py --quick --json out.json
    python benchmarks/latency.py --models a.onnx b.onnx --threads 1,2 --batch 1,8 --keras
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import onnxruntime as ort

from benchmarks.bench_detector import DETECTOR_SIZES, bench_detector
from benchmarks.bench_models import bench_model
from benchmarks.bench_pipeline import bench_pipeline
from benchmarks.media import first_frame, make_clip
from benchmarks.model_files import (
    ARCHITECTURES,
    REPO,
    BenchSetupError,
    ModelFiles,
    default_cache_dir,
    default_models,
    ensure_int8,
    from_paths,
)
from benchmarks.results import BenchReport
from benchmarks.stats import TimingPlan
from benchmarks.tables import evaluate_targets, render
from edge_detector.cvfiles import video_capture

log = logging.getLogger("benchmarks")
DEFAULT_JSON = Path("edge-detect-output") / "latency.json"
SECTIONS = ("models", "detector", "pipeline")


@dataclass(frozen=True)
class VideoPlan:
    width: int
    height: int
    frames: int


FULL_VIDEO, QUICK_VIDEO = VideoPlan(1280, 720, 150), VideoPlan(640, 360, 8)
# --quick: enough calls for percentiles and the interleaving to run, too few for numbers to trust.
QUICK_PLAN = TimingPlan(10, 1, 0.1, 3, rounds=2, warmup_seconds=0.0)


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", nargs="+", type=Path, help="ONNX files (a.int8.onnx pairs with a.onnx)")
    p.add_argument("--arch", nargs="+", choices=ARCHITECTURES, default=list(ARCHITECTURES),
                   help="architectures of the default run (models/<arch>.onnx, else the shipped "
                        "model, else random weights)")
    p.add_argument("--random", action="store_true",
                   help="time random-weight copies even where a model is shipped")
    p.add_argument("--video", type=Path, help="video for the end-to-end run (default: generated 720p)")
    p.add_argument("--threads", type=_ints, default=[1, 2], help="ORT/cv2 threads, e.g. 1,2")
    p.add_argument("--batch", type=_ints, default=[1, 8], help="classifier batch sizes, e.g. 1,8")
    p.add_argument("--runs", type=int, help="timed calls per measurement (default 200; quick 10)")
    p.add_argument("--warmup", type=int,
                   help="untimed calls first, and at least 1 s of them (default 10; quick 1, no 1 s)")
    p.add_argument("--max-seconds", type=float, help="stop a measurement after this long (default 4)")
    p.add_argument("--det-sizes", type=_ints, default=list(DETECTOR_SIZES), help="detector inputs")
    p.add_argument("--every", type=_ints, default=[1, 3], help="pipeline --every values")
    p.add_argument("--pipeline-det-sizes", type=_ints, default=[300],
                   help="detector input sizes of the end-to-end runs (default 300)")
    p.add_argument("--detect", choices=("full", "track"), default="full",
                   help="face detection of the end-to-end runs (detect_modes.py compares both)")
    p.add_argument("--full-every", type=int, default=10,
                   help="--detect track: frames between whole-frame passes")
    p.add_argument("--repeats", type=int, help="pipeline runs per setting, median kept (default 3)")
    p.add_argument("--keras", action="store_true", help="also time the Keras models (TensorFlow)")
    p.add_argument("--no-int8", action="store_true", help="do not make missing int8 models")
    p.add_argument("--skip", nargs="+", choices=SECTIONS, default=[], help="sections to leave out")
    p.add_argument("--quick", action="store_true", help="few runs and a small video (for tests)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"JSON out (default {DEFAULT_JSON})")
    p.add_argument("--markdown", type=Path, help="also write the tables to this file")
    p.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                   help="generated models and clips (default %(default)s)")
    p.add_argument("--models-dir", type=Path, default=REPO / "models")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def timing_plan(args: argparse.Namespace) -> TimingPlan:
    base = QUICK_PLAN if args.quick else TimingPlan()
    warmup = base.warmup if args.warmup is None else args.warmup
    return TimingPlan(args.runs or base.runs, warmup, args.max_seconds or base.max_seconds,
                      min(base.min_runs, args.runs or base.runs), base.rounds,
                      base.warmup_seconds if warmup else 0.0)


def environment() -> dict:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"when": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu, "cpu_count": os.cpu_count(),
            "load_before": _load(), "python": platform.python_version(),
            "onnxruntime": ort.__version__, "opencv": cv2.__version__}


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def resolve(args: argparse.Namespace) -> list[ModelFiles]:
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    if args.models:
        models = from_paths(args.models)
    else:
        models = default_models(tuple(args.arch), args.cache_dir, args.models_dir, args.quick,
                                args.random)
    if not args.no_int8:
        models = [ensure_int8(m, args.cache_dir) for m in models]
    return models


def run(args: argparse.Namespace) -> BenchReport:
    plan = timing_plan(args)
    vp = QUICK_VIDEO if args.quick else FULL_VIDEO
    repeats = args.repeats or (1 if args.quick else 3)
    ref_threads = 2 if 2 in args.threads else max(args.threads)
    if args.keras:
        from benchmarks.bench_keras import init_tensorflow

        init_tensorflow(ref_threads)  # before anything else touches TensorFlow
    if args.video is not None and not args.video.is_file():
        raise BenchSetupError(f"video not found: {args.video}")
    video = args.video or make_clip(
        args.cache_dir / f"clip-{vp.width}x{vp.height}-{vp.frames}.mp4", vp.width, vp.height, vp.frames)
    settings = {"threads": args.threads, "batch": args.batch, "runs": plan.runs,
                "warmup": plan.warmup, "warmup_seconds": plan.warmup_seconds,
                "max_seconds": plan.max_seconds, "rounds": plan.rounds, "quick": args.quick,
                "video": str(video), "video_frames": _frame_count(video), "pipeline_repeats": repeats,
                "keras": args.keras, "detect": args.detect, "full_every": args.full_every}
    report = BenchReport(environment(), settings)
    models = resolve(args)
    if "models" not in args.skip:
        for m in models:
            result = bench_model(m, args.threads, args.batch, plan)
            if args.keras:
                from benchmarks.bench_keras import bench_keras

                bench_keras(m, result, args.batch, ref_threads, ref_threads, plan)
            report.models.append(result)
    if "detector" not in args.skip:
        report.detector = bench_detector(first_frame(video), tuple(args.det_sizes), args.threads, plan)
    if "pipeline" not in args.skip:
        for m in models:
            path, precision = (m.fp32, "fp32") if m.fp32 else (m.int8, "int8")
            for det_size in args.pipeline_det_sizes:
                for every in args.every:
                    report.pipeline.append(bench_pipeline(m.name, precision, path, video, every,
                                                          det_size, repeats, detect=args.detect,
                                                          full_every=args.full_every))
    report.environment["load_after"] = _load()
    report.environment["tensorflow_imported"] = "tensorflow" in sys.modules
    report.targets = evaluate_targets(report)
    return report


def _frame_count(video: Path) -> int:
    cap = video_capture(video)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        report = run(args)
    except BenchSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = render(report)
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    print(f"JSON written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
