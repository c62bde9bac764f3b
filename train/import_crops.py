"""``python -m train import-crops``: an image-folder face-crop dataset -> the project's data folder.

Many public deepfake face datasets ship as ``<split>/<class>/*.jpg`` (or ``<class>/*`` with no
split). This writes what the ETL writes (``manifest.csv``, ``classes.json``, ``etl_config.json``,
``splits.csv`` and crops under ``train|val|test/<class>/``), so ``fit`` and ``evaluate`` use it
unchanged. Crops are resized to ``--size`` with INTER_AREA (as the runtime's preprocess does) and
stored lossless (PNG) by default, so the source's JPEG is not compressed twice.

Images directly in a class folder are one "video" each; images in a sub-folder of a class folder
(``<class>/<video>/*.jpg``) form one video, so carving validation never splits a video. The data
folder also records the crop geometry of the source's crops relative to the runtime's SSD face box
(``--crop-geometry``), which export writes into the model contract.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from edge_detector.contract import FFPP_CLASSES, ORIGINAL
from edge_detector.csvsafe import escape_frame
from edge_detector.cvfiles import read_image, write_image
from edge_detector.errors import EdgeDetectError, LimitError
from edge_detector.fsnames import display_name
from edge_detector.geometry import CropGeometry

from .etl import CLASSES_JSON, ETL_CONFIG_JSON, JPEG_QUALITY, SPLITS_CSV
from .manifest import DONE, FAILED, MANIFEST, OK, UNREADABLE, ManifestRow, ManifestWriter
from .splits import SPLITS

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MAX_SIZE = 1024  # the model contract's largest input_size
FORMATS = {"png": (".png", []), "jpg": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])}
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}
# Folder names (compared in lower case) -> class. The FF++ method names map to themselves.
CLASS_ALIASES = {"original": ORIGINAL, "youtube": ORIGINAL, "real": ORIGINAL,
                 "original_sequences": ORIGINAL, **{c.lower(): c for c in FFPP_CLASSES}}
# Folders of unnamed manipulations: the models classify the method, so these need --map.
NOT_A_METHOD = ("fake", "fakes", "manipulated", "manipulated_sequences")
# The FF++ faces recipe (tight Haar boxes inset 2 px) relative to the SSD box: medians measured by
# benchmarks/crop_geometry.py on every 10th frame of the 7 ffpp_c23_mini videos (314 frames; crop
# IoU with the recipe's crops: median 0.895, 0.887 leave-one-video-out; the old 1.3x crop: 0.423).
GEOMETRY_PRESETS = {
    "haar": CropGeometry(scale=0.8438, shift_x=-0.0047, shift_y=-0.0084, square=True),
    "default": CropGeometry(),
}


class ImportCropsError(EdgeDetectError):
    """The source folder is not a usable image-folder dataset (exit status 1)."""


@dataclass(frozen=True)
class ImportConfig:
    """Options of ``python -m train import-crops`` (defaults as documented there)."""

    src: Path
    out: Path
    size: int = 224
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0
    fmt: str = "png"
    geometry: CropGeometry = field(default_factory=lambda: GEOMETRY_PRESETS["haar"])
    geometry_source: str = "haar"
    mapping: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    progress: bool = True
    similar: float = 0.0  # > 0: carve near-duplicate groups together (train.similar)

    def __post_init__(self) -> None:
        if not 16 <= self.size <= MAX_SIZE:
            raise ImportCropsError(f"--size must be 16-{MAX_SIZE} (a model's input size), got {self.size}")
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 0.5:
                raise ImportCropsError(f"--{name.replace('_', '-')} must be in [0, 0.5)")
        if self.fmt not in FORMATS:
            raise ImportCropsError(f"--format must be one of {', '.join(FORMATS)}")
        bad = {k: v for k, v in self.mapping.items() if v not in FFPP_CLASSES}
        if bad:
            k, v = next(iter(bad.items()))
            raise ImportCropsError(f"--map {k}={v}: {v!r} is not one of {', '.join(FFPP_CLASSES)}")


@dataclass(frozen=True)
class Image:
    """One source image and where it goes (``split`` None: to be carved from the pool)."""

    path: Path
    cls: str
    video: str  # class/<sub-folder> or class/<stem>: the unit that never crosses splits
    split: str | None


@dataclass
class Scan:
    layout: str  # "split" or "flat"
    images: list[Image]
    classes: tuple[str, ...]
    aliases: dict[str, str]  # source folder name -> class, where they differ
    given_splits: tuple[str, ...]


def resolve_class(folder: str, mapping: dict[str, str]) -> str:
    """Class of a source folder: --map first, then the documented aliases; else an error."""
    if folder in mapping:
        return mapping[folder]
    key = folder.lower()
    if key in NOT_A_METHOD:
        raise ImportCropsError(
            f"class folder {folder!r} does not say which manipulation it holds; the models "
            f"classify methods: pass --map {folder}=<method> (one of {', '.join(FFPP_CLASSES[1:])})")
    if key not in CLASS_ALIASES:
        raise ImportCropsError(
            f"unknown class folder {folder!r}: expected {', '.join(FFPP_CLASSES)} or an alias "
            f"({', '.join(a for a in CLASS_ALIASES if CLASS_ALIASES[a] == ORIGINAL)}); "
            f"or pass --map {folder}=<class>")
    return CLASS_ALIASES[key]


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _class_images(folder: Path, cls: str, split: str | None) -> list[Image]:
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES or p.name.startswith("."):
            continue
        rel = p.relative_to(folder)
        # names that are not UTF-8 become \xNN escapes: keys and crop names go into UTF-8 files
        video = display_name(f"{cls}/{rel.parent.as_posix()}" if len(rel.parts) > 1 else f"{cls}/{p.stem}")
        out.append(Image(p, cls, f"{split}/{video}" if split else video, split))
    return out


def scan_source(src: Path, mapping: dict[str, str] | None = None) -> Scan:
    """Find the images, their classes and given splits; raises ImportCropsError on bad layouts."""
    mapping = mapping or {}
    if not src.is_dir():
        raise ImportCropsError(f"source folder not found: {src}")
    top = _subdirs(src)
    splits = [d for d in top if d.name.lower() in SPLIT_ALIASES]
    if splits and len(splits) != len(top):
        other = next(d.name for d in top if d not in splits)
        raise ImportCropsError(f"{src} mixes split folders and other folders ({other!r})")
    layout = "split" if splits else "flat"
    parents = [(d, SPLIT_ALIASES[d.name.lower()]) for d in splits] if splits else [(src, None)]
    if len({s for _, s in parents}) != len(parents):
        raise ImportCropsError(f"{src} has two folders for the same split: "
                               f"{', '.join(d.name for d, _ in parents)}")
    images: list[Image] = []
    aliases: dict[str, str] = {}
    present: set[str] = set()
    for folder, split in parents:
        n_before = len(images)
        for d in _subdirs(folder):
            cls = resolve_class(d.name, mapping)
            if d.name != cls:
                aliases[d.name] = cls
            found = _class_images(d, cls, split)
            if not found:
                log.warning("%s has no images (left out)", d)
            images += found
            present.update(i.cls for i in found)
        if len(images) == n_before:
            raise ImportCropsError(f"{'split ' + repr(folder.name) if split else src} has no "
                                   f"images ({', '.join(IMAGE_SUFFIXES)} in <class>/ folders)")
    given = tuple(s for s in SPLITS if any(s == sp for _, sp in parents))
    if layout == "split" and "train" not in given:
        raise ImportCropsError(f"{src} has split folders but no train/ folder")
    if ORIGINAL not in present:
        raise ImportCropsError(f"no '{ORIGINAL}' images under {src} (aliases: youtube, real)")
    if len(present) < 2:
        raise ImportCropsError(f"no manipulated images under {src}: only '{ORIGINAL}'")
    classes = tuple(c for c in FFPP_CLASSES if c in present)  # original first, then FF++ order
    return Scan(layout, images, classes, aliases, given)


def carve(images: list[Image], fraction: float, seed: int, into: str) -> list[Image]:
    """Move about ``fraction`` of each class's pool images (whole videos) into split ``into``."""
    rng = np.random.default_rng(seed)
    by_class: dict[str, dict[str, int]] = defaultdict(Counter)
    for im in images:
        if im.split is None:
            by_class[im.cls][im.video] += 1
    chosen: set[str] = set()
    for cls in sorted(by_class):
        videos = sorted(by_class[cls])
        rng.shuffle(videos)
        target, taken = fraction * sum(by_class[cls].values()), 0
        for v in videos[:-1]:  # never the class's last video: the pool keeps every class
            n = by_class[cls][v]
            if taken >= target or (taken and abs(taken + n - target) > abs(taken - target)):
                break
            chosen.add(v)
            taken += n
    return [Image(im.path, im.cls, im.video, into) if im.split is None and im.video in chosen
            else im for im in images]


