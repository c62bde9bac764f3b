"""`edge-detect DIR`: every video gets a row, bad ones an error, re-runs resume, workers agree."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from edge_detector.cli import main
from edge_detector.scan import (
    COLUMNS,
    ScanRow,
    find_videos,
    plan_jobs,
    row_from_record,
    row_from_run,
    write_summary,
)
from tests.media import write_video

FRAMES = 8


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Two good videos, one in a sub-folder, a text file named .mp4 and a non-video file."""
    root = tmp_path_factory.mktemp("clips")
    write_video(root / "a.mp4", frames=FRAMES, size=(240, 160))
    write_video(root / "b.mp4", frames=FRAMES, size=(240, 160), no_face_frames=set(range(FRAMES)))
    write_video(root / "sub" / "c.mp4", frames=FRAMES, size=(240, 160))
    (root / "broken.mp4").write_text("this is not a video\n")
    (root / "notes.txt").write_text("ignored\n")
    return root


def summary(out: Path) -> pd.DataFrame:
    df = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert tuple(df.columns) == COLUMNS
    return df.set_index("path")


def mtimes(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("summary.json")}


@pytest.fixture(scope="module")
def first_scan(tmp_path_factory, clips, tiny_onnx):
    out = tmp_path_factory.mktemp("scan") / "out"
    res = run(clips, "--model", tiny_onnx, "-o", out, "-r", "--no-video", "--no-report")
    return out, res


def test_a_broken_file_is_recorded_and_the_scan_goes_on(first_scan):
    out, res = first_scan
    assert res.exit_code == 1, res.output
    assert "1 of 4 videos failed" in res.output
    df = summary(out)
    assert list(df.index) == ["a.mp4", "b.mp4", "broken.mp4", "sub/c.mp4"]
    assert "cannot open video" in df.loc["broken.mp4", "error"]
    assert df.loc["broken.mp4", "verdict"] == ""
    good = df.drop(index="broken.mp4")
    assert (good.error == "").all()
    assert good.loc["a.mp4", "verdict"] in ("REAL", "FAKE")
    assert good.loc["b.mp4", "verdict"] == "NO_FACE" and good.loc["b.mp4", "score"] == ""
    assert (good.frames.astype(int) == FRAMES).all()
    assert (good.frames_analysed.astype(int) == FRAMES).all()
    assert int(good.loc["a.mp4", "faces"]) >= FRAMES and int(good.loc["b.mp4", "faces"]) == 0
    for rel in ("a", "b", "sub/c"):
        s = json.loads((out / rel / "summary.json").read_text())
        assert s["verdict"] == good.loc[f"{rel}.mp4", "verdict"]
        assert s["frames"]["faces_classified"] == int(good.loc[f"{rel}.mp4", "faces"])
        assert not (out / rel / "annotated.mp4").exists() and not (out / rel / "report.html").exists()
    assert float(good.loc["a.mp4", "score"]) == pytest.approx(
        json.loads((out / "a" / "summary.json").read_text())["score"], abs=1e-5)
    table = res.output.splitlines()
    assert any(line.startswith("broken.mp4") and "ERROR" in line for line in table)
    assert any(line.startswith("sub/c.mp4") and ("REAL" in line or "FAKE" in line) for line in table)


def test_rerun_skips_done_videos_and_force_redoes_them(first_scan, clips, tiny_onnx, tmp_path):
    first_out, _ = first_scan
    out = tmp_path / "out"
    shutil.copytree(first_out, out)
    before = mtimes(out)
    assert set(before) == {"a/summary.json", "b/summary.json", "sub/c/summary.json"}
    first = summary(out)
    res = run(clips, "--model", tiny_onnx, "-o", out, "-r", "--no-video", "--no-report")
    assert res.exit_code == 1  # the broken file is retried and fails again
    assert "3 of 4 videos already done" in res.output
    assert mtimes(out) == before
    again = summary(out)
    pd.testing.assert_frame_equal(again.drop(columns=["seconds", "fps"]),
                                  first.drop(columns=["seconds", "fps"]))
    res = run(clips, "--model", tiny_onnx, "-o", out, "-r", "--no-video", "--no-report", "--force")
    assert res.exit_code == 1
    after = mtimes(out)
    assert set(after) == set(before) and all(after[k] > before[k] for k in before)


