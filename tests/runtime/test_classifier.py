import numpy as np
import pytest

from edge_detector import FFPP_CLASSES, OnnxClassifier
from edge_detector.policy import DecisionPolicy
from edge_detector.types import FaceDetections
from edge_detector.verdicts import make_faces


@pytest.fixture(scope="module")
def clf(tiny_onnx):
    return OnnxClassifier(tiny_onnx)


def _reference(crops_bgr: np.ndarray) -> np.ndarray:
    """What the tiny model computes, in numpy: mean RGB -> linear -> softmax."""
    w = np.zeros((3, 7), np.float32)
    w[0, 0] = 0.05
    w[2, 1:] = np.linspace(0.02, 0.05, 6)
    mean_rgb = crops_bgr[..., ::-1].reshape(len(crops_bgr), -1, 3).astype(np.float32).mean(1)
    z = mean_rgb @ w
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_predict_batches_and_matches_reference(clf):
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    probs = clf.predict(crops)
    assert probs.shape == (5, 7)
    np.testing.assert_allclose(probs, _reference(crops), atol=1e-5)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_predict_handles_no_faces_and_other_crop_sizes(clf):
    assert clf.predict(np.zeros((0, 32, 32, 3), np.uint8)).shape == (0, 7)
    big = np.zeros((1, 90, 90, 3), np.uint8)
    big[..., 2] = 200  # red in BGR
    assert clf.predict(big)[0, 0] > 0.99


def test_verdicts_use_one_minus_p_original_and_top_non_original_method():
    probs = np.array([[0.1, 0.05, 0.5, 0.1, 0.1, 0.05, 0.1], [0.8, 0, 0, 0, 0, 0.15, 0.05]], np.float32)
    v = make_faces(FaceDetections(np.zeros((2, 4)), np.ones(2)), probs, OnnxClassifierStub.contract,
                   DecisionPolicy(threshold=0.5))
    assert v[0].p_fake == pytest.approx(0.9) and v[0].label == "FAKE"
    assert v[0].method == "Deepfakes" and v[0].method_prob == pytest.approx(0.5)
    assert v[1].p_fake == pytest.approx(0.2) and v[1].label == "REAL"
    assert v[1].method == "FaceSwap"


class OnnxClassifierStub:
    from edge_detector import ModelContract

    contract = ModelContract(class_names=FFPP_CLASSES, input_size=32)