def carve_groups(images: list[Image], groups: dict[Path, int], fraction: float, seed: int,
                 into: str) -> list[Image]:
    """Move about ``fraction`` of the pool into split ``into`` by whole similarity groups (across
    classes), keeping at least one pool image of every class."""
    rng = np.random.default_rng(seed)
    members: dict[int, list[int]] = defaultdict(list)
    for i, im in enumerate(images):
        if im.split is None:
            members[groups[im.path]].append(i)
    left = Counter(images[i].cls for m in members.values() for i in m)
    target = fraction * sum(left.values())
    keys = sorted(members)
    rng.shuffle(keys)
    chosen: set[int] = set()
    for g in keys:
        if len(chosen) >= target:
            break
        need = Counter(images[i].cls for i in members[g])
        if any(left[c] - k < 1 for c, k in need.items()):
            continue
        chosen.update(members[g])
        left.subtract(need)
    return [Image(im.path, im.cls, im.video, into) if i in chosen else im
            for i, im in enumerate(images)]


def assign(scan: Scan, cfg: ImportConfig) -> list[Image]:
    """Given splits are kept; val (and test, when not given) are carved from train/the pool.

    With ``cfg.similar`` > 0, near-duplicate crops (see :mod:`train.similar`) are carved
    together, so no crop's twin lands on the other side of the split.
    """
    pool = [Image(i.path, i.cls, i.video, None) if i.split in (None, "train") else i
            for i in scan.images]
    if cfg.similar > 0:
        from .similar import similar_groups

        free = [i.path for i in pool if i.split is None]
        labels = similar_groups(free, cfg.similar)
        groups = dict(zip(free, labels.tolist(), strict=True))
        log.info("%d pool images in %d similarity groups (largest %d)", len(free),
                 len(set(groups.values())), int(np.bincount(labels).max()) if len(free) else 0)
        cut = lambda p, f, s, into: carve_groups(p, groups, f, s, into)  # noqa: E731
    else:
        cut = carve
    if "test" not in scan.given_splits and cfg.test_fraction > 0:
        pool = cut(pool, cfg.test_fraction, cfg.seed, "test")
    if "val" not in scan.given_splits and cfg.val_fraction > 0:
        rest = 1.0 - (0 if "test" in scan.given_splits else cfg.test_fraction)
        pool = cut(pool, cfg.val_fraction / rest, cfg.seed + 1, "val")
    return [Image(i.path, i.cls, i.video, "train") if i.split is None else i for i in pool]


