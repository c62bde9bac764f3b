"""``python -m train degrade``: H.264 round-trips of a data folder's crops, as faces are in videos.

FF++ c23 crops have never met what users' videos do to a face: a face 60-200 px wide, coded by
libx264 at a high CRF (macroblocks, deblocking blur, 4:2:0 chroma). For every crop this writes one
variant per CRF: downscale (INTER_AREA) to a face-sized width drawn log-uniformly from
``width`` (seeded per crop), encode with libx264 as an intra frame (``keyint=1``: each crop is
coded like a one-frame video), decode, scale back (INTER_LINEAR) to the crop's size, store
lossless PNG under ``h264/crf<N>/`` with the crop's relative path. The test split uses a fixed
width (``test_width``, 128 px: the protocol the README's numbers use). ``degrade.json`` records
what was done; ``fit`` draws from the variants and ``evaluate`` reports each level.

ffmpeg is run with an argument list (no shell), frames go through pipes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from edge_detector.atomic import write_json
from edge_detector.cvfiles import read_image, write_image

from .errors import ConfigError, TrainError
from .manifest import crops

log = logging.getLogger(__name__)

DEGRADE_JSON = "degrade.json"
VARIANTS_DIR = "h264"
SCHEMA_VERSION = 1
MAX_CRF = 51
WIDTH_LIMITS = (16, 1024)  # pixels; H.264 needs even sizes, widths are rounded to 8
TEST_WIDTH = 128


class FfmpegMissing(TrainError):
    """ffmpeg (with libx264) is not installed (exit status 1)."""


@dataclass(frozen=True)
class DegradeConfig:
    """Options of ``python -m train degrade``."""

    data_dir: Path
    crfs: tuple[int, ...] = (23, 32, 40)
    width: tuple[int, int] = (64, 192)
    test_width: int = TEST_WIDTH
    seed: int = 0
    preset: str = "medium"

    def __post_init__(self) -> None:
        if not self.crfs:
            raise ConfigError("--crf needs at least one value")
        bad = [c for c in self.crfs if not 0 <= c <= MAX_CRF]
        if bad:
            raise ConfigError(f"--crf values must be 0..{MAX_CRF}, got {bad}")
        lo, hi = self.width
        for w in (lo, hi, self.test_width):
            if not WIDTH_LIMITS[0] <= w <= WIDTH_LIMITS[1]:
                raise ConfigError(f"widths must be {WIDTH_LIMITS[0]}..{WIDTH_LIMITS[1]} px, got {w}")
        if lo > hi:
            raise ConfigError(f"--width MIN:MAX needs MIN <= MAX, got {lo}:{hi}")


@dataclass(frozen=True)
class DegradeRecord:
    """``degrade.json``: how the variants were made, where they are, per-split counts."""

    crfs: list[int]
    width: list[int]
    test_width: int
    seed: int
    codec: str
    preset: str
    coding: str
    ffmpeg: str
    variants: dict[str, str]
    crops: dict[str, int] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> DegradeRecord:
        if d.get("schema_version") != SCHEMA_VERSION:
            raise ConfigError(f"{DEGRADE_JSON}: unknown schema version {d.get('schema_version')}")
        return cls(**d)


def variant_dir(crf: int) -> str:
    return f"{VARIANTS_DIR}/crf{crf}"


def read_record(data_dir: str | Path) -> DegradeRecord | None:
    """The data folder's degrade record, or None when it has no H.264 variants."""
    path = Path(data_dir) / DEGRADE_JSON
    if not path.is_file():
        return None
    return DegradeRecord.from_json(json.loads(path.read_text()))


