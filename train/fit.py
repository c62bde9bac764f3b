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
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from edge_detector.contract import ModelContract

from .callbacks import EpochStats, FakeAUC, WarmCheckpoint
from .data import class_weights, load_classes, make_tf_dataset, split_data, warm_cache
from .degenerate import check_degenerate
from .errors import ConfigError
from .metrics import youden_threshold
from .models import ARCHITECTURES, BACKBONE_NAME, build_model, default_input_size, load_model
from .plots import training_curves
from .runinfo import environment

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
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


def _unfreeze_top_half(model: keras.Model) -> int:
    """Trainable: top half of the backbone except BatchNorm; returns the first unfrozen index."""
    backbone = model.get_layer(BACKBONE_NAME)
    backbone.trainable = True
    start = len(backbone.layers) // 2
    for i, layer in enumerate(backbone.layers):
        bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = i >= start and not bn
    return start


def _phase(model, train_ds, val_ds, cfg, checkpoint, n_train, weights, first, last, extra,
           warmup_epochs):
    # the last epoch is always eligible, so a run shorter than its warm-up still keeps a model
    start = first + min(warmup_epochs, max(0, last - first - 1))
    checkpoint.start_epoch = start
    stop = keras.callbacks.EarlyStopping("val_auc", mode="max", patience=cfg.patience,
                                         restore_best_weights=True, start_from_epoch=start)
    hist = model.fit(train_ds, validation_data=val_ds, epochs=last, initial_epoch=first,
                     class_weight=weights, verbose=cfg.verbose, shuffle=False,
                     callbacks=[EpochStats(n_train), checkpoint, stop, *extra])
    df = pd.DataFrame(hist.history)
    df.insert(0, "epoch", hist.epoch)
    df["selectable"] = df["epoch"] >= start
    return df


def fit(config: FitConfig) -> FitResult:
    """Train ``config.arch`` on ``config.data_dir``; writes the run folder ``config.out``."""
    t0 = time.perf_counter()
    cfg = config.resolved()
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:  # reproducible to the bit on CPU, at some speed cost
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    classes = load_classes(cfg.data_dir)
    contract = ModelContract(classes, cfg.input_size)
    train, val = (split_data(cfg.data_dir, s, classes) for s in ("train", "val"))
    for d in (train, val):
        if len(d) == 0:
            raise ConfigError(f"no '{d.split}' crops in {cfg.data_dir}: the split is empty")
    cfg.out.mkdir(parents=True, exist_ok=True)
    (cfg.out / MODEL_FILE).unlink(missing_ok=True)  # never report a previous run's model
    log.info("train %d crops, val %d crops, classes %s", len(train), len(val), list(classes))

    train_ds = make_tf_dataset(train, contract, cfg.batch_size, True, cfg.seed, cfg.cache)
    val_ds = make_tf_dataset(val, contract, cfg.batch_size, False, cfg.seed, cfg.cache)
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
    weights = class_weights(train.labels, len(classes))
    fine_tune_epoch = None
    if cfg.arch == "scratch":
        sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, cfg.epochs * steps)
        _compile(model, keras.optimizers.AdamW(sched, weight_decay=cfg.weight_decay), cfg, oi)
        history = _phase(model, train_ds, val_ds, cfg, ckpt, len(train), weights, 0,
                         cfg.epochs, [], warmup)
        history.insert(1, "phase", "train")
    else:
        if cfg.weights == "none":
            log.warning("%s with --weights none: the frozen phase trains the head on random "
                        "backbone features; use imagenet or a weights file for real runs", cfg.arch)
        model.get_layer(BACKBONE_NAME).trainable = False
        _compile(model, keras.optimizers.Adam(cfg.learning_rate), cfg, oi)
        plateau = keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.3, patience=2,
                                                    min_lr=1e-7)
        h1 = _phase(model, train_ds, val_ds, cfg, ckpt, len(train), weights, 0, cfg.epochs,
                    [plateau], warmup)
        h1.insert(1, "phase", "frozen")
        fine_tune_epoch = int(h1["epoch"].max()) + 1 if len(h1) else 0
        h2 = pd.DataFrame()
        if cfg.fine_tune_epochs > 0:
            start = _unfreeze_top_half(model)
            log.info("fine-tuning backbone layers %d.. (BatchNorm frozen)", start)
            _compile(model, keras.optimizers.Adam(cfg.fine_tune_learning_rate), cfg, oi)
            plateau = keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.3, patience=2,
                                                        min_lr=1e-8)
            h2 = _phase(model, train_ds, val_ds, cfg, ckpt, len(train), weights,
                        fine_tune_epoch, fine_tune_epoch + cfg.fine_tune_epochs, [plateau], 0)
            h2.insert(1, "phase", "fine-tune")
        history = pd.concat([h1, h2], ignore_index=True)
    return _finish(cfg, contract, model, history, fine_tune_epoch, pipe_ips, t0,
                   (val_ds, val.labels), momentum)


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
            momentum) -> FitResult:
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
    threshold, degenerate, _ = validation_check(best, val[0], val[1], classes,
                                                contract.original_index)
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
        "threshold": threshold, "threshold_method": THRESHOLD_METHOD if threshold else
        "none: validation is one-sided or the model degenerate (runtime default 0.5)",
        "degenerate": degenerate,
        "pipeline_images_per_s": round(pipe_ips, 1),
        "train_images_per_s": round(train_ips, 1), "seconds": round(result.seconds, 1),
        "contract": replace(contract, architecture=cfg.arch, model_name=best.name,
                            parameters=result.parameters,
                            trained_on=str(cfg.data_dir), threshold=threshold).to_dict(),
    }
    (out / "run.json").write_text(json.dumps(record, indent=2))
    log.info("best epoch %d, val AUC %s, %.0f train images/s -> %s", result.best_epoch + 1,
             result.best_val_auc, train_ips, model_path)
    return result
