"""Each sink alone (open, write, finish, close; file contents asserted) and the runner composing them."""

from __future__ import annotations

import csv
import json
import logging

import cv2
import numpy as np
import pytest

from edge_detector.contract import FFPP_CLASSES, ModelContract
from edge_detector.errors import SinkError
from edge_detector.pipeline import Pipeline
from edge_detector.policy import DecisionPolicy
from edge_detector.results import DetectorInfo, RunResult
from edge_detector.runner import RunOptions, run_source
from edge_detector.sinks import (
    CsvSink,
    DisplaySink,
    ImageSink,
    ProgressSink,
    ReportSink,
    Sink,
    StopRun,
    SummarySink,
    VideoSink,
    csv_columns,
)
from edge_detector.sinks import live as live_sinks
from edge_detector.sources import FrameSource
from edge_detector.types import FaceDetections, Faces, Frame, FrameResult, VideoInfo, VideoSummary

CONTRACT = ModelContract(FFPP_CLASSES, 32, model_name="sink-test")
INFO = VideoInfo("clip.mp4", 64, 48, 25.0, 10, False, "video")


def result(index: int, p_fake: float | None = 0.9, value: int = 0) -> FrameResult:
    """A 64x48 frame filled with ``value``; one face with ``p_fake`` (None: no face)."""
    frame = Frame(index, index / 25, np.full((48, 64, 3), value, np.uint8))
    if p_fake is None:
        return FrameResult(frame, Faces.empty(len(FFPP_CLASSES)), True, {"detect_ms": 1.0})
    probs = np.zeros((1, len(FFPP_CLASSES)), np.float32)
    probs[0, 0], probs[0, 2] = 1 - p_fake, p_fake
    faces = Faces(np.array([[4, 6, 30, 40]]), [0.8], probs, [p_fake], ["FAKE" if p_fake >= 0.5 else "REAL"],
                  [FFPP_CLASSES[2]], [p_fake], [0])
    return FrameResult(frame, faces, True, {"detect_ms": 1.0, "classify_ms": 2.0})


def run_result(**kw) -> RunResult:
    summary = VideoSummary("FAKE", "mean", 0.7, 0.7, 0.7, 1.0, 3, 3, 2, 2, "Deepfakes",
                           {"Deepfakes": 1.0}, [], 0.25)
    return RunResult(summary, INFO, CONTRACT, DecisionPolicy(0.25), DetectorInfo(0.5, 300, "full"),
                     model_path="m.onnx", fps=12.5, stage_ms={"detect_ms": 1.0}, **kw)


def drive(sink: Sink, results: list[FrameResult], run: RunResult | None = None) -> RunResult:
    """The runner's protocol for one sink."""
    run = run or run_result()
    sink.open(INFO, CONTRACT)
    for r in results:
        sink.write(r)
    sink.finish()
    sink.close(run)
    return run


def test_csv_sink_writes_the_header_at_open_and_one_row_per_face(tmp_path):
    sink = CsvSink(tmp_path / "frames.csv")
    sink.open(INFO, CONTRACT)
    with open(sink.path, newline="") as fh:
        assert next(csv.reader(fh)) == csv_columns(FFPP_CLASSES)  # on disk before any frame
    for r in (result(0, 0.9), result(1, None)):
        sink.write(r)
    sink.finish()
    run = run_result()
    sink.close(run)
    with open(sink.path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["frame"], r["label"], r["p_fake"]) for r in rows] == [
        ("0", "FAKE", "0.900000"), ("1", "NO_FACE", "")]
    assert rows[0]["p_Deepfakes"] == "0.900000" and rows[0]["classify_ms"] == "2.00"
    assert run.outputs == {"csv": sink.path}


