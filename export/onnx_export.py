"""Python API of the export: Keras model (in memory, file or run folder) -> verified ONNX files.

Order of work: convert (inference graph only) -> embed the contract -> write ``.part`` ->
``onnx.checker`` -> the runtime's classifier on the ``.part`` vs Keras on the same crops ->
rename. Nothing reaches the final name unless it passed, so ``edge-detect`` never sees a
half-written or unverified model.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import onnx
import onnxruntime
import tensorflow as tf
import tf2onnx

from edge_detector.classifier import OnnxClassifier
from edge_detector.contract import ModelContract
from edge_detector.faces import DEFAULT_MARGIN
from edge_detector.geometry import CropGeometry

from .card import FileInfo, int8_path, write_card
from .convert import DEFAULT_OPSET, keras_to_onnx, model_input_size, model_output_width
from .errors import DegenerateModelError, ExportError
from .files import commit, part_path, save_onnx
from .metadata import embed_contract
from .parity import DEFAULT_TOLERANCE, Agreement, check_parity, compare, keras_probs, onnx_probs
from .quantize import DEFAULT_MIN_AGREEMENT, QuantReport, quantize_int8
from .samples import CropSet, calibration_crops, generated_crops, held_out_crops
from .source import load_source

log = logging.getLogger(__name__)
# The decision fields fit writes into run.json's contract and export carries into the model's.
DECISION_FIELDS = ("threshold_method", "threshold_real", "threshold_fake", "band_rule")

DEFAULT_PARITY_COUNT = 128
DEFAULT_CALIBRATION_COUNT = 300
DEFAULT_HELD_OUT_COUNT = 300


@dataclass(frozen=True)
class ExportResult:
    """Paths and numbers of one export (``int8*`` are None when no int8 model was asked for)."""

    onnx: FileInfo
    card_path: Path
    contract: ModelContract
    parity: Agreement
    opset: int
    parameters: int
    int8: FileInfo | None = None
    int8_report: QuantReport | None = None

    @property
    def onnx_path(self) -> Path:
        return self.onnx.path

    @property
    def int8_path(self) -> Path | None:
        return self.int8.path if self.int8 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for the demo's and the benchmark's own records)."""
        return {
            "onnx": self.onnx.to_dict() | {"path": str(self.onnx.path)},
            "card": str(self.card_path),
            "parity": self.parity.to_dict(),
            "opset": self.opset,
            "parameters": self.parameters,
            "int8": self.int8.to_dict() | {"path": str(self.int8.path)} if self.int8 else None,
            "int8_report": self.int8_report.to_dict() if self.int8_report else None,
        }


def weights_sha256(model: keras.Model) -> str:
    """Hash of the weights, for in-memory models that have no source file to hash."""
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def _output_kind(raw: np.ndarray) -> str:
    """``probabilities`` when every row is a distribution, else ``logits``."""
    ok = raw.size and raw.min() >= 0 and np.allclose(raw.sum(axis=1), 1.0, atol=1e-3)
    return "probabilities" if ok else "logits"


def _versions() -> dict[str, str]:
    return {
        "keras": keras.__version__, "tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__,
        "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
    }


def _write_verified(
    proto: onnx.ModelProto, contract: ModelContract, out_path: Path, reference: np.ndarray,
    crops: CropSet, tolerance: float, threads: int | None,
) -> tuple[ModelContract, Agreement]:
    """``.part`` -> onnx.checker -> runtime classifier vs Keras -> parity into metadata -> rename."""
    part = part_path(out_path)
    try:
        save_onnx(embed_contract(proto, contract), part)
        onnx.checker.check_model(str(part))
        got = onnx_probs(OnnxClassifier(part, threads=threads), crops.images)
        parity = check_parity(compare(reference, got, crops.source), tolerance)
        contract = contract.with_overrides(
            extra={**contract.extra, "parity": {**parity.to_dict(), "tolerance": tolerance}})
        save_onnx(embed_contract(proto, contract), part)
        commit(part, out_path)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker rejected the exported model: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return contract, parity


def _warn_stale(path: Path) -> None:
    if path.exists():
        log.warning("%s is from an earlier export and does not match the new model; "
                    "delete it or export again with --int8", path)


