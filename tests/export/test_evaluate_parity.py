"""``train evaluate`` gives the same numbers for the exported ONNX model as for the .keras one."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_onnx_and_keras_give_the_same_evaluate_metrics(trained_pipeline, tmp_path):
    from train.evaluate import evaluate

    pipe = trained_pipeline
    runs = {}
    for name, path in (("keras", pipe.model_path), ("onnx", pipe.export.onnx_path)):
        # One JPEG re-encoding (not the default two): the re-encoded rows are compared as well.
        runs[name] = evaluate(path, pipe.data_dir, "test", tmp_path / name, progress=False, jpeg=(60,))
    k, o = runs["keras"], runs["onnx"]
    assert k.frames == o.frames >= 20 and k.classes == o.classes == pipe.classes
    assert np.abs(k.probs - o.probs).max() <= 1e-4
    assert k.probs.std(0).max() > 0.02  # not a constant model: the metrics could differ
    np.testing.assert_array_equal(k.confusion, o.confusion)
    assert k.accuracy == o.accuracy and k.macro_f1 == pytest.approx(o.macro_f1, abs=1e-9)
    for level in ("frame", "video"):
        km, om = getattr(k, level), getattr(o, level)
        assert (km.n, km.positives, km.accuracy) == (om.n, om.positives, om.accuracy)
        for field in ("auc", "ap", "eer"):
            kv, ov = getattr(km, field), getattr(om, field)
            assert (kv is None) == (ov is None)
            if kv is not None:
                assert kv == pytest.approx(ov, abs=1e-9), f"{level} {field}"
    km, om = dict(k.metrics), dict(o.metrics)
    assert {key for key in km if km[key] != om[key]} <= {"model", "model_path"}
