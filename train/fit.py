"""Train a classifier on ETL crops: ``python -m train fit`` and :func:`fit` for Python callers.

scratch: AdamW + cosine decay, class weights. effnetb0: phase 1 frozen backbone (Adam 1e-3),
phase 2 top half of the backbone unfrozen with BatchNorm kept frozen (Adam 1e-5), label
smoothing, ReduceLROnPlateau. Both: early stopping and best checkpoint on validation real-vs-fake
AUC (``val_auc``, see :class:`train.callbacks.FakeAUC`).

No collapse on small data: BatchNorm momentum is set from the steps per epoch so that moving
statistics forget their initial values (mean 0, variance 1) within one epoch (Keras' 0.99 needs
~460 steps: 58 epochs of 480 crops), and neither the checkpoint nor early stopping may pick an
epoch before that. After training, the best model's validation predictions are checked for
degeneracy (:mod:`train.degenerate`) and give the decision threshold (Youden's J), both recorded
in run.json.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from edge_detector.contract import ORIGINAL, ModelContract

from .calibrate import calibrate
from .callbacks import EpochStats, FakeAUC, WarmCheckpoint
from .data import (
    class_weights,
    level_paths,
    load_classes,
    make_tf_dataset,
    pooled,
    split_data,
    warm_cache,
    without_classes,
)
from .degenerate import check_degenerate
from .errors import ConfigError
from .metrics import youden_threshold
from .models import ARCHITECTURES, BACKBONE_NAME, build_model, default_input_size, load_model
from .plots import training_curves
from .runinfo import environment
from .selfblend_data import SELF_BLENDED

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
PHASE1_WEIGHTS = "phase1.weights.h5"
# BatchNorm moving statistics are "warm" once their initial values weigh < 1 % (momentum ** steps).
BN_INITIAL_WEIGHT = 0.01
MAX_BN_MOMENTUM = 0.99  # Keras' default: kept for large datasets
THRESHOLD_METHOD = ("Youden's J (max TPR - FPR, i.e. balanced accuracy) on validation P_fake, "
                    "midway between adjacent scores")
_DEFAULTS = {  # arch -> (epochs, batch size, learning rate, label smoothing)
    "scratch": (30, 64, 1e-3, 0.0),
    "effnetb0": (8, 32, 1e-3, 0.05),
    "lite0": (8, 32, 1e-3, 0.05),
}


@dataclass(frozen=True)
class FitConfig:
    """Options of ``python -m train fit``; ``None`` means the architecture's default."""

    arch: str
    data_dir: Path
    out: Path
    epochs: int | None = None
    fine_tune_epochs: int = 10
    batch_size: int | None = None
    learning_rate: float | None = None
    fine_tune_learning_rate: float = 1e-5
    weight_decay: float = 1e-4
    label_smoothing: float | None = None
    patience: int = 5
    input_size: int | None = None
    weights: str = "none"
    seed: int = 0
    cache: str | None = "memory"
    deterministic: bool = False
    init_weights: Path | None = None  # a model.keras of the same architecture to start from
    verbose: int = 1
    # Compression: weights of (crops as given, then each H.264 level of the data folder's
    # degrade.json) when drawing a training variant; ignored without degrade.json.
    level_weights: tuple[float, ...] = (0.4, 0.2, 0.2, 0.2)
    # Fine-tuning: whole backbone blocks from this fraction of the blocks on (0.5: top half).
    unfreeze_from: float = 0.5
    schedule: str = "plateau"  # "plateau" (ReduceLROnPlateau) or "cosine" (warm-up + cosine)
    warmup_epochs: int = 1
    balance: str = "inverse"  # "inverse" (per class) or "half-original" (originals = half)
    precision: float = 0.95  # the three-level band's precision target

    def resolved(self) -> FitConfig:
        if self.arch not in ARCHITECTURES:
            raise ConfigError(f"unknown --arch {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        epochs, batch, lr, smooth = _DEFAULTS[self.arch]
        return replace(
            self, data_dir=Path(self.data_dir), out=Path(self.out),
            epochs=self.epochs if self.epochs is not None else epochs,
            batch_size=self.batch_size or batch,
            learning_rate=self.learning_rate or lr,
            label_smoothing=self.label_smoothing if self.label_smoothing is not None else smooth,
            input_size=self.input_size or default_input_size(self.arch),
            fine_tune_epochs=self.fine_tune_epochs if self.arch != "scratch" else 0,
        )


@dataclass(frozen=True)
class FitResult:
    """Where the run went and how it did."""

    run_dir: Path
    model_path: Path
    classes: tuple[str, ...]
    history: pd.DataFrame
    best_epoch: int
    best_val_auc: float | None
    pipeline_images_per_s: float
    train_images_per_s: float
    parameters: int
    seconds: float
    threshold: float | None = None
    degenerate: dict | None = None


def bn_momentum(steps_per_epoch: int) -> float:
    """Momentum with which one epoch leaves < 1 % weight on the initial statistics."""
    return min(MAX_BN_MOMENTUM, BN_INITIAL_WEIGHT ** (1.0 / max(1, steps_per_epoch)))


def bn_warmup_epochs(momentum: float, steps_per_epoch: int) -> int:
    """Epochs until the initial moving statistics weigh < 1 % (scales with the data)."""
    steps = math.log(BN_INITIAL_WEIGHT) / math.log(momentum)
    return max(1, math.ceil(steps / max(1, steps_per_epoch) - 1e-9))


def set_bn_momentum(model: keras.Model, momentum: float) -> int:
    """Set every BatchNormalization layer's momentum; returns how many there are."""
    bns = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
           if isinstance(layer, keras.layers.BatchNormalization)]
    for b in bns:
        b.momentum = momentum
    return len(bns)