def test_workers_in_processes_agree_with_the_serial_scan(first_scan, clips, tiny_onnx, tmp_path):
    serial, _ = first_scan
    folder = tmp_path / "good"
    shutil.copytree(clips, folder, ignore=shutil.ignore_patterns("broken.mp4"))
    out = tmp_path / "out"
    res = run(folder, "--model", tiny_onnx, "-o", out, "-r", "--no-video", "--workers", "2")
    assert res.exit_code == 0, res.output
    par, ser = summary(out), summary(serial).drop(index="broken.mp4")
    assert list(par.index) == list(ser.index)
    cols = ["verdict", "score", "mean_p_fake", "top_method", "frames", "faces"]
    pd.testing.assert_frame_equal(par[cols].astype(str), ser[cols].astype(str))
    assert (out / "a" / "report.html").is_file() and (out / "sub" / "c" / "report.html").is_file()


def test_without_recursive_sub_folders_are_left_out(clips, tiny_onnx, tmp_path):
    res = run(clips, "--model", tiny_onnx, "-o", tmp_path / "out", "--no-video", "--no-report",
              "--max-frames", "2", "-q")
    assert res.exit_code == 1
    df = summary(tmp_path / "out")
    assert list(df.index) == ["a.mp4", "b.mp4", "broken.mp4"]
    assert (df.drop(index="broken.mp4").frames.astype(int) == 2).all()
    assert "videos:" not in res.output  # -q: no table


def test_a_folder_without_videos_is_a_one_line_error(tmp_path, tiny_onnx):
    (tmp_path / "in" / "deeper").mkdir(parents=True)
    write_video(tmp_path / "in" / "deeper" / "x.mp4", frames=2, size=(64, 48))
    res = run(tmp_path / "in", "--model", tiny_onnx, "-o", tmp_path / "out")
    assert res.exit_code == 3
    assert "no videos found" in res.output and "-r" in res.output


def test_outputs_are_not_rescanned_and_same_stems_do_not_collide(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"x")
    (tmp_path / "v.AVI").write_bytes(b"x")
    (tmp_path / "out" / "v").mkdir(parents=True)
    (tmp_path / "out" / "v" / "annotated.mp4").write_bytes(b"x")
    videos = find_videos(tmp_path, recursive=True, exclude=tmp_path / "out")
    assert [v.name for v in videos] == ["v.AVI", "v.mp4"]
    jobs = plan_jobs(tmp_path, videos, tmp_path / "out")
    assert [j.out_dir.name for j in jobs] == ["v_avi", "v_mp4"]


def test_summary_csv_is_replaced_whole(tmp_path):
    path = tmp_path / "summary.csv"
    write_summary(path, [ScanRow("x.mp4", "REAL", 0.25), ScanRow("y.mp4", error="bad, really")])
    df = pd.read_csv(path, keep_default_na=False)
    assert df.path.tolist() == ["x.mp4", "y.mp4"] and df.error.tolist() == ["", "bad, really"]
    assert not list(tmp_path.glob("*.part"))


def test_a_fresh_row_comes_from_the_run_and_equals_the_row_resumed_from_summary_json(tmp_path):
    """The scan writes rows from the typed run; on resume it reads summary.json: the two agree."""
    from edge_detector.contract import FFPP_CLASSES, ModelContract
    from edge_detector.policy import DecisionPolicy
    from edge_detector.results import DetectorInfo, RunResult, summary_record
    from edge_detector.sinks import write_json
    from edge_detector.types import TrackSummary, VideoInfo, VideoSummary

    s = VideoSummary("FAKE", "median", 0.61, 0.6, 0.61, 0.75, 40, 20, 16, 18, "Face2Face",
                     {"Face2Face": 1.0}, [TrackSummary(0, 18, 0.6, "FAKE")], 0.4)
    run = RunResult(s, VideoInfo("v.mp4", 64, 48, 25.0, 40, False, "video"),
                    ModelContract(FFPP_CLASSES, 32), DecisionPolicy(0.4, "median"),
                    DetectorInfo(0.5, 300, "full"), fps=20.0)
    fresh = row_from_run("a/v.mp4", run)
    assert fresh == ScanRow("a/v.mp4", "FAKE", 0.61, 0.6, 0.61, 0.75, "Face2Face", 40, 20, 18,
                            20.0, 2.0)
    record = json.loads(write_json(tmp_path / "summary.json", summary_record(run)).read_text())
    assert row_from_record("a/v.mp4", record) == fresh
