"""Outputs that are valid at every moment: the CSV is flushed per frame, the video is finalised in
``close()`` (also on Ctrl-C), the JSON summary is replaced atomically."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import SinkError
from .types import FrameResult

log = logging.getLogger(__name__)

CSV_BASE_COLUMNS = (
    "frame", "time_s", "face", "track", "x1", "y1", "x2", "y2", "det_conf",
    "p_fake", "label", "method", "method_prob",
)
CSV_TAIL_COLUMNS = ("analysed", "detect_ms", "classify_ms")
NO_FACE_LABEL = "NO_FACE"


def csv_columns(class_names: tuple[str, ...]) -> list[str]:
    """The fixed per-frame CSV header: one ``p_<class>`` column per model class."""
    return [*CSV_BASE_COLUMNS, *(f"p_{c}" for c in class_names), *CSV_TAIL_COLUMNS]


class CsvSink:
    """One row per face (one ``NO_FACE`` row for a frame without faces), flushed per frame."""

    def __init__(self, path: str | os.PathLike, class_names: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.class_names = class_names
        try:
            self._fh = open(self.path, "w", newline="", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._writer = csv.writer(self._fh)
        self._writer.writerow(csv_columns(class_names))
        self._fh.flush()
        self.rows = 0

    def __enter__(self) -> CsvSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, r: FrameResult) -> None:
        f = r.frame
        t = r.timings_ms
        tail = [int(r.analysed), _ms(t.get("detect_ms")), _ms(t.get("classify_ms"))]
        if not r.verdicts:  # face .. p_fake blank, label NO_FACE, method .. p_<class> blank
            probs_blank = [""] * len(self.class_names)
            row = [f.index, f"{f.time_s:.3f}", *[""] * 8, NO_FACE_LABEL, "", "", *probs_blank]
            self._writer.writerow([*row, *tail])
            self.rows += 1
        for i, (box, score, v) in enumerate(zip(r.faces.xyxy, r.faces.score, r.verdicts, strict=True)):
            self._writer.writerow([
                f.index, f"{f.time_s:.3f}", i, v.track, *(f"{c:.1f}" for c in box),
                f"{score:.4f}", f"{v.p_fake:.6f}", v.label, v.method, f"{v.method_prob:.6f}",
                *(f"{p:.6f}" for p in v.probs), *tail,
            ])
            self.rows += 1
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def _ms(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


class VideoSink:
    """Annotated video at the source FPS, encoded in a background thread.

    ``mp4v`` in ``.mp4`` first; if that encoder cannot open, ``MJPG`` in ``.avi``. H.264 is not
    available in the OpenCV wheels, and a writer that fails to open fails silently, so
    ``isOpened()`` is always checked.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size_wh: tuple[int, int]) -> None:
        path = Path(path)
        fps = fps if fps and math.isfinite(fps) and fps > 0 else 30.0
        self._writer = None
        for suffix, fourcc in ((".mp4", "mp4v"), (".avi", "MJPG")):
            candidate = path.with_suffix(suffix)
            w = cv2.VideoWriter(str(candidate), cv2.VideoWriter_fourcc(*fourcc), fps, size_wh)
            if w.isOpened():
                self._writer, self.path, self.fourcc = w, candidate, fourcc
                break
            w.release()
            log.warning("video encoder %s cannot write %s", fourcc, candidate)
        if self._writer is None:
            raise SinkError(f"cannot open a video writer for {path} (tried mp4v and MJPG)")
        self.size_wh = size_wh
        self.frames = 0
        self.encode_ms = 0.0
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name="encode", daemon=True)
        self._thread.start()

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        while (image := self._queue.get()) is not None:
            t0 = time.perf_counter()
            try:
                self._writer.write(image)
            except cv2.error as exc:
                self._error = str(exc)
            self.encode_ms += (time.perf_counter() - t0) * 1e3
            self.frames += 1

    def write(self, image_bgr: np.ndarray) -> None:
        if self._error:
            raise SinkError(f"writing {self.path} failed: {self._error}")
        if (image_bgr.shape[1], image_bgr.shape[0]) != self.size_wh:
            image_bgr = cv2.resize(image_bgr, self.size_wh, interpolation=cv2.INTER_AREA)
        self._queue.put(image_bgr)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._writer.release()


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Atomic replace, so a reader never sees half a summary."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(json.dumps(_jsonable(data), indent=2, allow_nan=False), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
