"""The model card: a small JSON beside the ONNX file with what was verified before shipping it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_detector.atomic import write_json
from edge_detector.contract import ModelContract

from .files import sha256_file
from .parity import Agreement
from .quantize import QuantReport

CARD_SUFFIX = ".card.json"
INT8_SUFFIX = ".int8.onnx"


@dataclass(frozen=True)
class FileInfo:
    """One shipped file: where, how big, and its SHA-256 (which it cannot carry itself)."""

    path: Path
    size_bytes: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> FileInfo:
        return cls(Path(path), Path(path).stat().st_size, sha256_file(path))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": self.path.name}


def card_path(onnx_path: Path) -> Path:
    """``models/scratch.onnx`` -> ``models/scratch.card.json``."""
    return onnx_path.with_name(onnx_path.stem + CARD_SUFFIX)


def int8_path(onnx_path: Path) -> Path:
    """``models/scratch.onnx`` -> ``models/scratch.int8.onnx``."""
    return onnx_path.with_name(onnx_path.stem + INT8_SUFFIX)


def write_card(
    onnx_file: FileInfo,
    contract: ModelContract,
    parity: Agreement,
    int8_file: FileInfo | None = None,
    int8_report: QuantReport | None = None,
) -> Path:
    """Write ``<stem>.card.json`` atomically; returns its path."""
    files: dict[str, Any] = {"fp32": {**onnx_file.to_dict(), "parity_vs_keras": parity.to_dict()}}
    if int8_file is not None and int8_report is not None:
        report = int8_report.to_dict()
        report.pop("path")
        files["int8"] = {**int8_file.to_dict(), "vs_fp32": report}
    card = {
        "model_name": contract.model_name,
        "architecture": contract.architecture,
        "parameters": contract.parameters,
        "opset": contract.extra.get("opset"),
        "trained_on": contract.trained_on,
        "synthetic_demo": contract.synthetic_demo,
        # None, or why the model is degenerate (only exported with --force): it does not detect
        "degenerate": contract.extra.get("degenerate"),
        "threshold": contract.threshold,
        "threshold_method": contract.threshold_method or contract.extra.get("threshold_method"),
        "contract": contract.to_dict(),
        "files": files,
    }
    return write_json(card_path(onnx_file.path), card, sort_keys=True)