def _convert(job: tuple[Image, Path, int, str]) -> str | None:
    """Read, resize (INTER_AREA) and write one crop; returns why it failed, or None."""
    im, dest, size, fmt = job
    try:  # any file name; the header's size is checked before decoding
        img = read_image(im.path, cv2.IMREAD_COLOR)
    except LimitError as exc:
        return str(exc)  # over the limit, not corrupt: said as such, the import goes on
    if img is None:
        return f"cannot decode image {display_name(im.path.name)}"
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not write_image(dest, img, FORMATS[fmt][1]):
        raise OSError(f"cannot write {display_name(dest)}")
    return None


@dataclass(frozen=True)
class ImportResult:
    data_dir: Path
    classes: tuple[str, ...]
    layout: str
    aliases: dict[str, str]
    table: pd.DataFrame  # split, class, crops
    failed: dict[str, str]  # source path -> reason
    geometry: CropGeometry
    seconds: float


def import_crops(cfg: ImportConfig) -> ImportResult:
    """Convert ``cfg.src`` into the data folder ``cfg.out`` (which must not hold a manifest)."""
    t0 = time.perf_counter()
    src, out = Path(cfg.src), Path(cfg.out)
    if (out / MANIFEST).exists():
        raise ImportCropsError(f"{out} already holds a {MANIFEST}: use another --out")
    scan = scan_source(src, cfg.mapping)
    for name, cls in scan.aliases.items():
        log.info("class folder %r -> %s", name, cls)
    images = assign(scan, cfg)
    suffix = FORMATS[cfg.fmt][0]
    used: set[str] = set()
    rels = []
    for im in images:  # unique crop names even when two source folders merge into one class
        base = display_name(f"{im.split}/{im.cls}/{im.path.stem}")
        rel, k = base + suffix, 1
        while rel in used:
            rel, k = f"{base}__{k}{suffix}", k + 1
        used.add(rel)
        rels.append(rel)
    out.mkdir(parents=True, exist_ok=True)
    by_video: dict[str, list[int]] = defaultdict(list)
    for i, im in enumerate(images):
        by_video[f"{im.split}:{im.video}"].append(i)
    failed: dict[str, str] = {}
    jobs = [(im, out / rel, cfg.size, cfg.fmt) for im, rel in zip(images, rels, strict=True)]
    with ThreadPoolExecutor(max(1, cfg.workers)) as pool, ManifestWriter(out) as writer, \
            tqdm(total=len(jobs), unit="img", desc="import-crops", disable=not cfg.progress) as bar:
        errors = iter(pool.map(_convert, jobs))
        batch: list[ManifestRow] = []
        for idx in by_video.values():  # dicts keep order, and pool.map keeps job order
            group = idx[0]
            rows = []
            for frame, i in enumerate(sorted(idx)):
                if i != group + frame:
                    raise RuntimeError("internal: a video's images are not contiguous")
                im, why = images[i], next(errors)
                base = dict(video=im.video, cls=im.cls, group=im.video, split=im.split,
                            frame=frame)
                if why is None:
                    rows.append(ManifestRow(**base, crop=rels[i], detail=display_name(im.path.name)))
                else:
                    failed[str(im.path)] = why
                    log.warning("%s: %s (recorded, run goes on)", im.path, why)
                    rows.append(ManifestRow(**base, status=UNREADABLE, detail=why))
                bar.update(1)
            n_ok = sum(r.status == OK for r in rows)
            term = dict(video=images[group].video, cls=images[group].cls,
                        group=images[group].video, split=images[group].split, frame=-1)
            rows.append(ManifestRow(**term, status=DONE, detail=f"{n_ok}/{len(rows)} crops")
                        if n_ok else ManifestRow(**term, status=FAILED, detail=rows[-1].detail))
            batch += rows
            if len(batch) >= 512:
                writer.write_video(batch)
                batch = []
        if batch:
            writer.write_video(batch)
    _write_records(cfg, scan, images, out)
    counts = Counter((im.split, im.cls) for im in images if str(im.path) not in failed)
    table = pd.DataFrame([{"split": s, "class": c, "crops": counts[(s, c)]}
                          for s in SPLITS for c in scan.classes])
    return ImportResult(out, scan.classes, scan.layout, scan.aliases, table, failed, cfg.geometry,
                        time.perf_counter() - t0)


