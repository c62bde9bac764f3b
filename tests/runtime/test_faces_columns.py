"""Faces: one validated, read-only columnar object per frame instead of parallel lists."""

from __future__ import annotations

import numpy as np
import pytest

from edge_detector import FFPP_CLASSES, ModelContract
from edge_detector.policy import DecisionPolicy
from edge_detector.types import FaceDetections, Faces
from edge_detector.verdicts import make_faces


def columns(n: int = 2, **override) -> dict:
    p_fake = np.linspace(0.2, 0.9, n).astype(np.float32)
    cols = dict(
        xyxy=np.arange(4 * n, dtype=np.float32).reshape(n, 4),
        det_score=np.full(n, 0.8),
        probs=np.stack([1 - p_fake, p_fake], axis=1),
        p_fake=p_fake,
        label=["REAL", "FAKE", "FAKE"][:n],
        method=["Deepfakes"] * n,
        method_prob=p_fake,
        track=np.arange(n),
    )
    return {**cols, **override}


def test_columns_are_typed_read_only_copies():
    src = columns()
    faces = Faces(**src)
    assert len(faces) == 2
    assert faces.xyxy.dtype == np.float32 and faces.det_score.dtype == np.float32
    assert faces.track.dtype == np.int64 and faces.label.tolist() == ["REAL", "FAKE"]
    with pytest.raises(ValueError, match="read-only"):
        faces.p_fake[0] = 0.5
    src["xyxy"][0, 0] = 99.0  # the caller's array stays the caller's
    assert faces.xyxy[0, 0] == 0.0


def test_rows_iterate_in_order_as_plain_values():
    faces = Faces(**columns())
    rows = list(faces)
    assert [r.index for r in rows] == [0, 1]
    assert rows[1].xyxy == (4.0, 5.0, 6.0, 7.0) and type(rows[1].xyxy[0]) is float
    assert rows[1].p_fake == pytest.approx(0.9) and type(rows[1].p_fake) is float
    assert (rows[1].label, rows[1].method, rows[1].track) == ("FAKE", "Deepfakes", 1)
    assert type(rows[1].label) is str and type(rows[1].track) is int
    assert faces[-1].index == 1 and faces[-1].p_fake == rows[1].p_fake
    with pytest.raises(IndexError):
        faces[2]


def test_most_suspicious_is_the_first_highest_p_fake():
    p = np.array([0.3, 0.7, 0.7], np.float32)
    faces = Faces(**columns(3, p_fake=p, method_prob=p, probs=np.stack([1 - p, p], axis=1)))
    assert faces.most_suspicious().index == 1
    assert Faces.empty(7).most_suspicious() is None


def test_empty_has_the_class_count():
    empty = Faces.empty(7)
    assert len(empty) == 0 and empty.probs.shape == (0, 7) and list(empty) == []


@pytest.mark.parametrize(("override", "message"), [
    ({"xyxy": np.zeros((2, 3))}, r"xyxy must have shape \(n, 4\), got \(2, 3\)"),
    ({"probs": np.zeros(2)}, r"probs must have shape \(n, classes\), got \(2,\)"),
    ({"det_score": np.zeros((2, 1))}, r"det_score must have shape \(n,\), got \(2, 1\)"),
    ({"det_score": np.zeros(3)}, "det_score has 3 rows but xyxy has 2"),
    ({"label": ["REAL"]}, "label has 1 rows but xyxy has 2"),
    ({"track": [0.0, 1.5]}, "track must be int64 numbers, got dtype float64"),
    ({"p_fake": ["a", "b"]}, "p_fake must be float32 numbers, got dtype <U1"),
    ({"label": ["REAL", 1]}, "label must hold strings"),
    ({"p_fake": [0.2, 1.5]}, r"p_fake must be in \[0, 1\], got values from 0.2 to 1.5"),
    ({"p_fake": [np.nan, 0.5]}, r"p_fake must be in \[0, 1\]"),
    ({"method_prob": [-0.1, 0.5]}, r"method_prob must be in \[0, 1\]"),
    ({"probs": [[0.5, 0.2], [0.1, 0.9]]}, "probs rows must sum to 1, got sums 0.7, 1$"),
])
def test_bad_columns_fail_with_a_clear_message(override, message):
    with pytest.raises(ValueError, match=message):
        Faces(**columns(**override))


def test_make_faces_reads_p_fake_labels_and_methods_from_probs():
    contract = ModelContract(FFPP_CLASSES, 32)
    probs = np.array([[0.1, 0.05, 0.5, 0.1, 0.1, 0.05, 0.1], [0.8, 0, 0, 0, 0, 0.15, 0.05],
                      [0.5, 0.5, 0, 0, 0, 0, 0]], np.float32)
    det = FaceDetections(np.tile([[1, 2, 3, 4]], (3, 1)), [0.9, 0.8, 0.7])
    faces = make_faces(det, probs, contract, DecisionPolicy(threshold=0.5), track=np.array([4, 5, 6]))
    np.testing.assert_allclose(faces.p_fake, [0.9, 0.2, 0.5], atol=1e-6)
    assert faces.label.tolist() == ["FAKE", "REAL", "FAKE"]  # 0.5 meets the threshold
    assert faces.method.tolist() == ["Deepfakes", "FaceSwap", "DeepFakeDetection"]
    np.testing.assert_allclose(faces.method_prob, [0.5, 0.15, 0.5])
    assert faces.track.tolist() == [4, 5, 6] and faces.det_score.tolist() == pytest.approx([0.9, 0.8, 0.7])
    untracked = make_faces(FaceDetections.empty(), np.zeros((0, 7)), contract)
    assert len(untracked) == 0 and untracked.probs.shape == (0, 7)
    assert make_faces(det[:1], probs[:1], contract).track.tolist() == [-1]