def export_keras_model(
    model: keras.Model,
    out_path: str | Path,
    class_names: Sequence[str],
    *,
    architecture: str = "unknown",
    model_name: str | None = None,
    trained_on: str = "unknown",
    synthetic_demo: bool = False,
    crop_margin: float = DEFAULT_MARGIN,
    crop_geometry: CropGeometry | None = None,
    opset: int = DEFAULT_OPSET,
    parity_crops: CropSet | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    source_file: str | None = None,
    source_sha256: str | None = None,
    extra: dict[str, Any] | None = None,
    threshold: float | None = None,
    decision: dict[str, Any] | None = None,
    int8: bool = False,
    calibration: CropSet | None = None,
    held_out: CropSet | None = None,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    force: bool = False,
    threads: int | None = None,
) -> ExportResult:
    """Export an in-memory Keras model; verify parity; optionally add a checked int8 model.

    ``parity_crops`` default to generated images; for int8, ``calibration`` and ``held_out``
    default to generated images too (fine for benchmarks, not for a shipped model).
    ``threshold``: the decision threshold chosen on validation data (written to the contract);
    ``decision``: its rule and the three-level band (``threshold_method``, ``threshold_real``,
    ``threshold_fake``, ``band_rule``), written as the contract's typed fields.
    """
    out_path = Path(out_path)
    if out_path.suffix != ".onnx":
        raise ExportError(f"output must end in .onnx, got {out_path}")
    size = model_input_size(model)
    width = model_output_width(model)
    if len(class_names) != width:
        raise ExportError(f"{len(class_names)} class names for a model with {width} outputs")
    if parity_crops is None:
        parity_crops = generated_crops(64, size, seed=0)
    base = dict(class_names=tuple(class_names), input_size=size, architecture=architecture,
                model_name=model_name or out_path.stem, parameters=int(model.count_params()),
                trained_on=trained_on, synthetic_demo=bool(synthetic_demo),
                crop_margin=float(crop_geometry.scale if crop_geometry else crop_margin),
                crop_geometry=crop_geometry, threshold=threshold,
                **{k: v for k, v in (decision or {}).items() if k in DECISION_FIELDS})
    raw = keras_probs(model, parity_crops.images, ModelContract(**base))
    kind = _output_kind(raw)
    contract = ModelContract(**base, output=kind, extra={
        **(extra or {}),
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_file": source_file,
        "source_sha256": source_sha256 or weights_sha256(model),
        "source_hash_of": "file" if source_sha256 else "weights",
        "opset": opset,
        "precision": "fp32",
        "versions": _versions(),
    })
    reference = keras_probs(model, parity_crops.images, contract) if kind == "logits" else raw
    proto = keras_to_onnx(model, opset, output_name=kind)

    contract, parity = _write_verified(proto, contract, out_path, reference, parity_crops,
                                       tolerance, threads)
    fp32 = FileInfo.of(out_path)
    log.info("wrote %s (%.1f MB)", out_path, fp32.size_bytes / 1e6)
    card = write_card(fp32, contract, parity)
    result = ExportResult(fp32, card, contract, parity, opset, int(model.count_params()))
    if not int8:
        _warn_stale(int8_path(out_path))
        return result

    if calibration is None:
        log.warning("int8 calibration on generated images: fine for timing, not for shipping")
        calibration = generated_crops(256, size, seed=1)
    if held_out is None:
        held_out = parity_crops
    try:
        report = quantize_int8(out_path, int8_path(out_path), calibration, held_out,
                               min_agreement=min_agreement, force=force, threads=threads)
    except ExportError:
        _warn_stale(int8_path(out_path))
        raise
    q = FileInfo.of(report.path)
    log.info("wrote %s (%.1f MB)", q.path, q.size_bytes / 1e6)
    card = write_card(fp32, contract, parity, q, report)
    return ExportResult(fp32, card, contract, parity, opset, result.parameters, q, report)