def ffmpeg_binary() -> str:
    """Path of an ffmpeg with libx264, or :class:`FfmpegMissing` (one line)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise FfmpegMissing("ffmpeg not found: install it (Debian: apt-get install ffmpeg) to "
                            "make H.264 variants")
    out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True,
                         check=False).stdout
    if "libx264" not in out:
        raise FfmpegMissing(f"{exe} has no libx264 encoder: install a full ffmpeg build "
                            "(Debian: apt-get install ffmpeg)")
    return exe


def ffmpeg_version(exe: str) -> str:
    out = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True,
                         check=False).stdout
    return out.splitlines()[0] if out else "unknown"


def face_width(key: str, lo: int, hi: int, seed: int) -> int:
    """Log-uniform width in [lo, hi] from a hash of the crop's path (stable across runs and
    worker counts), rounded down to a multiple of 8 (H.264 and 4:2:0 need even sizes)."""
    h = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    u = int.from_bytes(h[:8], "little") / 2**64
    w = float(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))) if hi > lo else float(lo)
    return max(8, int(w) // 8 * 8)


def h264_roundtrip(images_bgr: np.ndarray, crf: int, exe: str | None = None,
                   preset: str = "medium") -> np.ndarray:
    """(n, h, w, 3) BGR uint8 -> the same frames after libx264 intra coding at ``crf``."""
    exe = exe or ffmpeg_binary()
    n, h, w, _ = images_bgr.shape
    if h % 2 or w % 2:
        raise ConfigError(f"H.264 4:2:0 needs even frame sizes, got {w}x{h}")
    with tempfile.TemporaryDirectory(prefix="degrade-") as tmp:
        stream = Path(tmp) / "frames.264"
        enc = [exe, "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24",
               "-s", f"{w}x{h}", "-r", "25", "-i", "pipe:0", "-c:v", "libx264", "-preset", preset,
               "-crf", str(crf), "-x264-params", "keyint=1:scenecut=0", "-pix_fmt", "yuv420p",
               "-f", "h264", str(stream)]
        _run(enc, np.ascontiguousarray(images_bgr).tobytes())
        dec = [exe, "-hide_banner", "-loglevel", "error", "-i", str(stream), "-f", "rawvideo",
               "-pix_fmt", "bgr24", "pipe:1"]
        raw = _run(dec, b"")
    got = len(raw) // (h * w * 3)
    if got != n:
        raise TrainError(f"ffmpeg returned {got} of {n} frames at crf {crf}")
    return np.frombuffer(raw, np.uint8).reshape(n, h, w, 3).copy()


def _run(cmd: list[str], stdin: bytes) -> bytes:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    if proc.returncode:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise TrainError(f"ffmpeg failed (exit {proc.returncode}): {msg[-1] if msg else ''}")
    return proc.stdout


def degrade_faces(crops_bgr: np.ndarray, width: int, crf: int, exe: str | None = None,
                  preset: str = "medium") -> np.ndarray:
    """Crops (n, S, S, 3) -> face-sized ``width`` -> H.264 -> back to S (the training variant)."""
    s = crops_bgr.shape[1]
    small = np.stack([cv2.resize(c, (width, width), interpolation=cv2.INTER_AREA)
                      if width != s else c for c in crops_bgr])
    coded = h264_roundtrip(small, crf, exe, preset)
    return np.stack([cv2.resize(c, (s, s), interpolation=cv2.INTER_LINEAR)
                     if width != s else c for c in coded])


def degrade(cfg: DegradeConfig, progress: bool = True) -> DegradeRecord:
    """Write every variant of every ``ok`` crop of ``cfg.data_dir``; returns the record."""
    exe = ffmpeg_binary()
    data = Path(cfg.data_dir)
    df = crops(data)
    if df.empty:
        raise ConfigError(f"{data} has no crops to degrade")
    groups: dict[int, list[str]] = defaultdict(list)
    for rel, split in zip(df["crop"], df["split"], strict=True):
        w = cfg.test_width if split == "test" else face_width(rel, *cfg.width, cfg.seed)
        groups[w].append(rel)
    total = len(df) * len(cfg.crfs)
    bar = tqdm(total=total, desc="degrade", unit="crop", disable=not progress)
    for w, rels in sorted(groups.items()):
        for start in range(0, len(rels), 512):  # bounded memory per ffmpeg call
            part = rels[start:start + 512]
            imgs = [read_image(data / r) for r in part]
            missing = [r for r, im in zip(part, imgs, strict=True) if im is None]
            if missing:
                raise ConfigError(f"cannot read crop {data / missing[0]}")
            by_size: dict[tuple, list[int]] = defaultdict(list)
            for i, im in enumerate(imgs):
                by_size[im.shape].append(i)
            for idx in by_size.values():
                batch = np.stack([imgs[i] for i in idx])
                for crf in cfg.crfs:
                    out = degrade_faces(batch, min(w, batch.shape[1]) // 2 * 2, crf, exe,
                                        cfg.preset)
                    for i, img in zip(idx, out, strict=True):
                        dest = data / variant_dir(crf) / Path(part[i]).with_suffix(".png")
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        if not write_image(dest, img):
                            raise OSError(f"cannot write {dest}")
                    bar.update(len(idx))
    bar.close()
    record = DegradeRecord(
        crfs=list(cfg.crfs), width=list(cfg.width), test_width=cfg.test_width, seed=cfg.seed,
        codec="libx264", preset=cfg.preset,
        coding="intra (keyint=1), yuv420p; downscale INTER_AREA, upscale INTER_LINEAR",
        ffmpeg=ffmpeg_version(exe),
        variants={f"crf{c}": variant_dir(c) for c in cfg.crfs},
        crops={s: int((df["split"] == s).sum()) for s in sorted(set(df["split"]))},
    )
    write_json(data / DEGRADE_JSON, record.to_json())
    return record


def variant_paths(data_dir: str | Path, rel_paths: list[str], record: DegradeRecord
                  ) -> dict[str, list[str]]:
    """Level name (``c23`` for the crops as given, ``crf<N>``) -> absolute paths, in order."""
    data = Path(data_dir)
    out = {"c23": [str(data / r) for r in rel_paths]}
    for c in record.crfs:
        out[f"crf{c}"] = [str(data / variant_dir(c) / Path(r).with_suffix(".png"))
                          for r in rel_paths]
    return out


def parse_crfs(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError as exc:
        raise ConfigError(f"--crf must be comma-separated integers, got {text!r}") from exc


def parse_width(text: str) -> tuple[int, int]:
    try:
        parts = [int(t) for t in text.replace("-", ":").split(":")]
    except ValueError as exc:
        raise ConfigError(f"--width must be MIN:MAX pixels, got {text!r}") from exc
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        raise ConfigError(f"--width must be MIN:MAX pixels, got {text!r}")
    return parts[0], parts[1]


def parse_weights(text: str) -> tuple[float, ...]:
    try:
        w = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError as exc:
        raise ConfigError(f"--level-weights must be comma-separated numbers, got {text!r}") from exc
    if not w or any(not np.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
        raise ConfigError(f"--level-weights must be non-negative with a positive sum, got {text!r}")
    return w
