"""MAC counter and result records on hand-built graphs (no TensorFlow)."""

import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchmarks.macs import count_macs
from benchmarks.results import Target
from benchmarks.stats import Latency, TimingPlan, time_calls, time_interleaved


def _save(tmp_path, nodes, inits, x_shape, y_shape, name="m.onnx"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)
    graph = helper.make_graph(nodes, "g", [x], [y],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    ("cin", "cout", "group", "k", "stride", "expected"),
    [
        (3, 16, 1, 3, 1, 32 * 32 * 16 * 3 * 9),     # dense 3x3, 'same' padding
        (8, 8, 8, 3, 1, 32 * 32 * 8 * 9),           # depthwise
        (8, 16, 4, 3, 2, 16 * 16 * 16 * 2 * 9),     # grouped, stride 2
        (8, 32, 1, 1, 1, 32 * 32 * 32 * 8),         # pointwise
    ],
)
def test_conv_macs(tmp_path, cin, cout, group, k, stride, expected):
    w = np.zeros((cout, cin // group, k, k))
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=group, strides=[stride, stride],
                            pads=[k // 2] * 4)
    path = _save(tmp_path, [node], {"w": w}, ["N", cin, 32, 32], None)
    count = count_macs(path)
    assert count.macs == expected
    assert count.uncounted_nodes == 0


def test_matmul_and_gemm_macs(tmp_path):
    nodes = [
        helper.make_node("MatMul", ["x", "a"], ["h"]),              # (1,64) x (64,32)
        helper.make_node("Gemm", ["h", "b"], ["y"], transB=1),      # (1,32) x (10,32)^T
    ]
    path = _save(tmp_path, nodes, {"a": np.zeros((64, 32)), "b": np.zeros((10, 32))},
                 ["batch", 64], ["batch", 10])
    assert count_macs(path).macs == 64 * 32 + 32 * 10


def test_tiny_factory_model(tiny_onnx):
    # ReduceMean (not counted) then a 3x7 MatMul.
    assert count_macs(tiny_onnx).macs == 21


def test_latency_percentiles_and_per_image():
    lat = Latency.of(list(range(1, 101)))
    assert lat.n == 100 and lat.p50_ms == pytest.approx(50.5) and lat.p99_ms == pytest.approx(99.01)
    assert lat.per_item(4).p50_ms == pytest.approx(50.5 / 4)


def test_time_calls_honours_runs_and_warmup():
    calls = []
    plan = TimingPlan(runs=7, warmup=3, max_seconds=10, warmup_seconds=0)
    lat = time_calls(lambda: calls.append(1), plan)
    assert lat.n == 7 and len(calls) == 10


def test_warmup_lasts_at_least_warmup_seconds():
    calls = []
    plan = TimingPlan(runs=1, warmup=1, warmup_seconds=0.05)
    time_calls(lambda: (calls.append(1), time.sleep(0.01)), plan)
    assert len(calls) >= 5


def test_interleaved_times_every_callable():
    plan = TimingPlan(runs=8, warmup=1, rounds=4, warmup_seconds=0)
    out = time_interleaved({"a": lambda: None, "b": lambda: time.sleep(0.001)}, plan)
    assert out["a"].n == out["b"].n == 8
    assert out["b"].p50_ms > out["a"].p50_ms


@pytest.mark.parametrize(
    ("measured", "goal", "higher", "status"),
    [(0.4, 0.6, False, "pass"), (0.7, 0.6, False, "miss"), (31.0, 30.0, True, "pass"),
     (29.0, 30.0, True, "miss"), (None, 30.0, True, "n/a")],
)
def test_target_status(measured, goal, higher, status):
    assert Target("t", measured, goal, "x", higher).status == status
