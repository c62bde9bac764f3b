"""Find the videos of a FaceForensics++ c23 copy: the Kaggle layout or the official one.

Kaggle: ``ROOT/<class>/*.mp4`` (+ ``ROOT/csv/FF++_Metadata.csv``). Official:
``ROOT/original_sequences/youtube/c23/videos`` and ``ROOT/manipulated_sequences/<Method>/c23/videos``.
The class list is ``original`` first, then the present manipulations in ``FFPP_CLASSES`` order.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

from edge_detector.contract import FFPP_CLASSES, ORIGINAL
from edge_detector.csvsafe import unescape_cell
from edge_detector.fsnames import display_name, is_utf8

from .errors import MissingFileError

log = logging.getLogger(__name__)

METADATA_CSV = Path("csv") / "FF++_Metadata.csv"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
DFD = "DeepFakeDetection"
SYNTHETIC_MARKER = "SYNTHETIC.json"  # written by train.synthetic at a generated dataset's root


@dataclass(frozen=True)
class VideoItem:
    """One video: ``key`` (``class/stem``) is unique in a dataset; ``ids`` are its identities."""

    path: Path
    cls: str
    stem: str
    ids: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.cls}/{self.stem}"


@dataclass(frozen=True)
class DatasetScan:
    """What was found under a dataset root."""

    root: Path
    layout: str
    videos: list[VideoItem]
    classes: tuple[str, ...]
    missing_classes: tuple[str, ...]


ACTOR = "actor:"


def video_ids(cls: str, stem: str) -> tuple[str, ...]:
    """Identities a video shows: ``519`` -> (519,); ``519_515`` -> (519, 515).

    Names with ``__`` are the FF++ actor recordings: originals ``01__exit_phone_room`` (actor 01)
    and DeepFakeDetection fakes ``01_02__meeting_serious__YVGY8LOK`` (actors 01 and 02). Their ids
    (the part before ``__``) come from another numbering than the YouTube ids, so they are
    namespaced (``actor:01``): an actor's originals and fakes share a group, and never a YouTube
    id; scene words are never identities.
    """
    if "__" in stem or cls == DFD:
        head = stem.split("__", 1)[0]
        ids = tuple(f"{ACTOR}{p}" for p in head.split("_") if p)
        return ids or (f"{ACTOR}{stem}",)
    parts = [p for p in stem.split("_") if p]
    return tuple(parts) if parts else (stem,)


def _videos_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _class_dirs(root: Path) -> tuple[str, dict[str, list[Path]]]:
    official = root / "original_sequences"
    if official.is_dir() or (root / "manipulated_sequences").is_dir():
        dirs = {ORIGINAL: [official / "youtube" / "c23" / "videos",
                           official / "actors" / "c23" / "videos"]}
        for cls in FFPP_CLASSES[1:]:
            dirs[cls] = [root / "manipulated_sequences" / cls / "c23" / "videos"]
        return "official", dirs
    return "kaggle", {cls: [root / cls] for cls in FFPP_CLASSES}


def _check_metadata(root: Path, videos: list[VideoItem]) -> None:
    """Cross-check the Kaggle metadata CSV against the files on disk (warnings only)."""
    path = root / METADATA_CSV
    if not path.is_file():
        return
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    listed = {unescape_cell(r.get("File Path", "")).replace("\\", "/"): unescape_cell(r.get("Label", ""))
              for r in rows}
    on_disk = {f"{v.cls}/{v.path.name}": v for v in videos}
    missing = sorted(set(listed) - set(on_disk))
    unlisted = sorted(set(on_disk) - set(listed))
    bad = sorted(k for k, lab in listed.items() if k in on_disk
                 and lab.upper() != ("REAL" if on_disk[k].cls == ORIGINAL else "FAKE"))
    log.info("metadata CSV lists %d videos", len(listed))
    if missing:
        log.warning("%d videos in %s are not on disk (e.g. %s)", len(missing), path, missing[0])
    if unlisted:
        log.warning("%d videos on disk are not in %s (e.g. %s)", len(unlisted), path, unlisted[0])
    if bad:
        log.warning("%d videos have a REAL/FAKE label contradicting their folder (e.g. %s)",
                    len(bad), bad[0])


def scan_dataset(root: str | Path) -> DatasetScan:
    """List the videos of every present class; raises ``FileNotFoundError`` if there are none."""
    root = Path(root)
    if not root.is_dir():
        raise MissingFileError(f"dataset root not found: {root}")
    layout, dirs = _class_dirs(root)
    videos: list[VideoItem] = []
    present, missing = [], []
    for cls in FFPP_CLASSES:
        found = [p for d in dirs[cls] for p in _videos_in(d)]
        if not found:
            missing.append(cls)
            continue
        present.append(cls)
        for p in found:
            # a name that is not UTF-8 is kept, written with \xNN escapes wherever it is shown
            stem = display_name(p.stem)
            if not is_utf8(p.name):
                log.warning("%s: file name is not valid UTF-8; recorded as %s", display_name(p), stem)
            videos.append(VideoItem(p, cls, stem, video_ids(cls, stem)))
    if missing:
        log.warning("classes absent from %s (left out): %s", root, ", ".join(missing))
    if ORIGINAL not in present:
        raise MissingFileError(f"no '{ORIGINAL}' videos under {root} ({layout} layout: "
                               f"looked in {', '.join(map(str, dirs[ORIGINAL]))})")
    if len(present) < 2:
        raise MissingFileError(f"no manipulated videos under {root} ({layout} layout)")
    if layout == "kaggle":
        _check_metadata(root, videos)
    log.info("%s layout: %d videos in %d classes", layout, len(videos), len(present))
    return DatasetScan(root, layout, videos, tuple(present), tuple(missing))
