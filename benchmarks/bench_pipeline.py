"""End-to-end FPS, per-stage ms and peak RSS: each configuration in a fresh runtime-only process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from .results import PipelineResult

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
STAGES = ("decode_ms", "detect_ms", "crop_ms", "classify_ms", "overlay_ms", "encode_ms")


def run_worker(spec: dict, timeout: float = 900.0) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.pipeline_worker", json.dumps(spec)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"pipeline worker failed ({proc.returncode}): {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_pipeline(name: str, precision: str, model: Path, video: Path, every: int,
                   det_size: int = 300, repeats: int = 3, threads: int | None = None,
                   detect: str = "full", full_every: int = 10) -> PipelineResult:
    """Median-FPS run of ``repeats`` (after a warm-up) over ``video``; stages are ms per frame."""
    spec = {"model": str(model), "video": str(video), "every": every, "det_size": det_size,
            "repeats": repeats, "threads": threads, "detect": detect, "full_every": full_every}
    out = run_worker(spec)
    stage = {k: float(out["stage_ms"].get(k, 0.0)) for k in STAGES}
    log.info("pipeline %s every=%d: %.1f FPS, peak RSS %.0f MB", name, every, out["fps"],
             out["peak_rss_mb"])
    return PipelineResult(name, precision, every, det_size, int(out["threads"]), int(out["frames"]),
                          repeats, float(out["fps"]), [float(f) for f in out["fps_runs"]], stage,
                          float(out["decode_only_ms"]), float(out["peak_rss_mb"]),
                          bool(out["tensorflow_imported"]), int(out["faces_classified"]))