def validation_check(model: keras.Model, x_val, labels: np.ndarray, classes: tuple[str, ...],
                     original_index: int) -> tuple[float | None, dict | None, np.ndarray]:
    """(threshold chosen on validation, degeneracy record or None, probabilities).

    ``x_val``: a tf.data of (images, labels) batches or an image array.
    """
    probs = np.asarray(model.predict(x_val, verbose=0), np.float64)
    degenerate = check_degenerate(probs, original_index, labels, classes)
    threshold = None
    if degenerate is None:
        threshold = youden_threshold(labels != original_index, 1.0 - probs[:, original_index])
    return threshold, degenerate, probs


def _compile(model: keras.Model, optimizer, cfg: FitConfig, original_index: int) -> None:
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=["accuracy", FakeAUC(original_index)],
    )
    _build_training_state(model)


def _build_training_state(model: keras.Model) -> None:
    """Create the optimizer's and the metrics' variables now, eagerly, on one dummy sample.

    Keras otherwise creates them inside the first traced train step, and variables created while
    tracing make tf.function trace the whole step a second time: ~6 of a tiny fit's 16 s here.
    """
    model.optimizer.build(model.trainable_variables)
    x = np.zeros((1, *model.input_shape[1:]), np.float32)
    y = np.eye(model.output_shape[-1], dtype=np.float32)[:1]
    y_pred = model(x, training=False)
    model.compute_loss(x, y, y_pred)
    model.compute_metrics(x, y, y_pred, None)
    model.reset_metrics()


def backbone_blocks(backbone: keras.Model) -> list[list[keras.layers.Layer]]:
    """The backbone's layers grouped into whole blocks, in order.

    A block is the run of layers sharing a ``block<id>_`` name prefix (Lite0: ``block7_``, Keras
    EfficientNetB0: ``block4a_``); layers outside blocks (stem, head) form blocks of their own.
    """
    groups: list[list[keras.layers.Layer]] = []
    key = None
    for layer in backbone.layers:
        name = layer.name
        k = name.split("_", 1)[0] if name.startswith("block") and "_" in name else name
        if name.startswith(("head", "top")):
            k = "head"
        if k != key or not groups:
            groups.append([])
            key = k
        groups[-1].append(layer)
    return groups


