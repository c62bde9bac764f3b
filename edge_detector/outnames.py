"""Output names derived from input names, safely: every output stays inside its folder.

A video called ``...mp4`` has the stem ``..``; joined to an output folder as is, its results would
land in the folder's parent. Every name component derived from an input (a file's stem, a scanned
sub-folder) goes through :func:`safe_component`, which never returns ``.``, ``..``, an empty or
hidden name, a path separator, a Windows device name, an over-long name, or the name of a file a
run or scan writes itself (a folder ``summary.csv`` beside the scan's summary.csv).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath

from .fsnames import display_name

# Every file a run (RUN_FILES) or a folder scan (SCAN_FILES) writes, in its output folder.
RUN_FILES = ("frames.csv", "summary.json", "annotated.mp4", "annotated.avi", "annotated.jpg",
             "report.html")
SCAN_FILES = ("summary.csv", "settings.json", "error.txt", ".edge-detect.lock")
OUTPUT_NAMES = frozenset(n.casefold() for n in (*RUN_FILES, *SCAN_FILES))
_DEVICE = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
MAX_COMPONENT_BYTES = 200


def safe_component(name: str | bytes) -> str:
    """One path component for an output folder, made from any input name."""
    text = display_name(name) if isinstance(name, bytes) else display_name(str(name))
    text = text.replace("/", "_").replace("\0", "_")
    if not text:
        return "_"
    if text.startswith(".") or _DEVICE.match(text) or text.casefold() in OUTPUT_NAMES:
        text = "_" + text
    raw = text.encode("utf-8")
    if len(raw) > MAX_COMPONENT_BYTES:
        tag = hashlib.sha1(raw).hexdigest()[:8]
        text = raw[: MAX_COMPONENT_BYTES - 9].decode("utf-8", "ignore") + "-" + tag
    return text


def safe_relpath(rel: str | Path | list[str]) -> Path:
    """A relative path with every component made safe (see :func:`safe_component`); a list of
    components keeps the ``.`` that a path would drop (the stem of ``..mp4``)."""
    parts = rel if isinstance(rel, list) else PurePosixPath(display_name(str(rel))).parts
    parts = [p for p in parts if p != "/"]
    return Path(*[safe_component(p) for p in parts]) if parts else Path("_")


def default_output(stem: str) -> Path:
    """``edge-detect-output/<safe stem>``: where a run writes when no ``-o`` is given."""
    return Path("edge-detect-output") / safe_component(stem)
