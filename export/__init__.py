"""Keras -> ONNX export for the edge runtime: inference graph, contract metadata, parity, int8.

This package may import TensorFlow (the runtime ``edge_detector`` never does). Importing it runs
nothing; the entry points are :func:`export.onnx_export.export_model` and ``python -m export``.
"""

from __future__ import annotations
