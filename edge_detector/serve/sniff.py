"""What an uploaded file really is, from its first bytes (never from its name or Content-Type).

Each known container or image format gives the kind and the suffix the stored file gets: the
runtime tells images from videos by suffix, and the suffix here comes from the content only.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..cvfiles import video_capture

HEAD_BYTES = 512


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(kind, suffix)`` for a video or image we can decode, else None."""
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "video", ".mp4"  # ISO base media: mp4, mov, m4v, 3gp
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video", ".webm"  # EBML: webm, mkv
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", ".avi"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", ".webp"
    if head[:4] == b"\x00\x00\x01\xba" or head[:4] == b"\x00\x00\x01\xb3":
        return "video", ".mpg"
    if head[:1] == b"\x47" and len(head) > 376 and head[188:189] == b"\x47" and head[376:377] == b"\x47":
        return "video", ".ts"
    if head[:4] == b"FLV\x01":
        return "video", ".flv"
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return "video", ".wmv"
    if head[:3] == b"\xff\xd8\xff":
        return "image", ".jpg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image", ".png"
    if head[:2] == b"BM" and len(head) >= 26:
        return "image", ".bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image", ".tif"
    return None


def decodes(path: Path, kind: str) -> bool:
    """OpenCV reads at least one frame (a video) or the image: the runtime will be able to start."""
    if kind == "image":
        data = np.fromfile(path, np.uint8)
        return cv2.imdecode(data, cv2.IMREAD_COLOR) is not None
    cap = video_capture(path)
    try:
        if not cap.isOpened():
            return False
        ok, frame = cap.read()
        return bool(ok) and frame is not None
    finally:
        cap.release()
