"""Shared fixtures: tiny ONNX models, generated videos, and the optional real-media folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.media import write_video
from tests.onnx_factory import tiny_model

REPO = Path(__file__).resolve().parents[1]


def fixtures_root() -> Path:
    return Path(os.environ.get("EDGE_FIXTURES", REPO.parent / "shared" / "fixtures"))


@pytest.fixture(scope="session")
def real_fixtures() -> Path:
    """The real-media folder; tests using it skip on a fresh clone where it is absent."""
    root = fixtures_root()
    if not (root / "faces").is_dir():
        pytest.skip(f"real media fixtures not found at {root} (set EDGE_FIXTURES)")
    return root


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("models") / "tiny.onnx", size=32)


@pytest.fixture(scope="session")
def face_video(tmp_path_factory) -> Path:
    """30 frames 480x320 at 25 fps; frames 10-12 show no face."""
    return write_video(
        tmp_path_factory.mktemp("videos") / "astronaut.mp4", frames=30, no_face_frames={10, 11, 12}
    )
