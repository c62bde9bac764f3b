"""How the FF++ faces recipe's crops (tight Haar boxes) relate to the runtime's SSD face box.

The ffpp_c23_faces crops are ``frame[y+2:y+h-2, x+2:x+w-2]`` of OpenCV's
``haarcascade_frontalface_alt.xml`` boxes (scaleFactor 1.3, minNeighbors 5, run on the BGR frame).
On real video frames this measures, for each frame where both detectors see the face, the Haar
crop's size and centre relative to the SSD box, fits a :class:`CropGeometry` (medians), and reports
the IoU between the runtime crop (SSD box + geometry, ``crop_box``) and the recipe crop, next to the
IoU of the old default (square 1.3x, centred) and a leave-one-video-out fit (no fitting on the
frames it is scored on).

    python -m benchmarks.crop_geometry [--every 10] [--json edge-detect-output/crop_geometry.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_detector.cvfiles import cascade as load_cascade
from edge_detector.cvfiles import video_capture
from edge_detector.faces import FaceDetector, crop_box
from edge_detector.geometry import CropGeometry

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
HAAR_XML = "haarcascade_frontalface_alt.xml"
HAAR_SCALE_FACTOR = 1.3
HAAR_MIN_NEIGHBORS = 5
HAAR_INSET = 2
MIN_MATCH_IOU = 0.3  # a Haar box overlapping the SSD face less than this is another object
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


@dataclass(frozen=True)
class BoxPairs:
    """Matched boxes (xyxy float) on frames: SSD face box and recipe crop box."""

    ssd: np.ndarray  # (n, 4)
    recipe: np.ndarray  # (n, 4)
    frame_hw: np.ndarray  # (n, 2)
    video: np.ndarray  # (n,) str

    def __len__(self) -> int:
        return len(self.ssd)

    def subset(self, mask: np.ndarray) -> BoxPairs:
        return BoxPairs(self.ssd[mask], self.recipe[mask], self.frame_hw[mask], self.video[mask])


def haar_cascade() -> cv2.CascadeClassifier:
    cascade = load_cascade(cv2.data.haarcascades + HAAR_XML)
    if cascade.empty():
        raise RuntimeError(f"cannot load {HAAR_XML} from {cv2.data.haarcascades}")
    return cascade


def recipe_boxes(frame_bgr: np.ndarray, cascade: cv2.CascadeClassifier) -> np.ndarray:
    """The recipe's crop windows (Haar box inset by 2 px) as (n, 4) xyxy."""
    found = cascade.detectMultiScale(frame_bgr, HAAR_SCALE_FACTOR, HAAR_MIN_NEIGHBORS)
    if len(found) == 0:
        return np.zeros((0, 4), np.float64)
    x, y, w, h = (np.asarray(found, np.float64)[:, i] for i in range(4))
    i = HAAR_INSET
    return np.stack([x + i, y + i, x + w - i, y + h - i], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two (n, 4) xyxy arrays."""
    a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def relate(ssd: np.ndarray, recipe: np.ndarray) -> dict[str, np.ndarray]:
    """Per pair: recipe crop size over SSD width, height and longer side; centre shift over w, h."""
    w, h = ssd[:, 2] - ssd[:, 0], ssd[:, 3] - ssd[:, 1]
    rw, rh = recipe[:, 2] - recipe[:, 0], recipe[:, 3] - recipe[:, 1]
    side = (rw + rh) / 2.0  # the recipe box is square; the mean is robust to a 1 px odd size
    return {
        "side/ssd_w": side / w,
        "side/ssd_h": side / h,
        "side/ssd_max": side / np.maximum(w, h),
        "shift_x": ((recipe[:, 0] + recipe[:, 2]) - (ssd[:, 0] + ssd[:, 2])) / 2.0 / w,
        "shift_y": ((recipe[:, 1] + recipe[:, 3]) - (ssd[:, 1] + ssd[:, 3])) / 2.0 / h,
    }


def fit_geometry(ssd: np.ndarray, recipe: np.ndarray) -> CropGeometry:
    """Medians of the square recipe crop's scale (over the SSD box's longer side) and shifts."""
    if len(ssd) == 0:
        raise ValueError("no matched boxes to fit a crop geometry on")
    r = relate(ssd, recipe)
    return CropGeometry(scale=round(float(np.median(r["side/ssd_max"])), 4),
                        shift_x=round(float(np.median(r["shift_x"])), 4),
                        shift_y=round(float(np.median(r["shift_y"])), 4), square=True)


def crop_ious(pairs: BoxPairs, geometry: CropGeometry | float) -> np.ndarray:
    """IoU of the runtime crop window (``crop_box``, frame-clamped) with the recipe crop."""
    boxes = [crop_box(s, tuple(hw), geometry) for s, hw in zip(pairs.ssd, pairs.frame_hw,
                                                             strict=True)]
    runtime = np.array([[b.x1, b.y1, b.x2, b.y2] for b in boxes], np.float64).reshape(-1, 4)
    return box_iou(runtime, pairs.recipe)


def leave_one_video_out(pairs: BoxPairs) -> np.ndarray:
    """IoU of each frame's crop under a geometry fitted on the other videos only."""
    out = np.zeros(len(pairs))
    for v in np.unique(pairs.video):
        held = pairs.video == v
        if held.all():
            return crop_ious(pairs, fit_geometry(pairs.ssd, pairs.recipe))
        g = fit_geometry(pairs.ssd[~held], pairs.recipe[~held])
        out[held] = crop_ious(pairs.subset(held), g)
    return out


