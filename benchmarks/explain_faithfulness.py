"""Are the occlusion maps faithful, and what do they cost? Deletion curves on the FF++ fixture fakes.

For frames sampled evenly from each fake clip of ``ffpp_c23_mini`` (Deepfakes, Face2Face,
FaceSwap, NeuralTextures), the largest face is cropped as the runtime crops it and explained with
:func:`edge_detector.explain.occlusion_map`. The crop is then cut into an 8x8 grid of cells and
the top k % of cells by the map's mean value are deleted together; P_fake after deletion is
compared with deleting k % of cells picked at random (``--random`` draws per face, seeded). A
faithful map lowers P_fake more than random cells do. Deletion uses two occluders: the map's own
(a blurred copy) and a flat fill with the crop's mean colour, which the map never saw.

Cost: wall time of one map (50 forward passes in one batched ORT call) per face and model, next
to one batch-1 forward pass, with the runtime's session settings (2 threads, no spinning).

    python -m benchmarks.explain_faithfulness [--frames 12] [--models lite0 scratch]
        [--random 20] [--json edge-detect-output/explain_faithfulness.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_detector.classifier import OnnxClassifier
from edge_detector.cvfiles import video_capture
from edge_detector.explain import Classifier, OcclusionMap, blurred_copy, occlusion_map, p_fake_of
from edge_detector.faces import FaceDetector, crop_face

REPO = Path(__file__).resolve().parents[1]
FAKE_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
FRACTIONS = (0.05, 0.1, 0.2, 0.3, 0.5)
CELLS = 8  # deletion grid per axis
SEQUENTIAL_FACES = 8  # faces also timed as 50 batch-1 calls, for the batching gain


@dataclass(frozen=True)
class Curve:
    """P_fake of one face after deleting each fraction of cells: by the map and at random."""

    p_fake: float
    by_map: np.ndarray  # (len(fractions),)
    random: np.ndarray  # (len(fractions),) mean over the random draws


def cell_boxes(size: int, cells: int = CELLS) -> list[tuple[int, int, int, int]]:
    edges = np.round(np.linspace(0, size, cells + 1)).astype(int)
    return [(int(edges[i]), int(edges[j]), int(edges[i + 1]), int(edges[j + 1]))
            for i in range(cells) for j in range(cells)]


def rank_cells(heat: np.ndarray, cells: int = CELLS) -> np.ndarray:
    """Cell indices by the map's mean value, highest first (ties by position)."""
    means = np.array([heat[y0:y1, x0:x1].mean() for y0, x0, y1, x1 in cell_boxes(len(heat), cells)])
    return np.argsort(-means, kind="stable")


def _deleted(crop: np.ndarray, fill: np.ndarray, boxes, order: np.ndarray, k: int) -> np.ndarray:
    out = crop.copy()
    for i in order[:k]:
        y0, x0, y1, x1 = boxes[i]
        out[y0:y1, x0:x1] = fill[y0:y1, x0:x1]
    return out


def deletion_curve(classifier: Classifier, crop_bgr: np.ndarray, omap: OcclusionMap,
                   occluder: str = "blur", fractions=FRACTIONS, draws: int = 20,
                   seed: int = 0) -> Curve:
    """P_fake after deleting the top-k % cells by ``omap`` and k % random cells (one batch)."""
    size = omap.size
    crop = crop_bgr if crop_bgr.shape[:2] == (size, size) else cv2.resize(
        crop_bgr, (size, size), interpolation=cv2.INTER_AREA)
    if occluder == "blur":
        fill = blurred_copy(crop)
    elif occluder == "mean":
        fill = np.broadcast_to(crop.reshape(-1, 3).mean(0).round().astype(np.uint8), crop.shape)
    else:
        raise ValueError(f"occluder must be 'blur' or 'mean', got {occluder!r}")
    boxes = cell_boxes(size)
    ranked = rank_cells(omap.heat)
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(len(boxes)) for _ in range(draws)]
    ks = [max(1, round(f * len(boxes))) for f in fractions]
    batch = [crop]
    batch += [_deleted(crop, fill, boxes, ranked, k) for k in ks]
    batch += [_deleted(crop, fill, boxes, o, k) for k in ks for o in orders]
    p = p_fake_of(classifier, np.stack(batch))
    by_map = p[1 : 1 + len(ks)]
    rand = p[1 + len(ks) :].reshape(len(ks), draws).mean(axis=1)
    return Curve(float(p[0]), by_map, rand)


def fake_clips(root: Path) -> list[tuple[str, Path]]:
    return [(m, v) for m in FAKE_METHODS for v in sorted((root / m).glob("*.mp4"))]


def sample_frames(video: Path, n: int) -> list[np.ndarray]:
    cap = video_capture(video)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 1
    wanted = set(np.linspace(0, total - 1, n).round().astype(int).tolist())
    frames, i = [], 0
    while len(frames) < len(wanted):
        ok, frame = cap.read()
        if not ok:
            break
        if i in wanted:
            frames.append(frame)
        i += 1
    cap.release()
    return frames


def face_crops(root: Path, frames: int, size: int, geometry) -> list[tuple[str, np.ndarray]]:
    """``(method, crop)`` of the largest face in ``frames`` frames of every fake clip."""
    detector = FaceDetector()
    out = []
    for method, video in fake_clips(root):
        for frame in sample_frames(video, frames):
            faces = detector.detect(frame)
            if len(faces):
                out.append((method, crop_face(frame, faces.xyxy[0], size, geometry)))
    return out


def _timed(fn, repeats: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) * 1e3 / repeats


