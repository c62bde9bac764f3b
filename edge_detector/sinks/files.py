"""Per-frame file outputs that are valid at every moment: the CSV is flushed per frame, the video
is finalised in ``finish()`` (also on Ctrl-C); and the atomic JSON/image writers."""

from __future__ import annotations

import csv
import io
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

from .. import atomic
from ..contract import ModelContract
from ..csvsafe import escape_cell, escape_row
from ..cvfiles import video_writer
from ..errors import SinkError
from ..fsnames import display_name
from ..results import RunResult
from ..types import FrameResult, VideoInfo
from .base import Sink, free_bytes, write_error

log = logging.getLogger(__name__)

CSV_BASE_COLUMNS = (
    "frame", "time_s", "face", "track", "x1", "y1", "x2", "y2", "det_conf",
    "p_fake", "label", "method", "method_prob",
)
CSV_TAIL_COLUMNS = ("analysed", "detect_ms", "classify_ms")
NO_FACE_LABEL = "NO_FACE"
# OpenCV's FFmpeg writes the video in 256 KiB bursts (measured: the file grows in 262144-byte steps,
# whatever the frame size). A burst that meets a full disk leaves the muxer broken and the file
# without its index (moov atom), unplayable: so the writer stops while the next burst still fits
# (LOW_SPACE_BYTES free), and a reserve file, deleted just before finalising, holds room for the
# last burst plus the index. Found on a real 400 KiB tmpfs, which injected ENOSPC never showed.
AVIO_BURST_BYTES = 256 * 1024
LOW_SPACE_BYTES = AVIO_BURST_BYTES + 64 * 1024
# (suffix, fourcc) tried in order; a browser page asks for VP8 in WebM first (Chromium plays it, not mp4v).
VIDEO_FORMATS = ((".mp4", "mp4v"), (".avi", "MJPG"))
WEB_VIDEO_FORMATS = ((".webm", "VP80"), *VIDEO_FORMATS)


def csv_columns(class_names: tuple[str, ...]) -> list[str]:
    """The fixed per-frame CSV header: one ``p_<class>`` column per model class."""
    return [*CSV_BASE_COLUMNS, *(f"p_{c}" for c in class_names), *CSV_TAIL_COLUMNS]


class CsvWriter:
    """One row per face (one ``NO_FACE`` row for a frame without faces), written per frame.

    A frame's rows go to the file in one unbuffered write; if that fails (disk full) the file is
    cut back to the last whole frame, so a reader never sees a torn row.
    """

    def __init__(self, path: str | os.PathLike, class_names: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.class_names = class_names
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf)
        self._fd = -1
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as exc:
            raise write_error(self.path, exc) from exc
        self._good = 0
        self.rows = 0
        self._writer.writerow(escape_row(csv_columns(class_names)))
        try:
            self._commit()
        except SinkError:
            self.close()
            raise

    def _commit(self) -> None:
        data = self._buf.getvalue().encode("utf-8", "backslashreplace")
        self._buf.seek(0)
        self._buf.truncate()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        except BaseException as exc:  # disk full, or Ctrl-C between two partial writes
            try:
                os.ftruncate(self._fd, self._good)
                os.lseek(self._fd, self._good, os.SEEK_SET)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise write_error(self.path, exc) from exc
            raise
        self._good += len(data)

    def __enter__(self) -> CsvWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, r: FrameResult) -> None:
        f = r.frame
        t = r.timings_ms
        tail = [int(r.analysed), _ms(t.get("detect_ms")), _ms(t.get("classify_ms"))]
        if not len(r.faces):  # face .. p_fake blank, label NO_FACE, method .. p_<class> blank
            probs_blank = [""] * len(self.class_names)
            row = [f.index, f"{f.time_s:.3f}", *[""] * 8, NO_FACE_LABEL, "", "", *probs_blank]
            self._writer.writerow(escape_row([*row, *tail]))
        for face in r.faces:
            self._writer.writerow([  # numbers as formatted here; only the text cells are escaped
                f.index, f"{f.time_s:.3f}", face.index, face.track, *(f"{c:.1f}" for c in face.xyxy),
                f"{face.det_score:.4f}", f"{face.p_fake:.6f}", escape_cell(face.label),
                escape_cell(face.method), f"{face.method_prob:.6f}", *(f"{p:.6f}" for p in face.probs),
                *tail,
            ])
        n = max(len(r.faces), 1)
        self._commit()
        self.rows += n

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


