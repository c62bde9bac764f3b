"""The two architectures: reference parameter count, pixel contract, augmentation, save/load."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from train.models import (  # noqa: E402
    AUGMENTATION_NAME,
    BACKBONE_NAME,
    RandomJpegQuality,
    build_efficientnet_b0,
    build_model,
    build_scratch_cnn,
    load_model,
)


def _images(n: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, (n, size // 8, size // 8, 3)).astype(np.float32)
    return np.repeat(np.repeat(base, 8, axis=1), 8, axis=2)  # smooth-ish, JPEG-friendly


def test_scratch_cnn_matches_the_reference_design():
    model = build_scratch_cnn()
    assert model.name == "scratch_cnn"
    assert model.count_params() == 175_495
    assert model.inputs[0].name == "input"
    assert tuple(model.inputs[0].shape) == (None, 128, 128, 3)
    assert tuple(model.outputs[0].shape) == (None, 7)
    aug = model.get_layer(AUGMENTATION_NAME)
    kinds = [type(layer).__name__ for layer in aug.layers]
    assert kinds == ["RandomFlip", "RandomContrast", "RandomBrightness", "RandomJpegQuality"]
    drops = [la.name for la in model.layers if isinstance(la, keras.layers.Dropout)]
    assert drops == ["head_drop"]  # dropout after every block kept it at chance on FF++
    convs = [la for la in model.layers if isinstance(la, keras.layers.SeparableConv2D)]
    assert [c.filters for c in convs] == [64, 64, 128, 128, 256, 256]
    assert all(not c.use_bias and c.padding == "same" for c in convs)
    # Parameter count does not depend on the input size; output width follows num_classes.
    assert build_scratch_cnn(num_classes=5, input_size=64).count_params() == 175_495 - 2 * 129


def test_scratch_cnn_inference_is_deterministic_and_softmax():
    model = build_scratch_cnn(num_classes=7, input_size=64)
    x = _images(4, 64)
    a = np.asarray(model(x, training=False))
    b = model.predict(x, verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-5)
    aug = model.get_layer(AUGMENTATION_NAME)
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)
    assert not np.allclose(np.asarray(aug(x, training=True)), x)


def test_random_jpeg_quality_is_identity_unless_training():
    layer = RandomJpegQuality(60, 95)
    x = _images(3, 32, seed=1)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    y = np.asarray(layer(x, training=True))
    assert y.shape == x.shape and y.dtype == np.float32
    diff = np.abs(y - x).mean()
    assert 0.1 < diff < 40, diff  # re-encoded: changed, but still the same picture
    with pytest.raises(ValueError, match="quality range"):
        RandomJpegQuality(90, 60)


def test_random_jpeg_quality_draws_qualities_from_its_seed_in_batch_order_inside_tf_function():
    """Seeded training must repeat: a stateful random op inside ``tf.map_fn`` did not (its parallel
    iterations drew qualities in whatever order they ran)."""
    import tensorflow as tf

    x = _images(8, 32, seed=2)

    def augment(images):
        layer = RandomJpegQuality(40, 95, seed=3)
        return np.asarray(tf.function(lambda t: layer(t, training=True))(images))

    outs = [augment(x), augment(x)]
    np.testing.assert_array_equal(outs[0], outs[1])
    quality = np.asarray(keras.random.randint((8,), 40, 96, seed=keras.random.SeedGenerator(3)))
    assert len(set(quality.tolist())) > 1
    want = np.stack([np.asarray(tf.image.adjust_jpeg_quality(np.round(img).astype(np.uint8), int(q)))
                     for img, q in zip(x, quality, strict=True)]).astype(np.float32)
    np.testing.assert_array_equal(outs[0], want)
    assert RandomJpegQuality(40, 95, seed=3).get_config()["seed"] == 3


def test_efficientnet_default_builds_at_224():
    model = build_efficientnet_b0()
    assert model.name == "effnetb0"
    assert tuple(model.inputs[0].shape) == (None, 224, 224, 3)
    assert model.inputs[0].name == "input"
    assert tuple(model.outputs[0].shape) == (None, 7)
    assert [layer.name for layer in model.layers] == [
        "input", AUGMENTATION_NAME, BACKBONE_NAME, "gap", "head_drop", "probs"]
    aug = model.get_layer(AUGMENTATION_NAME)
    assert any(isinstance(layer, RandomJpegQuality) for layer in aug.layers)


@pytest.mark.slow
def test_efficientnet_trains_one_step():
    keras.utils.set_random_seed(0)
    model = build_efficientnet_b0(num_classes=4, input_size=64, weights="none")
    # Eager: tracing EfficientNetB0's backward pass takes ~15 s on 2 cores, one eager step ~1 s.
    model.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=True)
    x = _images(4, 64)
    y = np.eye(4, dtype=np.float32)
    before = [w.copy() for w in model.get_layer("probs").get_weights()]
    loss = float(np.asarray(model.train_on_batch(x, y)))
    assert np.isfinite(loss) and loss > 0
    after = model.get_layer("probs").get_weights()
    assert not np.allclose(before[0], after[0])  # the step changed the head


def test_jpeg_layer_survives_keras_save_and_load(tmp_path):
    inputs = keras.Input((32, 32, 3), name="input")
    x = keras.Sequential([RandomJpegQuality(70, 80, name="jpeg")], name=AUGMENTATION_NAME)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    path = tmp_path / "jpeg.keras"
    model.save(path)
    loaded = load_model(path)
    layer = loaded.get_layer(AUGMENTATION_NAME).get_layer("jpeg")
    assert isinstance(layer, RandomJpegQuality)
    assert (layer.min_quality, layer.max_quality) == (70, 80)
    x = _images(2, 32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.75])
def test_fine_tuning_unfreezes_whole_blocks_but_not_batchnorm(fraction):
    """No block is ever cut in two: each block is all frozen or all trainable (BatchNorm aside)."""
    from train.fit import backbone_blocks, unfreeze_blocks

    model = build_efficientnet_b0(num_classes=3, input_size=64)
    backbone = model.get_layer(BACKBONE_NAME)
    backbone.trainable = False
    first = unfreeze_blocks(model, fraction)
    groups = backbone_blocks(backbone)
    assert sum(len(g) for g in groups) == len(backbone.layers)
    bn = keras.layers.BatchNormalization
    blocks = [g for g in groups if g[0].name.startswith("block")]
    assert len(blocks) == 16  # EfficientNetB0: block1a .. block7a
    assert groups[first] is blocks[int(16 * fraction)]
    for i, group in enumerate(groups):
        prefix = {la.name.split("_", 1)[0] for la in group}
        assert len(prefix) == 1 or group[0].name.startswith("top"), prefix
        for la in group:
            assert la.trainable == (i >= first and not isinstance(la, bn)), la.name
    assert any(la.trainable_weights for g in groups[first:] for la in g)
    assert backbone.get_layer("top_conv").trainable


def test_build_model_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("resnet", 7)
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        build_efficientnet_b0(weights=tmp_path / "missing.weights.h5")
    with pytest.raises(ValueError, match="num_classes"):
        build_scratch_cnn(num_classes=1)
