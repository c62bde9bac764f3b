"""Static int8 quantization (QOperator, per-channel) of an exported fp32 model, with a veto.

The int8 file is only written when its top-1 agrees with the fp32 model on held-out crops at
least ``min_agreement`` of the time (unless forced): a fast model that says something else is not
the same detector. quantize_static drops ``metadata_props``, so the contract is re-added after.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from edge_detector.classifier import OnnxClassifier
from edge_detector.contract import ModelContract
from edge_detector.preprocess import preprocess

from .errors import QuantizationError
from .files import commit, part_path, save_onnx
from .metadata import embed_contract, read_contract
from .parity import Agreement, compare, onnx_probs
from .samples import CropSet

log = logging.getLogger(__name__)

DEFAULT_MIN_AGREEMENT = 0.99
SETTINGS = {
    "method": "static",
    "format": "QOperator",
    "per_channel": True,
    "activation_type": "QUInt8",
    "weight_type": "QInt8",
    "calibrate_method": "MinMax",
    "pre_process": "quant_pre_process",
}


@dataclass(frozen=True)
class QuantReport:
    """What the int8 model was calibrated on and how closely it follows the fp32 one."""

    path: Path
    agreement: Agreement
    calibration_count: int
    calibration_source: str
    min_agreement: float
    forced: bool

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        d["agreement"] = self.agreement.to_dict()
        return d


class CropReader(CalibrationDataReader):
    """Feeds preprocessed crops to the calibrator in small batches."""

    def __init__(self, crops: CropSet, contract: ModelContract, batch_size: int = 16) -> None:
        self._batches = [
            {contract.input_name: preprocess(crops.images[i : i + batch_size], contract)}
            for i in range(0, len(crops), batch_size)
        ]
        self._it = iter(self._batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._batches)


def quantize_int8(
    fp32_path: Path,
    out_path: Path,
    calibration: CropSet,
    held_out: CropSet,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    force: bool = False,
    threads: int | None = None,
) -> QuantReport:
    """Quantize ``fp32_path`` into ``out_path`` (via ``.part``); refuse on poor agreement."""
    fp32_path, out_path = Path(fp32_path).resolve(), Path(out_path).resolve()  # we chdir below
    contract = read_contract(onnx.load(str(fp32_path), load_external_data=False))
    if contract is None:
        raise QuantizationError(f"{fp32_path} carries no model contract; export it first")
    if len(calibration) == 0 or len(held_out) == 0:
        raise QuantizationError("int8 quantization needs calibration and held-out crops")
    with tempfile.TemporaryDirectory(prefix="edge-int8-") as tmp:
        pre, quant = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        try:
            with _cwd(Path(tmp)):  # the quantizer drops scratch files into the working folder
                symbolic = _pre_process(fp32_path.resolve(), pre)
                quantize_static(
                    str(pre), str(quant), CropReader(calibration, contract),
                    quant_format=QuantFormat.QOperator, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                )
        except Exception as exc:  # the quantizer raises many unrelated exception types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise QuantizationError(f"int8 quantization failed: {first}") from exc
        proto = onnx.load(str(quant))
    info = {
        **SETTINGS,
        "symbolic_shape_inference": symbolic,
        "onnxruntime_version": onnxruntime.__version__,
        "calibration_count": len(calibration),
        "calibration_source": calibration.source,
        "fp32_model": fp32_path.name,
    }
    part = part_path(out_path)
    save_onnx(embed_contract(proto, _with_quant(contract, info)), part)
    try:
        onnx.checker.check_model(str(part))
        fp32 = OnnxClassifier(fp32_path, threads=threads)
        int8 = OnnxClassifier(part, threads=threads)
        agreement = compare(onnx_probs(fp32, held_out.images), onnx_probs(int8, held_out.images),
                            held_out.source)
        ok = agreement.top1_agreement >= min_agreement
        log.info("int8 vs fp32 on %d held-out crops: top-1 agreement %.4f, max drift %.4f",
                 agreement.n, agreement.top1_agreement, agreement.max_abs_diff)
        if not ok and not force:
            raise QuantizationError(
                f"int8 model agrees with fp32 on top-1 for only {agreement.top1_agreement:.2%} of "
                f"{agreement.n} held-out crops (< {min_agreement:.0%}); not written "
                "(--force writes it anyway)"
            )
        if not ok:
            log.warning("int8 agreement %.2f%% is below %.0f%%; writing it because forced",
                        100 * agreement.top1_agreement, 100 * min_agreement)
        info.update(agreement=agreement.to_dict(), min_agreement=min_agreement,
                    forced=bool(force and not ok))
        save_onnx(embed_contract(proto, _with_quant(contract, info)), part)
        commit(part, out_path)
    finally:
        part.unlink(missing_ok=True)
    return QuantReport(out_path, agreement, len(calibration), calibration.source, min_agreement,
                       bool(force and not ok))


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _pre_process(src: Path, dst: Path) -> bool:
    """quant_pre_process; without symbolic shape inference if that cannot finish on the graph.

    Returns whether symbolic shape inference ran.
    """
    try:
        quant_pre_process(str(src), str(dst))
        return True
    except Exception as exc:  # "Incomplete symbolic shape inference" and friends
        log.warning("symbolic shape inference failed (%s); pre-processing without it",
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
        return False


def _with_quant(contract: ModelContract, info: dict[str, Any]) -> ModelContract:
    return replace(contract, extra={**contract.extra, "precision": "int8", "quantization": info})
