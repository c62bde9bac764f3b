"""MediaPipe's BlazeFace face detector on ONNX Runtime, a faster alternative to the ResNet-10 SSD.

A whole frame (or a window of it) is letterboxed into the model's square input (128 px short-range,
192 px full-range), the outputs are decoded and merged in numpy (:mod:`.blazeface_decode`), and
each box is mapped to where the SSD would have put it (:class:`.blazeface_files.BoxMapping`), so
crops, the model contract's crop geometry and track windows work as with the SSD. It offers the
region interface the track gate uses (:class:`edge_detector.gating.RegionDetector`); windows are in
frame pixels and are resampled to the model's input, so a small face is seen larger in its window.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from .blazeface_decode import box_iou, detect_normalised, make_anchors
from .blazeface_files import BoxMapping, locate_blazeface
from .errors import ModelError
from .fsnames import display_name
from .types import FaceDetections

DEFAULT_BLAZEFACE = "blazeface"
# Refinement window / raw BlazeFace box side: about what a track window is (2.5 x the SSD-like box,
# whose longer side is ~1.2 x BlazeFace's), so full passes and track windows see a face alike.
REFINE_SCALE = 3.0
# Whole-frame candidates from this score up are looked at zoomed in and kept if confirmed there at
# the detector's threshold: full-range on the 1080p street clip found faces in 28 of the SSD's 28
# frames (29 of 29 faces) instead of 27 (25); the short-range model and the FF++ clips unchanged.
CANDIDATE_CONF = 0.3


def _session(path: Path, threads: int | None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or max(1, min(2, os.cpu_count() or 1))
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # No spinning: the classifier runs right after, on the same cores.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated exception types
        raise ModelError(f"cannot load face detector {display_name(path)}: {exc}") from exc


def _resize(image_bgr: np.ndarray, w: int, h: int) -> np.ndarray:
    """Anti-aliased downscale at a fraction of INTER_AREA's cost on big frames (1080p -> 128 px:
    1.4 ms), by a bilinear step to twice the size first; bilinear alone when enlarging."""
    ih, iw = image_bgr.shape[:2]
    if iw <= 2 * w or ih <= 2 * h:
        interp = cv2.INTER_AREA if iw > w else cv2.INTER_LINEAR
        return cv2.resize(image_bgr, (w, h), interpolation=interp)
    half = cv2.resize(image_bgr, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(half, (w, h), interpolation=cv2.INTER_AREA)


class BlazeFaceDetector:
    """BlazeFace (``"blazeface"``: short-range 128 px; ``"blazeface-full"``: full-range 192 px).

    Returns SSD-like boxes (mapped, clipped to the frame) above ``conf_threshold``, largest first.
    ``map_to_ssd=False`` gives BlazeFace's own boxes (to measure the mapping); ``refine_scale=None``
    turns off the refinement of whole-frame passes (see :meth:`detect_windows`).
    """

    grid = 1  # windows are resampled, so any alignment sees the same pixels

    def __init__(self, name: str = DEFAULT_BLAZEFACE, conf_threshold: float = 0.5,
                 threads: int | None = None, min_size: int = 8, map_to_ssd: bool = True,
                 root: Path | None = None, refine_scale: float | None = REFINE_SCALE,
                 candidate_conf: float | None = CANDIDATE_CONF) -> None:
        if not 0.0 < conf_threshold <= 1.0:  # also False for NaN
            raise ValueError(f"conf_threshold must be in (0, 1], got {conf_threshold}")
        self.spec, self.path = locate_blazeface(name, root)
        self.name = name
        self.session = _session(self.path, threads)
        inp = self.session.get_inputs()[0]
        self.input_size = n = self.spec.anchors.input_size
        if list(inp.shape) != [1, n, n, 3]:
            raise ModelError(f"{display_name(self.path)} takes {inp.shape}, expected [1, {n}, {n}, 3]")
        self._input_name = inp.name
        self.anchors = make_anchors(self.spec.anchors)
        self.conf_threshold = float(conf_threshold)
        self.min_size = int(min_size)
        self.mapping = self.spec.mapping if map_to_ssd else BoxMapping()
        self.refine_scale = refine_scale
        # Whole-frame candidates down to this score are looked at zoomed in (kept if confirmed).
        self.candidate_conf = self.conf_threshold if candidate_conf is None else \
            min(float(candidate_conf), self.conf_threshold)
        self._rgb = np.empty((1, n, n, 3), np.float32)

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """The space track windows are planned in: frame pixels (each window is resampled)."""
        return int(width), int(height)

    def _letterbox(self, region_bgr: np.ndarray) -> tuple[np.ndarray, float, int, int]:
        """The region centred in the square input (black bars); (input, scale, pad_x, pad_y)."""
        n = self.input_size
        h, w = region_bgr.shape[:2]
        s = n / max(h, w)
        rw, rh = max(1, min(n, round(w * s))), max(1, min(n, round(h * s)))
        px, py = (n - rw) // 2, (n - rh) // 2
        out = np.zeros((n, n, 3), np.uint8)
        out[py:py + rh, px:px + rw] = _resize(region_bgr, rw, rh)
        return out, s, px, py

    def network_input(self, image_bgr: np.ndarray) -> np.ndarray:
        """The whole frame letterboxed into the model's square input (BGR uint8): a full pass's input."""
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise ValueError("detect() expects an HxWx3 BGR image")
        return self._letterbox(image_bgr)[0]

    def detect(self, image_bgr: np.ndarray) -> FaceDetections:
        """Faces in a BGR uint8 image, in frame pixels, largest first."""
        return self.detect_windows(image_bgr, [None])[0]

    def detect_windows(self, image_bgr: np.ndarray,
                       windows: list[tuple[int, int, int, int] | None],
                       net_input: np.ndarray | None = None) -> list[FaceDetections]:
        """Faces inside each window (frame pixels; ``None``: the whole frame, whose letterboxed
        input ``net_input`` may be given). Boxes in frame pixels, clipped, largest first.

        A whole-frame pass is refined: each face found is looked at again in a square window of
        ``refine_scale`` x its box, where it is several times larger than in the whole frame
        (a 720p talking head is ~17 px in a 128 px input) and its box much more precise.
        """
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise ValueError("detect() expects an HxWx3 BGR image")
        h, w = image_bgr.shape[:2]
        out = []
        for window in windows:
            if window is None:
                boxed = self._letterbox(image_bgr)[0] if net_input is None else net_input
                floor = self.candidate_conf if self.refine_scale else self.conf_threshold
                xyxy, score = self._forward(boxed, *self._geometry(w, h), (0, 0), floor)
                if self.refine_scale:
                    xyxy, score = self._refine(image_bgr, xyxy, score)
            else:
                xyxy, score = self._window(image_bgr, window)
            out.append(self._finish(xyxy, score, (w, h)))
        return out

    def _window(self, image_bgr: np.ndarray, window) -> tuple[np.ndarray, np.ndarray]:
        """Raw boxes (frame pixels) and scores inside one window of the frame."""
        h, w = image_bgr.shape[:2]
        x1, y1, x2, y2 = (int(v) for v in window)
        x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if x2 - x1 < 16 or y2 - y1 < 16:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        boxed, s, px, py = self._letterbox(image_bgr[y1:y2, x1:x2])
        return self._forward(boxed, s, px, py, (x1, y1))

    def _refine(self, image_bgr: np.ndarray, xyxy: np.ndarray,
                score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each box replaced by the best box found in its zoomed window whose centre lies inside
        it (kept as it was when there is none, if its score passes the threshold); boxes that end
        up on one face merge (the first, higher-scored, stays)."""
        boxes, scores = [], []
        for box, sc in zip(xyxy, score, strict=True):
            c = (box[:2] + box[2:]) / 2
            half = float(max(box[2] - box[0], box[3] - box[1])) * self.refine_scale / 2
            found, fs = self._window(image_bgr, (int(np.floor(c[0] - half)), int(np.floor(c[1] - half)),
                                                 int(np.ceil(c[0] + half)), int(np.ceil(c[1] + half))))
            centres = (found[:, :2] + found[:, 2:]) / 2
            inside = np.flatnonzero(((centres >= box[:2]) & (centres <= box[2:])).all(axis=1))
            if len(inside):  # the coarse box is loose (~12 px faces): match by centre, not IoU
                best = inside[int(np.argmax(fs[inside]))]
                box, sc = found[best], fs[best]
            if sc < self.conf_threshold:  # a candidate its zoomed window did not confirm
                continue
            if not any(box_iou(box, np.array(boxes).reshape(-1, 4)) > 0.5):
                boxes.append(box)
                scores.append(sc)
        return np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32)

    def _geometry(self, w: int, h: int) -> tuple[float, int, int]:
        """Scale and padding of a whole-frame letterbox (as :meth:`_letterbox` makes it)."""
        n = self.input_size
        s = n / max(h, w)
        rw, rh = max(1, min(n, round(w * s))), max(1, min(n, round(h * s)))
        return s, (n - rw) // 2, (n - rh) // 2

    def _forward(self, boxed: np.ndarray, s: float, px: int, py: int, offset: tuple[int, int],
                 min_score: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One model pass over a letterboxed input: raw BlazeFace boxes in frame pixels, scores."""
        n = self.input_size
        if boxed.shape != (n, n, 3):
            raise ValueError(f"net_input is {boxed.shape}, expected ({n}, {n}, 3)")
        rgb = cv2.cvtColor(boxed, cv2.COLOR_BGR2RGB)
        np.multiply(rgb, 1.0 / 127.5, out=self._rgb[0], casting="unsafe")
        self._rgb -= 1.0
        regressors, logits = self.session.run(None, {self._input_name: self._rgb})
        boxes, scores = detect_normalised(regressors[0], logits[0], self.anchors, n,
                                          self.conf_threshold if min_score is None else min_score)
        pad = np.array([px, py, px, py], np.float32)
        xyxy = (boxes * n - pad) / s + np.array([*offset, *offset], np.float32)
        return xyxy.astype(np.float32), scores

    def _finish(self, xyxy: np.ndarray, score: np.ndarray,
                frame_wh: tuple[int, int]) -> FaceDetections:
        """Raw boxes -> SSD-like boxes, clipped to the frame, tiny ones dropped, largest first."""
        if not len(score):
            return FaceDetections.empty()
        fw, fh = frame_wh
        xyxy = np.clip(self.mapping.apply(xyxy), 0.0, np.array([fw, fh, fw, fh], np.float32))
        wh = xyxy[:, 2:] - xyxy[:, :2]
        keep = (wh[:, 0] >= self.min_size) & (wh[:, 1] >= self.min_size)
        faces = FaceDetections(xyxy[keep], score[keep])
        return faces[np.argsort(-faces.area, kind="stable")]
