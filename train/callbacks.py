"""Training-time metric and callbacks: real-vs-fake AUC, throughput/learning-rate logging and a
checkpoint that ignores epochs whose BatchNorm statistics are still warming up."""

from __future__ import annotations

import time

import keras


@keras.saving.register_keras_serializable(package="edge_train")
class FakeAUC(keras.metrics.AUC):
    """Binary real-vs-fake ROC AUC from a multiclass softmax: ``P_fake = 1 - P(original)``.

    This is what early stopping and checkpointing monitor (as ``val_auc``): it is the decision the
    edge runtime makes. Keras' AUC is a 200-threshold approximation; ``train evaluate`` reports
    the exact value.
    """

    def __init__(self, original_index: int = 0, name: str = "auc", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.original_index = int(original_index)

    def update_state(self, y_true, y_pred, sample_weight=None):
        i = self.original_index
        return super().update_state(1.0 - y_true[:, i], 1.0 - y_pred[:, i], sample_weight)

    def get_config(self) -> dict:
        return {**super().get_config(), "original_index": self.original_index}


class EpochStats(keras.callbacks.Callback):
    """Adds ``train_images_per_s`` (training part of the epoch only) and ``learning_rate``."""

    def __init__(self, images_per_epoch: int) -> None:
        super().__init__()
        self.images = images_per_epoch
        self._t0 = self._t1 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()
        self._t1 = 0.0

    def on_test_begin(self, logs=None):
        if self._t0 and not self._t1:
            self._t1 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        dt = (self._t1 or time.perf_counter()) - self._t0
        logs["train_images_per_s"] = self.images / dt if dt > 0 else 0.0
        lr = self.model.optimizer.learning_rate
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))


class WarmCheckpoint(keras.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` that considers only epochs ``>= start_epoch``.

    Before that, BatchNorm moving statistics still weigh their initial values (mean 0, variance
    1): such a model can score a lucky val AUC while answering near-constant, and must never be
    kept as "best".
    """

    def __init__(self, *args, start_epoch: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.start_epoch = int(start_epoch)

    def on_epoch_end(self, epoch, logs=None):
        if epoch >= self.start_epoch:
            super().on_epoch_end(epoch, logs)
