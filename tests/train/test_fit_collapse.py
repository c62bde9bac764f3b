"""Training that cannot collapse silently: BatchNorm momentum and warm-up from the data size,
checkpoints never before the warm-up, the validation threshold and the degenerate-model check.

Tiny on purpose: a hand-written data folder of tinted 32 px crops (no ETL), a few epochs.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

CLASSES = ("original", "Deepfakes")
SIZE = 32


def tiny_data(root: Path, per_class: dict[str, int] | None = None, seed: int = 0) -> Path:
    """DATA_DIR with classes.json, manifest.csv and crops: reds are original, blues fake."""
    from train.manifest import COLUMNS, MANIFEST

    per_class = per_class or {"train": 24, "val": 12}
    rng = np.random.default_rng(seed)
    rows = []
    for split, n in per_class.items():
        for k, cls in enumerate(CLASSES):
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.integers(0, 120, (SIZE, SIZE, 3)).astype(np.uint8)
                img[..., 2 - 2 * k] += 120  # BGR: original red, fake blue
                crop = f"{split}/{cls}/{i:03d}.jpg"
                cv2.imwrite(str(root / crop), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
                rows.append({"video": f"{cls}_{i // 4}", "class": cls, "group": f"g{i // 4}",
                             "split": split, "frame": i % 4, "crop": crop, "status": "ok"})
    pd.DataFrame(rows, columns=COLUMNS).to_csv(root / MANIFEST, index=False)
    (root / "classes.json").write_text(json.dumps(list(CLASSES)))
    return root


def test_bn_momentum_and_warmup_scale_with_the_steps_per_epoch():
    from train.fit import bn_momentum, bn_warmup_epochs

    assert bn_warmup_epochs(0.99, 8) == 58  # the collapse: 480 crops, batch 64
    m = bn_momentum(8)
    assert m == pytest.approx(0.01 ** (1 / 8)) and m ** 8 <= 0.01 + 1e-12
    assert bn_warmup_epochs(m, 8) == 1
    assert bn_momentum(10_000) == 0.99 and bn_warmup_epochs(0.99, 10_000) == 1
    assert bn_momentum(1) == pytest.approx(0.01)


def test_checkpoint_ignores_epochs_before_the_warmup(tmp_path):
    import keras

    from train.callbacks import WarmCheckpoint

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    path = tmp_path / "m.keras"
    ckpt = WarmCheckpoint(str(path), monitor="val_auc", mode="max", save_best_only=True,
                          start_epoch=1)
    ckpt.set_model(model)
    ckpt.on_epoch_end(0, {"val_auc": 0.99})  # warming up: never "best"
    assert not path.exists()
    ckpt.on_epoch_end(1, {"val_auc": 0.6})
    assert path.is_file() and ckpt.best == 0.6


def _probe(bias: list[float] | None = None):
    """Mean colour -> softmax: with zero kernel and a bias, a constant model."""
    import keras

    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax", name="probs")])
    if bias is not None:
        model.get_layer("probs").set_weights([np.zeros((3, 2), np.float32),
                                              np.array(bias, np.float32)])
    return model


def _split_images(data_dir: Path, split: str):
    from edge_detector.contract import ModelContract
    from train.data import load_model_input, split_data

    data = split_data(data_dir, split, CLASSES)
    contract = ModelContract(CLASSES, SIZE)
    x = np.stack([load_model_input(p, contract) for p in data.paths]).astype(np.float32)
    return x, data.labels


def test_fit_check_flags_a_constant_model_and_passes_a_trained_one(tmp_path):
    import keras

    from train.fit import validation_check

    data_dir = tiny_data(tmp_path / "data")
    x_val, y_val = _split_images(data_dir, "val")
    thr, degenerate, probs = validation_check(_probe([0.3, -0.2]), x_val, y_val, CLASSES, 0)
    assert thr is None and "near-constant P_fake" in degenerate["reason"]
    assert np.ptp(probs[:, 0]) < 1e-6

    keras.utils.set_random_seed(0)
    model = _probe()
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    x_tr, y_tr = _split_images(data_dir, "train")
    model.fit(x_tr, y_tr, epochs=40, batch_size=16, verbose=0)
    thr, degenerate, probs = validation_check(model, x_val, y_val, CLASSES, 0)
    assert degenerate is None, degenerate
    assert 0 < thr < 1
    p_fake = 1 - probs[:, 0]
    assert np.mean((p_fake >= thr) == (y_val == 1)) == 1.0


@pytest.mark.slow
def test_short_scratch_fit_records_warmup_threshold_and_traces_its_step_once(tmp_path,
                                                                            monkeypatch):
    import keras

    from train.fit import FitConfig, fit

    traced = []
    step = keras.Model.train_step
    monkeypatch.setattr(keras.Model, "train_step",
                        lambda self, data: traced.append(1) or step(self, data))
    data_dir = tiny_data(tmp_path / "data")
    res = fit(FitConfig(arch="scratch", data_dir=data_dir, out=tmp_path / "run", epochs=3,
                        batch_size=8, input_size=SIZE, verbose=0, patience=2))
    # optimizer and metric variables exist before the first trace, so one trace serves the fit
    assert len(traced) == 1
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["bn_momentum"] == pytest.approx(0.01 ** (1 / 6), abs=1e-4)  # 48 crops / 8
    assert run["selection_start_epoch"] == 1 and res.best_epoch >= 1
    hist = pd.read_csv(tmp_path / "run" / "history.csv")
    assert hist["selectable"].tolist() == [False, True, True][: len(hist)]
    assert "degenerate" in run and "threshold" in run
    assert run["degenerate"] == res.degenerate
    if res.degenerate is None:
        assert 0 < run["threshold"] < 1 and run["contract"]["threshold"] == run["threshold"]
    from train.models import load_model

    aug = load_model(res.model_path).get_layer("augmentation")
    jpeg = aug.get_layer("random_jpeg_quality")
    assert (jpeg.min_quality, jpeg.max_quality) == (40, 95)


def test_split_data_order_does_not_depend_on_the_manifest_order(tmp_path):
    """ETL workers append manifest rows as they finish: fit must see the same order anyway."""
    from train.data import split_data
    from train.manifest import MANIFEST

    data_dir = tiny_data(tmp_path / "data")
    before = split_data(data_dir, "train", CLASSES)
    manifest = pd.read_csv(data_dir / MANIFEST)
    manifest.sample(frac=1.0, random_state=1).to_csv(data_dir / MANIFEST, index=False)
    after = split_data(data_dir, "train", CLASSES)
    assert after.paths == before.paths == sorted(before.paths)
    assert after.labels.tolist() == before.labels.tolist()
    assert [Path(p).parent.name for p in after.paths] == [CLASSES[i] for i in after.labels]