def identity_caveat(images: list[Image]) -> str | None:
    """A warning for evaluation reports when the dataset cannot keep people apart across splits.

    Loose files (no ``<class>/<video>/`` sub-folder) carry no video or identity id, so a fake
    ``X_Y`` may train while the original ``X`` tests: the test numbers are then optimistic.
    """
    loose = sum(1 for im in images if im.video.rsplit("/", 1)[-1] == display_name(Path(im.path).stem))
    if not loose:
        return None
    return (f"{loose} of {len(images)} images carry no video or identity id, so the same person "
            "(or a fake made from their video) may appear in both train and test: test numbers "
            "are optimistic")


def _write_records(cfg: ImportConfig, scan: Scan, images: list[Image], out: Path) -> None:
    (out / CLASSES_JSON).write_text(json.dumps(list(scan.classes)))
    escape_frame(pd.DataFrame([{"video": v, "class": c, "group": v, "split": s} for v, c, s in
                               dict.fromkeys((i.video, i.cls, i.split) for i in images)])
                 ).to_csv(out / SPLITS_CSV, index=False)
    caveat = identity_caveat(images)
    if caveat:
        log.warning("%s", caveat)
    record = {
        "source": "import-crops",
        "dataset_caveat": caveat,
        "dataset_root": str(Path(cfg.src).resolve()),
        "layout": scan.layout,
        "given_splits": list(scan.given_splits),
        "aliases": scan.aliases,
        "format": cfg.fmt,
        "crop_geometry": cfg.geometry.to_dict(),
        "crop_geometry_source": cfg.geometry_source,
        "synthetic": False,
        # What the ETL records under this key, for readers of either kind of data folder.
        "val_fraction": cfg.val_fraction,
        "group_similar": cfg.similar,
        "test_fraction": cfg.test_fraction,
        "resume_key": {"size": cfg.size, "margin": cfg.geometry.scale, "seed": cfg.seed,
                       "split": "given" if "test" in scan.given_splits else "carved"},
    }
    (out / ETL_CONFIG_JSON).write_text(json.dumps(record, indent=2))


