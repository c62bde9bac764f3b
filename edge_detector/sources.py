"""Frame sources: video files, images, webcams and stream URLs behind one iterator interface.

Files are decoded in a background thread (OpenCV releases the GIL) so decoding overlaps with
inference. Live sources keep only the latest frame: when analysis is slower than the camera, old
frames are dropped instead of queueing up, so the output never falls behind.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .cvfiles import check_pixels, read_image, video_capture
from .errors import LimitError, SourceError
from .fsnames import display_name
from .types import Frame, VideoInfo

log = logging.getLogger(__name__)

# The one list of accepted inputs, for single files and folder scans alike (README "Accepted inputs").
# Images are decoded by OpenCV; everything else by OpenCV's FFmpeg (GIF and HEIC/HEIF as videos:
# FFmpeg reads every frame of an animated GIF and the images of a HEIF container, where it can).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
                            ".flv", ".ts", ".mts", ".m2ts", ".3gp", ".3g2", ".ogv", ".gif", ".heic",
                            ".heif"})
ACCEPTED_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES


def is_accepted(path: str | Path) -> bool:
    """Whether a file's suffix is on the accepted list (case-insensitive)."""
    return Path(path).suffix.lower() in ACCEPTED_SUFFIXES


def accepted_list() -> str:
    return ("videos " + " ".join(sorted(VIDEO_SUFFIXES)) + "; images " + " ".join(sorted(IMAGE_SUFFIXES)))
DEFAULT_LIVE_FPS = 30.0
DEFAULT_READ_TIMEOUT = 10.0  # seconds without a frame before a stream counts as stalled
_END = object()


class FrameSource:
    """Base class: a context manager that yields :class:`Frame` objects and reports drops."""

    info: VideoInfo
    dropped: int = 0

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError


def _valid_fps(fps: float) -> float | None:
    return float(fps) if fps and math.isfinite(fps) and 1.0 <= fps <= 1000.0 else None


def _check_file(path: Path) -> None:
    name = display_name(path)
    if not path.exists():
        raise SourceError(f"no such file: {name}")
    if path.is_dir():
        raise SourceError(f"{name} is a folder, not a video or image")
    if path.stat().st_size == 0:
        raise SourceError(f"{name} is empty (0 bytes)")


def _open_capture(spec: str | int, what: str) -> cv2.VideoCapture:
    """Open with FFmpeg; a name that is not UTF-8 is opened through a safe alias (see fsnames)."""
    cap = video_capture(spec)
    if not cap.isOpened():
        cap.release()
        raise SourceError(f"cannot open {what}")
    return cap


def _pos_ms(cap: cv2.VideoCapture) -> float | None:
    """The timestamp of the frame just read (ms, from the container), None if it has none."""
    ms = cap.get(cv2.CAP_PROP_POS_MSEC)
    return float(ms) if ms is not None and math.isfinite(ms) and ms >= 0 else None


def _check_frame_size(cap: cv2.VideoCapture, what: str) -> None:
    """The container's frame size against the pixel budget, before the first frame is decoded."""
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    try:
        check_pixels(w, h, f"{what} frames")
    except LimitError:
        cap.release()
        raise


