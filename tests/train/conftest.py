"""Training-test fixtures: real FF++ clips, small generated datasets.

The session's synthetic dataset (``synthetic_etl``) and its one trained model (``trained_model``)
live in tests/conftest.py, shared with the export tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import fixtures_root

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[2]


def ffpp_mini_root() -> Path:
    return fixtures_root() / "ffpp_c23_mini"


@pytest.fixture(scope="session")
def ffpp_mini() -> Path:
    """The seven real FF++ c23 clips; tests using them skip when the folder is absent."""
    root = ffpp_mini_root()
    if not (root / "original").is_dir():
        pytest.skip(f"real FF++ fixtures not found at {root} (set EDGE_FIXTURES)")
    return root


@pytest.fixture
def small_videos(tmp_path):
    """A 12-video dataset (6 identities x original/Deepfakes) for quick ETL tests."""
    from train.synthetic import make_dataset

    return make_dataset(tmp_path / "videos", identities=6, frames=6,
                        classes=("original", "Deepfakes"))
