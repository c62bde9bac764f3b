"""Conversion: inference graph only, both architectures, loud failure on random ops."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from edge_detector import FFPP_CLASSES, OnnxClassifier
from edge_detector.preprocess import preprocess
from tests.export.conftest import scratch_model, spread

pytestmark = pytest.mark.slow


def test_graph_has_no_random_ops_although_the_model_augments():
    from export.convert import find_random_ops, keras_to_onnx

    model = scratch_model()
    aug = model.get_layer("augmentation")
    assert any(type(layer).__name__.startswith("Random") for layer in aug.layers)
    x = np.full((2, 64, 64, 3), 128.0, np.float32)
    # Keras' default call (no training flag) augments: the very thing export must not bake in
    assert not np.allclose(model(x), model(x, training=False), atol=1e-4)
    proto = keras_to_onnx(model)
    assert find_random_ops(proto) == []
    assert [i.name for i in proto.graph.input] == ["input"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [64, 64, 3]
    assert any(o.domain in ("", "ai.onnx") and o.version == 17 for o in proto.opset_import)


def test_random_ops_fail_loudly_and_nothing_is_written(tmp_path):
    import keras

    from export.errors import RandomOpError
    from export.onnx_export import export_keras_model

    class Noise(keras.layers.Layer):  # random in inference too: a broken "augmentation"
        def call(self, x):
            return x + keras.random.uniform(keras.ops.shape(x), maxval=3.0)

    inp = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(Noise()(inp))
    model = keras.Model(inp, keras.layers.Dense(7, activation="softmax")(x))
    out = tmp_path / "noisy.onnx"
    with pytest.raises(RandomOpError, match="random/augmentation op"):
        export_keras_model(model, out, FFPP_CLASSES)
    assert list(tmp_path.iterdir()) == []  # neither the model nor a .part


def test_unsupported_opset_and_bad_shapes_are_one_line_errors(tmp_path):
    import keras

    from export.errors import ExportError
    from export.onnx_export import export_keras_model

    model = scratch_model(num_classes=7)
    with pytest.raises(ExportError, match="opset 19 not supported"):
        export_keras_model(model, tmp_path / "m.onnx", FFPP_CLASSES, opset=19)
    with pytest.raises(ExportError, match="3 class names for a model with 7 outputs"):
        export_keras_model(model, tmp_path / "m.onnx", ("original", "a", "b"))
    flat = keras.Sequential([keras.Input((10,)), keras.layers.Dense(7)])
    with pytest.raises(ExportError, match="not \\(batch, S, S, 3\\)"):
        export_keras_model(flat, tmp_path / "m.onnx", FFPP_CLASSES)


def test_efficientnet_b0_exports_with_parity(tmp_path):
    import keras

    from export.onnx_export import export_keras_model
    from export.samples import generated_crops
    from train.models import build_efficientnet_b0

    keras.utils.set_random_seed(1)
    model = spread(build_efficientnet_b0(num_classes=7, input_size=224, weights="none"), 224,
                   batchnorm=False, count=8)
    crops = generated_crops(12, 224, seed=9)
    res = export_keras_model(model, tmp_path / "b0.onnx", FFPP_CLASSES, architecture="effnetb0",
                             trained_on="nothing (random weights)", parity_crops=crops)
    assert res.parity.max_abs_diff <= 1e-4 and res.parity.top1_agreement == 1.0
    assert res.parameters == model.count_params() > 4_000_000
    clf = OnnxClassifier(res.onnx_path)
    assert clf.contract.architecture == "effnetb0" and clf.contract.input_size == 224
    # independent check, not the exporter's own numbers
    ref = np.asarray(model(preprocess(crops.images, clf.contract), training=False))
    got = clf.predict(crops.images)
    assert ref.std(0).max() > 1e-3  # outputs depend on the input, so parity means something
    np.testing.assert_allclose(got, ref, atol=1e-4)
    assert (got.argmax(1) == ref.argmax(1)).all()
    assert onnx.load(str(res.onnx_path)).opset_import[0].version == 17


def test_logits_model_is_marked_so_the_runtime_applies_softmax(tmp_path):
    import keras

    from export.onnx_export import export_keras_model
    from export.samples import generated_crops

    keras.utils.set_random_seed(3)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    logits = keras.layers.Dense(7)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, logits)
    crops = generated_crops(16, 32, seed=4)
    res = export_keras_model(model, tmp_path / "logits.onnx", FFPP_CLASSES, parity_crops=crops)
    clf = OnnxClassifier(res.onnx_path)
    assert clf.contract.output == "logits"
    z = np.asarray(model(preprocess(crops.images, clf.contract)), np.float64)
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(clf.predict(crops.images), expected, atol=1e-5)