def unfreeze_blocks(model: keras.Model, from_fraction: float = 0.5) -> int:
    """Trainable: whole blocks from ``from_fraction`` of the ``block*`` blocks on, and the head;
    BatchNorm stays frozen (keras-io's EfficientNet fine-tuning). Returns the first block index."""
    backbone = model.get_layer(BACKBONE_NAME)
    backbone.trainable = True
    groups = backbone_blocks(backbone)
    numbered = [i for i, g in enumerate(groups) if g[0].name.startswith("block")]
    if not numbered:
        raise ConfigError(f"{backbone.name} has no block* layers to unfreeze")
    first = numbered[min(len(numbered) - 1, int(len(numbered) * from_fraction))]
    for i, group in enumerate(groups):
        for layer in group:
            bn = isinstance(layer, keras.layers.BatchNormalization)
            layer.trainable = i >= first and not bn
    return first


def _phase(model, train_ds, val_ds, cfg, checkpoint, n_train, weights, first, last, extra,
           warmup_epochs, backup: Path | None = None):
    # the last epoch is always eligible, so a run shorter than its warm-up still keeps a model
    start = first + min(warmup_epochs, max(0, last - first - 1))
    checkpoint.start_epoch = start
    stop = keras.callbacks.EarlyStopping("val_auc", mode="max", patience=cfg.patience,
                                         restore_best_weights=True, start_from_epoch=start)
    callbacks = [EpochStats(n_train), checkpoint, stop, *extra]
    if backup is not None:  # an interrupted phase resumes from its last finished epoch
        callbacks.insert(0, keras.callbacks.BackupAndRestore(str(backup)))
    hist = model.fit(train_ds, validation_data=val_ds, epochs=last, initial_epoch=first,
                     class_weight=weights, verbose=cfg.verbose, shuffle=False,
                     callbacks=callbacks)
    df = pd.DataFrame(hist.history)
    df.insert(0, "epoch", hist.epoch)
    df["selectable"] = df["epoch"] >= start
    return df


def balanced_weights(labels: np.ndarray, classes: tuple[str, ...], mode: str) -> dict[int, float]:
    """``inverse``: every class weighs the same; ``half-original``: originals carry half of the
    loss and the fake classes (methods and pseudo-fakes) share the other half equally, so the
    real-vs-fake decision is balanced however many fake classes there are."""
    if mode == "inverse":
        return class_weights(labels, len(classes))
    if mode != "half-original":
        raise ConfigError(f"unknown class balance {mode!r}: inverse or half-original")
    counts = np.bincount(labels, minlength=len(classes)).astype(float)
    oi = classes.index(ORIGINAL)
    fakes = [i for i in range(len(classes)) if i != oi and counts[i] > 0]
    n = counts.sum()
    w = {i: 1.0 for i in range(len(classes))}
    if counts[oi] and fakes:
        w[oi] = n / (2 * counts[oi])
        for i in fakes:
            w[i] = n / (2 * len(fakes) * counts[i])
    return w


def _fine_tune_optimizer(cfg: FitConfig, steps: int):
    if cfg.schedule == "plateau":
        return keras.optimizers.Adam(cfg.fine_tune_learning_rate), [
            keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.3, patience=2, min_lr=1e-8)]
    if cfg.schedule != "cosine":
        raise ConfigError(f"unknown schedule {cfg.schedule!r}: plateau or cosine")
    warm = min(cfg.warmup_epochs, max(0, cfg.fine_tune_epochs - 1)) * steps
    sched = keras.optimizers.schedules.CosineDecay(
        cfg.fine_tune_learning_rate / 100, max(1, cfg.fine_tune_epochs * steps - warm),
        warmup_target=cfg.fine_tune_learning_rate, warmup_steps=warm)
    return keras.optimizers.AdamW(sched, weight_decay=cfg.weight_decay), []


