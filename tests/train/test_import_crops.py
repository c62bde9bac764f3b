"""import-crops: image-folder datasets -> the ETL's data folder (self-contained: astronaut crops)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_detector.geometry import CropGeometry
from train.cli import main
from train.data import load_classes, split_data
from train.import_crops import (
    GEOMETRY_PRESETS,
    ImportConfig,
    ImportCropsError,
    import_crops,
    parse_geometry,
)
from train.manifest import read_manifest


def _face() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[30:230, 140:340]


def make_image_folder(root: Path, layout: dict[str, dict[str, int]], size: int = 40,
                      ext: str = ".jpg") -> Path:
    """``{split_or_"": {class_folder: n}}``: n distinct jittered astronaut crops per folder."""
    face, k = _face(), 0
    for split, classes in layout.items():
        for cls, n in classes.items():
            folder = root / split / cls if split else root / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                k += 1
                dx, dy = (k * 7) % 40, (k * 13) % 40
                img = cv2.resize(face[dy:dy + 150, dx:dx + 150], (size, size))
                cv2.imwrite(str(folder / f"roi_{i}{ext}"), img)
    return root


def run(src: Path, out: Path, **kw) -> object:
    return import_crops(ImportConfig(src, out, size=kw.pop("size", 32), progress=False, **kw))


def test_split_layout_keeps_test_carves_val_and_writes_the_etl_files(tmp_path):
    src = make_image_folder(tmp_path / "src", {
        "train": {"youtube": 20, "Deepfakes": 20, "NeuralTextures": 10},
        "test": {"youtube": 4, "Deepfakes": 3, "NeuralTextures": 2}})
    res = run(src, tmp_path / "data")
    d = res.data_dir
    assert res.classes == ("original", "Deepfakes", "NeuralTextures") == load_classes(d)
    assert res.aliases == {"youtube": "original"} and res.failed == {}
    t = res.table.set_index(["split", "class"])["crops"]
    assert t["test"].to_dict() == {"original": 4, "Deepfakes": 3, "NeuralTextures": 2}
    assert t["val"].to_dict() == {"original": 3, "Deepfakes": 3, "NeuralTextures": 2}  # 15 %
    assert t["train"].sum() + t["val"].sum() == 50
    df = read_manifest(d)
    ok = df[df["status"] == "ok"]
    assert len(ok) == 59 and (df["status"] == "done").sum() == 59
    for rel in ok["crop"].head(5):
        img = cv2.imread(str(d / rel))
        assert rel.endswith(".png") and img.shape == (32, 32, 3)
    assert set(ok["crop"].str.split("/").str[0]) == {"train", "val", "test"}
    rec = json.loads((d / "etl_config.json").read_text())
    assert rec["source"] == "import-crops" and rec["dataset_root"] == str(src.resolve())
    assert rec["crop_geometry"] == GEOMETRY_PRESETS["haar"].to_dict()
    assert rec["resume_key"]["size"] == 32 and rec["synthetic"] is False
    assert rec["dataset_caveat"].startswith("59 of 59 images carry no video or identity id")
    val = split_data(d, "val", res.classes)
    assert len(val) == 8 and set(val.labels.tolist()) == {0, 1, 2}


def test_pixels_are_an_inter_area_resize_of_the_source(tmp_path):
    src = make_image_folder(tmp_path / "src", {"": {"original": 3, "FaceSwap": 3}}, size=64,
                            ext=".png")
    res = run(src, tmp_path / "data", val_fraction=0.0, test_fraction=0.0)
    row = read_manifest(res.data_dir).query("status == 'ok'").iloc[0]
    source = cv2.imread(str(src / row["class"] / row["detail"]))
    want = cv2.resize(source, (32, 32), interpolation=cv2.INTER_AREA)
    assert np.array_equal(cv2.imread(str(res.data_dir / row["crop"])), want)  # PNG: lossless


def test_flat_layout_carves_val_and_test_stratified_and_seeded(tmp_path):
    src = make_image_folder(tmp_path / "src", {"": {"real": 40, "Face2Face": 20}})
    a = run(src, tmp_path / "a", seed=3)
    b = run(src, tmp_path / "b", seed=3)
    c = run(src, tmp_path / "c", seed=4)
    t = a.table.set_index(["split", "class"])["crops"]
    assert t["test"].to_dict() == {"original": 6, "Face2Face": 3}
    assert t["val"].to_dict() == {"original": 6, "Face2Face": 3}
    assert t["train"].to_dict() == {"original": 28, "Face2Face": 14}
    assert _splits(a) == _splits(b) != _splits(c)


def _splits(res) -> dict[tuple[str, str], str]:
    ok = read_manifest(res.data_dir).query("status == 'ok'")
    return dict(zip(zip(ok["class"], ok["detail"], strict=True), ok["split"], strict=True))


def test_subfolders_are_videos_that_never_cross_splits(tmp_path):
    root = tmp_path / "src"
    for v in range(10):
        make_image_folder(root / "original", {"": {f"v{v}": 3}})
        make_image_folder(root / "Deepfakes", {"": {f"w{v}": 3}})
    res = run(root, tmp_path / "data")
    df = read_manifest(res.data_dir)
    ok = df[df["status"] == "ok"]
    assert ok.groupby("video")["split"].nunique().max() == 1
    assert ok.groupby("video").size().eq(3).all() and ok["frame"].max() == 2
    assert set(ok["split"]) == {"train", "val", "test"}
    assert json.loads((res.data_dir / "etl_config.json").read_text())["dataset_caveat"] is None


def test_a_corrupt_image_is_recorded_and_the_run_goes_on(tmp_path):
    src = make_image_folder(tmp_path / "src", {"train": {"original": 6, "FaceSwap": 6},
                                               "test": {"original": 2, "FaceSwap": 2}})
    (src / "train" / "FaceSwap" / "roi_3.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    res = run(src, tmp_path / "data")
    assert list(res.failed) == [str(src / "train" / "FaceSwap" / "roi_3.jpg")]
    df = read_manifest(res.data_dir)
    bad = df[df["detail"].str.contains("roi_3.jpg") & (df["class"] == "FaceSwap")]
    assert set(bad["status"]) == {"unreadable", "failed"}
    assert (df["status"] == "ok").sum() == 15


@pytest.mark.parametrize("layout, message", [
    ({"train": {"original": 2, "cats": 2}}, "unknown class folder 'cats'"),
    ({"train": {"real": 2, "fake": 2}}, "--map fake=<method>"),
    ({"train": {"original": 2, "Deepfakes": 2}, "test": {}}, "split 'test' has no images"),
    ({"": {"Deepfakes": 2, "FaceSwap": 2}}, "no 'original' images"),
    ({"": {"original": 3}}, "no manipulated images"),
])
def test_bad_layouts_are_one_line_errors(tmp_path, capsys, layout, message):
    src = make_image_folder(tmp_path / "src", layout)
    for split in layout:
        (src / split).mkdir(exist_ok=True)
    with pytest.raises(ImportCropsError, match=message.replace("(", r"\(")):
        run(src, tmp_path / "data")
    assert main(["-q", "import-crops", str(src), "--out", str(tmp_path / "d2")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_map_names_an_unnamed_fake_folder_and_no_images_is_an_error(tmp_path):
    src = make_image_folder(tmp_path / "src", {"": {"Real": 4, "fake": 4}})
    res = run(src, tmp_path / "data", mapping={"fake": "Deepfakes"}, val_fraction=0,
              test_fraction=0)
    assert res.classes == ("original", "Deepfakes")
    assert res.aliases == {"Real": "original", "fake": "Deepfakes"}
    (tmp_path / "empty" / "original").mkdir(parents=True)
    with pytest.raises(ImportCropsError, match="has no images"):
        run(tmp_path / "empty", tmp_path / "d3")
    with pytest.raises(ImportCropsError, match="already holds"):
        run(src, tmp_path / "data")


def test_crop_geometry_option(tmp_path):
    assert parse_geometry("default")[0] == CropGeometry()
    assert parse_geometry("0.9,0,0.1")[0] == CropGeometry(0.9, 0.0, 0.1)
    f = tmp_path / "g.json"
    f.write_text(json.dumps({"geometry": {"scale": 1.0, "shift_x": 0.0, "shift_y": 0.05,
                                          "square": True}}))
    assert parse_geometry(str(f))[0] == CropGeometry(1.0, 0.0, 0.05)
    with pytest.raises(ImportCropsError, match="scale"):
        parse_geometry("9,0,0")
    with pytest.raises(ImportCropsError, match="SCALE,SHIFT_X,SHIFT_Y"):
        parse_geometry("1,2")


@pytest.mark.slow
def test_cli_import_then_fit_reads_it(tmp_path, capsys):
    src = make_image_folder(tmp_path / "src", {"train": {"youtube": 12, "Deepfakes": 12},
                                               "test": {"youtube": 3, "Deepfakes": 3}})
    data = tmp_path / "data"
    assert main(["-q", "import-crops", str(src), "--out", str(data), "--size", "32",
                 "--format", "jpg"]) == 0
    out = capsys.readouterr().out
    assert "alias: folder 'youtube' -> original" in out and "failed images: 0" in out
    assert all(p.suffix == ".jpg" for p in (data / "train").rglob("*.*"))
    from train.fit import FitConfig, fit

    res = fit(FitConfig(arch="scratch", data_dir=data, out=tmp_path / "run", epochs=1,
                        batch_size=8, input_size=32, verbose=0))
    assert res.model_path.is_file() and res.classes == ("original", "Deepfakes")
