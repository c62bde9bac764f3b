"""The project's one door to OpenCV for files: safe for any file name, bounded in memory.

OpenCV segfaults on a name that is not UTF-8 (``cv2.imread(str(path))``), and decodes whatever
size an image header claims (a 48 KB PNG that says 20000x20000 px takes 2.5 GB). Every OpenCV
call that names a file goes through here (``tests/runtime/test_cv_file_layer.py`` walks the
packages for raw calls): images are read as bytes by Python and their header size is checked
against a pixel budget before decoding; videos are opened through :func:`fsnames.cv2_path`.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import LimitError
from .fsnames import cv2_path, display_name

# The pixel budget of one decoded image: 8K UHD (7680x4320 = 33 MP) fits with margin; at 3 bytes a
# pixel the largest accepted image takes ~150 MB. EDGE_MAX_IMAGE_PIXELS overrides it.
MAX_IMAGE_PIXELS = 50_000_000
MAX_IMAGE_BYTES = 512 << 20  # an image file larger than this is not read into memory
MAX_VIDEO_PIXELS = MAX_IMAGE_PIXELS  # a video frame (width x height from the container)


def max_image_pixels() -> int:
    try:
        return max(1, int(os.environ.get("EDGE_MAX_IMAGE_PIXELS", MAX_IMAGE_PIXELS)))
    except ValueError:
        return MAX_IMAGE_PIXELS


def _png(d: bytes):
    if d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR" and len(d) >= 24:
        return struct.unpack(">II", d[16:24])
    return None


def _gif(d: bytes):
    if d[:6] in (b"GIF87a", b"GIF89a") and len(d) >= 10:
        return struct.unpack("<HH", d[6:10])
    return None


def _bmp(d: bytes):
    if d[:2] == b"BM" and len(d) >= 26:
        w, h = struct.unpack("<ii", d[18:26])
        return abs(w), abs(h)
    return None


def _webp(d: bytes):
    if d[:4] != b"RIFF" or d[8:12] != b"WEBP" or len(d) < 30:
        return None
    kind = d[12:16]
    if kind == b"VP8X":
        return 1 + int.from_bytes(d[24:27], "little"), 1 + int.from_bytes(d[27:30], "little")
    if kind == b"VP8L":
        b = int.from_bytes(d[21:25], "little")
        return 1 + (b & 0x3FFF), 1 + ((b >> 14) & 0x3FFF)
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", d[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _jpeg(d: bytes):
    if d[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(d):
        if d[i] != 0xFF:
            i += 1
            continue
        marker = d[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack(">H", d[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", d[i + 5:i + 9])
            return w, h
        i += 2 + length
    return None


def _tiff(d: bytes):
    order = {b"II": "<", b"MM": ">"}.get(d[:2])
    if order is None or len(d) < 8 or struct.unpack(order + "H", d[2:4])[0] != 42:
        return None
    off = struct.unpack(order + "I", d[4:8])[0]
    if off + 2 > len(d):
        return None
    n = struct.unpack(order + "H", d[off:off + 2])[0]
    size = {}
    for k in range(min(n, 512)):
        e = off + 2 + 12 * k
        if e + 12 > len(d):
            break
        tag, typ = struct.unpack(order + "HH", d[e:e + 4])
        if tag in (256, 257):
            fmt = "H" if typ == 3 else "I"
            size[tag] = struct.unpack(order + fmt, d[e + 8:e + 8 + struct.calcsize(fmt)])[0]
    return (size[256], size[257]) if len(size) == 2 else None


def image_header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image header (PNG, JPEG, GIF, BMP, WebP, TIFF), without decoding;
    None for other formats."""
    for parse in (_png, _jpeg, _gif, _bmp, _webp, _tiff):
        try:
            size = parse(data)
        except struct.error:
            size = None
        if size is not None:
            return int(size[0]), int(size[1])
    return None


def check_pixels(width: int, height: int, what: str, limit: int | None = None) -> None:
    """LimitError when ``width x height`` is over the pixel budget."""
    limit = limit or max_image_pixels()
    if width * height > limit:
        raise LimitError(f"{what} is {width}x{height} px, over the limit of {limit / 1e6:.0f} "
                         "megapixels (EDGE_MAX_IMAGE_PIXELS)")


def read_image(path: str | os.PathLike | bytes, flags: int = cv2.IMREAD_COLOR,
               max_pixels: int | None = None) -> np.ndarray | None:
    """``cv2.imread`` for any file name: None when unreadable or not an image (like imread);
    LimitError when the file or the size its header claims is over the limits."""
    path = os.fsdecode(path)
    name = display_name(path)
    try:
        if os.path.getsize(path) > MAX_IMAGE_BYTES:
            raise LimitError(f"image {name} is larger than {MAX_IMAGE_BYTES >> 20} MB")
        data = np.fromfile(path, np.uint8)
    except OSError:
        return None
    size = image_header_size(data[:65536].tobytes())
    if size is not None:
        check_pixels(*size, f"image {name}", max_pixels)
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error:
        return None
    if image is not None:  # a format without a parsed header: check what was decoded
        check_pixels(image.shape[1], image.shape[0], f"image {name}", max_pixels)
    return image


def write_image(path: str | os.PathLike, image: np.ndarray, params: list[int] | None = None) -> bool:
    """``cv2.imwrite`` for any file name: encoded in memory, written by Python. False on failure."""
    ext = Path(os.fsdecode(path)).suffix or ".png"
    try:
        ok, data = cv2.imencode(ext, image, params or [])
    except cv2.error:
        return False
    if not ok:
        return False
    try:
        with open(path, "wb") as fh:
            fh.write(data.tobytes())
    except OSError:
        return False
    return True


def video_capture(spec: str | os.PathLike | int, api: int = cv2.CAP_FFMPEG,
                  params: list[int] | None = None) -> cv2.VideoCapture:
    """``cv2.VideoCapture`` for a file (any name), a URL, or a camera index (int)."""
    if isinstance(spec, int):
        return cv2.VideoCapture(spec) if params is None else cv2.VideoCapture(spec, cv2.CAP_ANY, params)
    spec = os.fsdecode(spec)
    target = spec if "://" in spec else cv2_path(spec)
    return cv2.VideoCapture(target, api) if params is None else cv2.VideoCapture(target, api, params)


def video_writer(path: str | os.PathLike, fourcc: str, fps: float,
                 size_wh: tuple[int, int]) -> cv2.VideoWriter:
    """``cv2.VideoWriter`` for any file name (check ``isOpened()``: it fails silently)."""
    return cv2.VideoWriter(cv2_path(os.fsdecode(path)), cv2.VideoWriter_fourcc(*fourcc), fps, size_wh)


def cascade(path: str | os.PathLike) -> cv2.CascadeClassifier:
    """A Haar cascade from an XML file with any name."""
    return cv2.CascadeClassifier(cv2_path(os.fsdecode(path)))


def caffe_net(config, model):
    """An OpenCV DNN from Caffe prototxt + caffemodel bytes (no file name reaches OpenCV).

    Protobuf prints its parse errors straight to stderr (``[libprotobuf ERROR ...]``); they are
    captured here and only OpenCV's exception reaches the caller. ``model=None``: the prototxt alone.
    """
    with captured_stderr():
        if model is None:
            return cv2.dnn.readNetFromCaffe(config)
        return cv2.dnn.readNetFromCaffe(config, model)


@contextlib.contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Native libraries' writes to file descriptor 2 go to a buffer (returned as lines) instead
    of the terminal: only the project speaks on stderr."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode("utf-8", "replace").splitlines())
