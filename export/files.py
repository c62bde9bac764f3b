"""Atomic file writes: everything goes to ``<name>.part`` first and is renamed when complete."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import onnx

from edge_detector.weights import sha256_file

__all__ = ["commit", "part_path", "save_onnx", "sha256_file", "write_json_atomic"]


def part_path(path: Path) -> Path:
    """Sibling temp name; same folder, so the final ``os.replace`` is a rename, never a copy."""
    return path.with_name(path.name + ".part")


def save_onnx(proto: onnx.ModelProto, path: Path) -> Path:
    """Serialise ``proto`` to ``path`` (callers pass a ``.part`` path and commit later)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
        f.flush()
        os.fsync(f.fileno())
    return path


def commit(part: Path, final: Path) -> Path:
    """Rename a finished ``.part`` file onto its final name (atomic on one filesystem)."""
    os.replace(part, final)
    return final


def write_json_atomic(data: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(path)
    part.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return commit(part, path)
