"""A short fit on real FF++ c23 face crops gives a model whose outputs depend on the face.

Uses ``$EDGE_DATASETS/ffpp_c23_faces`` (default ``../shared/datasets``); skipped without it. The
issue this guards: on small real sets the old fit kept BatchNorm's initial statistics and saved a
constant model that nothing noticed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("original", "Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")


def datasets_root() -> Path:
    return Path(os.environ.get("EDGE_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture(scope="module")
def real_subset(tmp_path_factory) -> Path:
    src = datasets_root() / "ffpp_c23_faces"
    if not (src / "train" / "original").is_dir():
        pytest.skip(f"real FF++ face crops not found at {src} (set EDGE_DATASETS)")
    root = tmp_path_factory.mktemp("ffpp_subset")
    for split, n in (("train", 48), ("test", 12)):
        for cls in CLASSES:
            files = sorted((src / split / cls).glob("*.jpg"))[:n]
            (root / split / cls).mkdir(parents=True)
            for f in files:
                (root / split / cls / f.name).symlink_to(f)
    return root


def test_short_real_fit_is_not_constant(real_subset, tmp_path):
    from train.fit import FitConfig, fit
    from train.import_crops import ImportConfig, import_crops

    data = import_crops(ImportConfig(real_subset, tmp_path / "data", size=64, progress=False)).data_dir
    res = fit(FitConfig(arch="scratch", data_dir=data, out=tmp_path / "run", epochs=3,
                        batch_size=16, input_size=64, verbose=0, seed=0))
    assert res.degenerate is None, res.degenerate
    from train.evaluate import evaluate

    ev = evaluate(res.model_path, data, "test", tmp_path / "eval", progress=False, jpeg=())
    p_fake = 1.0 - ev.probs[:, 0]
    assert np.std(p_fake) > 0.01 and len(np.unique(ev.probs.argmax(axis=1))) >= 2
