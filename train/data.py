"""Load ETL crops exactly as the runtime does, for training (tf.data) and evaluation (numpy).

Train/serve parity: a crop is read with ``cv2.imread`` (BGR) and passed through the runtime's
``edge_detector.preprocess`` (INTER_AREA resize to the model size, BGR->RGB, 0..255). The tf.data
pipeline runs that same function through ``tf.numpy_function`` and caches the uint8 result
(exact: the values are whole numbers), so training, ``.keras`` and ``.onnx`` evaluation see the
same pixels.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_detector.contract import ModelContract
from edge_detector.cvfiles import read_image

from .errors import ConfigError, MissingFileError
from .etl import CLASSES_JSON
from .manifest import crops

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitData:
    """Crops of one split: absolute paths, integer labels and the manifest rows."""

    split: str
    paths: list[str]
    labels: np.ndarray
    videos: list[str]
    frames: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)


def load_classes(data_dir: str | Path) -> tuple[str, ...]:
    path = Path(data_dir) / CLASSES_JSON
    if not path.is_file():
        raise MissingFileError(f"no {CLASSES_JSON} in {data_dir}: run `python -m train etl` first")
    return tuple(json.loads(path.read_text()))


def split_data(data_dir: str | Path, split: str, classes: tuple[str, ...]) -> SplitData:
    """The ``ok`` crops of ``split``, labelled by their index in ``classes``, in crop-path order.

    Sorted because the manifest lists crops in the order ETL workers finished them: the same
    data would otherwise feed training in a different order, and train a different model.
    """
    data_dir = Path(data_dir)
    df = crops(data_dir, split).sort_values("crop", kind="stable", ignore_index=True)
    unknown = sorted(set(df["class"]) - set(classes))
    if unknown:
        raise ConfigError(f"{data_dir} has classes {unknown} that the model does not know "
                          f"({list(classes)})")
    index = {c: i for i, c in enumerate(classes)}
    return SplitData(split, [str(data_dir / p) for p in df["crop"]],
                     np.array([index[c] for c in df["class"]], np.int32),
                     list(df["video"]), df["frame"].to_numpy())


def read_crop(path: str) -> np.ndarray:
    img = read_image(path, cv2.IMREAD_COLOR)
    if img is None:
        raise MissingFileError(f"cannot read crop {path}")
    return img


def load_model_input(path: str, contract: ModelContract) -> np.ndarray:
    """One crop file -> (S, S, 3) uint8 in the model's colour order, via the runtime preprocess."""
    from edge_detector.preprocess import preprocess

    return preprocess(read_crop(path)[None], contract)[0].astype(np.uint8)


def read_crops_bgr(paths: list[str], size: int | None = None) -> np.ndarray:
    """Crop files -> (n, s, s, 3) BGR uint8 (resized with INTER_AREA only if sizes differ)."""
    imgs = [read_crop(p) for p in paths]
    if size is not None:
        imgs = [i if i.shape[:2] == (size, size)
                else cv2.resize(i, (size, size), interpolation=cv2.INTER_AREA) for i in imgs]
    if not imgs:
        return np.zeros((0, size or 1, size or 1, 3), np.uint8)
    return np.stack(imgs)


def without_classes(data: SplitData, classes: tuple[str, ...], drop: tuple[str, ...]
                    ) -> SplitData:
    """``data`` minus the crops of the classes named in ``drop`` (e.g. pseudo-fakes in val)."""
    gone = {classes.index(c) for c in drop if c in classes}
    keep = np.array([lab not in gone for lab in data.labels], bool)
    return SplitData(data.split, [p for p, k in zip(data.paths, keep, strict=True) if k],
                     data.labels[keep], [v for v, k in zip(data.videos, keep, strict=True) if k],
                     data.frames[keep])


def level_paths(data: SplitData, data_dir: str | Path) -> dict[str, list[str]]:
    """Compression level -> the paths of ``data``'s crops at that level, in order: ``c23`` (the
    crops as given) first, then each H.264 level of the data folder's degrade record."""
    from .degrade import read_record, variant_paths

    record = read_record(data_dir)
    if record is None:
        return {"c23": list(data.paths)}
    root = Path(data_dir)
    return variant_paths(root, [str(Path(p).relative_to(root)) for p in data.paths], record)


def pooled(data: SplitData, variants: list[list[str]]) -> SplitData:
    """Every level of every crop as its own sample (validation pooled over compression)."""
    k = len(variants)
    return SplitData(data.split, [p for v in variants for p in v], np.tile(data.labels, k),
                     data.videos * k, np.tile(data.frames, k))


def make_tf_dataset(data: SplitData, contract: ModelContract, batch_size: int,
                    training: bool, seed: int = 0, cache: str | None = "memory",
                    variants: list[list[str]] | None = None,
                    variant_weights: tuple[float, ...] | None = None):
    """tf.data: parallel decode -> cache (uint8) -> [shuffle] -> batch -> float32 -> prefetch.

    Labels are one-hot (label smoothing needs them). ``cache``: ``"memory"``, a file path prefix
    for an on-disk cache, or None. ``variants`` (training only): per level, a path list aligned
    with ``data.paths``; every level of a crop is cached and each epoch draws one per crop with
    ``variant_weights`` (seeded, so a run repeats to the bit).
    """
    import tensorflow as tf

    size, n_cls = contract.input_size, contract.num_classes
    k = len(variants) if variants else 1

    def _load(*paths):
        return np.stack([load_model_input(p.decode(), contract) for p in paths])

    def _map(label, *paths):
        img = tf.numpy_function(_load, list(paths), tf.uint8, stateful=False)
        img.set_shape((k, size, size, 3))
        return img, label

    columns = tuple(variants) if variants else (data.paths,)
    ds = tf.data.Dataset.from_tensor_slices((data.labels, *columns))
    ds = ds.map(_map, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache == "memory":
        ds = ds.cache()
    elif cache:  # one file set per split: train and val must not share a cache
        ds = ds.cache(f"{cache}.{data.split}")
    if training:
        ds = ds.shuffle(max(1, len(data)), seed=seed, reshuffle_each_iteration=True)
    if k > 1:
        w = np.asarray(variant_weights or [1.0] * k, np.float64)
        cum = tf.constant(np.cumsum(w / w.sum())[:-1], tf.float32)
        draws = tf.data.Dataset.random(seed=seed + 1).map(
            lambda r: tf.cast(r % 1_000_003, tf.float32) / 1_000_003.0)
        ds = tf.data.Dataset.zip((ds, draws)).map(
            lambda xy, u: (tf.gather(xy[0], tf.reduce_sum(tf.cast(u >= cum, tf.int32))), xy[1]))
    else:
        ds = ds.map(lambda x, y: (x[0], y))
    ds = ds.batch(batch_size)
    ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), tf.one_hot(y, n_cls)),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def warm_cache(ds) -> tuple[int, float]:
    """Iterate ``ds`` once (fills its cache); returns (images, images per second)."""
    t0 = time.perf_counter()
    n = sum(int(x.shape[0]) for x, _ in ds)
    dt = time.perf_counter() - t0
    return n, (n / dt if dt > 0 else 0.0)


def class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """Inverse-frequency weights ``n / (C * n_c)``; absent classes get weight 1."""
    counts = np.bincount(labels, minlength=num_classes)
    present = counts > 0
    n, c = counts.sum(), int(present.sum())
    return {i: (float(n / (c * counts[i])) if counts[i] else 1.0) for i in range(num_classes)}
