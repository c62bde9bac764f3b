"""Issue 19, class 1: outputs stay inside their folder and never overwrite silently."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from edge_detector.outnames import OUTPUT_NAMES, safe_component, safe_relpath
from tests.media import write_video
from tests.runtime.test_hostile_cli import edge_detect


@pytest.mark.parametrize("name, safe", [
    ("..", "_.."), (".", "_."), ("", "_"), (".hidden", "_.hidden"), ("a/b", "a_b"),
    ("CON", "_CON"), ("lpt1.txt", "_lpt1.txt"), ("summary.csv", "_summary.csv"),
    ("Frames.CSV", "_Frames.CSV"), ("ok name", "ok name"),
    (b"clip-\xe9\xff", "clip-\\xe9\\xff"),
])
def test_safe_component_table(name, safe):
    assert safe_component(name) == safe


def test_long_names_are_cut_with_a_hash():
    a, b = safe_component("x" * 300), safe_component("x" * 299 + "y")
    assert len(a.encode()) <= 200 and a != b


def test_safe_relpath_never_leaves_the_folder():
    for rel in ["../../etc/passwd", "a/../../b", "/abs/path", "..", "./x"]:
        p = safe_relpath(rel)
        assert not p.is_absolute() and ".." not in p.parts and "." not in p.parts, p


# Video names whose stems are dangerous as folder names: (file name, expected output folder)
DANGEROUS = [("...mp4", "_.."), ("..mp4", "_."), ("summary.csv.mp4", "_summary.csv"),
             ("CON.mp4", "_CON"), (".hidden.mp4", "_.hidden")]


def test_scan_of_dangerous_names_writes_only_inside_the_output(tmp_path, tiny_onnx):
    folder = tmp_path / "in"
    src = write_video(tmp_path / "src.mp4", frames=4, size=(160, 120))
    folder.mkdir()
    for name, _ in DANGEROUS:
        shutil.copy(src, folder / name)
    parent = tmp_path / "parent"
    out = parent / "out"
    r = edge_detect(folder, "-m", tiny_onnx, "-o", out, "--no-report")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in parent.iterdir()) == ["out"]  # nothing in -o's parent
    names = {p.name for p in out.iterdir()} - {".edge-detect.lock"}
    assert names == {"summary.csv", *(s for _, s in DANGEROUS)}
    df = pd.read_csv(out / "summary.csv")
    assert len(df) == len(DANGEROUS) and df.error.isna().all() and (df.frames == 4).all()
    for _, sub in DANGEROUS:
        assert (out / sub / "summary.json").is_file() and (out / sub / "annotated.mp4").is_file()


def test_single_file_with_dangerous_stem_writes_under_the_default_folder(tmp_path, tiny_onnx):
    video = shutil.copy(write_video(tmp_path / "src.mp4", frames=4, size=(160, 120)),
                        tmp_path / "...mp4")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    r = edge_detect(video, "-m", tiny_onnx, "--no-report", cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in cwd.iterdir()) == ["edge-detect-output"]
    assert sorted(p.name for p in (cwd / "edge-detect-output").iterdir()) == ["_.."]
    assert (cwd / "edge-detect-output" / "_.." / "summary.json").is_file()


@pytest.mark.parametrize("existing", ["report.html", "annotated.mp4", "annotated.avi", "frames.csv",
                                      "summary.json"])
def test_every_output_file_counts_for_force(tmp_path, tiny_onnx, existing):
    video = write_video(tmp_path / "v.mp4", frames=4, size=(160, 120))
    out = tmp_path / "out"
    out.mkdir()
    (out / existing).write_text("mine\n")
    r = edge_detect(video, "-m", tiny_onnx, "-o", out)
    assert r.returncode == 5, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and f"({existing})" in r.stderr
    assert (out / existing).read_text() == "mine\n"
    assert sorted(p.name for p in out.iterdir()) == [existing]
    if existing != "report.html":
        return  # one forced re-run is enough
    r = edge_detect(video, "-m", tiny_onnx, "-o", out, "--force")
    assert r.returncode == 0, r.stderr
    assert (out / "summary.json").is_file() and (out / "report.html").stat().st_size > 1000


def test_an_image_result_counts_for_force(tmp_path, tiny_onnx):
    import cv2

    from tests.media import astronaut_bgr

    image = tmp_path / "face.png"
    cv2.imwrite(str(image), astronaut_bgr())
    out = tmp_path / "out"
    out.mkdir()
    (out / "annotated.jpg").write_bytes(b"mine")
    r = edge_detect(image, "-m", tiny_onnx, "-o", out)
    assert r.returncode == 5 and "(annotated.jpg)" in r.stderr, r.stderr
    assert (out / "annotated.jpg").read_bytes() == b"mine"


def test_a_source_that_is_one_of_the_outputs_is_refused(tmp_path, tiny_onnx):
    video = write_video(tmp_path / "v.mp4", frames=4, size=(160, 120))
    out = tmp_path / "out"
    assert edge_detect(video, "-m", tiny_onnx, "-o", out).returncode == 0
    before = (out / "annotated.mp4").read_bytes()
    r = edge_detect(out / "annotated.mp4", "-m", tiny_onnx, "-o", out, "--force")
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "is an output of this run" in r.stderr
    assert (out / "annotated.mp4").read_bytes() == before


def test_output_names_cover_every_file_a_run_writes():
    from pathlib import Path

    from edge_detector.sinks import default_sinks
    from edge_detector.types import VideoInfo

    for kind in ("video", "image"):
        info = VideoInfo("x", 8, 8, 25.0, 4, False, kind)
        names = {f.name for s in default_sinks(info, Path("o")) for f in s.files()}
        assert {n.casefold() for n in names} <= OUTPUT_NAMES, names
