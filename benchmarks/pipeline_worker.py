"""One end-to-end measurement in its own process, so its peak RSS is the runtime's alone.

Run as ``python -m benchmarks.pipeline_worker '<json spec>'``; prints one JSON line. Imports only
the runtime (``edge_detector``), never TensorFlow, and says so in its output.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from edge_detector.cvfiles import video_capture


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    ``VmHWM`` first: Linux carries ``ru_maxrss`` over ``exec``, so a worker started from a big
    parent (TensorFlow loaded) would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024.0 * 1024.0) if sys.platform == "darwin" else kb / 1024.0


def decode_only_ms(video: Path) -> float:
    """Mean ms to decode one frame with nothing else running (the decode thread's real cost)."""
    cap = video_capture(video)
    n, t0 = 0, time.perf_counter()
    while cap.read()[0]:
        n += 1
    cap.release()
    return (time.perf_counter() - t0) * 1e3 / max(n, 1)


def run(spec: dict) -> dict:
    from edge_detector.build import PipelineSpec, build_pipeline
    from edge_detector.runner import RunOptions, run_source
    from edge_detector.sources import open_source

    video = Path(spec["video"])
    pipe_spec = PipelineSpec(Path(spec["model"]), every=spec["every"], det_size=spec["det_size"],
                             threads=spec.get("threads"), detect=spec.get("detect", "full"),
                             full_every=spec.get("full_every", 10))
    decode_ms = decode_only_ms(video)
    fps_runs, stages, frames, faces = [], [], 0, 0
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        warm = build_pipeline(pipe_spec)
        with open_source(video) as src:  # warm-up: first ORT / cv2.dnn calls are slow
            for _ in zip(range(3), warm.run(src), strict=False):
                pass
        for r in range(spec["repeats"]):
            # Same (warm) detector and classifier; fresh tracker and frame counter.
            pipeline = warm.fresh()
            opts = RunOptions(Path(tmp) / str(r), write_video=True, report=False, force=True)
            with open_source(video) as src:
                res = run_source(src, pipeline, opts)
            fps_runs.append(res.fps)
            stages.append(res.stage_ms)
            frames, faces = res.summary.frames_read, res.summary.faces_classified
    order = sorted(range(len(fps_runs)), key=fps_runs.__getitem__)
    mid = order[len(order) // 2]
    return {
        "fps": fps_runs[mid], "fps_runs": fps_runs, "stage_ms": stages[mid], "frames": frames,
        "faces_classified": faces, "decode_only_ms": decode_ms, "peak_rss_mb": peak_rss_mb(),
        "tensorflow_imported": any(m == "tensorflow" or m.startswith("tensorflow.")
                                   for m in sys.modules),
        "threads": pipeline.classifier.session.get_session_options().intra_op_num_threads,
    }


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
