"""Shared fixtures: tiny ONNX models, generated videos, and the optional real-media folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.media import write_video
from tests.onnx_factory import tiny_model

REPO = Path(__file__).resolve().parents[1]

# Set before any test imports TensorFlow (and inherited by subprocesses): every training and
# inference in the suite is seeded *and* runs deterministic kernels, so results do not vary by run.
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Session fixtures too costly to build once per pytest-xdist worker: with ``--dist loadgroup``
# (``make test``) every test using one of them runs on the same worker, which builds it once.
XDIST_GROUPS = {
    "synthetic_etl": "trained-model", "trained_model": "trained-model",
    "trained_pipeline": "trained-model",
    "crop_dir": "export-crops", "scratch_run": "export-crops", "scratch_export": "export-crops",
    "dask_client": "dask-cluster",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        groups = {XDIST_GROUPS[f] for f in getattr(item, "fixturenames", ()) if f in XDIST_GROUPS}
        if groups:  # the trained model outranks the export crops (its tests are the longest)
            group = "trained-model" if "trained-model" in groups else sorted(groups)[0]
            item.add_marker(pytest.mark.xdist_group(group))


def fixtures_root() -> Path:
    return Path(os.environ.get("EDGE_FIXTURES", REPO.parent / "shared" / "fixtures"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Captured output with a surrogate-escaped (non-UTF-8) file name, escaped for transport.

    Tests of non-UTF-8 names log such names; pytest-xdist sends each report's captured sections as
    UTF-8 and would crash the worker (INTERNALERROR) on a lone surrogate.
    """
    report = yield
    report.sections = [(title, text.encode("utf-8", "backslashreplace").decode("utf-8"))
                       for title, text in report.sections]
    return report


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


SYNTH_IDENTITIES = 24
SYNTH_CROP = 64  # the ETL writes crops at the model's input size, so preprocess never resizes
TRAIN_EPOCHS = 20


@pytest.fixture(scope="session")
def synthetic_etl(tmp_path_factory):
    """``(DatasetInfo, EtlResult)`` of the session's synthetic dataset: 24 identities (12 FF++-style
    pairs) x 5 classes, 4 lossless PNG crops of 64 px per video (2 ETL workers)."""
    from train.synthetic import make_etl_dataset

    return make_etl_dataset(tmp_path_factory.mktemp("synthetic"), identities=SYNTH_IDENTITIES,
                            frames=12, frames_per_video=4, crop_size=SYNTH_CROP, workers=2)


_FIT_IN_A_FRESH_PROCESS = """
import pickle, sys
from pathlib import Path
from train.fit import FitConfig, fit
data, out, epochs, size, result = sys.argv[1:]
res = fit(FitConfig(arch="scratch", data_dir=Path(data), out=Path(out), epochs=int(epochs),
                    batch_size=8, input_size=int(size), seed=0, deterministic=True, verbose=0))
Path(result).write_bytes(pickle.dumps(res))
"""


@pytest.fixture(scope="session")
def trained_model(synthetic_etl, tmp_path_factory):
    """The session's ONE trained model (``train.fit.FitResult``), shared by every test that needs one.

    Scratch CNN, 64 px, batch 8, up to 20 epochs (early stopping ends it near 10), seeded and with
    TensorFlow op determinism. Trained in a fresh interpreter: in the test process the weights
    would depend on what earlier tests (a different set on each xdist worker) did with TensorFlow.
    """
    import pickle
    import subprocess
    import sys

    work = tmp_path_factory.mktemp("trained")
    result = work / "fit_result.pkl"
    proc = subprocess.run(
        [sys.executable, "-c", _FIT_IN_A_FRESH_PROCESS, str(synthetic_etl[1].data_dir), str(work / "run"),
         str(TRAIN_EPOCHS), str(SYNTH_CROP), str(result)],
        capture_output=True, text=True, timeout=900, cwd=REPO,
        env={**os.environ, "TF_DETERMINISTIC_OPS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pickle.loads(result.read_bytes())