def _datasets(cfg: FitConfig, classes: tuple[str, ...], contract: ModelContract):
    train = split_data(cfg.data_dir, "train", classes)
    # pseudo-fakes teach, they are not what a user's video holds: selection, thresholds and
    # early stopping look at real originals and real methods only
    val = without_classes(split_data(cfg.data_dir, "val", classes), classes, (SELF_BLENDED,))
    for d in (train, val):
        if len(d) == 0:
            raise ConfigError(f"no '{d.split}' crops in {cfg.data_dir}: the split is empty")
    train_levels = list(level_paths(train, cfg.data_dir).values())
    val_levels = level_paths(val, cfg.data_dir)
    weights = cfg.level_weights[:len(train_levels)]
    if len(train_levels) > 1 and len(weights) != len(train_levels):
        raise ConfigError(f"--level-weights needs {len(train_levels)} values (as given + each "
                          f"H.264 level), got {len(cfg.level_weights)}")
    train_ds = make_tf_dataset(train, contract, cfg.batch_size, True, cfg.seed, cfg.cache,
                               train_levels if len(train_levels) > 1 else None, weights)
    val_all = pooled(val, list(val_levels.values()))
    val_ds = make_tf_dataset(val_all, contract, cfg.batch_size, False, cfg.seed, cfg.cache)
    return train, val, val_levels, train_ds, val_ds, val_all


def fit(config: FitConfig) -> FitResult:
    """Train ``config.arch`` on ``config.data_dir``; writes the run folder ``config.out``.

    Resumable: each phase keeps a backup of its last finished epoch under ``out/backup``, and a
    finished frozen phase is kept as ``out/phase1.weights.h5``; running the same command again
    after an interruption continues where it stopped.
    """
    t0 = time.perf_counter()
    cfg = config.resolved()
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:  # reproducible to the bit on CPU, at some speed cost
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    classes = load_classes(cfg.data_dir)
    contract = ModelContract(classes, cfg.input_size)
    cfg.out.mkdir(parents=True, exist_ok=True)
    backup = cfg.out / "backup"
    resuming = backup.is_dir() or (cfg.out / PHASE1_WEIGHTS).is_file()
    if not resuming:
        (cfg.out / MODEL_FILE).unlink(missing_ok=True)  # never report a previous run's model
    train, val, val_levels, train_ds, val_ds, val_all = _datasets(cfg, classes, contract)
    log.info("train %d crops x %d levels, val %d crops x %d levels, classes %s", len(train),
             len(val_levels), len(val), len(val_levels), list(classes))
    _, pipe_ips = warm_cache(train_ds)
    warm_cache(val_ds)
    log.info("data pipeline (decode + resize, first pass): %.0f images/s", pipe_ips)

    model = build_model(cfg.arch, len(classes), cfg.input_size, cfg.weights)
    if cfg.init_weights:
        init_from(model, Path(cfg.init_weights))
    oi = contract.original_index
    ckpt = WarmCheckpoint(str(cfg.out / MODEL_FILE), monitor="val_auc", mode="max",
                          save_best_only=True)
    steps = math.ceil(len(train) / cfg.batch_size)
    momentum = bn_momentum(steps)
    n_bn = set_bn_momentum(model, momentum)
    # frozen backbones (transfer models) keep their BatchNorm in inference mode: no warm-up
    warmup = bn_warmup_epochs(momentum, steps) if cfg.arch == "scratch" and n_bn else 0
    log.info("%d steps/epoch: BatchNorm momentum %.3f, checkpoints from epoch %d", steps,
             momentum, warmup + 1)
    weights = balanced_weights(train.labels, classes, cfg.balance)
    fine_tune_epoch = None
    if cfg.arch == "scratch":
        sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, cfg.epochs * steps)
        _compile(model, keras.optimizers.AdamW(sched, weight_decay=cfg.weight_decay), cfg, oi)
        history = _phase(model, train_ds, val_ds, cfg, ckpt, len(train), weights, 0,
                         cfg.epochs, [], warmup, backup / "train")
        history.insert(1, "phase", "train")
    else:
        history, fine_tune_epoch = _transfer_phases(model, cfg, train_ds, val_ds, ckpt,
                                                    len(train), weights, steps, oi)
    result = _finish(cfg, contract, model, history, fine_tune_epoch, pipe_ips, t0,
                     (val_ds, val_all.labels), momentum, (val, val_levels))
    shutil.rmtree(backup, ignore_errors=True)
    (cfg.out / PHASE1_WEIGHTS).unlink(missing_ok=True)
    return result


