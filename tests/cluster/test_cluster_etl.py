"""`python -m train etl --cluster ADDRESS`: same manifest as a local run; Ctrl-C then resume."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pandas as pd
import pytest

from train.etl import EtlConfig, run_etl
from train.manifest import OK, read_manifest

from .conftest import distributed, run_task_count

FLOATS = ["time_s", "x1", "y1", "x2", "y2", "confidence"]


def _cfg(root, out, **kw):
    return EtlConfig(root, out, frames_per_video=2, size=48, workers=1, progress=False, **kw)


def _rows(data_dir) -> pd.DataFrame:
    return read_manifest(data_dir).sort_values(["video", "frame"]).reset_index(drop=True)


def _same(got_dir, want_dir) -> None:
    got, want = _rows(got_dir), _rows(want_dir)
    pd.testing.assert_frame_equal(got.drop(columns=FLOATS), want.drop(columns=FLOATS))
    np.testing.assert_allclose(got[FLOATS].to_numpy(float), want[FLOATS].to_numpy(float), atol=0.2)
    for crop in got.loc[got["status"] == OK, "crop"]:
        a, b = cv2.imread(str(got_dir / crop)), cv2.imread(str(want_dir / crop))
        assert a is not None and a.shape == (48, 48, 3) and np.abs(a.astype(int) - b).mean() < 3


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from train.synthetic import make_dataset

    return make_dataset(tmp_path_factory.mktemp("etl") / "videos", identities=4, frames=4,
                        classes=("original", "Deepfakes"))


def test_cluster_etl_equals_local_and_resumes_after_ctrl_c(videos, tmp_path, dask_client):
    (videos.root / "original" / "zz_corrupt.mp4").write_bytes(b"not a video")
    local = run_etl(_cfg(videos.root, tmp_path / "local"))
    assert local.processed == 9 and list(local.failed) == ["original/zz_corrupt"]
    address = dask_client.scheduler.address
    full = run_etl(_cfg(videos.root, tmp_path / "full", cluster=address))
    assert full.processed == 9 and full.failed == local.failed
    _same(tmp_path / "full", tmp_path / "local")

    data, seen = tmp_path / "data", []

    def stop_after_three(rows):
        seen.append(rows[-1].video)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_etl(_cfg(videos.root, data, cluster=address), on_video=stop_after_three)
    assert read_manifest(data).query("frame == -1")["video"].tolist() == seen
    deadline = time.monotonic() + 20  # Ctrl-C cancelled the rest: the scheduler forgets them
    while dask_client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert dask_client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0
    with distributed.get_task_stream(dask_client) as ts:
        again = run_etl(_cfg(videos.root, data, cluster=address))
    assert again.processed == 6 and again.skipped == 3
    assert run_task_count(ts.data) == 6
    _same(data, tmp_path / "local")
