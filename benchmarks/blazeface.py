"""BlazeFace against the ResNet-10 SSD: box mapping, agreement, crop IoU, P_fake, and speed.

    python -m benchmarks.blazeface fit                 # measure the BlazeFace -> SSD box mapping
    python -m benchmarks.blazeface agree               # recall, box/crop IoU, P_fake vs the SSD
    python -m benchmarks.blazeface speed --repeats 3   # end to end vs the SSD and the reference

``fit``: both detectors on every ``--stride``-th fixture frame; each SSD face is paired with the raw
BlazeFace box it overlaps most (IoU >= 0.3); the mapping's four numbers are the medians of the
pairs' centre shifts and size ratios (what ``edge_detector.blazeface_files`` ships).
``agree``: the SSD (whole frame) and each BlazeFace model (mapped boxes) on the same frames, the
order rotating per frame: frames with faces, recall = frames where both found a face / frames where
the SSD did, median IoU of matched boxes, median IoU of the crops the shipped default model makes
(its contract's geometry) from either box, P_fake of that model on either crop, and detect ms.
``speed``: the CLI's whole path with the annotated video (``run_source``), per detector and mode,
and the report-style reference (``reference_pipeline.py``, Keras, own process), interleaved per
round; the machine is shared, so ratios are per round (same load) and their median is quoted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.detect_modes import FIXTURE_CLIPS, _ratio, reference_fps
from edge_detector.blazeface import BlazeFaceDetector
from edge_detector.blazeface_files import MODELS, BoxMapping
from edge_detector.build import PipelineSpec, build_pipeline
from edge_detector.classifier import OnnxClassifier
from edge_detector.cvfiles import video_capture
from edge_detector.faces import FaceDetector, crop_box, crop_faces
from edge_detector.pipeline import Pipeline
from edge_detector.runner import RunOptions, run_source
from edge_detector.sources import open_source
from edge_detector.tracking import iou_matrix
from edge_detector.zoo import resolve_model

REPO = Path(__file__).resolve().parents[1]
SPEED_CLIPS = ("ffpp_c23_mini/FaceSwap/634_660.mp4", "ffpp_c23_mini/Deepfakes/519_515.mp4",
               "faces/street_people_1080p.mp4")
# (label, --face-detector, --detect)
SPEED_MODES = (("ssd track", "ssd", "track"), ("ssd full", "ssd", "full"),
               ("blazeface full", "blazeface", "full"), ("blazeface track", "blazeface", "track"),
               ("blazeface-full full", "blazeface-full", "full"))


def frames(video: Path, max_frames: int, stride: int):
    cap = video_capture(video)
    try:
        for i in range(max_frames):
            ok, img = cap.read()
            if not ok:
                return
            if i % stride == 0:
                yield img
    finally:
        cap.release()


def pairs(a: np.ndarray, b: np.ndarray, min_iou: float = 0.3) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matches of boxes ``a`` to ``b`` by IoU: (i, j, iou)."""
    m = iou_matrix(a.astype(np.float32), b.astype(np.float32))
    out, used_a, used_b = [], set(), set()
    for flat in np.argsort(-m, axis=None) if m.size else []:
        i, j = divmod(int(flat), m.shape[1])
        if m[i, j] < min_iou:
            break
        if i not in used_a and j not in used_b:
            out.append((i, j, float(m[i, j])))
            used_a.add(i)
            used_b.add(j)
    return out


def fit(clips: dict[str, Path], max_frames: int, stride: int) -> dict[str, dict]:
    ssd = FaceDetector()
    raw = {n: BlazeFaceDetector(n, map_to_ssd=False) for n in MODELS}
    stats: dict[str, list[list[float]]] = {n: [] for n in MODELS}
    for video in clips.values():
        for img in frames(video, max_frames, stride):
            s = ssd.detect(img).xyxy
            for n, det in raw.items():
                b = det.detect(img).xyxy
                for i, j, _ in pairs(s, b):
                    bw, bh = b[j, 2] - b[j, 0], b[j, 3] - b[j, 1]
                    sc, bc = (s[i, :2] + s[i, 2:]) / 2, (b[j, :2] + b[j, 2:]) / 2
                    stats[n].append([(sc[0] - bc[0]) / bw, (sc[1] - bc[1]) / bh,
                                     (s[i, 2] - s[i, 0]) / bw, (s[i, 3] - s[i, 1]) / bh])
    out = {}
    for n, rows in stats.items():
        med = np.median(np.array(rows), axis=0) if rows else np.array([0, 0, 1, 1])
        mapping = BoxMapping(*(round(float(v), 3) for v in med))
        out[n] = {"pairs": len(rows), "mapping": mapping.to_dict(), "shipped": MODELS[n].mapping.to_dict()}
    return out


