"""Crops for verification and calibration: real JPEG crops from a data folder, or generated images.

Real crops are what the model will see in service, so parity and int8 agreement are measured on
them when a data folder is given; generated images are the fallback for bare models.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_detector.cvfiles import read_image

from .errors import ExportError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
HELD_OUT_SPLITS = ("test", "val", "valid", "validation")
CALIBRATION_SPLITS = ("train",)


@dataclass(frozen=True)
class CropSet:
    """BGR uint8 crops (n, S, S, 3) with labels (-1 when unknown) and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    paths: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.images)

    def head(self, n: int) -> CropSet:
        """The first ``n`` crops (the sets are already shuffled and class-balanced)."""
        return CropSet(self.images[:n], self.labels[:n], self.paths[:n], self.source)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def list_crops(data_dir: Path, class_names: Sequence[str]) -> dict[str, list[tuple[Path, int]]]:
    """``split -> [(path, class index)]`` for DATA_DIR/<split>/<class>/*.jpg.

    A folder that is itself one split (DATA_DIR/<class>/*.jpg) is returned as split ``""``.
    Folders named after unknown classes are skipped with a warning.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ExportError(f"data folder not found: {data_dir}")
    index = {c: i for i, c in enumerate(class_names)}
    # h264/ holds `train degrade`'s compressed copies, not a split
    subdirs = sorted(p for p in data_dir.iterdir() if p.is_dir() and p.name != "h264")
    flat = any(p.name in index for p in subdirs)
    splits = {"": data_dir} if flat else {p.name: p for p in subdirs}
    found: dict[str, list[tuple[Path, int]]] = {}
    for split, folder in splits.items():
        items: list[tuple[Path, int]] = []
        for cls_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            if cls_dir.name not in index:
                log.warning("skipping %s: '%s' is not one of the model's classes", cls_dir,
                            cls_dir.name)
                continue
            items += [(p, index[cls_dir.name]) for p in _images_in(cls_dir)]
        if items:
            found[split] = items
    if not found:
        raise ExportError(
            f"no crops under {data_dir} (expected <split>/<class>/*.jpg for classes "
            f"{list(class_names)})"
        )
    return found


def balanced_sample(
    items: Sequence[tuple[Path, int]], n: int, seed: int = 0
) -> list[tuple[Path, int]]:
    """Up to ``n`` items taken round-robin over classes (shuffled within each class)."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[tuple[Path, int]]] = {}
    for item in items:
        by_class.setdefault(item[1], []).append(item)
    queues = []
    for cls in sorted(by_class):
        group = by_class[cls]
        queues.append([group[i] for i in rng.permutation(len(group))])
    out: list[tuple[Path, int]] = []
    depth = 0
    while len(out) < n and any(depth < len(q) for q in queues):
        out += [q[depth] for q in queues if depth < len(q)][: n - len(out)]
        depth += 1
    return out


def read_crops(items: Sequence[tuple[Path, int]], size: int, source: str) -> CropSet:
    """Decode with cv2 (BGR) and bring to ``size`` with INTER_AREA, as ``preprocess`` would."""
    images = np.empty((len(items), size, size, 3), np.uint8)
    for i, (path, _) in enumerate(items):
        img = read_image(path, cv2.IMREAD_COLOR)
        if img is None:
            raise ExportError(f"cannot decode image {path}")
        if img.shape[:2] != (size, size):
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        images[i] = img
    labels = np.array([c for _, c in items], np.int64)
    return CropSet(images, labels, tuple(str(p) for p, _ in items), source)


def _prefer(found: dict[str, list[tuple[Path, int]]], names: Sequence[str]) -> list[str]:
    """Split names ordered: preferred ones (in ``names`` order) first, then the rest."""
    first = [s for s in names if s in found]
    return first + sorted(s for s in found if s not in first)


def held_out_crops(
    data_dir: Path, class_names: Sequence[str], size: int, n: int,
    exclude: Sequence[str] = (), seed: int = 1,
) -> CropSet:
    """Up to ``n`` crops from the held-out split (test, then val, ...) not in ``exclude``."""
    found = list_crops(data_dir, class_names)
    skip = {str(Path(p).resolve()) for p in exclude}
    for split in _prefer(found, HELD_OUT_SPLITS):
        items = [it for it in found[split] if str(it[0].resolve()) not in skip]
        if items:
            picked = balanced_sample(items, n, seed)
            log.info("held-out crops: %d from %s/%s", len(picked), data_dir, split or ".")
            return read_crops(picked, size, f"{data_dir}/{split}".rstrip("/"))
    raise ExportError(f"no held-out crops left in {data_dir} after taking the calibration set")


def calibration_crops(
    data_dir: Path, class_names: Sequence[str], size: int, n: int, seed: int = 0
) -> CropSet:
    """Up to ``n`` crops from the training split (or the first split when there is none).

    When the folder has a single split, only its first half (in a seeded order) is eligible, so
    a held-out set taken from the same folder afterwards is disjoint and non-empty.
    """
    found = list_crops(data_dir, class_names)
    split = _prefer(found, CALIBRATION_SPLITS)[0]
    items = found[split]
    if len(found) == 1:
        order = np.random.default_rng(seed).permutation(len(items))
        items = [items[i] for i in order[: max(1, len(items) // 2)]]
    picked = balanced_sample(items, n, seed)
    log.info("calibration crops: %d from %s/%s", len(picked), data_dir, split or ".")
    return read_crops(picked, size, f"{data_dir}/{split}".rstrip("/"))


def generated_crops(n: int, size: int, seed: int = 0) -> CropSet:
    """Seeded smooth colour fields with texture: varied, natural-ish statistics, no data needed."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        grid = int(rng.integers(2, 9))
        low = rng.uniform(0, 255, (grid, grid, 3)).astype(np.float32)
        img = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
        img += rng.normal(0, rng.uniform(2, 25), (size, size, 3)).astype(np.float32)
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
    return CropSet(images, np.full(n, -1, np.int64), tuple(f"generated:{i}" for i in range(n)),
                   f"generated (seed {seed})")
