"""Identity-safe splitting: no person in two splits, deterministic, every split filled."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from train.layout import VideoItem, scan_dataset, video_ids
from train.splits import assign_groups, assign_splits, identity_groups


def _video(key: str) -> VideoItem:
    cls, stem = key.split("/")
    return VideoItem(Path(f"/x/{key}.mp4"), cls, stem, video_ids(cls, stem))


def _ffpp_like(n_pairs: int) -> list[VideoItem]:
    """FF++ structure: pairs (a, b); originals a, b; each method has a_b and b_a."""
    out = []
    for p in range(n_pairs):
        a, b = f"{2 * p:03d}", f"{2 * p + 1:03d}"
        out += [_video(f"original/{a}"), _video(f"original/{b}")]
        for m in ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"):
            out += [_video(f"{m}/{a}_{b}"), _video(f"{m}/{b}_{a}")]
    return out


def _assert_no_identity_crosses(videos, assign):
    split_of_id: dict[str, str] = {}
    for v in videos:
        for i in v.ids:
            assert split_of_id.setdefault(i, assign[v.key].split) == assign[v.key].split, (
                f"identity {i} is in {split_of_id[i]} and {assign[v.key].split}")


def test_video_ids_parse_ffpp_and_dfd_names():
    assert video_ids("original", "519") == ("519",)
    assert video_ids("Deepfakes", "519_515") == ("519", "515")
    assert video_ids("DeepFakeDetection", "01_02__meeting_serious__YVGY8LOK") == ("actor:01",
                                                                                   "actor:02")
    # actor originals: the actor id, never the scene words
    assert video_ids("original", "01__exit_phone_room") == ("actor:01",)


def test_union_find_links_targets_sources_and_chains():
    videos = [_video(k) for k in ("original/519", "Deepfakes/519_515", "original/515",
                                  "original/100", "FaceSwap/100_200", "Face2Face/200_300",
                                  "original/300", "original/777")]
    g = identity_groups(videos)
    assert g["original/519"] == g["Deepfakes/519_515"] == g["original/515"]
    assert g["original/100"] == g["FaceSwap/100_200"] == g["Face2Face/200_300"] == g[
        "original/300"]  # chain A_B, B_C
    assert len({g["original/519"], g["original/100"], g["original/777"]}) == 3


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_identity_split_never_crosses_and_hits_targets(seed):
    videos = _ffpp_like(40)  # 40 groups of 10 videos
    # add a chain across pairs: 000_002 links pair 0 and pair 1
    videos.append(_video("FaceShifter/000_002"))
    assign = assign_splits(videos, "identity", seed)
    _assert_no_identity_crosses(videos, assign)
    counts = Counter(a.split for a in assign.values())
    n = len(videos)
    assert abs(counts["train"] / n - 0.70) < 0.05
    assert abs(counts["val"] / n - 0.15) < 0.05 and abs(counts["test"] / n - 0.15) < 0.05
    assert assign["FaceShifter/000_002"].split == assign["original/002"].split == assign[
        "original/000"].split
    assert assign == assign_splits(list(reversed(videos)), "identity", seed)  # order-free


def test_identity_split_depends_on_seed_only():
    videos = _ffpp_like(20)
    a, b = assign_splits(videos, "identity", 0), assign_splits(videos, "identity", 0)
    assert a == b
    assert any(assign_splits(videos, "identity", s) != a for s in (1, 2, 3))


def test_few_groups_still_fill_every_split():
    assert sorted(assign_groups({"a": 1, "b": 1, "c": 1}, 0).values()) == ["test", "train", "val"]
    out = assign_groups({"a": 5, "b": 1, "c": 1, "d": 1}, 0)
    assert set(out.values()) == {"train", "val", "test"} and out["a"] == "train"
    assert set(assign_groups({"a": 3, "b": 2}, 0).values()) == {"train", "val"}
    with pytest.raises(ValueError, match="fractions"):
        assign_groups({"a": 1}, 0, (0.5, 0.5, 0.5))


def test_video_split_is_per_class_and_leaks_identities():
    videos = _ffpp_like(10)
    assign = assign_splits(videos, "video", 3)
    for cls in ("original", "Deepfakes"):
        per = Counter(a.split for k, a in assign.items() if k.startswith(cls + "/"))
        assert per["train"] == 14 and per["val"] + per["test"] == 6 and per["val"] >= 2
    assert {a.group for a in assign.values()} == set(assign)  # each video its own group


def test_official_split_uses_pair_lists(tmp_path):
    videos = _ffpp_like(3) + [_video("DeepFakeDetection/01_02__walk__ABC"),
                              _video("DeepFakeDetection/03_04__talk__DEF"),
                              _video("DeepFakeDetection/05_06__sit__GHI")]
    for split, pairs in (("train", [["000", "001"]]), ("val", [["002", "003"]]),
                         ("test", [["004", "005"]])):
        (tmp_path / f"{split}.json").write_text(json.dumps(pairs))
    assign = assign_splits(videos, "official", 0, splits_dir=tmp_path)
    assert assign["original/001"].split == assign["Deepfakes/000_001"].split == "train"
    assert assign["FaceSwap/003_002"].split == "val"
    assert assign["NeuralTextures/005_004"].split == "test"
    dfd = {assign[k].split for k in assign if k.startswith("DeepFakeDetection/")}
    assert dfd == {"train", "val", "test"}  # not in the lists: split by identity instead
    with pytest.raises(ValueError, match="splits-dir"):
        assign_splits(videos, "official", 0)
    (tmp_path / "val.json").write_text(json.dumps([["000", "009"]]))
    with pytest.raises(ValueError, match="both"):
        assign_splits(videos, "official", 0, splits_dir=tmp_path)


def test_scan_finds_official_layout_and_reports_missing_classes(tmp_path):
    for sub, name in (("original_sequences/youtube/c23/videos", "000.mp4"),
                      ("manipulated_sequences/Deepfakes/c23/videos", "000_001.mp4"),
                      ("manipulated_sequences/FaceShifter/c23/videos", "001_000.mp4")):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / name).write_bytes(b"x")
    scan = scan_dataset(tmp_path)
    assert scan.layout == "official"
    assert scan.classes == ("original", "Deepfakes", "FaceShifter")
    assert scan.missing_classes == ("DeepFakeDetection", "Face2Face", "FaceSwap",
                                    "NeuralTextures")
    assert [v.key for v in scan.videos] == ["original/000", "Deepfakes/000_001",
                                            "FaceShifter/001_000"]
    with pytest.raises(FileNotFoundError, match="original"):
        scan_dataset(tmp_path / "original_sequences" / "youtube")