def agree(clips: dict[str, Path], model: Path, max_frames: int, stride: int) -> dict[str, dict]:
    classifier = OnnxClassifier(model)
    geometry, size = classifier.contract.geometry, classifier.contract.input_size
    dets = {"ssd": FaceDetector(), **{n: BlazeFaceDetector(n) for n in MODELS}}
    out = {}
    for clip, video in clips.items():
        ms = {n: [] for n in dets}
        with_face = dict.fromkeys(dets, 0)
        both = dict.fromkeys(dets, 0)
        box_iou = {n: [] for n in dets}
        crop_iou = {n: [] for n in dets}
        p = {n: [] for n in dets}
        dev = {n: [] for n in dets}
        names = list(dets)
        for k, img in enumerate(frames(video, max_frames, stride)):
            found = {}
            for n in names[k % len(names):] + names[: k % len(names)]:
                t0 = time.perf_counter()
                found[n] = dets[n].detect(img)
                ms[n].append((time.perf_counter() - t0) * 1e3)
            probs = {n: classifier.predict(crop_faces(img, f, size, geometry))
                     for n, f in found.items()}
            pf = {n: 1.0 - pr[:, classifier.contract.original_index] for n, pr in probs.items()}
            s = found["ssd"]
            for n, f in found.items():
                with_face[n] += len(f) > 0
                p[n] += pf[n].tolist()
                if not len(s) or not len(f):
                    continue
                both[n] += 1
                for i, j, iou in pairs(s.xyxy, f.xyxy):
                    box_iou[n].append(iou)
                    ca = crop_box(s.xyxy[i], img.shape[:2], geometry)
                    cb = crop_box(f.xyxy[j], img.shape[:2], geometry)
                    crop_iou[n].append(float(iou_matrix(
                        np.array([[ca.x1, ca.y1, ca.x2, ca.y2]], np.float32),
                        np.array([[cb.x1, cb.y1, cb.x2, cb.y2]], np.float32))[0, 0]))
                    dev[n].append(abs(float(pf["ssd"][i] - pf[n][j])))
        frames_n = len(ms["ssd"])
        out[clip] = {n: {
            "frames": frames_n, "with_face": with_face[n],
            "recall": both[n] / with_face["ssd"] if with_face["ssd"] else None,
            "median_box_iou": _med(box_iou[n]), "p10_box_iou": _q(box_iou[n], 0.1),
            "median_crop_iou": _med(crop_iou[n]), "p10_crop_iou": _q(crop_iou[n], 0.1),
            "median_p_fake": _med(p[n]), "median_p_fake_dev": _med(dev[n]),
            "detect_ms": _med(ms[n])} for n in dets}
    return out


def _med(v: list[float]) -> float | None:
    return float(np.median(v)) if v else None


def _q(v: list[float], q: float) -> float | None:
    return float(np.quantile(v, q)) if v else None


def end_to_end(video: Path, pipes: dict[str, Pipeline], repeats: int, max_frames: int,
               threads: int, reference: bool) -> dict[str, dict]:
    """Per pipeline (and the reference): FPS of each round, detect and encode ms per frame."""
    names = [*pipes, "reference"] if reference else list(pipes)
    runs: dict[str, dict] = {n: {"fps_runs": [], "detect_ms_runs": [], "encode_ms_runs": []}
                             for n in names}
    with tempfile.TemporaryDirectory(prefix="edge-blazeface-") as tmp:
        for r in range(repeats):
            for n in names[r % len(names):] + names[: r % len(names)]:  # rotate the order
                if n == "reference":
                    out = reference_fps(video, max_frames, threads, Path(tmp))
                    runs[n]["fps_runs"].append(out["fps"])
                    runs[n]["with_face"] = out["with_face"]
                    continue
                opts = RunOptions(Path(tmp) / f"{n}-{r}", write_video=True, report=False,
                                  force=True, max_frames=max_frames)
                with open_source(video) as src:
                    res = run_source(src, pipes[n].fresh(), opts)
                runs[n]["fps_runs"].append(res.fps)
                runs[n]["detect_ms_runs"].append(res.stage_ms.get("detect_ms", 0.0))
                runs[n]["encode_ms_runs"].append(res.stage_ms.get("encode_ms", 0.0))
                runs[n]["with_face"] = res.summary.frames_with_faces
                runs[n]["frames"] = res.summary.frames_read
    for v in runs.values():
        v["fps"] = float(np.median(v["fps_runs"]))
        v["detect_ms"] = _med(v["detect_ms_runs"])
        v["encode_ms"] = _med(v["encode_ms_runs"])
    return runs