def _transfer_phases(model, cfg, train_ds, val_ds, ckpt, n_train, weights, steps, oi):
    """Frozen backbone (head only), then whole blocks fine-tuned with BatchNorm frozen."""
    if cfg.weights == "none":
        log.warning("%s with --weights none: the frozen phase trains the head on random "
                    "backbone features; use imagenet or a weights file for real runs", cfg.arch)
    model.get_layer(BACKBONE_NAME).trainable = False
    phase1 = cfg.out / PHASE1_WEIGHTS
    if phase1.is_file():
        model.load_weights(phase1)
        h1 = pd.read_csv(cfg.out / "history_phase1.csv")
        log.info("resuming after the frozen phase (%s)", phase1)
    else:
        _compile(model, keras.optimizers.Adam(cfg.learning_rate), cfg, oi)
        plateau = keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.3, patience=2,
                                                    min_lr=1e-7)
        h1 = _phase(model, train_ds, val_ds, cfg, ckpt, n_train, weights, 0, cfg.epochs,
                    [plateau], 0, cfg.out / "backup" / "frozen")
        h1.insert(1, "phase", "frozen")
        h1.to_csv(cfg.out / "history_phase1.csv", index=False)
        model.save_weights(phase1)
    fine_tune_epoch = int(h1["epoch"].max()) + 1 if len(h1) else 0
    h2 = pd.DataFrame()
    if cfg.fine_tune_epochs > 0:
        first = unfreeze_blocks(model, cfg.unfreeze_from)
        log.info("fine-tuning whole backbone blocks from block group %d (BatchNorm frozen), "
                 "%s schedule", first, cfg.schedule)
        optimizer, extra = _fine_tune_optimizer(cfg, steps)
        _compile(model, optimizer, cfg, oi)
        h2 = _phase(model, train_ds, val_ds, cfg, ckpt, n_train, weights, fine_tune_epoch,
                    fine_tune_epoch + cfg.fine_tune_epochs, extra, 0,
                    cfg.out / "backup" / "fine-tune")
        h2.insert(1, "phase", "fine-tune")
    return pd.concat([h1, h2], ignore_index=True), fine_tune_epoch


def _calibrate(probs: np.ndarray, levels, original_index: int, cfg: FitConfig):
    """Thresholds from pooled validation probabilities (level after level, as :func:`pooled`)."""
    val, paths = levels
    n = len(val)
    fake = val.labels != original_index
    by_level = {name: (fake, 1.0 - probs[i * n:(i + 1) * n, original_index])
                for i, name in enumerate(paths)}
    if fake.all() or not fake.any():
        log.warning("validation holds only one of real and fake crops: no threshold")
        return None
    return calibrate(by_level, cfg.precision)


def init_from(model: keras.Model, path: Path) -> None:
    """Copy every weight of a saved model of the same architecture (to continue training it)."""
    source = load_model(path).get_weights()
    target = model.get_weights()
    shapes = [w.shape for w in source], [w.shape for w in target]
    if shapes[0] != shapes[1]:
        raise ConfigError(f"--init-weights {path} does not match --arch {model.name} at this "
                          f"input size and class count ({len(source)} vs {len(target)} tensors)")
    model.set_weights(source)
    log.info("initialised all %d weight tensors from %s", len(source), path)