def _degenerate(src, crops: CropSet, real: bool, force: bool) -> dict[str, Any] | None:
    """The degeneracy record that stops the export (unless ``force``), or None.

    On real held-out crops (``--data``) the model is judged afresh; otherwise fit's verdict in
    run.json counts, plus the near-constant test on the generated crops.
    """
    from train.degenerate import check_degenerate

    names = src.class_names
    probs = keras_probs(src.model, crops.images, ModelContract(names, model_input_size(src.model)))
    labels = crops.labels if real and (crops.labels >= 0).all() else None
    found = check_degenerate(probs, names.index("original"), labels, names)
    if found:
        found = {**found, "checked_on": crops.source}
    elif not real and src.run.get("degenerate"):
        found = {**src.run["degenerate"], "checked_on": "fit's validation split (run.json)"}
    if not found:
        return None
    msg = f"degenerate model: {found['reason']} ({found['checked_on']})"
    if not force:
        raise DegenerateModelError(f"{msg}; it does not detect anything. Retrain, or pass "
                                   "--force to export it anyway (the card marks it)")
    log.warning("%s; exporting anyway (--force), the card marks it", msg)
    return found


def export_model(
    source: str | Path,
    out_path: str | Path | None = None,
    *,
    classes: Sequence[str] | None = None,
    trained_on: str | None = None,
    synthetic_demo: bool | None = None,
    data_dir: str | Path | None = None,
    int8: bool = False,
    calibration_dir: str | Path | None = None,
    parity_count: int = DEFAULT_PARITY_COUNT,
    calibration_count: int = DEFAULT_CALIBRATION_COUNT,
    held_out_count: int = DEFAULT_HELD_OUT_COUNT,
    opset: int = DEFAULT_OPSET,
    tolerance: float = DEFAULT_TOLERANCE,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    force: bool = False,
    threads: int | None = None,
) -> ExportResult:
    """Export RUN_DIR or MODEL.keras to ``out_path`` (default ``models/<name>.onnx``).

    Parity runs on held-out crops of ``data_dir`` when given, else on generated images. int8
    needs real crops: ``calibration_dir`` (or ``data_dir``) supplies the calibration set (train
    split) and the held-out set (test/val split, disjoint from calibration).
    """
    src = load_source(source, classes=classes, trained_on=trained_on,
                      synthetic_demo=synthetic_demo)
    size = model_input_size(src.model)
    name = src.model_name or (Path(out_path).stem if out_path else src.architecture)
    out = Path(out_path) if out_path else Path("models") / f"{name}.onnx"
    calib_dir = Path(calibration_dir) if calibration_dir else (Path(data_dir) if data_dir else None)
    if int8 and calib_dir is None:
        raise ExportError("--int8 needs real crops for calibration: pass --calibration DATA_DIR")

    calibration = held_out = None
    if int8:
        calibration = calibration_crops(calib_dir, src.class_names, size, calibration_count)
        held_out = held_out_crops(Path(data_dir) if data_dir else calib_dir, src.class_names,
                                  size, held_out_count, exclude=calibration.paths)
    if data_dir is None:
        parity = generated_crops(min(parity_count, 64), size, seed=0)
    elif held_out is not None and held_out_count >= parity_count:
        parity = held_out.head(parity_count)  # held_out came from data_dir: reuse, not re-read
    else:
        parity = held_out_crops(Path(data_dir), src.class_names, size, parity_count)
    degenerate = _degenerate(src, parity, data_dir is not None, force)
    extra: dict[str, Any] = {"run_config": src.config} if src.config else {}
    if degenerate:
        extra["degenerate"] = degenerate
    threshold = src.run.get("threshold")
    if threshold is not None:
        extra["threshold_method"] = src.run.get("threshold_method")
    run_contract = src.run.get("contract") or {}
    decision = {k: run_contract.get(k) for k in DECISION_FIELDS}
    return export_keras_model(
        src.model, out, src.class_names,
        architecture=src.architecture, model_name=name, trained_on=src.trained_on,
        synthetic_demo=src.synthetic_demo, crop_margin=src.crop_margin,
        crop_geometry=src.crop_geometry, opset=opset,
        parity_crops=parity, tolerance=tolerance,
        source_file=src.path.name if src.path else None, source_sha256=src.sha256,
        extra=extra or None, threshold=threshold, decision=decision,
        int8=int8, calibration=calibration, held_out=held_out, min_agreement=min_agreement,
        force=force, threads=threads,
    )