def speed(clips: dict[str, Path], model: Path, repeats: int, max_frames: int, threads: int,
          reference: bool) -> dict[str, dict]:
    pipes: dict[str, Pipeline] = {}
    for label, det, mode in SPEED_MODES:
        pipes[label] = build_pipeline(PipelineSpec(model, threads=threads, detect=mode,
                                                   face_detector=det))
    return {clip: end_to_end(video, pipes, repeats, max_frames, threads, reference)
            for clip, video in clips.items()}


def _f(v, nd=3) -> str:
    return "—" if v is None else f"{v:.{nd}f}"


def render_agree(res: dict[str, dict]) -> str:
    lines = ["| clip | detector | frames with faces | recall vs SSD | box IoU median / p10 | "
             "crop IoU median / p10 | median P_fake | median abs. P_fake diff | detect ms (median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for clip, rows in res.items():
        for n, r in rows.items():
            lines.append(
                f"| {clip} | {n} | {r['with_face']}/{r['frames']} | {_f(r['recall'])} | "
                f"{_f(r['median_box_iou'])} / {_f(r['p10_box_iou'])} | "
                f"{_f(r['median_crop_iou'])} / {_f(r['p10_crop_iou'])} | {_f(r['median_p_fake'])} | "
                f"{_f(r['median_p_fake_dev'])} | {_f(r['detect_ms'], 2)} |")
    return "\n".join(lines)


def render_speed(res: dict[str, dict]) -> str:
    lines = ["| clip | pipeline | end-to-end FPS (median) | rounds | detect ms/frame | encode ms/frame "
             "| frames with faces | vs reference (per round) | vs ssd track (per round) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for clip, rows in res.items():
        for n, r in rows.items():
            ref = _ratio(r, rows["reference"]) if "reference" in rows and n != "reference" else "—"
            base = _ratio(r, rows["ssd track"]) if n != "ssd track" else "—"
            faces = f"{r.get('with_face', '—')}" + (f"/{r['frames']}" if "frames" in r else " (top face)")
            lines.append(f"| {clip} | {n} | {r['fps']:.1f} | "
                         f"{', '.join(f'{v:.1f}' for v in r['fps_runs'])} | {_f(r['detect_ms'], 1)} | "
                         f"{_f(r['encode_ms'], 1)} | {faces} | {ref} | {base} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("what", choices=("fit", "agree", "speed"))
    p.add_argument("--fixtures", type=Path, default=Path(os.environ.get(
        "EDGE_FIXTURES", REPO.parent / "shared" / "fixtures")))
    p.add_argument("--model", help="classifier: shipped NAME or PATH (default: the shipped default; "
                   "speed: scratch)")
    p.add_argument("--clips", nargs="+", help="clips (paths relative to --fixtures)")
    p.add_argument("--max-frames", type=int, default=100_000)
    p.add_argument("--stride", type=int, default=3, help="fit/agree: every Nth frame")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-reference", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    default = SPEED_CLIPS if args.what == "speed" else FIXTURE_CLIPS
    clips = {c: args.fixtures / c for c in (args.clips or default) if (args.fixtures / c).is_file()}
    if not clips:
        print(f"error: no fixture clips under {args.fixtures}", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    if args.what == "fit":
        res = fit(clips, args.max_frames, args.stride)
        text = json.dumps(res, indent=2)
    elif args.what == "agree":
        model = resolve_model(args.model)
        res = agree(clips, model, args.max_frames, args.stride)
        text = f"classifier {model.name}\n\n" + render_agree(res)
    else:
        model = resolve_model(args.model or "scratch")
        res = speed(clips, model, args.repeats, args.max_frames, args.threads, not args.no_reference)
        text = f"classifier {model.name}; annotated video on\n\n" + render_speed(res)
    print(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after; {os.cpu_count()} cores; "
          f"threads {args.threads}\n")
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