def test_video_sink_encodes_every_frame_and_reports_encode_time(tmp_path):
    sink = VideoSink(tmp_path / "annotated.mp4")
    run = drive(sink, [result(i, value=20 * i) for i in range(6)])
    assert run.outputs == {"video": tmp_path / "annotated.mp4"}
    cap = cv2.VideoCapture(str(sink.path))
    decoded = []
    while (frame := cap.read()[1]) is not None:
        decoded.append(round(float(frame.mean()) / 20))
    cap.release()
    assert decoded == list(range(6))
    assert sink.totals_ms()["encode_ms"] > 0
    assert not list(tmp_path.glob(".*reserve"))  # the disk-full reserve is gone after finish


def test_video_sink_without_frames_leaves_no_file_and_no_output(tmp_path):
    sink = VideoSink(tmp_path / "annotated.mp4")
    run = drive(sink, [])
    assert run.outputs == {} and not list(tmp_path.iterdir())


def test_image_sink_writes_the_last_frame_atomically(tmp_path):
    sink = ImageSink(tmp_path / "annotated.jpg")
    run = drive(sink, [result(0, value=10), result(1, value=200)])
    image = cv2.imread(str(run.outputs["image"]))
    assert image.shape == (48, 64, 3) and abs(float(image.mean()) - 200) < 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.jpg"]
    assert drive(ImageSink(tmp_path / "none.jpg"), []).outputs == {}


def test_summary_sink_writes_the_typed_run_and_lists_earlier_files(tmp_path):
    run = run_result(outputs={"csv": tmp_path / "frames.csv"}, warnings=["w1"])
    drive(SummarySink(tmp_path / "summary.json"), [result(0)], run)
    s = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert (s["verdict"], s["score"], s["threshold"], s["aggregation"]) == ("FAKE", 0.7, 0.25, "mean")
    assert s["outputs"] == {"csv": "frames.csv"}  # itself not yet: it is being written
    assert run.outputs["summary"] == tmp_path / "summary.json"
    assert s["detector"] == {"conf_threshold": 0.5, "input_size": 300, "mode": "full",
                             "full_every": None, "full_passes": None, "window_passes": None,
                             "name": None}
    assert s["model"]["path"] == "m.onnx" and s["model"]["contract"]["model_name"] == "sink-test"
    assert s["source"]["name"] == "clip.mp4" and s["warnings"] == ["w1"]
    assert s["speed"] == {"fps": 12.5, "stage_ms_per_frame": {"detect_ms": 1.0}}


def test_report_sink_plots_every_analysed_face_frame_at_the_runs_threshold(tmp_path):
    sink = ReportSink(tmp_path / "report.html")
    run = drive(sink, [result(0, 0.9), result(1, None), result(2, 0.1)])
    text = run.outputs["report"].read_text(encoding="utf-8")
    assert text.count('class="pt"') == 2 and text.count('class="nf"') == 1
    assert "threshold 0.25" in text  # the run's policy, not a default
    assert len(sink.timeline.thumbnails) == 2


def test_progress_sink_counts_frames_and_skips_live_sources():
    sink = ProgressSink(max_frames=4)
    sink.open(INFO, CONTRACT)
    assert sink.bar.length == 4
    for i in range(3):
        sink.write(result(i))
    assert sink.bar.pos == 3
    sink.finish()
    live = ProgressSink()
    live.open(VideoInfo("cam", 64, 48, 30.0, None, True, "live"), CONTRACT)
    live.write(result(0))
    live.finish()
    assert live.bar is None


def test_display_sink_without_a_display_warns_once_and_does_nothing(monkeypatch, caplog):
    monkeypatch.setattr(live_sinks, "display_available", lambda: False)
    monkeypatch.setattr(live_sinks.cv2, "imshow", lambda *a: pytest.fail("no window expected"))
    sink = DisplaySink()
    with caplog.at_level(logging.WARNING):
        drive(sink, [result(0), result(1)])
    assert sum("no display found" in r.message for r in caplog.records) == 1


