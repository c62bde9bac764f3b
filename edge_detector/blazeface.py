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

from .blazeface_decode import detect_normalised, make_anchors
from .blazeface_files import BoxMapping, locate_blazeface
from .errors import ModelError
from .fsnames import display_name
from .types import FaceDetections

DEFAULT_BLAZEFACE = "blazeface"


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
    ``map_to_ssd=False`` gives BlazeFace's own boxes (to measure the mapping).
    """

    grid = 1  # windows are resampled, so any alignment sees the same pixels

    def __init__(self, name: str = DEFAULT_BLAZEFACE, conf_threshold: float = 0.5,
                 threads: int | None = None, min_size: int = 8, map_to_ssd: bool = True,
                 root: Path | None = None) -> None:
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
        input ``net_input`` may be given). Boxes in frame pixels, clipped, largest first."""
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise ValueError("detect() expects an HxWx3 BGR image")
        h, w = image_bgr.shape[:2]
        out = []
        for window in windows:
            x1, y1, x2, y2 = (0, 0, w, h) if window is None else (int(v) for v in window)
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
            if x2 - x1 < 16 or y2 - y1 < 16:
                out.append(FaceDetections.empty())
                continue
            if window is None:
                boxed, s, px, py = self._letterbox(image_bgr) if net_input is None else \
                    (net_input, *self._geometry(w, h))
            else:
                boxed, s, px, py = self._letterbox(image_bgr[y1:y2, x1:x2])
            out.append(self._forward(boxed, s, px, py, (x1, y1), (w, h)))
        return out

    def _geometry(self, w: int, h: int) -> tuple[float, int, int]:
        """Scale and padding of a whole-frame letterbox (as :meth:`_letterbox` makes it)."""
        n = self.input_size
        s = n / max(h, w)
        rw, rh = max(1, min(n, round(w * s))), max(1, min(n, round(h * s)))
        return s, (n - rw) // 2, (n - rh) // 2

    def _forward(self, boxed: np.ndarray, s: float, px: int, py: int, offset: tuple[int, int],
                 frame_wh: tuple[int, int]) -> FaceDetections:
        n = self.input_size
        if boxed.shape != (n, n, 3):
            raise ValueError(f"net_input is {boxed.shape}, expected ({n}, {n}, 3)")
        rgb = cv2.cvtColor(boxed, cv2.COLOR_BGR2RGB)
        np.multiply(rgb, 1.0 / 127.5, out=self._rgb[0], casting="unsafe")
        self._rgb -= 1.0
        regressors, logits = self.session.run(None, {self._input_name: self._rgb})
        boxes, scores = detect_normalised(regressors[0], logits[0], self.anchors, n,
                                          self.conf_threshold)
        if not len(scores):
            return FaceDetections.empty()
        pad = np.array([px, py, px, py], np.float32)
        xyxy = (boxes * n - pad) / s + np.array([*offset, *offset], np.float32)
        xyxy = self.mapping.apply(xyxy)
        fw, fh = frame_wh
        xyxy = np.clip(xyxy, 0.0, np.array([fw, fh, fw, fh], np.float32))
        wh = xyxy[:, 2:] - xyxy[:, :2]
        keep = (wh[:, 0] >= self.min_size) & (wh[:, 1] >= self.min_size)
        faces = FaceDetections(xyxy[keep], scores[keep])
        return faces[np.argsort(-faces.area, kind="stable")]
