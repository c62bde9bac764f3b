"""Find and load what is being exported: a training run folder or a bare ``.keras`` file.

A run folder knows its class list (classes.json) and how it was trained (config.json); a bare
file only knows its output width, so its classes must be given (or be the seven FF++ classes).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from edge_detector.contract import FFPP_CLASSES
from edge_detector.faces import DEFAULT_MARGIN
from edge_detector.geometry import CropGeometry
from edge_detector.weights import sha256_file
from train.runinfo import is_synthetic

from .convert import model_output_width
from .errors import ExportError

log = logging.getLogger(__name__)

MODEL_NAMES = ("model.keras", "best.keras", "final.keras")
SYNTHETIC_TRAINED_ON = "synthetic demo data (generated faces; not FaceForensics++, not a real detector)"


@dataclass(frozen=True)
class SourceModel:
    """A loaded Keras model plus everything the contract needs to say about it."""

    model: keras.Model
    path: Path | None
    sha256: str | None
    class_names: tuple[str, ...]
    architecture: str
    model_name: str | None
    trained_on: str
    synthetic_demo: bool
    crop_margin: float
    config: dict[str, Any] = field(default_factory=dict)
    crop_geometry: CropGeometry | None = None
    run: dict[str, Any] = field(default_factory=dict)  # fit's run.json (threshold, degenerate)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from exc


def _json_object(path: Path) -> dict[str, Any]:
    """A JSON object file's content; {} when the file does not exist."""
    if not path.is_file():
        return {}
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ExportError(f"{path} is not a JSON object")
    return data


def _find_model_file(run_dir: Path) -> Path:
    for name in MODEL_NAMES:
        if (run_dir / name).is_file():
            return run_dir / name
    found = sorted(run_dir.glob("*.keras"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ExportError(f"no .keras model in run folder {run_dir}")
    raise ExportError(
        f"run folder {run_dir} holds {len(found)} .keras files and none is named "
        f"{' / '.join(MODEL_NAMES)}; pass the file itself"
    )


def _classes_from_json(data: Any, path: Path) -> tuple[str, ...]:
    if isinstance(data, dict):
        data = data.get("class_names", data.get("classes"))
    if not isinstance(data, list) or not all(isinstance(c, str) for c in data):
        raise ExportError(f"{path} is not a list of class names")
    return tuple(data)


def load_keras(path: Path) -> keras.Model:
    """Load with the training code's custom layers registered when it is importable."""
    try:
        from train.models import load_model
    except ImportError:  # export also works on models saved elsewhere
        def load_model(p):
            return keras.models.load_model(p, compile=False)
    try:
        return load_model(path)
    except Exception as exc:  # keras raises ValueError, TypeError, zipfile errors, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"cannot load Keras model {path}: {first}") from exc


def resolve_classes(
    width: int, from_run: Sequence[str] | None, given: Sequence[str] | None, where: str
) -> tuple[str, ...]:
    """Explicit classes win, then the run's classes.json, then FF++ for 7-wide outputs."""
    names = tuple(given) if given else tuple(from_run) if from_run else None
    if names is None:
        if width != len(FFPP_CLASSES):
            raise ExportError(
                f"{where} has {width} outputs and no classes.json; pass --classes a,b,... "
                f"({width} names, 'original' among them)"
            )
        log.warning("%s has no class list: assuming the FF++ classes %s", where, list(FFPP_CLASSES))
        names = FFPP_CLASSES
    if len(names) != width:
        raise ExportError(f"{len(names)} class names given but {where} has {width} outputs")
    return names


def _etl_record(config: dict[str, Any]) -> dict[str, Any]:
    """The ETL's etl_config.json of the run's data folder, when it is still there."""
    data_dir = config.get("data_dir")
    if data_dir and not (Path(data_dir) / "etl_config.json").is_file():
        log.warning("the run's data folder %s (etl_config.json) is gone: the contract gets the "
                    "default crop geometry unless config.json names one", data_dir)
    return _json_object(Path(data_dir) / "etl_config.json") if data_dir else {}


def crop_geometry_of(config: dict[str, Any], etl: dict[str, Any]) -> CropGeometry | None:
    """The run's or its data folder's recorded crop geometry (import-crops writes one)."""
    raw = config.get("crop_geometry", etl.get("crop_geometry"))
    if raw is None:
        return None
    try:
        return CropGeometry.from_dict(raw)
    except ValueError as exc:
        raise ExportError(f"invalid crop_geometry in the run or data folder record: {exc}") from exc


def architecture_of(model: keras.Model, config: dict[str, Any]) -> str:
    arch = config.get("arch") or config.get("architecture")
    if arch:
        return str(arch)
    name = model.name.lower()
    if "efficientnet" in name or "effnet" in name:
        return "effnetb0"
    if "scratch" in name:
        return "scratch"
    return name


def load_source(
    path: str | Path,
    classes: Sequence[str] | None = None,
    trained_on: str | None = None,
    synthetic_demo: bool | None = None,
) -> SourceModel:
    """Load RUN_DIR (model + classes.json + config.json) or a bare ``.keras`` file."""
    path = Path(path)
    if path.is_dir():
        run_dir, model_path = path, _find_model_file(path)
    elif path.is_file():
        if path.suffix != ".keras":
            raise ExportError(f"{path} is not a .keras model or a training run folder")
        run_dir, model_path = None, path
        if (path.parent / "classes.json").is_file():  # a model file inside its run folder
            run_dir = path.parent
    else:
        raise ExportError(f"no such model or run folder: {path}")
    config = _json_object(run_dir / "config.json") if run_dir else {}
    run = _json_object(run_dir / "run.json") if run_dir else {}
    run_classes = None
    if run_dir is not None and (run_dir / "classes.json").is_file():
        run_classes = _classes_from_json(_read_json(run_dir / "classes.json"),
                                         run_dir / "classes.json")
    elif isinstance(config.get("class_names"), list):
        run_classes = tuple(config["class_names"])
    etl = _etl_record(config)
    model = load_keras(model_path)
    names = resolve_classes(model_output_width(model), run_classes, classes, str(model_path))
    synthetic = bool(synthetic_demo) or is_synthetic(config, run, etl)
    described = trained_on or config.get("trained_on")
    if not described:
        source = etl.get("dataset_root") or config.get("data_dir")
        described = (SYNTHETIC_TRAINED_ON if synthetic
                     else f"face crops of {source}" if source else "unknown")
    geometry = crop_geometry_of(config, etl)
    margin = (geometry.scale if geometry is not None else
              config.get("crop_margin", etl.get("resume_key", {}).get("margin", DEFAULT_MARGIN)))
    return SourceModel(
        model=model,
        path=model_path,
        sha256=sha256_file(model_path),
        class_names=names,
        architecture=architecture_of(model, config),
        model_name=config.get("model_name"),
        trained_on=str(described),
        synthetic_demo=synthetic,
        crop_margin=float(margin),
        config=config,
        crop_geometry=geometry,
        run=run,
    )