def parse_geometry(text: str) -> tuple[CropGeometry, str]:
    """``haar`` / ``default`` / ``SCALE,SHIFT_X,SHIFT_Y`` / a JSON file (e.g. the benchmark's)."""
    if text in GEOMETRY_PRESETS:
        return GEOMETRY_PRESETS[text], text
    try:
        if Path(text).is_file():
            data = json.loads(Path(text).read_text())
            return CropGeometry.from_dict(data.get("geometry", data)), str(Path(text).resolve())
        parts = [float(p) for p in text.split(",")]
        if len(parts) != 3:
            raise ValueError("expected SCALE,SHIFT_X,SHIFT_Y")
        return CropGeometry(*parts), "given"
    except (ValueError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ImportCropsError(f"--crop-geometry {text!r}: {exc}") from exc


def parse_mapping(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        folder, sep, cls = item.partition("=")
        if not sep or not folder or not cls:
            raise ImportCropsError(f"--map expects FOLDER=CLASS, got {item!r}")
        out[folder] = cls
    return out


def format_result(res: ImportResult) -> str:
    pivot = res.table.pivot_table(index="class", columns="split", values="crops",
                                  aggfunc="sum", sort=False)
    lines = [pivot.to_string(), "", f"classes: {', '.join(res.classes)} ({res.layout} layout)"]
    lines += [f"alias: folder {k!r} -> {v}" for k, v in res.aliases.items()]
    lines += [f"crop geometry: {res.geometry.to_dict()}",
              f"failed images: {len(res.failed)}; {res.seconds:.1f} s"]
    lines += [f"  failed {k}: {why}" for k, why in sorted(res.failed.items())[:20]]
    return "\n".join(lines)
