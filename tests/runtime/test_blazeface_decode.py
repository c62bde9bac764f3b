"""BlazeFace anchors, box decoding and weighted NMS on hand-made outputs with known answers."""

import numpy as np
import pytest

from edge_detector.blazeface_decode import (
    FULL_RANGE_ANCHORS,
    RAW_SCORE_LIMIT,
    SHORT_RANGE_ANCHORS,
    AnchorSpec,
    box_iou,
    decode_boxes,
    detect_normalised,
    make_anchors,
    sigmoid_scores,
    weighted_nms,
)


def test_short_range_anchors_match_mediapipe_layout():
    a = make_anchors(SHORT_RANGE_ANCHORS)
    assert a.shape == (896, 2)
    # stride 8: a 16x16 grid, 2 anchors per cell, row-major
    np.testing.assert_allclose(a[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[32], [0.5 / 16, 1.5 / 16])  # second row
    np.testing.assert_allclose(a[511], [15.5 / 16, 15.5 / 16])
    # the three stride-16 layers share one 8x8 grid: 6 anchors per cell
    np.testing.assert_allclose(a[512:518], [[0.5 / 8, 0.5 / 8]] * 6)
    np.testing.assert_allclose(a[518], [1.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(a[-1], [7.5 / 8, 7.5 / 8])


def test_full_range_anchors_are_one_per_cell_of_a_48_grid():
    a = make_anchors(FULL_RANGE_ANCHORS)
    assert a.shape == (2304, 2)
    np.testing.assert_allclose(a[0], [0.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(a[1], [1.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(a[48], [0.5 / 48, 1.5 / 48])
    np.testing.assert_allclose(a[-1], [47.5 / 48, 47.5 / 48])


def test_anchor_offset_moves_centres():
    a = make_anchors(AnchorSpec(8, (4,), False, offset=0.0))
    np.testing.assert_allclose(a, [[0, 0], [0.5, 0], [0, 0.5], [0.5, 0.5]])


def test_decode_adds_offset_to_anchor_and_takes_absolute_size():
    anchors = np.array([[0.25, 0.5], [0.75, 0.75]], np.float32)
    raw = np.zeros((2, 16), np.float32)
    raw[0, :4] = [12.8, -6.4, 32.0, 64.0]  # in 128 px input pixels
    raw[1, :4] = [0, 0, 12.8, 12.8]
    boxes = decode_boxes(raw, anchors, 128)
    # centre (0.25 + 0.1, 0.5 - 0.05), size (0.25, 0.5)
    np.testing.assert_allclose(boxes[0], [0.35 - 0.125, 0.45 - 0.25, 0.35 + 0.125, 0.45 + 0.25],
                               atol=1e-6)
    np.testing.assert_allclose(boxes[1], [0.7, 0.7, 0.8, 0.8], atol=1e-6)


def test_decode_refuses_outputs_of_the_wrong_shape():
    with pytest.raises(ValueError, match="regressors must be"):
        decode_boxes(np.zeros((3, 16)), np.zeros((2, 2), np.float32), 128)


def test_sigmoid_scores_are_clipped_and_finite():
    s = sigmoid_scores(np.array([[0.0], [1e6], [-1e6], [np.log(3.0)]]))
    assert np.isfinite(s).all()
    np.testing.assert_allclose(s, [0.5, 1 / (1 + np.exp(-RAW_SCORE_LIMIT)),
                                   1 / (1 + np.exp(RAW_SCORE_LIMIT)), 0.75], rtol=1e-6)


def test_box_iou_known_values():
    box = np.array([0, 0, 2, 2], np.float32)
    others = np.array([[0, 0, 2, 2], [1, 0, 3, 2], [2, 2, 3, 3], [0, 0, 0, 0]], np.float32)
    np.testing.assert_allclose(box_iou(box, others), [1.0, 2 / 6, 0.0, 0.0])


def test_weighted_nms_merges_overlaps_by_score_and_keeps_the_best_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 1, 10, 11]], np.float32)
    scores = np.array([0.9, 0.6, 0.8, 0.3], np.float32)  # the last is below min_score
    out, sc = weighted_nms(boxes, scores, iou_threshold=0.3, min_score=0.5)
    assert len(out) == 2
    np.testing.assert_allclose(sc, [0.9, 0.8])
    # first cluster: (0.9 * box0 + 0.6 * box1) / 1.5
    np.testing.assert_allclose(out[0], [0.4, 0, 10.4, 10], atol=1e-5)
    np.testing.assert_allclose(out[1], [50, 50, 60, 60])


def test_weighted_nms_keeps_boxes_below_the_overlap_threshold_apart():
    boxes = np.array([[0, 0, 10, 10], [6, 0, 16, 10]], np.float32)  # IoU 4/16 = 0.25
    out, sc = weighted_nms(boxes, np.array([0.7, 0.9], np.float32), 0.3, 0.5)
    np.testing.assert_allclose(out, [[6, 0, 16, 10], [0, 0, 10, 10]])
    np.testing.assert_allclose(sc, [0.9, 0.7])


def test_weighted_nms_of_nothing_is_empty():
    out, sc = weighted_nms(np.zeros((0, 4)), np.zeros(0), 0.3, 0.5)
    assert out.shape == (0, 4) and sc.shape == (0,)


def test_detect_normalised_finds_the_face_planted_on_known_anchors():
    anchors = make_anchors(SHORT_RANGE_ANCHORS)
    logits = np.full((896, 1), -10.0, np.float32)
    raw = np.zeros((896, 16), np.float32)
    # two neighbouring stride-16 anchors at cell (3, 4) see the same 40 px face
    i = 512 + (4 * 8 + 3) * 6
    for k, (dx, logit) in enumerate([(0.0, 3.0), (2.0, 1.0)]):
        raw[i + k, :4] = [dx, 0.0, 40.0, 40.0]
        logits[i + k] = logit
    boxes, scores = detect_normalised(raw, logits, anchors, 128, min_score=0.5)
    assert len(boxes) == 1
    p0, p1 = 1 / (1 + np.exp(-3.0)), 1 / (1 + np.exp(-1.0))
    assert scores[0] == pytest.approx(p0, rel=1e-6)
    cx = 3.5 / 8 + (p1 * 2.0 / 128) / (p0 + p1)
    np.testing.assert_allclose(boxes[0], [cx - 20 / 128, 4.5 / 8 - 20 / 128,
                                          cx + 20 / 128, 4.5 / 8 + 20 / 128], atol=1e-6)


def test_detect_normalised_refuses_a_model_with_other_anchors():
    anchors = make_anchors(SHORT_RANGE_ANCHORS)
    with pytest.raises(ValueError, match="2304 scores for 896 anchors"):
        detect_normalised(np.zeros((2304, 16)), np.zeros((2304, 1)), anchors, 128, 0.5)
