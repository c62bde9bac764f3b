import numpy as np
import pytest

from edge_detector import FFPP_CLASSES, ModelContract
from edge_detector.aggregate import VideoAggregator
from edge_detector.pipeline import Pipeline
from edge_detector.policy import DecisionPolicy
from edge_detector.tracking import IouTracker, iou_matrix
from edge_detector.types import FaceDetections, Frame
from edge_detector.verdicts import make_faces


class FakeDetector:
    """Faces at fixed boxes, moving right by 2 px per frame; none on frames in ``empty``."""

    def __init__(self, n_faces=2, empty=()):
        self.n, self.empty, self.calls = n_faces, set(empty), 0

    def detect(self, image):
        t = int(image[0, 0, 0])  # the frame number is painted into pixel (0, 0)
        self.calls += 1
        if t in self.empty:
            return FaceDetections.empty()
        boxes = [[10 + 2 * t + 60 * i, 10, 50 + 2 * t + 60 * i, 50] for i in range(self.n)]
        return FaceDetections(np.array(boxes), np.full(self.n, 0.9))


class FakeClassifier:
    """Face i gets P(original) = 0.2 + 0.6 * i, the rest on NeuralTextures."""

    contract = ModelContract(class_names=FFPP_CLASSES, input_size=16)

    def __init__(self):
        self.batches = []

    def predict(self, crops):
        self.batches.append(len(crops))
        p = np.zeros((len(crops), 7), np.float32)
        for i in range(len(crops)):
            p[i, 0] = 0.2 + 0.6 * i
            p[i, 6] = 1 - p[i, 0]
        return p


def frames(n):
    for t in range(n):
        img = np.zeros((120, 400, 3), np.uint8)
        img[0, 0] = t
        yield Frame(t, t / 25.0, img)


def test_all_faces_of_a_frame_go_in_one_batch_and_tracks_persist():
    clf = FakeClassifier()
    results = list(Pipeline(FakeDetector(2), clf).run(frames(6)))
    assert clf.batches == [2] * 6
    assert results[0].faces.track.tolist() == results[5].faces.track.tolist() == [0, 1]
    assert results[0].faces.label.tolist() == ["FAKE", "REAL"]
    assert results[0].faces[0].method == "NeuralTextures"
    assert {"decode_ms", "detect_ms", "crop_ms", "classify_ms"} <= set(results[0].timings_ms)


def test_every_n_reuses_the_last_result():
    det = FakeDetector(1)
    results = list(Pipeline(det, FakeClassifier(), every=3).run(frames(7)))
    assert det.calls == 3  # frames 0, 3, 6
    assert [r.analysed for r in results] == [True, False, False, True, False, False, True]
    assert results[2].faces.xyxy.tolist() == results[0].faces.xyxy.tolist()


def test_aggregator_counts_only_analysed_frames_and_reports_no_face():
    agg = VideoAggregator(FakeClassifier.contract, DecisionPolicy(threshold=0.5))
    for r in Pipeline(FakeDetector(1, empty={1, 2}), FakeClassifier(), every=2).run(frames(6)):
        agg.update(r)
    s = agg.summary()
    assert (s.frames_read, s.frames_analysed, s.frames_with_faces) == (6, 3, 2)
    assert s.mean_p_fake == pytest.approx(0.8) and s.verdict == "FAKE"
    assert s.top_method == "NeuralTextures" and s.method_share == {"NeuralTextures": 1.0}
    assert s.fake_frame_fraction == 1.0
    empty = VideoAggregator(FakeClassifier.contract).summary()
    assert empty.verdict == "NO_FACE" and empty.mean_p_fake is None


@pytest.mark.parametrize("aggregation, expected", [("mean", 0.5), ("median", 0.5), ("fraction", 1.0),
                                                   ("trimmed", 0.5), ("logit", 0.5)])
def test_aggregations(aggregation, expected):
    agg = VideoAggregator(FakeClassifier.contract, DecisionPolicy(aggregation=aggregation))
    for r in Pipeline(FakeDetector(2), FakeClassifier()).run(frames(4)):
        agg.update(r)
    assert agg.summary().score == pytest.approx(expected)
    assert [t.verdict for t in agg.summary().tracks] == ["FAKE", "REAL"]


def test_three_level_video_verdict_and_its_thresholds_in_the_summary():
    agg = VideoAggregator(FakeClassifier.contract, DecisionPolicy(0.5, "mean", (0.4, 0.6)))
    for r in Pipeline(FakeDetector(2), FakeClassifier()).run(frames(4)):
        agg.update(r)
    s = agg.summary()
    assert s.verdict == "UNCERTAIN" and s.score == pytest.approx(0.5)
    assert (s.threshold_real, s.threshold_fake) == (0.4, 0.6)
    assert [t.verdict for t in s.tracks] == ["FAKE", "REAL"]
    two = VideoAggregator(FakeClassifier.contract, DecisionPolicy(0.5)).summary()
    assert two.threshold_real is None and two.threshold_fake is None


def test_trimmed_mean_ignores_a_few_outlying_faces_and_mean_logit_weighs_confident_ones():
    from edge_detector.types import FrameResult

    contract = FakeClassifier.contract
    scores = [0.3] * 18 + [0.999, 0.999]
    out = {}
    for agg_name in ("mean", "trimmed", "logit"):
        agg = VideoAggregator(contract, DecisionPolicy(aggregation=agg_name))
        for p in scores:
            res = next(Pipeline(FakeDetector(1), FakeClassifier()).run(frames(1)))
            probs = np.array([[1 - p] + [p / (contract.num_classes - 1)] * (contract.num_classes - 1)],
                             np.float32)
            faces = make_faces(FaceDetections(res.faces.xyxy, res.faces.det_score), probs, contract)
            agg.update(FrameResult(res.frame, faces, True, res.timings_ms))
        out[agg_name] = agg.summary().score
    assert out["trimmed"] == pytest.approx(0.3, abs=1e-6)
    assert out["mean"] == pytest.approx(np.mean(scores), abs=1e-6)
    # mean log-odds: two confident faces pull harder than in the plain mean
    assert out["trimmed"] < out["mean"] < out["logit"]


def test_tracker_keeps_ids_and_starts_new_ones():
    tr = IouTracker()
    a = FaceDetections(np.array([[0, 0, 10, 10], [50, 50, 70, 70]]), np.ones(2))
    assert tr.update(a).tolist() == [0, 1]
    b = FaceDetections(np.array([[52, 51, 72, 71], [1, 0, 11, 10], [200, 200, 220, 220]]), np.ones(3))
    assert tr.update(b).tolist() == [1, 0, 2]
    assert iou_matrix(a.xyxy, a.xyxy).diagonal() == pytest.approx([1.0, 1.0])


def test_pipeline_rejects_bad_settings():
    with pytest.raises(ValueError, match="every"):
        Pipeline(FakeDetector(), FakeClassifier(), every=0)
