"""Full-frame vs tracking-gated detection: speed, and how closely tracking reproduces full mode.

    python benchmarks/detect_modes.py                          # fixtures + generated 720p clip
    python benchmarks/detect_modes.py --full-every 5,10,20 --max-frames 120 --repeats 3

Accuracy: every clip is decoded once; each frame goes through every mode in turn (the order
rotates per frame, so load spikes hit all modes alike), and the table compares each tracking mode
with full mode on the same frames: frames with a face found (recall vs full), the median IoU of
full mode's boxes with tracking's, and the median |P_fake difference| of the matched faces.
``pipeline FPS`` counts detect + crop + classify only. Speed: on the 720p clips the CLI's whole
path (decode, overlay, annotated video) runs for each mode and for the report-style reference
(``reference_pipeline.py``, Keras, in its own process), interleaved over ``--repeats`` rounds; the
median is kept and ratios are quoted, since this machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.media import make_clip
from benchmarks.model_files import default_cache_dir
from benchmarks.probe_model import probe_model
from edge_detector.build import PipelineSpec, build_pipeline
from edge_detector.cvfiles import video_capture
from edge_detector.pipeline import Pipeline
from edge_detector.runner import RunOptions, run_source
from edge_detector.sources import open_source
from edge_detector.tracking import iou_matrix
from edge_detector.types import Frame

REPO = Path(__file__).resolve().parents[1]
FIXTURE_CLIPS = ("faces/stage_clip_360p.mp4", "faces/street_people_1080p.mp4",
                 "ffpp_c23_mini/original/004.mp4", "ffpp_c23_mini/original/519.mp4",
                 "ffpp_c23_mini/original/634.mp4", "ffpp_c23_mini/Deepfakes/519_515.mp4",
                 "ffpp_c23_mini/Face2Face/750_743.mp4", "ffpp_c23_mini/FaceSwap/634_660.mp4",
                 "ffpp_c23_mini/NeuralTextures/004_982.mp4")


def modes(full_every: list[int]) -> list[tuple[str, str, int]]:
    return [("full", "full", 1)] + [(f"track K={k}", "track", k) for k in full_every]


def accuracy(video: Path, pipes: dict[str, Pipeline], max_frames: int) -> dict[str, dict]:
    """Per mode: pipeline FPS, frames with faces, and agreement with full mode."""
    names = list(pipes)
    spent = dict.fromkeys(names, 0.0)
    with_face = dict.fromkeys(names, 0)
    both = dict.fromkeys(names, 0)
    ious: dict[str, list[float]] = {n: [] for n in names}
    dev: dict[str, list[float]] = {n: [] for n in names}
    cap = video_capture(video)
    i = 0
    while i < max_frames:
        ok, img = cap.read()
        if not ok:
            break
        res = {}
        for n in names[i % len(names):] + names[: i % len(names)]:
            t0 = time.perf_counter()
            res[n] = pipes[n].analyse(Frame(i, 0.0, img))
            spent[n] += time.perf_counter() - t0
        full = res["full"]
        for n, r in res.items():
            with_face[n] += len(r.faces) > 0
            if not len(full.faces) or not len(r.faces):
                continue
            both[n] += 1
            m = iou_matrix(full.faces.xyxy, r.faces.xyxy)
            ious[n] += m.max(axis=1).tolist()
            for a, b in enumerate(m.argmax(axis=1)):
                if m[a, b] >= 0.5:
                    dev[n].append(abs(float(full.faces.p_fake[a] - r.faces.p_fake[b])))
        i += 1
    cap.release()
    out = {}
    for n in names:
        gate = pipes[n].gate
        out[n] = {"frames": i, "pipeline_fps": i / spent[n] if spent[n] else 0.0,
                  "with_face": with_face[n],
                  "recall": both[n] / with_face["full"] if with_face["full"] else None,
                  "median_iou": float(np.median(ious[n])) if ious[n] else None,
                  "p_fake_dev": float(np.median(dev[n])) if dev[n] else None,
                  "p_fake_dev_p90": float(np.quantile(dev[n], 0.9)) if dev[n] else None,
                  "p_fake_dev_max": float(np.max(dev[n])) if dev[n] else None,
                  "full_passes": gate.full_passes if gate else i}
    return out


def reference_fps(video: Path, max_frames: int, threads: int, tmp: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]), "TF_CPP_MIN_LOG_LEVEL": "3"}
    spec = {"video": str(video), "out": str(tmp / "ref.mp4"), "threads": threads,
            "max_frames": max_frames}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.reference_pipeline", json.dumps(spec)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(f"reference pipeline failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def end_to_end(video: Path, pipes: dict[str, Pipeline], repeats: int, max_frames: int,
               threads: int, reference: bool) -> dict[str, dict]:
    """Median FPS of the whole CLI path per mode (and the reference), interleaved rounds."""
    runs: dict[str, list[float]] = {n: [] for n in ([*pipes, "reference"] if reference else pipes)}
    faces: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="edge-modes-") as tmp:
        for r in range(repeats):
            for n in runs:
                if n == "reference":
                    out = reference_fps(video, max_frames, threads, Path(tmp))
                    runs[n].append(out["fps"])
                    faces[n] = out["with_face"]
                    continue
                opts = RunOptions(Path(tmp) / f"{n}-{r}", write_video=True, report=False,
                                  force=True, max_frames=max_frames)
                with open_source(video) as src:
                    res = run_source(src, pipes[n].fresh(), opts)
                runs[n].append(res.fps)
                faces[n] = res.summary.frames_with_faces
    return {n: {"fps": float(np.median(v)), "fps_runs": v, "with_face": faces[n]}
            for n, v in runs.items()}


def _f(v, nd=2) -> str:
    return "—" if v is None else f"{v:.{nd}f}"


def _ratio(a: dict, b: dict) -> str:
    """Median of the per-round FPS ratios (each round ran both under the same load), and the range."""
    r = [x / y for x, y in zip(a["fps_runs"], b["fps_runs"], strict=True) if y]
    return f"{np.median(r):.2f}x (rounds {min(r):.2f}-{max(r):.2f})" if r else "—"


def render(acc: dict[str, dict], e2e: dict[str, dict]) -> str:
    lines = ["| clip | mode | pipeline FPS | end-to-end FPS | frames with faces | recall vs full "
             "| median IoU vs full | P_fake dev. median / p90 / max | full passes |",
             "|---|---|---|---|---|---|---|---|---|"]
    for clip, rows in acc.items():
        for mode, r in rows.items():
            e = e2e.get(clip, {}).get(mode)
            lines.append(f"| {clip} | {mode} | {_f(r['pipeline_fps'], 1)} | "
                         f"{_f(e['fps'], 1) if e else '—'} | {r['with_face']}/{r['frames']} | "
                         f"{_f(r['recall'], 3)} | {_f(r['median_iou'], 3)} | "
                         f"{_f(r['p_fake_dev'], 4)} / {_f(r['p_fake_dev_p90'], 3)} / "
                         f"{_f(r['p_fake_dev_max'], 3)} | {r['full_passes']} |")
        ref = e2e.get(clip, {}).get("reference")
        if ref:
            lines.append(f"| {clip} | reference (Keras) | — | {_f(ref['fps'], 1)} | "
                         f"{ref['with_face']} (top face) | — | — | — | all |")
    for clip, rows in e2e.items():
        for mode, r in rows.items():
            if mode.startswith("track"):
                ratio = f"{mode}: {_ratio(r, rows['full'])} full"
                if "reference" in rows:
                    ratio += f", {_ratio(r, rows['reference'])} reference"
                lines.append(f"\n{clip} end to end, {ratio}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--fixtures", type=Path, default=Path(os.environ.get(
        "EDGE_FIXTURES", REPO.parent / "shared" / "fixtures")))
    p.add_argument("--model", type=Path, help="ONNX classifier (default: a crop-sensitive probe)")
    p.add_argument("--full-every", default="10", help="K values for --detect track, e.g. 5,10,20")
    p.add_argument("--max-frames", type=int, default=150)
    p.add_argument("--repeats", type=int, default=3, help="end-to-end rounds (median kept)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-reference", action="store_true", help="skip the Keras reference")
    p.add_argument("--speed-clips", nargs="+", default=["generated 720p"],
                   help="clips timed end to end: names from the table (default: generated 720p)")
    p.add_argument("--clips", nargs="+", help="only these clips (names as in the table)")
    p.add_argument("--json", type=Path, default=Path("edge-detect-output") / "detect_modes.json")
    args = p.parse_args(argv)
    ks = [int(k) for k in args.full_every.split(",")]
    cache = default_cache_dir()
    model = args.model or probe_model(cache / "probe.onnx")
    clips = {"generated 720p": make_clip(cache / "clip-1280x720-150.mp4", 1280, 720, 150)}
    clips.update({rel: args.fixtures / rel for rel in FIXTURE_CLIPS
                  if (args.fixtures / rel).is_file()})
    if args.clips:
        clips = {n: c for n, c in clips.items() if n in args.clips}
    base = build_pipeline(PipelineSpec(model, threads=args.threads, detect="full"))

    def fresh() -> dict[str, Pipeline]:
        return {n: Pipeline(base.detector, base.classifier, detect=d, full_every=k)
                for n, d, k in modes(ks)}

    load = os.getloadavg()[0]
    acc = {name: accuracy(path, fresh(), args.max_frames) for name, path in clips.items()}
    e2e = {name: end_to_end(clips[name], fresh(), args.repeats, args.max_frames, args.threads,
                            not args.no_reference) for name in args.speed_clips if name in clips}
    text = render(acc, e2e)
    print(f"model: {model}; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"{os.cpu_count()} cores; threads {args.threads}\n")
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"accuracy": acc, "end_to_end": e2e}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