def _finish(cfg, contract, model, history, fine_tune_epoch, pipe_ips, t0, val,
            momentum, levels) -> FitResult:
    out, classes = cfg.out, contract.class_names
    model_path = out / MODEL_FILE
    if not model_path.is_file():  # val_auc never improved on its initial value
        model.save(model_path)
    best = load_model(model_path)
    history.to_csv(out / "history.csv", index=False)
    training_curves(history, out / "training_curves.png",
                    fine_tune_epoch if cfg.fine_tune_epochs else None)
    (out / "classes.json").write_text(json.dumps(list(classes)))
    conf = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    (out / "config.json").write_text(json.dumps({**conf, **environment()}, indent=2))
    vals = history["val_auc"].to_numpy(float) if "val_auc" in history else np.array([])
    vals = np.where(history["selectable"].to_numpy(bool), vals, np.nan) if len(vals) else vals
    best_i = int(np.nanargmax(vals)) if len(vals) and not np.all(np.isnan(vals)) else -1
    ips = history.get("train_images_per_s", pd.Series(dtype=float)).to_numpy()
    train_ips = float(np.median(ips[1:] if len(ips) > 1 else ips)) if len(ips) else 0.0
    result = FitResult(
        run_dir=out, model_path=model_path, classes=classes, history=history,
        best_epoch=int(history["epoch"].iloc[best_i]) if best_i >= 0 else -1,
        best_val_auc=float(vals[best_i]) if best_i >= 0 else None,
        pipeline_images_per_s=pipe_ips, train_images_per_s=train_ips,
        parameters=int(best.count_params()), seconds=time.perf_counter() - t0,
    )
    threshold, degenerate, probs = validation_check(best, val[0], val[1], classes,
                                                    contract.original_index)
    calibration = None
    if degenerate is None:
        calibration = _calibrate(probs, levels, contract.original_index, cfg)
        threshold = calibration.threshold if calibration else threshold
    result = replace(result, threshold=threshold, degenerate=degenerate)
    if degenerate:
        log.warning("DEGENERATE MODEL: %s. Its numbers are meaningless and export refuses it "
                    "without --force; see %s", degenerate["reason"], out / "run.json")
    record = {
        "arch": cfg.arch, "model": MODEL_FILE, "model_name": best.name,
        "input_size": contract.input_size, "classes": list(classes),
        "parameters": result.parameters, "epochs_run": len(history),
        "best_epoch": result.best_epoch, "best_val_auc": result.best_val_auc,
        "fine_tune_epoch": fine_tune_epoch,
        "bn_momentum": round(momentum, 4),
        "selection_start_epoch": int(history.loc[history["selectable"], "epoch"].min())
        if history["selectable"].any() else None,
        "threshold": threshold, "threshold_method": (calibration.threshold_rule if calibration
                                                     else "none: the model is degenerate "
                                                     "(runtime default 0.5)"),
        "calibration": calibration.to_json() if calibration else None,
        "degenerate": degenerate,
        "pipeline_images_per_s": round(pipe_ips, 1),
        "train_images_per_s": round(train_ips, 1), "seconds": round(result.seconds, 1),
        "contract": replace(contract, architecture=cfg.arch, model_name=best.name,
                            parameters=result.parameters,
                            trained_on=str(cfg.data_dir), threshold=threshold,
                            threshold_method=calibration.threshold_rule if calibration else None,
                            threshold_real=calibration.threshold_real if calibration else None,
                            threshold_fake=calibration.threshold_fake if calibration else None,
                            band_rule=calibration.band_rule if calibration and
                            calibration.threshold_real is not None else None).to_dict(),
    }
    (out / "run.json").write_text(json.dumps(record, indent=2))
    log.info("best epoch %d, val AUC %s, %.0f train images/s -> %s", result.best_epoch + 1,
             result.best_val_auc, train_ips, model_path)
    return result
