"""Export errors: subclasses of the runtime's EdgeDetectError so every CLI prints one line."""

from __future__ import annotations

from edge_detector.errors import EdgeDetectError


class ExportError(EdgeDetectError):
    """A model cannot be exported (bad input, conversion failure, failed verification)."""

    exit_code = 6


class RandomOpError(ExportError):
    """The exported graph still contains random / augmentation ops (not an inference graph)."""


class ParityError(ExportError):
    """ONNX Runtime and Keras disagree beyond tolerance on the same crops."""


class QuantizationError(ExportError):
    """The int8 model disagrees with the fp32 one too often to be shipped."""


class DegenerateModelError(ExportError):
    """The model answers (nearly) the same for every face; exported only with ``--force``."""