def stats(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, np.float64)
    q = np.percentile(v, [10, 25, 50, 75, 90]) if len(v) else [float("nan")] * 5
    return {"n": len(v), "median": float(q[2]), "p10": float(q[0]), "p25": float(q[1]),
            "p75": float(q[3]), "p90": float(q[4]), "mean": float(np.mean(v)) if len(v) else
            float("nan"), "std": float(np.std(v)) if len(v) else float("nan")}


def collect_pairs(videos: list[Path], every: int, detector: FaceDetector | None = None,
                  max_frames: int | None = None) -> tuple[BoxPairs, dict[str, int]]:
    """Every ``every``-th frame: the largest SSD face matched to the best-overlapping Haar box.

    ``max_frames``: read only the first frames of each video (decoding the rest costs as much
    as decoding the frames used, since every frame of an H.264 stream is decoded to skip it).
    """
    det = detector or FaceDetector()
    cascade = haar_cascade()
    ssd, rec, hws, names = [], [], [], []
    counts = {"frames": 0, "no_ssd": 0, "no_haar_match": 0}
    for path in videos:
        cap = video_capture(path)
        if not cap.isOpened():
            raise RuntimeError(f"cannot open {path}")
        index = 0
        while (max_frames is None or index < max_frames) and cap.grab():
            if index % every == 0:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    counts["frames"] += 1
                    faces = det.detect(frame)
                    if len(faces) == 0:
                        counts["no_ssd"] += 1
                    else:
                        box = faces.xyxy[0].astype(np.float64)
                        cands = recipe_boxes(frame, cascade)
                        iou = box_iou(np.repeat(box[None], len(cands), 0), cands) if len(cands) \
                            else np.zeros(0)
                        if len(iou) == 0 or iou.max() < MIN_MATCH_IOU:
                            counts["no_haar_match"] += 1
                        else:
                            ssd.append(box)
                            rec.append(cands[int(iou.argmax())])
                            hws.append(frame.shape[:2])
                            names.append(f"{path.parent.name}/{path.stem}")
            index += 1
        cap.release()
        log.info("%s: %d matched frames so far", path.name, len(ssd))
    pairs = BoxPairs(np.array(ssd).reshape(-1, 4), np.array(rec).reshape(-1, 4),
                     np.array(hws, np.int64).reshape(-1, 2), np.array(names, dtype=object))
    return pairs, counts


def measure(pairs: BoxPairs) -> dict:
    """Ratios, the fitted geometry and the IoU table (all frames and per video)."""
    geometry = fit_geometry(pairs.ssd, pairs.recipe)
    ious = {"fitted geometry": crop_ious(pairs, geometry),
            "fitted, leave-one-video-out": leave_one_video_out(pairs),
            "old default (square 1.3x, centred)": crop_ious(pairs, CropGeometry())}
    per_video = {v: {k: float(np.median(x[pairs.video == v])) for k, x in ious.items()}
                 | {"frames": int((pairs.video == v).sum())} for v in np.unique(pairs.video)}
    return {"geometry": geometry.to_dict(),
            "ratios": {k: stats(v) for k, v in relate(pairs.ssd, pairs.recipe).items()},
            "iou": {k: stats(v) | {"share_ge_0.85": float(np.mean(v >= 0.85))}
                    for k, v in ious.items()},
            "iou_per_video_median": per_video}


def format_report(m: dict, counts: dict[str, int]) -> str:
    lines = [f"frames sampled {counts['frames']}, no SSD face {counts['no_ssd']}, "
             f"no matching Haar box {counts['no_haar_match']}, matched {m['iou']['fitted geometry']['n']}",
             "", "| ratio | median | p10 | p90 | std |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {s['median']:.3f} | {s['p10']:.3f} | {s['p90']:.3f} | {s['std']:.3f} |"
              for k, s in m["ratios"].items()]
    lines += ["", f"fitted geometry: {m['geometry']}", "",
              "| crop vs recipe IoU | median | p10 | p90 | share >= 0.85 |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {s['median']:.3f} | {s['p10']:.3f} | {s['p90']:.3f} | "
              f"{s['share_ge_0.85']:.2f} |" for k, s in m["iou"].items()]
    keys = list(m["iou"])
    lines += ["", "| video | frames | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    lines += [f"| {v} | {d['frames']} | " + " | ".join(f"{d[k]:.3f}" for k in keys) + " |"
              for v, d in m["iou_per_video_median"].items()]
    return "\n".join(lines)


def find_videos(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    default_root = Path(os.environ.get("EDGE_FIXTURES", REPO.parent / "shared" / "fixtures"))
    p.add_argument("--videos", type=Path, default=default_root / "ffpp_c23_mini",
                   help="folder searched for videos [%(default)s]")
    p.add_argument("--every", type=int, default=10, help="use every Nth frame [%(default)s]")
    p.add_argument("--json", type=Path, default=Path("edge-detect-output/crop_geometry.json"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    videos = find_videos(args.videos) if args.videos.is_dir() else []
    if not videos or args.every < 1:
        print(f"error: no videos under {args.videos} (or --every < 1)", file=sys.stderr)
        return 2
    pairs, counts = collect_pairs(videos, args.every)
    if len(pairs) == 0:
        print("error: no frame where both detectors found the face", file=sys.stderr)
        return 1
    m = measure(pairs)
    print(format_report(m, counts))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"videos": [str(v) for v in videos], "every": args.every,
                                     "recipe": {"cascade": HAAR_XML, "scale_factor":
                                                HAAR_SCALE_FACTOR, "min_neighbors":
                                                HAAR_MIN_NEIGHBORS, "inset_px": HAAR_INSET},
                                     "counts": counts, **m}, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
