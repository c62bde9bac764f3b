"""ETL under hostile conditions: actor identities, a second run, a broken worker, odd names."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections import defaultdict

import pytest

import train.etl as etl
from edge_detector.weights import locate_detector_files
from train.etl import EtlConfig, out_lock, run_etl
from train.layout import scan_dataset
from train.manifest import read_manifest
from train.splits import assign_splits

from .conftest import REPO

ACTORS = ["01", "02", "03", "04", "05", "06", "07", "08"]
SCENES = ["exit_phone_room", "meeting_serious", "walking_outside_cafe_disgusted"]


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0")


def test_actor_videos_get_actor_identities_and_never_cross_splits(tmp_path):
    """Official layout: YouTube originals, actor originals, their DFD fakes and FF++ fakes."""
    root = tmp_path / "ffpp"
    yt = root / "original_sequences" / "youtube" / "c23" / "videos"
    actors = root / "original_sequences" / "actors" / "c23" / "videos"
    dfd = root / "manipulated_sequences" / "DeepFakeDetection" / "c23" / "videos"
    df = root / "manipulated_sequences" / "Deepfakes" / "c23" / "videos"
    for i in range(20):
        _touch(yt / f"{i:03d}.mp4")
        _touch(df / f"{i:03d}_{i ^ 1:03d}.mp4")  # pairs (000, 001), (002, 003), ...
    for a in ACTORS:
        for scene in SCENES:  # shared scene words must not merge actors
            _touch(actors / f"{a}__{scene}.mp4")
    for i in range(0, len(ACTORS), 2):  # fakes of actor pairs (01, 02), (03, 04), ...
        a, b = ACTORS[i], ACTORS[i + 1]
        _touch(dfd / f"{a}_{b}__{SCENES[i % 3]}__HASH{i:04d}.mp4")
    scan = scan_dataset(root)
    items = {v.key: v for v in scan.videos}
    assert items["original/01__exit_phone_room"].ids == ("actor:01",)
    assert items["DeepFakeDetection/01_02__exit_phone_room__HASH0000"].ids == ("actor:01", "actor:02")
    assert items["original/001"].ids == ("001",)  # YouTube ids stay apart from actor ids
    assign = assign_splits(scan.videos, "identity", seed=3)
    split_of = defaultdict(set)
    for v in scan.videos:
        for i in v.ids:
            split_of[i].add(assign[v.key].split)
    crossing = {i: s for i, s in split_of.items() if len(s) > 1}
    assert not crossing, crossing
    assert all(not i.startswith(("exit", "meeting", "walking")) for i in split_of)
    group = {v.key: assign[v.key].group for v in scan.videos}
    # the fake of actors 01 and 02 ties both actors' originals into one group; shared scene words
    # no longer glue every actor together: four actor pairs, four groups
    assert group["original/01__exit_phone_room"] == group["original/02__meeting_serious"] \
        == group["DeepFakeDetection/01_02__exit_phone_room__HASH0000"]
    assert len({g for k, g in group.items() if "__" in k}) == 4


def _cfg(root, out, **kw):
    return EtlConfig(root, out, **{"frames_per_video": 2, "size": 48, "workers": 1,
                                   "progress": False, **kw})


def test_a_second_run_on_the_same_out_is_refused(small_videos, tmp_path):
    out = tmp_path / "data"
    with out_lock(out), pytest.raises(RuntimeError, match=f"another ETL run \\(pid {os.getpid()}\\)"):
        run_etl(_cfg(small_videos.root, out))
    assert not (out / "manifest.csv").exists()
    (out / etl.LOCK_FILE).write_text("999999\n")  # stale: its process is gone
    res = run_etl(_cfg(small_videos.root, out))
    assert res.processed == 12 and (out / etl.LOCK_FILE).read_text().strip() == str(os.getpid())


@pytest.mark.parametrize("field, value", [("margin", math.nan), ("margin", 0.5), ("size", 10**6),
                                          ("conf_threshold", 50.0),
                                          ("conf_threshold", math.nan)])
def test_etl_config_refuses_nan_and_out_of_range(tmp_path, field, value):
    with pytest.raises(ValueError, match="must be in"):
        _cfg(tmp_path, tmp_path / "o", **{field: value})


def _train_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "train", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=REPO, env={**os.environ, **(env or {})})


def test_cli_rejects_nan_margin_and_bad_conf(tmp_path):
    tmp_path.joinpath("root").mkdir()
    for opt in (["--margin", "nan"], ["--conf", "50"]):
        r = _train_cli("etl", tmp_path / "root", "--out", tmp_path / "o", *opt)
        assert r.returncode == 2 and opt[0] in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_worker_that_cannot_start_fails_once_with_one_line(small_videos, tmp_path, monkeypatch):
    tampered = tmp_path / "deploy.prototxt"
    tampered.write_text(locate_detector_files().config.read_text() + "\n# tampered\n")
    r = _train_cli("-q", "etl", small_videos.root, "--out", tmp_path / "o", "--workers", "2",
                   env={"EDGE_FACE_CONFIG": str(tampered)})
    assert r.returncode == 4, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]  # besides warnings
    assert len(errors) == 1 and "SHA-256" in errors[0] and "Traceback" not in r.stderr, r.stderr
    # inside a worker: the initializer never raises (Pool would respawn it forever) ...
    monkeypatch.setattr(etl, "_DETECTOR", None)
    monkeypatch.setattr(etl, "_INIT_ERROR", None)
    etl._init_worker(50.0, 1)
    assert "conf_threshold" in etl._INIT_ERROR
    # ... and the first job reports it, once, as one line
    job = etl.VideoJob(tmp_path / "x.mp4", "original/x", "original", "x", "x", "train", 2, 48,
                       1.3, "grab", tmp_path)
    with pytest.raises(etl.WorkerStartError, match="failed to start: ValueError"):
        etl.process_video(job)


def test_a_video_name_that_is_not_utf8_is_processed(small_videos, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(small_videos.root, root)
    src = next((root / "original").glob("*.mp4"))
    bad = os.fsencode(root / "original") + b"/" + b"\xff" + os.fsencode(src.name)
    os.rename(src, bad)
    res = run_etl(_cfg(root, tmp_path / "data"))
    df = read_manifest(tmp_path / "data")
    key = f"original/\\xff{src.stem}"
    assert key in set(df.video) and not res.failed, res.failed
    assert (df[(df.video == key)].status == "ok").any()
