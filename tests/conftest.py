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


def fixtures_root() -> Path:
    return Path(os.environ.get("EDGE_FIXTURES", REPO.parent / "shared" / "fixtures"))


def _built_once(tmp_path_factory, name: str, build):
    """``build(folder)``'s result, built by ONE pytest-xdist worker and shared with the others.

    Each worker has its own session; the first to take the lock builds into a folder of the run's
    common temp dir and pickles the result, the others wait and load it. Without xdist: built here.
    """
    import fcntl
    import pickle

    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build(tmp_path_factory.mktemp(name))
    root = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    root.mkdir(exist_ok=True)
    result = root / "result.pkl"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not result.is_file():
            result.write_bytes(pickle.dumps(build(root / "build")))
        return pickle.loads(result.read_bytes())


# Fixtures that put a test in the slow tier (``make test-slow``): the session's synthetic dataset
# and trained model, and the real media of ../shared (clips, FF++ videos, FF++ face crops).
SLOW_FIXTURES = frozenset({"synthetic_etl", "trained_model", "real_fixtures", "ffpp_mini",
                           "real_subset"})


def pytest_collection_modifyitems(config, items):
    """``slow`` = trains or exports a model, runs a benchmark, or reads ../shared.

    ``make test`` runs the rest, the self-contained core; CI runs both tiers (.ci/run).
    """
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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
TRAIN_EPOCHS = 8


@pytest.fixture(scope="session")
def synthetic_etl(tmp_path_factory):
    """``(DatasetInfo, EtlResult)`` of the session's synthetic dataset: 24 identities (12 FF++-style
    pairs) x 5 classes, 4 lossless PNG crops of 64 px per video.

    Two ETL workers write manifest rows in completion order; ``fit`` sorts the crops, so the
    trained model does not depend on it.
    """
    from train.synthetic import make_etl_dataset

    return _built_once(tmp_path_factory, "synthetic", lambda folder: make_etl_dataset(
        folder, identities=SYNTH_IDENTITIES, frames=12, frames_per_video=4, crop_size=SYNTH_CROP,
        workers=2))


_FIT_IN_A_FRESH_PROCESS = """
import pickle, sys
from pathlib import Path
from train.fit import FitConfig, fit
data, out, epochs, size, result = sys.argv[1:]
res = fit(FitConfig(arch="scratch", data_dir=Path(data), out=Path(out), epochs=int(epochs),
                    batch_size=8, input_size=int(size), seed=0, deterministic=True, verbose=0,
                    patience=2))
Path(result).write_bytes(pickle.dumps(res))
"""


@pytest.fixture(scope="session")
def trained_model(synthetic_etl, tmp_path_factory):
    """The session's ONE trained model (``train.fit.FitResult``), shared by every test that needs one.

    Scratch CNN, 64 px, batch 8, up to 8 epochs, patience 2 (validation AUC is 1.0 from epoch
    1), seeded and with TensorFlow op determinism. Trained in a fresh interpreter: in the test
    process the weights would depend on what earlier tests (a different set on each xdist
    worker) did with TensorFlow.
    """
    return _built_once(tmp_path_factory, "trained", lambda work: _fit_in_a_fresh_process(
        synthetic_etl[1].data_dir, work))


def _fit_in_a_fresh_process(data_dir: Path, work: Path):
    import pickle
    import subprocess
    import sys

    work.mkdir(parents=True, exist_ok=True)
    result = work / "fit_result.pkl"
    proc = subprocess.run(
        [sys.executable, "-c", _FIT_IN_A_FRESH_PROCESS, str(data_dir), str(work / "run"),
         str(TRAIN_EPOCHS), str(SYNTH_CROP), str(result)],
        capture_output=True, text=True, timeout=900, cwd=REPO,
        env={**os.environ, "TF_DETERMINISTIC_OPS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pickle.loads(result.read_bytes())
