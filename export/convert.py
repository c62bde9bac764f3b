"""Keras model -> ONNX inference graph with tf2onnx, and the check that it really is inference-only.

Keras 3 ``Random*`` augmentation layers (and Dropout) run whenever ``training`` is not passed, so
the graph is traced from a wrapper that always calls the model with ``training=False``; the ONNX
graph is then scanned and rejected if any random or augmentation op survived.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import keras
import onnx
import tensorflow as tf
import tf2onnx

from .errors import ExportError, RandomOpError

log = logging.getLogger(__name__)

INPUT_NAME = "input"
BATCH_DIM = "batch"
MIN_OPSET, MAX_OPSET, DEFAULT_OPSET = 13, 18, 17
# ONNX random ops, and TF ops tf2onnx leaves unconverted (StatelessRandomUniformV2, ...) or that
# only augmentation layers emit (ImageProjectiveTransformV3 for rotation / zoom / translation).
_RANDOM_OP = re.compile(
    r"random|stateless|multinomial|bernoulli|imageprojectivetransform|truncatednormal", re.I
)


class InferenceOnly(keras.Model):
    """Calls the wrapped model with ``training=False`` whatever the caller passes."""

    def __init__(self, inner: keras.Model, **kwargs) -> None:
        super().__init__(name=f"{inner.name}_inference", **kwargs)
        self.inner = inner

    def call(self, x):  # no ``training`` argument: nothing can switch augmentation back on
        return self.inner(x, training=False)


def model_input_size(model: keras.Model) -> int:
    """Square RGB input side of a Keras image classifier (NHWC, 3 channels)."""
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2] or not shape[1]:
        raise ExportError(f"model input shape {shape} is not (batch, S, S, 3) with a fixed S")
    return int(shape[1])


def model_output_width(model: keras.Model) -> int:
    shape = tuple(model.output_shape)
    if len(shape) != 2 or not shape[1]:
        raise ExportError(f"model output shape {shape} is not (batch, classes)")
    return int(shape[1])


def iter_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """Every node of a graph, including those in If/Loop/Scan sub-graphs."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from iter_nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from iter_nodes(g)


def find_random_ops(proto: onnx.ModelProto) -> list[str]:
    """``name (OpType)`` of each random / augmentation node; empty for a clean inference graph."""
    return [f"{n.name} ({n.op_type})" for n in iter_nodes(proto.graph) if _RANDOM_OP.search(n.op_type)]


def assert_inference_graph(proto: onnx.ModelProto) -> None:
    """Raise RandomOpError if any random or augmentation op is in the graph."""
    bad = find_random_ops(proto)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise RandomOpError(
            f"exported graph contains {len(bad)} random/augmentation op(s): {shown}; "
            "the model must be traced with training=False"
        )


def _rename_value(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if v == old else v for v in node.input]
        node.output[:] = [new if v == old else v for v in node.output]
    for vi in (*graph.input, *graph.output, *graph.value_info):
        if vi.name == old:
            vi.name = new


def _tidy_io(proto: onnx.ModelProto, output_name: str) -> None:
    """Stable names the runtime and humans can read: input ``input``, dim ``batch``."""
    graph = proto.graph
    out = graph.output[0]
    if out.name != output_name:
        _rename_value(graph, out.name, output_name)
    for vi in (graph.input[0], graph.output[0]):
        dims = vi.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_param = BATCH_DIM


def keras_to_onnx(
    model: keras.Model, opset: int = DEFAULT_OPSET, output_name: str = "probabilities"
) -> onnx.ModelProto:
    """Convert with ``tf2onnx.convert.from_keras`` (dynamic batch), then reject random ops."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(f"opset {opset} not supported by tf2onnx here (use {MIN_OPSET}..{MAX_OPSET})")
    size = model_input_size(model)
    wrapped = InferenceOnly(model)
    spec = (tf.TensorSpec((None, size, size, 3), tf.float32, name=INPUT_NAME),)
    try:
        proto, _ = tf2onnx.convert.from_keras(wrapped, input_signature=spec, opset=opset)
    except Exception as exc:  # tf2onnx raises anything from ValueError to tf errors
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"tf2onnx could not convert the model: {first}") from exc
    assert_inference_graph(proto)
    if len(proto.graph.input) != 1 or len(proto.graph.output) != 1:
        raise ExportError(
            f"converted graph has {len(proto.graph.input)} inputs and {len(proto.graph.output)} "
            "outputs; expected one of each"
        )
    _tidy_io(proto, output_name)
    proto.producer_name = "edge-deepfake-detector export (tf2onnx)"
    log.info("converted %s to ONNX opset %d: %d nodes", model.name, opset, len(proto.graph.node))
    return proto
