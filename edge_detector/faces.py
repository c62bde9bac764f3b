"""Face detection (OpenCV DNN ResNet-10 SSD) and the ONE face-crop implementation.

The ETL (training crops) and the runtime (inference crops) both call :func:`crop_face`, so the
geometry, interpolation and colour order of a crop are identical in training and serving.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from .cvfiles import caffe_net, captured_stderr
from .errors import ModelError
from .fsnames import display_name
from .geometry import DEFAULT_MARGIN, CropGeometry, as_geometry
from .types import FaceDetections
from .weights import locate_detector_files

SSD_MEAN_BGR = (104.0, 177.0, 123.0)
# The SSD's coarsest anchor step that faces use (prior steps 8, 16, 32): windows cut at multiples
# of it see the same anchors, and the same pixels, as a full pass.
SSD_GRID = 32
# Networks kept, one per input shape: OpenCV re-plans a net whenever its input shape changes,
# which cost ~5 ms per window and ~15 ms per full pass when one net served every shape.
NET_CACHE = 8


@dataclass(frozen=True)
class CropBox:
    """Integer crop window ``[x1, x2) x [y1, y2)`` inside a frame."""

    x1: int
    y1: int
    x2: int
    y2: int


def _read_bytes(path: str | os.PathLike) -> np.ndarray:
    """A file as the uint8 buffer OpenCV's readers take (any path Python can open)."""
    with open(path, "rb") as fh:
        return np.frombuffer(fh.read(), np.uint8)


def _blame(files, config: np.ndarray, exc: cv2.error) -> str:
    """Which file broke the detector: the prototxt alone is parsed first (it needs no weights)."""
    try:
        caffe_net(config, None)
    except cv2.error:
        return (f"cannot load face detector config {display_name(files.config)}: not a Caffe "
                "prototxt (text-format NetParameter)")
    why = "not a Caffe model" if "Binary" in str(exc) else "its layers do not match the config"
    return f"cannot load face detector weights {display_name(files.model)}: {why}"


class FaceDetector:
    """ResNet-10 SSD face detector; returns faces above ``conf_threshold``, largest first."""

    name = "ssd"
    grid = SSD_GRID  # track windows cut on this grid keep the full pass's anchors

    def __init__(
        self,
        conf_threshold: float = 0.5,
        input_size: int = 300,
        model_path: str | os.PathLike | None = None,
        config_path: str | os.PathLike | None = None,
        min_size: int = 8,
        keep_aspect: bool = False,
        model_sha256: str | None = None,
        config_sha256: str | None = None,
    ) -> None:
        if not 0.0 < conf_threshold <= 1.0:  # also False for NaN
            raise ValueError(f"conf_threshold must be in (0, 1], got {conf_threshold}")
        if not 64 <= input_size <= 2048:
            raise ValueError(f"detector input size must be in [64, 2048], got {input_size}")
        files = locate_detector_files(model_path, config_path, model_sha256, config_sha256)
        self._config_bytes, self._model_bytes = _read_bytes(files.config), _read_bytes(files.model)
        self._nets: OrderedDict[tuple[int, int], cv2.dnn.Net] = OrderedDict()
        try:  # OpenCV builds layers lazily: one pass on a blank input proves the files work
            net = self._net_for((int(input_size), int(input_size)))
            with captured_stderr():
                net.setInput(cv2.dnn.blobFromImage(np.zeros((int(input_size),) * 2 + (3,), np.uint8)))
                net.forward()
        except cv2.error as exc:
            self._nets.clear()
            raise ModelError(_blame(files, self._config_bytes, exc)) from exc
        self.conf_threshold = float(conf_threshold)
        self.input_size = int(input_size)
        self.min_size = int(min_size)
        self.keep_aspect = bool(keep_aspect)
        self.files = files

    def _net_for(self, shape: tuple[int, int]) -> cv2.dnn.Net:
        """The net planned for input ``(w, h)``; least recently used ones beyond NET_CACHE go."""
        net = self._nets.get(shape)
        if net is None:
            net = caffe_net(self._config_bytes, self._model_bytes)
            net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
            self._nets[shape] = net
            while len(self._nets) > NET_CACHE:
                self._nets.popitem(last=False)
        self._nets.move_to_end(shape)
        return net

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """(w, h) fed to the SSD: ``input_size``² pixels, at the frame's aspect ratio when asked.

        The SSD was trained on square 300x300 inputs; keeping a 16:9 frame's aspect ratio at the
        same pixel count (400x225) costs the same. On the fixtures it found more faces in a crowd
        (group selfie 6 vs 5) and fewer on a dim stage (222 vs 237 of 275 frames), so it is opt-in.
        """
        if not self.keep_aspect:
            return self.input_size, self.input_size
        ratio = min(max(width / max(height, 1), 0.25), 4.0)
        return (max(32, int(round(self.input_size * ratio**0.5))),
                max(32, int(round(self.input_size / ratio**0.5))))

    def detect(self, image_bgr: np.ndarray) -> FaceDetections:
        """Detect faces in a BGR uint8 image; boxes are clipped to the image, largest first."""
        return self.detect_windows(image_bgr, [None])[0]

    def network_input(self, image_bgr: np.ndarray) -> np.ndarray:
        """The frame resized to :meth:`network_size`: what a full pass feeds the SSD."""
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise ValueError("detect() expects an HxWx3 BGR image")
        h, w = image_bgr.shape[:2]
        return cv2.resize(image_bgr, self.network_size(w, h), interpolation=cv2.INTER_LINEAR)

    def detect_windows(
        self, image_bgr: np.ndarray, windows: list[tuple[int, int, int, int] | None],
        net_input: np.ndarray | None = None,
    ) -> list[FaceDetections]:
        """Faces inside each window of the full pass's network input (``None``: all of it).

        Windows are in network-input pixels (the frame resized to :meth:`network_size`), so a face
        keeps the pixel size it has in a full pass; cut at multiples of :data:`SSD_GRID` they also
        keep the SSD's anchor grid, and the boxes match a full pass's. ``net_input``: that resized
        frame when the caller already made it. Boxes come back in frame pixels, clipped to the
        frame, largest first.
        """
        net = self.network_input(image_bgr) if net_input is None else net_input
        h, w = image_bgr.shape[:2]
        nw, nh = self.network_size(w, h)
        if net.shape[:2] != (nh, nw):
            raise ValueError(f"net_input is {net.shape[1]}x{net.shape[0]}, expected {nw}x{nh}")
        scale = np.array([w / nw, h / nh, w / nw, h / nh], np.float32)
        limit = np.array([nw, nh, nw, nh], np.float32)
        out = []
        for window in windows:
            x1, y1, x2, y2 = (0, 0, nw, nh) if window is None else (int(v) for v in window)
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, nw), min(y2, nh)
            if x2 - x1 < 16 or y2 - y1 < 16:
                out.append(FaceDetections.empty())
                continue
            out.append(self._forward(net[y1:y2, x1:x2], (x1, y1), limit, scale))
        return out

    def _forward(self, patch: np.ndarray, offset: tuple[int, int], limit: np.ndarray,
                 scale: np.ndarray) -> FaceDetections:
        """One SSD pass over a patch of the network input; boxes -> frame pixels."""
        ph, pw = patch.shape[:2]
        net = self._net_for((pw, ph))
        net.setInput(cv2.dnn.blobFromImage(patch, 1.0, (pw, ph), SSD_MEAN_BGR))
        try:
            out = net.forward().reshape(-1, 7)
        except (cv2.error, ValueError) as exc:  # a detector file that breaks on some input shape
            raise ModelError(f"face detector failed on a {pw}x{ph} input: "
                             f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}") from exc
        out = out[out[:, 2] >= self.conf_threshold]
        if len(out) == 0:
            return FaceDetections.empty()
        net_xyxy = out[:, 3:7] * np.array([pw, ph, pw, ph], np.float32)
        net_xyxy += np.array([*offset, *offset], np.float32)
        xyxy = np.clip(net_xyxy, 0.0, limit) * scale
        wh = xyxy[:, 2:] - xyxy[:, :2]
        keep = (wh[:, 0] >= self.min_size) & (wh[:, 1] >= self.min_size)
        faces = FaceDetections(xyxy[keep], out[keep, 2])
        return faces[np.argsort(-faces.area, kind="stable")]