class ImageSource(FrameSource):
    """A still image as a one-frame source."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _check_file(self.path)
        image = read_image(self.path)  # any name; header size checked before decoding
        if image is None:
            raise SourceError(f"cannot decode image {display_name(self.path)}: not an image or corrupt")
        self._image = image
        h, w = image.shape[:2]
        self.info = VideoInfo(display_name(self.path.name), w, h, 0.0, 1, False, "image")

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(0, 0.0, self._image)


class VideoFileSource(FrameSource):
    """Every frame of a video file, decoded ahead in a thread into a small bounded queue."""

    def __init__(self, path: str | Path, prefetch: int = 8) -> None:
        self.path = Path(path)
        _check_file(self.path)
        name = display_name(self.path)
        cap = _open_capture(str(self.path), f"video {name}: not a video or unsupported codec")
        _check_frame_size(cap, f"video {name}")
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            raise SourceError(f"cannot decode any frame of {name}: corrupt or truncated video")
        fps = _valid_fps(cap.get(cv2.CAP_PROP_FPS))
        if fps is None:
            log.warning("%s reports no valid FPS; assuming %.0f", name, DEFAULT_LIVE_FPS)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        h, w = first.shape[:2]
        self.info = VideoInfo(
            display_name(self.path.name), w, h, fps or DEFAULT_LIVE_FPS, count if count > 0 else None,
            False, "video",
        )
        self._cap, self._first = cap, (first, _pos_ms(cap))
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def _reader(self) -> None:
        try:
            item = self._first
            while item is not None and not self._stop.is_set():
                self._put(item)
                ok, image = self._cap.read()
                item = (image, _pos_ms(self._cap)) if ok else None
        except Exception as exc:  # reported to the consumer, never lost in the thread
            self.error = f"decoding {self.info.name} failed: {exc}"
        finally:
            self._put(_END)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Frame]:
        self._thread = threading.Thread(target=self._reader, name="decode", daemon=True)
        self._thread.start()
        index, fps, t0, last = 0, self.info.fps, None, -1.0
        while True:
            item = self._queue.get()
            if item is _END:
                break
            image, ms = item
            t0 = ms if t0 is None else t0
            if ms is not None:  # the container's timestamp: right for variable frame rates too
                t = (ms - t0) / 1e3
                t = t if t > last else last + 1e-3  # repeated or reordered stamps stay in order
            else:
                t = index / fps
            last = t
            yield Frame(index, t, image)
            index += 1
        if self.error:
            raise SourceError(self.error)
        expected = self.info.frame_count  # OpenCV's count is duration x FPS: a hint, not a fact
        duration = expected / fps if expected else 0.0
        if expected and index < expected - max(2, expected // 100) \
                and last + 2.0 / fps < duration * 0.98:  # the decoded frames stop short of the end
            raise SourceError(
                f"{self.info.name} is truncated or corrupt: decoded {index} of {expected} frames "
                "(outputs cover the decoded part)"
            )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            try:
                self._thread.join(timeout=2.0)
            except RuntimeError:  # Ctrl-C/SIGTERM landed inside Thread.start(): it may still come up
                time.sleep(0.1)
                if self._thread.is_alive():
                    self._thread.join(timeout=2.0)
        self._cap.release()


class LiveSource(FrameSource):
    """Camera, stream, FIFO, or a file played in real time: a grabber thread keeps only the newest
    frame.

    A stream that delivers no frame for ``read_timeout`` seconds (also while it opens) is
    *stalled*; one that stops before its known length (or that has none) has *ended*. Both end the
    run with outputs covering what was received; ``end_reason`` and ``end_message`` say which.
    The capture is opened and first read in a helper thread, so Ctrl-C works in every state.
    """

    def __init__(self, spec: str | int, name: str, realtime_file: bool = False,
                 read_timeout: float = DEFAULT_READ_TIMEOUT) -> None:
        what = f"camera {spec}" if isinstance(spec, int) else f"stream {display_name(spec)}"
        if realtime_file:
            _check_file(Path(str(spec)))
            what = f"video {display_name(spec)}: not a video or unsupported codec"
        self.read_timeout = float(read_timeout)
        t_open = time.monotonic()
        self._cap, first = _open_stream(spec, what, None if realtime_file else self.read_timeout)
        waited = time.monotonic() - t_open >= 0.5 * self.read_timeout
        self._waited_at: float | None = time.monotonic() if waited else None  # a slow read's end
        fps = _valid_fps(self._cap.get(cv2.CAP_PROP_FPS)) or DEFAULT_LIVE_FPS
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._length = count if count > 0 else None  # a file:// or HTTP file has one; a live feed not
        h, w = first.shape[:2]
        self.info = VideoInfo(name, w, h, fps, None, True, "file-realtime" if realtime_file else "live")
        self._pace = realtime_file
        self._network = isinstance(spec, str) and is_stream_url(spec)  # FFmpeg's timeout applies
        self._latest: tuple[int, np.ndarray] | None = (0, first)
        self._cond = threading.Condition()
        self._done = False
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._last_frame = time.monotonic()
        self._timed_out = False
        self.captured = 1
        self.end_reason: str | None = None  # "ended" or "stalled"
        self.end_message = ""
        self._thread = threading.Thread(target=self._grab, name="grab", daemon=True)
        self._thread.start()

    def _grab(self) -> None:
        index = 1
        try:
            while not self._stop.is_set():
                if self._pace:  # a file plays at its own FPS, like a camera would deliver it
                    delay = self._t0 + index / self.info.fps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                t_read = time.monotonic()
                ok, image = self._cap.read()
                now = time.monotonic()
                if now - t_read >= 0.5 * self.read_timeout:
                    self._waited_at = now
                if not ok:  # FFmpeg's read timeout ends here too, but it may strike earlier (while
                    # opening probes ahead, or while the last frame is read: the decoder then
                    # hands out the frames it held): a source that made us wait within the last
                    # read_timeout, or went silent, stalled; one that just stops, ended
                    recent = self._waited_at is not None and now - self._waited_at <= self.read_timeout
                    self._timed_out = recent or now - self._last_frame >= 0.5 * self.read_timeout
                    break
                with self._cond:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = (index, image)
                    self.captured = index + 1
                    self._last_frame = time.monotonic()
                    self._cond.notify()
                index += 1
        finally:
            with self._cond:
                self._done = True
                self._cond.notify()

    def _stalled(self) -> bool:
        return not self._pace and time.monotonic() - self._last_frame >= self.read_timeout

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._cond:
                while self._latest is None and not self._done and not self._stalled():
                    self._cond.wait(timeout=0.2)
                if self._latest is None:
                    if not self._stop.is_set():
                        self._note_end()
                    return
                index, image = self._latest
                self._latest = None
            yield Frame(index, index / self.info.fps, image)

    def _note_end(self) -> None:
        """Why frames stopped coming, unless the source simply reached its known end."""
        if self._pace:
            return
        n = self.captured
        if self._stalled() or self._timed_out:
            self.end_reason = "stalled"
            self.end_message = (f"{self.info.name} stalled: no frame for {self.read_timeout:g} s "
                                f"(--read-timeout); outputs cover the {n} frames received")
        elif self._length is None or n < self._length - max(2, self._length // 100):
            self.end_reason = "ended"
            self.end_message = (f"{self.info.name} ended after {n} frames (the sender stopped or "
                                "the connection closed); outputs cover them")

    def close(self) -> None:
        self._stop.set()
        # FFmpeg gives up a read after read_timeout: wait for that, so the grabber never wakes up
        # while the interpreter shuts down (OpenCV then aborts the process)
        self._thread.join(timeout=self.read_timeout + 2.0 if self._network else 2.0)
        if not self._thread.is_alive():  # a grabber stuck in a read (a FIFO) still uses it
            self._cap.release()


def _open_stream(spec: str | int, what: str, timeout: float | None) -> tuple[cv2.VideoCapture,
                                                                              np.ndarray]:
    """Open and read the first frame in a helper thread (the main thread stays free for Ctrl-C);
    with a ``timeout``, FFmpeg gets it as its open/read timeout and a source silent that long
    (a FIFO without a writer, a dead host) is reported as stalled."""
    params = None
    if timeout is not None and not isinstance(spec, int):
        ms = max(1, int(timeout * 1000))
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    box: dict[str, object] = {}

    def opener() -> None:
        cap = video_capture(spec, params=params)
        box["cap"] = cap
        if cap.isOpened():
            box["first"] = cap.read()

    t = threading.Thread(target=opener, name="open", daemon=True)
    t.start()
    deadline = None if timeout is None else time.monotonic() + timeout + 1.0
    while t.is_alive():
        t.join(0.1)  # Ctrl-C lands here, not inside OpenCV
        if deadline is not None and time.monotonic() > deadline:
            raise SourceError(f"{what} stalled: nothing received within {timeout:g} s while "
                              "opening (--read-timeout)")
    cap = box.get("cap")
    if cap is None or not cap.isOpened():
        if cap is not None:
            cap.release()
        raise SourceError(f"cannot open {what}")
    ok, first = box.get("first", (False, None))
    if not ok or first is None:
        cap.release()
        raise SourceError(f"{what} opened but delivered no frame")
    _check_frame_size(cap, what.split(":")[0])
    return cap, first


def is_stream_url(spec: str) -> bool:
    return "://" in spec


def _is_fifo(path: Path) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def open_source(spec: str | int | Path, realtime: bool = False,
                read_timeout: float = DEFAULT_READ_TIMEOUT) -> FrameSource:
    """A camera index (int), a stream URL, a FIFO, an image file or a video file."""
    if isinstance(spec, int):
        return LiveSource(spec, f"camera{spec}", read_timeout=read_timeout)
    text = str(spec)
    if is_stream_url(text):
        return LiveSource(text, display_name(text.rsplit("/", 1)[-1]) or "stream",
                          read_timeout=read_timeout)
    path = Path(text)
    if _is_fifo(path):  # a named pipe is a stream: it has no length and can stall
        return LiveSource(text, display_name(path.name), read_timeout=read_timeout)
    if path.is_file() and not is_accepted(path):  # the list a folder scan uses, too
        what = f"suffix {display_name(path.suffix)}" if path.suffix else "no suffix"
        raise SourceError(f"{display_name(path)} has {what}, not an accepted input ({accepted_list()})")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    if realtime:
        return LiveSource(str(path), display_name(path.name), realtime_file=True)
    return VideoFileSource(path)