def measure_model(model: Path, root: Path, frames: int, draws: int) -> dict:
    clf = OnnxClassifier(model)
    c = clf.contract
    crops = face_crops(root, frames, c.input_size, c.geometry)
    if not crops:
        raise SystemExit(f"no face found in the fake clips under {root}")
    threshold = c.threshold if c.threshold is not None else 0.5
    one = crops[0][1][None]
    clf.predict(one), occlusion_map(clf, crops[0][1])  # warm-up: allocations, first-call planning
    single_ms = [_timed(lambda: clf.predict(one)) for _ in range(20)]
    rows, map_ms, seq_ms = [], [], []
    for i, (method, crop) in enumerate(crops):
        t0 = time.perf_counter()
        omap = occlusion_map(clf, crop)
        map_ms.append((time.perf_counter() - t0) * 1e3)
        if i < SEQUENTIAL_FACES:  # the same 50 passes one face per ORT call, right after
            seq_ms.append(_timed(lambda c=crop: [clf.predict(c[None]) for _ in range(50)]))
        curves = {o: deletion_curve(clf, crop, omap, o, draws=draws) for o in ("blur", "mean")}
        rows.append((method, omap, curves))
    result = {"model": model.name, "faces": len(rows), "threshold": threshold,
              "forward_passes_per_face": rows[0][1].forward_passes,
              "ort_calls_per_face": rows[0][1].calls,
              "map_ms": _stats(map_ms), "single_pass_ms": _stats(single_ms),
              "fifty_single_passes_ms": _stats(seq_ms),
              "fractions": list(FRACTIONS), "deletion": {}}
    for subset, keep in (("all faces", lambda r: True),
                         ("faces judged FAKE", lambda r: r[2]["blur"].p_fake >= threshold)):
        chosen = [r for r in rows if keep(r)]
        result["deletion"][subset] = {o: _summarise([r[2][o] for r in chosen]) for o in ("blur", "mean")}
        result["deletion"][subset]["faces"] = len(chosen)
    result["per_method"] = {
        m: _summarise([r[2]["blur"] for r in rows if r[0] == m]) for m in FAKE_METHODS
        if any(r[0] == m for r in rows)}
    return result


def _stats(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"median": float(np.median(a)), "p90": float(np.percentile(a, 90)), "n": len(a)}


def _summarise(curves: list[Curve]) -> dict:
    if not curves:
        return {"n": 0}
    p0 = np.array([c.p_fake for c in curves])
    by_map = np.stack([c.by_map for c in curves])
    rand = np.stack([c.random for c in curves])
    return {
        "n": len(curves), "p_fake": float(p0.mean()),
        "p_after_map": by_map.mean(0).tolist(), "p_after_random": rand.mean(0).tolist(),
        "drop_map": (p0[:, None] - by_map).mean(0).tolist(),
        "drop_random": (p0[:, None] - rand).mean(0).tolist(),
        "faces_map_beats_random": (by_map < rand).mean(0).tolist(),
        # area under P_fake vs deleted fraction (0 .. 0.5): lower = faster fall
        "auc_map": float(np.trapezoid(np.c_[p0, by_map].mean(0), [0, *FRACTIONS])),
        "auc_random": float(np.trapezoid(np.c_[p0, rand].mean(0), [0, *FRACTIONS])),
    }


def print_report(results: list[dict]) -> None:
    for r in results:
        print(f"\n## {r['model']}: {r['faces']} faces, {r['forward_passes_per_face']} forward passes "
              f"in {r['ort_calls_per_face']} ORT call(s) per face")
        print(f"map: median {r['map_ms']['median']:.1f} ms, p90 {r['map_ms']['p90']:.1f} ms per face; "
              f"one batch-1 pass: median {r['single_pass_ms']['median']:.2f} ms; the same 50 passes as "
              f"batch-1 calls: median {r['fifty_single_passes_ms']['median']:.1f} ms")
        head = " / ".join(f"{int(f * 100)}%" for f in r["fractions"])
        print(f"| faces | occluder | n | P_fake | after map-deleting {head} | after random | "
              "map beats random (faces) | AUC map / random |")
        print("|---|---|---|---|---|---|---|---|")
        for subset, by_occ in r["deletion"].items():
            for occ in ("blur", "mean"):
                s = by_occ[occ]
                if not s["n"]:
                    continue
                fmt = lambda v: " / ".join(f"{x:.3f}" for x in v)  # noqa: E731
                print(f"| {subset} | {occ} | {s['n']} | {s['p_fake']:.3f} | {fmt(s['p_after_map'])} | "
                      f"{fmt(s['p_after_random'])} | "
                      f"{' / '.join(f'{x:.0%}' for x in s['faces_map_beats_random'])} | "
                      f"{s['auc_map']:.3f} / {s['auc_random']:.3f} |")
        print("per method (blur): " + "; ".join(
            f"{m} n={s['n']} AUC {s['auc_map']:.3f} vs {s['auc_random']:.3f}"
            for m, s in r["per_method"].items()))


def fixtures_mini() -> Path:
    root = Path(os.environ.get("EDGE_FIXTURES", REPO.parent / "shared" / "fixtures"))
    return root / "ffpp_c23_mini"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=None, help="ffpp_c23_mini folder")
    ap.add_argument("--models", nargs="+", default=["lite0", "scratch"],
                    help="shipped model names or ONNX paths")
    ap.add_argument("--frames", type=int, default=12, help="frames per clip")
    ap.add_argument("--random", type=int, default=20, help="random deletion orders per face")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    root = args.root or fixtures_mini()
    if not fake_clips(root):
        print(f"no fake clips under {root} (set EDGE_FIXTURES or --root)", file=sys.stderr)
        return 2
    models = [Path(m) if m.endswith(".onnx") else REPO / "edge_detector" / "models" / f"{m}.onnx"
              for m in args.models]
    results = [measure_model(m, root, args.frames, args.random) for m in models]
    print_report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
