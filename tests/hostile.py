"""Hostile inputs for the hardening tests: models with broken outputs or contracts, bytes names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from edge_detector.contract import FFPP_CLASSES, METADATA_KEY, ModelContract

# A file name that is not valid UTF-8 (Latin-1 "é" then 0xff), as Linux allows.
BAD_NAME = b"clip-\xe9\xff"
# File names a spreadsheet would run as formulas (OWASP CSV injection), without the suffix.
FORMULA_NAMES = ("=HYPERLINK(\"http:x\")", "+cmd|calc!A0", "-2+3", "@SUM(A1)")


def const_model(path: Path, scores, size: int = 32, batch: int | str = "N",
                contract: dict | str | None = None) -> Path:
    """A classifier whose output is ``scores`` for every face (0 * input mean + constant)."""
    scores = np.asarray(scores, np.float32)
    c = scores.shape[0]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, size, size, 3])
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, c])
    inits = [helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
             helper.make_tensor("W", TensorProto.FLOAT, [3, c], np.zeros(3 * c, np.float32)),
             helper.make_tensor("B", TensorProto.FLOAT, [c], scores)]
    nodes = [helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),
             helper.make_node("MatMul", ["mean", "W"], ["zero"]),
             helper.make_node("Add", ["zero", "B"], ["probs"])]
    graph = helper.make_graph(nodes, "const", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    if contract is None:
        contract = ModelContract(FFPP_CLASSES[:c], size).to_dict()
    text = contract if isinstance(contract, str) else json.dumps(contract)
    helper.set_model_props(model, {METADATA_KEY: text})
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def contract_model(path: Path, **changes) -> Path:
    """A valid-looking 7-class model whose contract JSON has ``changes`` applied."""
    d = ModelContract(FFPP_CLASSES, 32).to_dict()
    d.update(changes)
    return const_model(path, np.full(7, 1 / 7), contract=d)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A small 1-bit grey PNG that decodes to ``width x height`` BGR pixels (20000² px: 1.2 GB)."""
    import struct
    import zlib

    row = b"\0" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
                     + _png_chunk(b"IEND", b""))
    return path


def png_header_only(path: Path, width: int = 50000, height: int = 50000) -> Path:
    """A PNG signature and header claiming ``width x height`` and no pixel data (~60 bytes)."""
    import struct

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b""))
    return path
