"""ONNX files written atomically, with the project's one helper (:mod:`edge_detector.atomic`)."""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from edge_detector.atomic import commit, part_path
from edge_detector.weights import sha256_file

__all__ = ["commit", "part_path", "save_onnx", "sha256_file"]


def save_onnx(proto: onnx.ModelProto, path: Path) -> Path:
    """Serialise ``proto`` to ``path`` (callers pass a ``.part`` path and commit later)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
        f.flush()
        os.fsync(f.fileno())
    return path