def test_display_sink_stops_the_run_on_q(monkeypatch):
    shown = []
    monkeypatch.setattr(live_sinks, "display_available", lambda: True)
    monkeypatch.setattr(live_sinks.cv2, "imshow", lambda title, image: shown.append(title))
    monkeypatch.setattr(live_sinks.cv2, "waitKey", lambda ms: ord("q") if len(shown) == 2 else -1)
    monkeypatch.setattr(live_sinks.cv2, "destroyWindow", lambda title: shown.append("closed"))
    sink = DisplaySink()
    sink.open(INFO, CONTRACT)
    sink.write(result(0))
    with pytest.raises(StopRun):
        sink.write(result(1))
    sink.finish()
    assert shown == ["edge-detect: clip.mp4"] * 2 + ["closed"]


# ---- the runner composing sinks --------------------------------------------------------------

class OneFace:
    def detect(self, image):
        return FaceDetections(np.array([[4, 6, 30, 40]]), np.array([0.9]))


class Fixed:
    contract = CONTRACT

    def predict(self, crops):
        p = np.zeros((len(crops), len(FFPP_CLASSES)), np.float32)
        p[:, 0], p[:, 3] = 0.6, 0.4  # P_fake 0.4
        return p


class Frames(FrameSource):
    def __init__(self, n: int) -> None:
        self.n, self.info = n, INFO

    def __iter__(self):
        for i in range(self.n):
            yield Frame(i, i / 25, np.zeros((48, 64, 3), np.uint8))


class Recorder(Sink):
    """Logs every call; raises ``fail`` at frame ``at``."""

    def __init__(self, log: list, tag: str, at: int | None = None, fail: type | None = None) -> None:
        self.log, self.tag, self.at, self.fail = log, tag, at, fail

    def open(self, info, contract):
        self.log.append((self.tag, "open", info.name, contract.model_name))

    def write(self, r):
        if r.frame.index == self.at:
            raise self.fail("stop here" if self.fail is SinkError else None)
        self.log.append((self.tag, "write", r.frame.index))

    def finish(self):
        self.log.append((self.tag, "finish"))

    def close(self, run):
        self.log.append((self.tag, "close", run.summary.frames_read, run.interrupted))


def test_runner_opens_feeds_finishes_then_closes_every_sink():
    calls: list = []
    run = run_source(Frames(3), Pipeline(OneFace(), Fixed()), RunOptions(out_dir=None),
                     sinks=[Recorder(calls, "a"), Recorder(calls, "b")])
    assert calls == [
        ("a", "open", "clip.mp4", "sink-test"), ("b", "open", "clip.mp4", "sink-test"),
        ("a", "write", 0), ("b", "write", 0), ("a", "write", 1), ("b", "write", 1),
        ("a", "write", 2), ("b", "write", 2),
        ("b", "finish"), ("a", "finish"), ("a", "close", 3, False), ("b", "close", 3, False),
    ]
    assert run.summary.verdict == "REAL" and run.summary.mean_p_fake == pytest.approx(0.4)


@pytest.mark.parametrize(("fail", "raised", "interrupted"), [  # an output error (disk full) stops
    (SinkError, SinkError, True), (KeyboardInterrupt, None, True), (StopRun, None, False)])  # early
def test_runner_finishes_and_closes_sinks_when_a_run_ends_early(fail, raised, interrupted):
    calls: list = []
    sinks = [Recorder(calls, "a"), Recorder(calls, "b", at=2, fail=fail)]
    policy = DecisionPolicy(threshold=0.3)  # P_fake 0.4 is FAKE under this policy
    pipeline = Pipeline(OneFace(), Fixed(), policy)
    if raised:
        with pytest.raises(raised, match="stop here"):
            run_source(Frames(5), pipeline, RunOptions(out_dir=None), sinks=sinks)
    else:
        run = run_source(Frames(5), pipeline, RunOptions(out_dir=None), sinks=sinks)
        assert run.summary.verdict == "FAKE" and run.summary.threshold == 0.3
    assert calls[-4:] == [("b", "finish"), ("a", "finish"), ("a", "close", 3, interrupted),
                          ("b", "close", 3, interrupted)]
