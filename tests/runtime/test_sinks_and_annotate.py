"""CsvWriter rows and columns (flushed per frame), VideoWriter frame count, Annotator pixels and colours."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from edge_detector.annotate import GREEN, RED, Annotator
from edge_detector.sinks import CsvWriter, VideoWriter, csv_columns
from edge_detector.types import Faces, Frame, FrameResult

CLASSES = ("original", "Deepfakes")


def result(index: int, boxes: list[tuple[float, ...]], labels: list[str], size=(120, 160)) -> FrameResult:
    p_fake = np.array([0.9 if lab == "FAKE" else 0.2 for lab in labels], np.float32)
    faces = Faces(
        xyxy=np.array(boxes, np.float32).reshape(-1, 4), det_score=np.full(len(boxes), 0.8),
        probs=np.stack([1 - p_fake, p_fake], axis=1), p_fake=p_fake, label=labels,
        method=["Deepfakes" if lab == "FAKE" else "" for lab in labels],
        method_prob=np.where(p_fake >= 0.5, p_fake, 1 - p_fake), track=np.arange(len(labels)),
    )
    frame = Frame(index, index / 25, np.zeros((*size, 3), np.uint8))
    return FrameResult(frame, faces, analysed=True, timings_ms={"detect_ms": 1.5})


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_csv_sink_rows_columns_and_flush(tmp_path):
    path = tmp_path / "frames.csv"
    with CsvWriter(path, CLASSES) as sink:
        sink.write(result(0, [(10, 20, 50, 60), (70, 20, 110, 60)], ["FAKE", "REAL"]))
        flushed = read_rows(path)  # readable before close: a crash keeps every finished frame
        sink.write(result(1, [], []))
    assert len(flushed) == 2
    with open(path, newline="") as fh:
        assert next(csv.reader(fh)) == csv_columns(CLASSES)
    rows = read_rows(path)
    assert sink.rows == len(rows) == 3
    assert [(r["frame"], r["face"], r["label"], r["track"]) for r in rows] == [
        ("0", "0", "FAKE", "0"), ("0", "1", "REAL", "1"), ("1", "", "NO_FACE", "")]
    assert (rows[0]["x1"], rows[0]["y2"], rows[0]["p_fake"], rows[0]["p_Deepfakes"]) == (
        "10.0", "60.0", "0.900000", "0.900000")
    assert rows[0]["method"] == "Deepfakes" and rows[0]["detect_ms"] == "1.50"
    assert rows[0]["classify_ms"] == ""
    assert rows[2]["p_fake"] == rows[2]["p_original"] == "" and rows[2]["time_s"] == "0.040"


def test_video_sink_writes_every_frame_resized(tmp_path):
    with VideoWriter(tmp_path / "annotated.avi", 25.0, (64, 48)) as sink:
        for i in range(7):
            size = (48, 64) if i % 2 else (96, 128)  # odd sizes are resized to the sink's size
            sink.write(np.full((*size, 3), 30 * i, np.uint8))
    assert sink.path.suffix == ".mp4" and sink.fourcc == "mp4v"  # mp4v first, whatever was asked
    assert sink.frames == 7
    cap = cv2.VideoCapture(str(sink.path))
    decoded = []
    while (frame := cap.read()[1]) is not None:
        decoded.append(frame)
    cap.release()
    assert len(decoded) == 7 and decoded[0].shape == (48, 64, 3)
    assert [round(float(f.mean()) / 30) for f in decoded] == list(range(7))


@pytest.mark.parametrize(("label", "colour"), [("FAKE", RED), ("REAL", GREEN)])
def test_annotator_draws_the_box_in_the_label_colour(label, colour):
    r = result(0, [(40, 30, 100, 90)], [label], size=(120, 160))
    image = r.frame.image_bgr
    Annotator(160, 120).draw(image, r)
    assert tuple(image[60, 40]) == colour and tuple(image[90, 70]) == colour  # left and bottom edges
    assert not image[50:80, 50:90].any()  # the face itself is not painted over
    assert not image[100:, :].any() and not image[30:, 120:].any()  # nothing below / right of it
    other = RED if colour == GREEN else GREEN
    assert not np.all(image == np.array(other, np.uint8), axis=2).any()


def test_annotator_header_and_carried_track_ids():
    r = result(0, [(40, 40, 100, 100)], ["REAL"], size=(120, 160))
    image = r.frame.image_bgr
    Annotator(160, 120).draw(image, r, header="FAKE 0.91 mean")
    assert np.all(image[2, 2] == 0)  # header box is black ...
    assert (image[:20, :80] > 200).all(axis=2).any()  # ... with white text in the top-left corner
    label = image[20:40, 40:100]  # "#0 REAL 0.20" on a green box just above the face box
    assert (label > 200).all(axis=2).any() and np.all(label == GREEN, axis=2).any()