def _ms(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


class VideoWriter:
    """Annotated video at the source FPS, encoded in a background thread.

    ``mp4v`` in ``.mp4`` first; if that encoder cannot open, ``MJPG`` in ``.avi``. H.264 is not
    available in the OpenCV wheels, and a writer that fails to open fails silently, so
    ``isOpened()`` is always checked. OpenCV does not report failed writes either: free space is
    watched instead, and a reserve file keeps room to finalise the file when the disk fills up.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size_wh: tuple[int, int],
                 frames_hint: int | None = None,
                 formats: tuple[tuple[str, str], ...] = VIDEO_FORMATS) -> None:
        path = Path(path)
        fps = fps if fps and math.isfinite(fps) and fps > 0 else 30.0
        self._writer = None
        # the last burst, plus the index: ~16 bytes a frame (8 MiB covers ~6 h at 25 fps)
        reserve = AVIO_BURST_BYTES + min(max(16 * (frames_hint or 65536), 64 * 1024), 8 << 20)
        self._reserve = path.with_name(f".{path.name}.reserve")
        try:
            self._reserve.write_bytes(b"\0" * reserve)
        except OSError as exc:
            self._reserve.unlink(missing_ok=True)
            raise write_error(path, exc) from exc
        for suffix, fourcc in formats:
            candidate = path.with_suffix(suffix)
            w = video_writer(candidate, fourcc, fps, size_wh)
            if w.isOpened():
                self._writer, self.path, self.fourcc = w, candidate, fourcc
                break
            w.release()
            log.warning("video encoder %s cannot write %s", fourcc, display_name(candidate))
        if self._writer is None:
            self._reserve.unlink(missing_ok=True)
            tried = " and ".join(f for _, f in formats)
            raise SinkError(f"cannot open a video writer for {display_name(path)} (tried {tried})")
        self.size_wh = size_wh
        self.frames = 0
        self.encode_ms = 0.0
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name="encode", daemon=True)
        self._thread.start()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        while (image := self._queue.get()) is not None:
            if self._error:
                continue  # stop writing; close() finalises what is there
            t0 = time.perf_counter()
            try:
                if free_bytes(self.path.parent) < LOW_SPACE_BYTES:  # statvfs: microseconds
                    self._error = "disk full"
                    continue
                self._writer.write(image)
            except (cv2.error, OSError) as exc:
                self._error = str(exc)
            self.encode_ms += (time.perf_counter() - t0) * 1e3
            self.frames += 1

    def write(self, image_bgr: np.ndarray) -> None:
        if self._error:
            raise SinkError(f"cannot write {display_name(self.path)}: {self._error}")
        if (image_bgr.shape[1], image_bgr.shape[0]) != self.size_wh:
            image_bgr = cv2.resize(image_bgr, self.size_wh, interpolation=cv2.INTER_AREA)
        self._queue.put(image_bgr)

    def close(self) -> None:
        """Finish encoding and write the index; the reserve goes first to make room for it."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._reserve.unlink(missing_ok=True)
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if self.frames == 0:  # an mp4 without frames does not play: leave none behind
                try:
                    self.path.unlink(missing_ok=True)
                except OSError:
                    pass


class CsvSink(Sink):
    """``frames.csv``: one row per face and frame, whole frames on disk at every moment."""

    name = "csv"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.writer: CsvWriter | None = None

    def open(self, info: VideoInfo, contract: ModelContract) -> None:
        self.writer = CsvWriter(self.path, contract.class_names)

    def write(self, result: FrameResult) -> None:
        self.writer.write(result)

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def close(self, run: RunResult) -> None:
        run.outputs[self.name] = self.path


class VideoSink(Sink):
    """``annotated.mp4`` (or ``.avi``) at the source's size and FPS; playable after ``finish``.

    The writer's frame rate is constant, so each frame is placed by its timestamp: a frame is
    repeated over a gap and skipped where frames come faster than the rate (variable-frame-rate
    sources), and the video plays in step with the source. A gap longer than ``MAX_GAP_S`` is
    shortened to it (a hostile timestamp must not write hours of copies).
    """

    name = "video"
    needs_overlay = True
    MAX_GAP_S = 10.0

    def __init__(self, path: str | os.PathLike, max_frames: int | None = None) -> None:
        self.path = Path(path)
        self.max_frames = max_frames
        self.writer: VideoWriter | None = None
        self.slots = 0  # frames written, each 1/fps of output time
        self.fps = 30.0
        self.live = False

    def files(self) -> list[Path]:
        return [self.path.with_suffix(".mp4"), self.path.with_suffix(".avi")]  # MJPG fallback

    def open(self, info: VideoInfo, contract: ModelContract) -> None:
        self.writer = VideoWriter(self.path, info.fps, (info.width, info.height),
                                  frames_hint=self.max_frames or info.frame_count)
        self.path = self.writer.path  # .avi when mp4v could not open
        self.set_timing(info)

    def set_timing(self, info: VideoInfo) -> None:
        """The writer's rate and whether frames are placed by timestamp (subclasses' open too)."""
        self.fps = info.fps if info.fps and math.isfinite(info.fps) and info.fps > 0 else 30.0
        self.live = info.live  # live frames are written as they come (their times are arrival)

    def write(self, result: FrameResult) -> None:
        n = 1
        if not self.live:  # slot k covers [k, k+1) / fps of source time
            k = int(math.floor(result.frame.time_s * self.fps + 0.5))
            n = min(k + 1 - self.slots, int(self.MAX_GAP_S * self.fps)) if self.slots else 1
        for _ in range(max(n, 0)):
            self.writer.write(result.frame.image_bgr)
            self.slots += 1

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def totals_ms(self) -> dict[str, float]:
        return {"encode_ms": self.writer.encode_ms} if self.writer is not None else {}

    def close(self, run: RunResult) -> None:
        if self.writer is not None and self.writer.frames:  # no frame: no file was kept
            run.outputs[self.name] = self.path


def write_image(path: str | os.PathLike, image_bgr: np.ndarray, ext: str = ".jpg",
                params: list[int] | None = None) -> Path:
    """Encode in memory and write atomically; every failure is a SinkError (cv2.imwrite only
    returns False, and cannot take a name that is not UTF-8)."""
    path = Path(path)
    ok, data = cv2.imencode(ext, image_bgr, params or [])
    if not ok:
        raise SinkError(f"cannot encode {display_name(path)}")
    return _replace_with(path, data.tobytes())


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
    text = json.dumps(_jsonable(data), indent=2, allow_nan=False)
    return _replace_with(Path(path), text.encode("utf-8"))


def _replace_with(path: Path, data: bytes) -> Path:
    """:func:`atomic.write_bytes`, every failure one SinkError."""
    try:
        return atomic.write_bytes(path, data)
    except OSError as exc:
        raise write_error(path, exc) from exc
