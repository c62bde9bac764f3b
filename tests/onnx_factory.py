"""Tiny ONNX classifiers built with onnx.helper, so runtime tests need no TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from edge_detector.contract import FFPP_CLASSES, METADATA_KEY, ModelContract


def tiny_model(
    path: Path,
    size: int = 32,
    classes: tuple[str, ...] = FFPP_CLASSES,
    contract: ModelContract | dict | str | None = "auto",
    rank: int = 4,
    weights: np.ndarray | None = None,
) -> Path:
    """Mean colour (R, G, B) of the input -> linear -> softmax.

    With the default weights a redder face is more 'original' and a bluer face more fake, which
    makes the outputs depend on the pixels in a way tests can predict.
    """
    c = len(classes)
    if weights is None:
        weights = np.zeros((3, c), np.float32)
        weights[0, 0] = 0.05  # R pushes towards class 0 ('original')
        weights[2, 1:] = np.linspace(0.02, 0.05, c - 1)  # B pushes towards the manipulations
    shape = ["N", size, size, 3] if rank == 4 else ["N", size * size * 3]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", c])
    w = helper.make_tensor("W", TensorProto.FLOAT, weights.shape, weights.flatten())
    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2])
    nodes = [
        helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),
        helper.make_node("MatMul", ["mean", "W"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    if rank != 4:
        nodes = [
            helper.make_node("Identity", ["input"], ["flat"]),
            helper.make_node("ReduceMean", ["flat"], ["m1"], keepdims=1, axes=[1]),
            helper.make_node("Tile", ["m1", "reps"], ["mean"]),
            *nodes[1:],
        ]
        reps = helper.make_tensor("reps", TensorProto.INT64, [2], [1, 3])
        graph = helper.make_graph(nodes, "tiny", [x], [y], [w, reps])
        opset = 13
    else:
        graph = helper.make_graph(nodes, "tiny", [x], [y], [w, axes])
        opset = 18
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    if contract == "auto":
        contract = ModelContract(
            class_names=tuple(classes) if "original" in classes else FFPP_CLASSES,
            input_size=size, architecture="tiny-test", model_name="tiny",
            trained_on="nothing (test model)",
        )
        if "original" not in classes:  # deliberately broken contract requested
            contract = {**contract.to_dict(), "class_names": list(classes)}
    if contract is not None:
        text = contract.to_json() if isinstance(contract, ModelContract) else (
            contract if isinstance(contract, str) else __import__("json").dumps(contract)
        )
        helper.set_model_props(model, {METADATA_KEY: text})
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
