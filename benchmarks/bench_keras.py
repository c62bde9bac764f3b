"""Keras latency of the same architectures (``predict``, ``tf.function``, eager), on request only.

TensorFlow is imported here and in ``model_files`` (random-weight export), nowhere else.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .bench_models import ort_call, sample_input
from .model_files import ModelFiles
from .results import KerasCell, KerasResult, ModelResult
from .stats import TimingPlan, time_interleaved

log = logging.getLogger(__name__)
MODES = ("predict", "tf.function", "eager")
_threads_set: int | None = None


def init_tensorflow(threads: int | None = None) -> int | None:
    """Import TensorFlow and pin its intra-op threads once (only possible before its first op)."""
    global _threads_set
    import tensorflow as tf

    if threads and _threads_set is None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            _threads_set = threads
        except RuntimeError:  # the context was already initialised by an earlier call
            log.warning("TensorFlow already initialised; cannot set its threads to %d", threads)
    return _threads_set


def keras_model(m: ModelFiles):
    """A ``<stem>.keras`` beside the ONNX file, else the same architecture with random weights."""
    from train.models import ARCHITECTURES, build_model, load_model

    if m.fp32 is not None:
        sibling = Path(m.fp32).with_suffix(".keras")
        if sibling.is_file():
            return load_model(sibling), str(sibling)
    if m.architecture not in ARCHITECTURES:
        return None, f"unknown architecture {m.architecture!r}: no Keras model to compare"
    c = m.contract
    return build_model(m.architecture, c.num_classes, c.input_size), "random weights (same architecture)"


def bench_keras(m: ModelFiles, result: ModelResult, batches: list[int], threads: int,
                ort_threads: int, plan: TimingPlan) -> None:
    """Fill ``result.keras``.

    Speed-ups compare with ORT fp32 at ``ort_threads`` and the same batch, timed again here in
    the same interleaved rounds as the Keras calls, so a load spike cannot favour either side.
    """
    actual = init_tensorflow(threads)
    import tensorflow as tf

    model, origin = keras_model(m)
    if model is None:
        result.notes.append(origin)
        return
    fn = tf.function(lambda x: model(x, training=False))
    kr = KerasResult(origin, actual or 0, ort_threads)
    for b in batches:
        x = sample_input(m.contract, b)
        calls = {
            "predict": lambda x=x, b=b: model.predict(x, batch_size=b, verbose=0),
            "tf.function": lambda x=x: np.asarray(fn(x)),
            "eager": lambda x=x: np.asarray(model(x, training=False)),
        }
        if m.fp32 is not None:
            calls["ort"] = ort_call(m.fp32, m.contract, ort_threads, b)
        timed = time_interleaved(calls, plan)
        ort = timed["ort"].per_item(b) if "ort" in timed else None
        for mode in MODES:
            lat = timed[mode].per_item(b)
            speedup = lat.p50_ms / ort.p50_ms if ort else None
            kr.cells.append(KerasCell(mode, b, lat, 1e3 / lat.p50_ms, speedup,
                                      ort.p50_ms if ort else None))
            log.info("%s keras %s batch=%d: p50 %.3f ms/img", m.name, mode, b, lat.p50_ms)
    result.keras = kr
