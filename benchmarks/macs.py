"""Multiply-accumulates per image, counted from an ONNX graph with onnx shape inference.

Counted: Conv (dense, grouped and depthwise), ConvInteger, QLinearConv, MatMul, MatMulInteger,
QLinearMatMul and Gemm. Everything else (pooling, activations, BatchNorm, adds) is cheap next to
them and left out, as is usual for MAC counts. Where onnx shape inference stops (contrib ops such as
``QLinearMul`` in int8 graphs), the shapes come from one unoptimised ONNX Runtime run at batch 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import shape_inference

CONV_OPS = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}  # op -> index of the weight input
MATMUL_OPS = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3), "Gemm": (0, 1)}


@dataclass(frozen=True)
class MacCount:
    """MACs for one image (batch 1) and how many heavy nodes had shapes too unknown to count."""

    macs: int
    counted_nodes: int
    uncounted_nodes: int
    parameters: int


def _fix_batch(model: onnx.ModelProto) -> None:
    """Pin every symbolic or unknown leading input dim to 1 so inference yields concrete shapes."""
    inits = {i.name for i in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        dims = vi.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_value = 1


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[int | None, ...]]:
    out: dict[str, tuple[int | None, ...]] = {}
    g = model.graph
    for vi in (*g.input, *g.value_info, *g.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
            out[vi.name] = tuple(d.dim_value if d.dim_value > 0 else None
                                 for d in vi.type.tensor_type.shape.dim)
    for init in g.initializer:
        out[init.name] = tuple(int(d) for d in init.dims)
    return out


def _known(shape: tuple[int | None, ...] | None) -> bool:
    return shape is not None and len(shape) > 0 and all(d is not None for d in shape)


def _conv_out(node: onnx.NodeProto, x: tuple[int, ...], w: tuple[int, ...]) -> tuple[int, ...] | None:
    """Output shape of a 2-D convolution from its attributes (for graphs inference left bare)."""
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    k = list(attrs.get("kernel_shape", w[2:]))
    nd = len(k)
    strides = list(attrs.get("strides", [1] * nd))
    dil = list(attrs.get("dilations", [1] * nd))
    pads = list(attrs.get("pads", [0] * 2 * nd))
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    spatial = []
    for i in range(nd):
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            spatial.append(math.ceil(x[2 + i] / strides[i]))
        else:
            eff = (k[i] - 1) * dil[i] + 1
            size = x[2 + i] + pads[i] + pads[i + nd] - eff
            spatial.append(size // strides[i] + 1 if auto != "VALID" else
                           (x[2 + i] - eff) // strides[i] + 1)
    return (x[0], w[0], *spatial)


def count_parameters(model: onnx.ModelProto) -> int:
    """Elements of all initializers with more than one element (weights, not shape constants)."""
    return int(sum(math.prod(i.dims) for i in model.graph.initializer if math.prod(i.dims) > 1))


def _probe_shapes(model: onnx.ModelProto) -> dict[str, tuple[int | None, ...]]:
    """Real shapes of every node output from one unoptimised run on zeros at batch 1."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    have = {o.name for o in probe.graph.output}
    for node in probe.graph.node:
        for name in node.output:
            if name and name not in have:
                probe.graph.output.append(onnx.ValueInfoProto(name=name))
                have.add(name)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feeds = {}
    for inp in sess.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
        dtype = np.float32 if inp.type == "tensor(float)" else np.int64
        feeds[inp.name] = np.zeros(shape, dtype)
    names = [o.name for o in sess.get_outputs()]
    return {n: tuple(np.shape(v)) for n, v in zip(names, sess.run(names, feeds), strict=True)}


def count_macs(path: str | Path) -> MacCount:
    """MACs per image of the ONNX model at ``path`` (batch pinned to 1)."""
    model = onnx.load(str(path))
    params = count_parameters(model)
    _fix_batch(model)
    try:
        model = shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # contrib ops can stop inference; the probe below fills the gaps
        pass
    result = _count(model, _shapes(model), params)
    if result.uncounted_nodes:
        shapes = _shapes(model)
        shapes.update(_probe_shapes(model))
        result = _count(model, shapes, params)
    return result


def _count(model: onnx.ModelProto, shapes: dict[str, tuple[int | None, ...]], params: int) -> MacCount:
    total, counted, uncounted = 0, 0, 0
    for node in model.graph.node:
        macs = _node_macs(node, shapes)
        if macs is None:
            if node.op_type in CONV_OPS or node.op_type in MATMUL_OPS:
                uncounted += 1
            continue
        total += macs
        counted += 1
    return MacCount(int(total), counted, uncounted, params)


def _node_macs(node: onnx.NodeProto, shapes: dict[str, tuple[int | None, ...]]) -> int | None:
    op = node.op_type
    if op in CONV_OPS:
        w = shapes.get(node.input[CONV_OPS[op]])
        if not _known(w):
            return None
        out = shapes.get(node.output[0])
        if not _known(out):
            x = shapes.get(node.input[0])
            if not _known(x):
                return None
            out = _conv_out(node, x, w)  # type: ignore[arg-type]
            shapes[node.output[0]] = out  # lets a following node use it
        return int(np.prod(out, dtype=np.int64) * np.prod(w[1:], dtype=np.int64))
    if op in MATMUL_OPS:
        ia, _ = MATMUL_OPS[op]
        a, out = shapes.get(node.input[ia]), shapes.get(node.output[0])
        if not (_known(a) and _known(out)):
            return None
        trans_a = any(x.name == "transA" and x.i for x in node.attribute)
        k = a[-2] if (op == "Gemm" and trans_a) else a[-1]
        return int(np.prod(out, dtype=np.int64) * k)
    return None
