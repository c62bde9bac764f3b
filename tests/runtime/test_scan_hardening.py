"""Folder scans: resume keyed on what produced a result, case-unique folders, odd names."""

from __future__ import annotations

import os

import pandas as pd
from click.testing import CliRunner

from edge_detector.cli import main
from edge_detector.scan import plan_jobs
from tests.hostile import BAD_NAME
from tests.media import write_video


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_resume_reanalyses_when_settings_change_and_says_why(tmp_path, tiny_onnx):
    folder = tmp_path / "v"
    write_video(folder / "a.mp4", frames=6, size=(320, 240))
    out = tmp_path / "out"
    common = [folder, "-m", tiny_onnx, "-o", out, "--no-video", "--no-report"]
    assert run(*common).exit_code == 0
    first = pd.read_csv(out / "summary.csv")
    same = run(*common)
    assert same.exit_code == 0 and "already done" in same.output
    changed = run(*common, "--threshold", "0.9", "--max-frames", "3")
    assert changed.exit_code == 0, changed.output
    assert "re-analysing 1 earlier results: settings changed (max_frames, threshold)" in changed.output
    assert pd.read_csv(out / "summary.csv").frames.tolist() == [3] != first.frames.tolist()
    other_model = tmp_path / "copy.onnx"
    other_model.write_bytes(tiny_onnx.read_bytes() + b"\0")  # another file, another hash
    res = run(*common, "--threshold", "0.9", "--max-frames", "3", "-m", other_model)
    assert "settings changed (model)" in res.output


def test_case_colliding_names_get_distinct_folders(tmp_path):
    names = ["clip.MP4", "clip.mp4", "Clip.avi", "x/CLIP.mp4", "X/clip.mp4"]
    videos = [tmp_path / n for n in names]
    jobs = plan_jobs(tmp_path, videos, tmp_path / "out")
    folders = [j.out_dir.relative_to(tmp_path / "out").as_posix() for j in jobs]
    assert len({f.casefold() for f in folders}) == len(folders), folders
    assert folders[:3] == ["clip_mp4", "clip_mp4-2", "Clip_avi"]


def test_case_colliding_videos_are_both_analysed(tmp_path, tiny_onnx):
    folder = tmp_path / "v"
    write_video(folder / "clip.mp4", frames=4, size=(320, 240))
    write_video(folder / "clip.MP4", frames=6, size=(320, 240))
    out = tmp_path / "out"
    res = run(folder, "-m", tiny_onnx, "-o", out, "--no-video", "--no-report")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "summary.csv").set_index("path")
    assert df.loc["clip.MP4", "frames"] == 6 and df.loc["clip.mp4", "frames"] == 4


def test_a_scan_with_a_name_that_is_not_utf8(tmp_path, tiny_onnx):
    folder = tmp_path / "v"
    write_video(folder / "ok.mp4", frames=4, size=(320, 240))
    os.rename(write_video(folder / "tmp.mp4", frames=5, size=(320, 240)),
              os.fsencode(folder) + b"/" + BAD_NAME + b".mp4")
    out = tmp_path / "out"
    for _ in range(2):  # the second run resumes past it instead of dying on it
        res = run(folder, "-m", tiny_onnx, "-o", out, "--no-report")
        assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "summary.csv", encoding="utf-8").set_index("path")
    assert df.loc["clip-\\xe9\\xff.mp4", "frames"] == 5 and df.error.isna().all()
