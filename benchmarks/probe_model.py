"""A small random-weight ONNX classifier whose P_fake moves with the crop's content and framing.

A random-weight export of the project's CNNs answers the uniform 6/7 for every crop (P_fake
spread 0.0000 on the FF++ fixtures), so it cannot show whether two crop geometries give the same
verdict. This probe (strided conv -> ReLU -> 4x4 average grid -> linear -> softmax, fixed seed) is
built with ``onnx.helper`` (no TensorFlow) and carries a normal contract, so it runs through the
same runtime as a trained model. Benchmarks only: its numbers mean nothing about forgeries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edge_detector.contract import FFPP_CLASSES, METADATA_KEY, ModelContract

SIZE, FILTERS, STRIDE, GRID = 128, 8, 4, 4
LOGIT_SCALE = 6.0
ORIGINAL_BIAS = 4.75  # centres P_fake near 0.5 on the fixture clips' faces (seed 0)


def probe_model(path: Path, seed: int = 0) -> Path:
    """Write the probe model to ``path`` (NHWC RGB float 0..255 input, probabilities out)."""
    rng = np.random.default_rng(seed)
    c = len(FFPP_CLASSES)
    conv_w = rng.normal(0, 0.2, (FILTERS, 3, 5, 5)).astype(np.float32)
    fc_w = rng.normal(0, 1.0, (FILTERS * GRID * GRID, c)).astype(np.float32)
    fc_w *= LOGIT_SCALE / np.sqrt(FILTERS * GRID * GRID)
    pool = SIZE // STRIDE // GRID
    inits = [
        numpy_helper.from_array(conv_w, "conv_w"),
        numpy_helper.from_array(fc_w, "fc_w"),
        numpy_helper.from_array(np.eye(1, c, dtype=np.float32)[0] * ORIGINAL_BIAS, "fc_b"),
        numpy_helper.from_array(np.array(1 / 127.5, np.float32), "scale"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array([-1, FILTERS * GRID * GRID], np.int64), "flat"),
    ]
    nodes = [
        helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", ["nchw", "scale"], ["scaled"]),
        helper.make_node("Sub", ["scaled", "one"], ["centred"]),
        helper.make_node("Conv", ["centred", "conv_w"], ["conv"], strides=[STRIDE, STRIDE],
                         pads=[2, 2, 2, 2]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("AveragePool", ["relu"], ["grid"], kernel_shape=[pool, pool],
                         strides=[pool, pool]),
        helper.make_node("Reshape", ["grid", "flat"], ["vec"]),
        helper.make_node("MatMul", ["vec", "fc_w"], ["raw"]),
        helper.make_node("Add", ["raw", "fc_b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "probe", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                       ["N", SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", c])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    contract = ModelContract(class_names=FFPP_CLASSES, input_size=SIZE, architecture="probe",
                             model_name="crop-sensitive probe",
                             trained_on="random weights (benchmark probe, not a detector)")
    helper.set_model_props(model, {METADATA_KEY: contract.to_json()})
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
