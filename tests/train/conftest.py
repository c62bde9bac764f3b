"""Shared training-test fixtures: one synthetic dataset + ETL output per session, real FF++ clips.

The synthetic set is sized for a model that clearly beats chance in well under a minute of CPU
training: 24 identities (12 FF++-style pairs, so 12 identity groups) x 5 classes, 4 crops of
64 px per video.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import fixtures_root

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[2]
SYNTH_IDENTITIES = 24
SYNTH_CROP = 64


def ffpp_mini_root() -> Path:
    return fixtures_root() / "ffpp_c23_mini"


@pytest.fixture(scope="session")
def ffpp_mini() -> Path:
    """The seven real FF++ c23 clips; tests using them skip when the folder is absent."""
    root = ffpp_mini_root()
    if not (root / "original").is_dir():
        pytest.skip(f"real FF++ fixtures not found at {root} (set EDGE_FIXTURES)")
    return root


@pytest.fixture(scope="session")
def synthetic_etl(tmp_path_factory):
    """``(DatasetInfo, EtlResult)`` of the session's synthetic dataset (2 ETL workers)."""
    from train.synthetic import make_etl_dataset

    return make_etl_dataset(tmp_path_factory.mktemp("synthetic"), identities=SYNTH_IDENTITIES,
                            frames=12, frames_per_video=4, crop_size=SYNTH_CROP, workers=2)


@pytest.fixture
def small_videos(tmp_path):
    """A 12-video dataset (6 identities x original/Deepfakes) for quick ETL tests."""
    from train.synthetic import make_dataset

    return make_dataset(tmp_path / "videos", identities=6, frames=6,
                        classes=("original", "Deepfakes"))
