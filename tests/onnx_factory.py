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


# Mean squared horizontal difference of uniform 0..255 noise: 2 * 255**2 / 12.
NOISE_ENERGY = 2 * 255.0**2 / 12


def region_texture_model(path: Path, size: int = 64, region: tuple[int, int, int, int] = (8, 32, 32, 56),
                         gain: float = 6.0) -> Path:
    """A model whose P_fake depends only on the texture inside ``region`` = (y0, y1, x0, x1).

    P_fake = sigmoid(gain * (t - 0.5)), t = the mean squared horizontal pixel difference inside the
    region over that of uniform noise: a noisy region reads as fake (0.95), a smooth one as real.
    Pixels outside the region never change the output, so an occlusion map must peak there.
    """
    y0, y1, x0, x1 = region
    w = x1 - x0
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", size, size, 3])
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 2])

    def ints(name: str, values: list[int]):
        return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)

    def floats(name: str, value: float):
        return helper.make_tensor(name, TensorProto.FLOAT, [], [value])

    inits = [ints("r_starts", [y0, x0]), ints("r_ends", [y1, x1]), ints("r_axes", [1, 2]),
             ints("a_starts", [1]), ints("a_ends", [w]), ints("b_starts", [0]), ints("b_ends", [w - 1]),
             ints("w_axis", [2]), ints("all_axes", [1, 2, 3]), ints("col", [-1, 1]),
             floats("k", gain / NOISE_ENERGY), floats("c", -gain / 2), floats("zero", 0.0)]
    nodes = [
        helper.make_node("Slice", ["input", "r_starts", "r_ends", "r_axes"], ["r"]),
        helper.make_node("Slice", ["r", "a_starts", "a_ends", "w_axis"], ["ra"]),
        helper.make_node("Slice", ["r", "b_starts", "b_ends", "w_axis"], ["rb"]),
        helper.make_node("Sub", ["ra", "rb"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["d2"]),
        helper.make_node("ReduceMean", ["d2", "all_axes"], ["t4"], keepdims=1),
        helper.make_node("Reshape", ["t4", "col"], ["t"]),
        helper.make_node("Mul", ["t", "k"], ["kt"]),
        helper.make_node("Add", ["kt", "c"], ["fake_logit"]),
        helper.make_node("Mul", ["fake_logit", "zero"], ["orig_logit"]),
        helper.make_node("Concat", ["orig_logit", "fake_logit"], ["logits"], axis=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(nodes, "region_texture", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    contract = ModelContract(class_names=("original", "Deepfakes"), input_size=size,
                             architecture="region-texture-test", model_name="region",
                             trained_on="nothing (test model)")
    helper.set_model_props(model, {METADATA_KEY: contract.to_json()})
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