def crop_box(
    box_xyxy: np.ndarray, frame_hw: tuple[int, int],
    geometry: CropGeometry | float = DEFAULT_MARGIN,
) -> CropBox:
    """The crop window of ``geometry`` (or a bare margin) around a box, shifted to fit the frame.

    Shifting (instead of clipping or padding) keeps the window's shape, so a square crop never
    distorts the face; a window larger than the frame shrinks to fit (a square one to the frame's
    shorter side).
    """
    g = as_geometry(geometry)
    fh, fw = frame_hw
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2.0 + g.shift_x * w, (y1 + y2) / 2.0 + g.shift_y * h
    if g.square:
        side = int(round(min(max(max(w, h) * g.scale, 1.0), fw, fh)))
        cw = ch = side
    else:
        cw = int(round(min(max(w * g.scale, 1.0), fw)))
        ch = int(round(min(max(h * g.scale, 1.0), fh)))
    left = min(max(int(round(cx - cw / 2.0)), 0), fw - cw)
    top = min(max(int(round(cy - ch / 2.0)), 0), fh - ch)
    return CropBox(left, top, left + cw, top + ch)


def crop_face(
    image_bgr: np.ndarray, box_xyxy: np.ndarray, size: int,
    geometry: CropGeometry | float = DEFAULT_MARGIN,
) -> np.ndarray:
    """Face crop resized to ``size`` x ``size`` (BGR uint8, INTER_AREA)."""
    b = crop_box(box_xyxy, image_bgr.shape[:2], geometry)
    patch = image_bgr[b.y1 : b.y2, b.x1 : b.x2]
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)


def crop_faces(
    image_bgr: np.ndarray,
    faces: FaceDetections,
    size: int,
    geometry: CropGeometry | float = DEFAULT_MARGIN,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """All faces of a frame as one (n, size, size, 3) BGR uint8 batch, optionally into ``out``."""
    n = len(faces)
    if out is None or out.shape[0] < n or out.shape[1:] != (size, size, 3):
        out = np.empty((n, size, size, 3), np.uint8)
    g = as_geometry(geometry)
    for i in range(n):
        out[i] = crop_face(image_bgr, faces.xyxy[i], size, g)
    return out[:n]
